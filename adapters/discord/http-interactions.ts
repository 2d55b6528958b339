/**
 * HTTP interactions mode: Discord POSTs each interaction to our route on the shared listener. The signature
 * is checked first, then its timestamp (401 when bad, missing, or more than 5 minutes from now either way, and
 * nothing else runs); PING gets PONG; a command's answer is
 * this HTTP response — the first reply when it is ready in time, else a deferred answer (type 5) that later
 * replies edit over REST. A redelivered interaction gets the same answer as the first delivery, once.
 */
import type { KeyObject } from "node:crypto";
import type { HttpHandler, HttpRequest, HttpResponse } from "../../bot/index.ts";
import type { AnyInteractionAnswer } from "./responder.ts";
import { isFreshTimestamp, isValidSignature } from "./verify.ts";

/** What the route needs from the adapter. */
export interface InteractionsRouteOptions {
  publicKey: KeyObject;
  /**
   * Handle one verified interaction payload. `acknowledge` sends the interaction's answer (once); the returned
   * promise settles when the payload has been handed on (or refused).
   */
  handle(payload: unknown, acknowledge: (answer: AnyInteractionAnswer) => Promise<void>): Promise<void>;
  /** Longest time an answer may take before the route itself defers, in ms (a safety net under the responder). */
  answerTimeoutMs: number;
  onError(error: unknown, what: string): void;
  /** The clock for the timestamp window, in epoch ms. Default `Date.now`. */
  now?: () => number;
}

const json = (status: number, body: unknown): HttpResponse => ({
  status,
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

/** The route handler for `POST interactionsPath`. */
export function interactionsRoute(options: InteractionsRouteOptions): HttpHandler {
  const inFlight = new Map<string, Promise<HttpResponse>>();
  return async (req: HttpRequest): Promise<HttpResponse> => {
    if (!isValidSignature(options.publicKey, req.headers, req.rawBody))
      return json(401, { error: "invalid request signature" });
    if (!isFreshTimestamp(req.headers, (options.now ?? Date.now)()))
      return json(401, { error: "request timestamp outside the 5-minute window" });
    let payload: unknown;
    try {
      payload = JSON.parse(req.rawBody.toString("utf8"));
    } catch {
      return json(400, { error: "body is not JSON" });
    }
    const id =
      typeof payload === "object" && payload !== null && typeof (payload as { id?: unknown }).id === "string"
        ? (payload as { id: string }).id
        : undefined;
    const earlier = id === undefined ? undefined : inFlight.get(id);
    if (earlier !== undefined) return earlier;
    const answer = answerOf(payload, options);
    if (id !== undefined) {
      inFlight.set(id, answer);
      // Keep it long enough to answer a redelivery the same way, then forget.
      const forget = setTimeout(() => inFlight.delete(id), 60_000);
      forget.unref();
    }
    return answer;
  };
}

function answerOf(payload: unknown, options: InteractionsRouteOptions): Promise<HttpResponse> {
  return new Promise<HttpResponse>((resolve) => {
    let isAnswered = false;
    const timer = setTimeout(() => settle(json(200, { type: 5 })), options.answerTimeoutMs);
    timer.unref();
    function settle(response: HttpResponse): boolean {
      if (isAnswered) return false;
      isAnswered = true;
      clearTimeout(timer);
      resolve(response);
      return true;
    }
    const acknowledge = async (answer: AnyInteractionAnswer): Promise<void> => {
      if (!settle(json(200, answer))) throw new Error("interaction already answered over HTTP");
    };
    options.handle(payload, acknowledge).then(
      () => undefined,
      (error: unknown) => {
        options.onError(error, "interaction");
        settle(json(400, { error: "malformed interaction" }));
      },
    );
  });
}
