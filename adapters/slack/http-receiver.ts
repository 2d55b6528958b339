/**
 * HTTP mode: a Bolt `Receiver` that lives on the shared HTTP listener instead of its own server. Each request
 * is verified (signature and replay window; 401 otherwise, and no handler runs), parsed (form, interactive
 * `payload=` form, or JSON), answered at once for `url_verification` and `ssl_check`, and otherwise handed to
 * `app.processEvent`. The HTTP answer is whatever the listener `ack()`s (slash commands are acked at once), or an
 * empty 200 when nothing acks within `ackTimeoutMs`.
 */
import type { App, Receiver, ReceiverEvent } from "@slack/bolt";
import type { Logger } from "pino";
import type { HttpRequest, HttpResponse } from "../../bot/index.ts";
import { verifySlackSignature } from "./verify.ts";

/** Options for the HTTP receiver. */
export interface SlackHttpReceiverOptions {
  signingSecret: string;
  log: Logger;
  now: () => number;
  /** Answer with an empty 200 if no listener acked by then (Slack gives up after 3 s). */
  ackTimeoutMs?: number;
  /** Background work is tracked here so shutdown waits for it. */
  track: <T>(promise: Promise<T>) => Promise<T>;
}

const EMPTY_OK: HttpResponse = { status: 200, headers: { "content-type": "text/plain" }, body: "" };

/** The receiver; `handle` is the route handler for the events path. */
export class SlackHttpReceiver implements Receiver {
  readonly #o: SlackHttpReceiverOptions;
  #app: App | undefined;

  constructor(options: SlackHttpReceiverOptions) {
    this.#o = options;
  }

  init(app: App): void {
    this.#app = app;
  }

  /** Nothing to start: the shared listener is the server. */
  async start(): Promise<void> {}

  async stop(): Promise<void> {
    this.#app = undefined;
  }

  /** Handle one POST to the events path. */
  async handle(req: HttpRequest): Promise<HttpResponse> {
    const check = verifySlackSignature({
      signingSecret: this.#o.signingSecret,
      headers: req.headers,
      rawBody: req.rawBody,
      nowMs: this.#o.now(),
    });
    if (!check.ok) {
      this.#o.log.warn({ reason: check.reason, path: req.path }, "slack request refused");
      return { status: 401, headers: { "content-type": "text/plain" }, body: "invalid request signature" };
    }
    const body = parseSlackBody(req);
    if (body === undefined) {
      this.#o.log.warn({ path: req.path, bytes: req.rawBody.length }, "slack request body unreadable; skipped");
      return { status: 400, headers: { "content-type": "text/plain" }, body: "unreadable body" };
    }
    if (body.type === "url_verification") {
      return {
        status: 200,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ challenge: body.challenge }),
      };
    }
    if (body.ssl_check !== undefined) return EMPTY_OK;
    const app = this.#app;
    if (app === undefined)
      return { status: 503, headers: { "content-type": "text/plain", "retry-after": "5" }, body: "not started" };
    return this.#dispatch(app, req, body);
  }

  #dispatch(app: App, req: HttpRequest, body: Record<string, unknown>): Promise<HttpResponse> {
    return new Promise<HttpResponse>((resolve) => {
      let answered = false;
      const answer = (response: HttpResponse) => {
        if (answered) return;
        answered = true;
        clearTimeout(timer);
        resolve(response);
      };
      const timer = setTimeout(() => answer(EMPTY_OK), this.#o.ackTimeoutMs ?? 2_500);
      const retry = headerOf(req, "x-slack-retry-num");
      const event: ReceiverEvent = {
        body,
        ack: async (response?: unknown) => answer(ackResponse(response)),
        ...(retry === undefined ? {} : { retryNum: Number(retry) }),
        ...(headerOf(req, "x-slack-retry-reason") === undefined
          ? {}
          : { retryReason: headerOf(req, "x-slack-retry-reason")! }),
      };
      void this.#o.track(
        app.processEvent(event).then(
          () => answer(EMPTY_OK),
          (error: unknown) => {
            this.#o.log.error({ err: error }, "slack event processing failed");
            // Not acknowledged yet (the journal could not write it): Slack retries a 5xx.
            answer({ status: 503, headers: { "content-type": "text/plain", "retry-after": "5" }, body: "try again" });
          },
        ),
      );
    });
  }
}

/** Parse a Slack request body: JSON, form (slash commands), or form with a JSON `payload` (interactivity). */
export function parseSlackBody(req: Pick<HttpRequest, "headers" | "rawBody">): Record<string, unknown> | undefined {
  const type = headerOf(req, "content-type") ?? "";
  const text = req.rawBody.toString("utf8");
  try {
    if (type.includes("application/json")) {
      const parsed: unknown = JSON.parse(text);
      return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
        ? (parsed as Record<string, unknown>)
        : undefined;
    }
    if (type.includes("application/x-www-form-urlencoded")) {
      const form = Object.fromEntries(new URLSearchParams(text));
      if (typeof form.payload === "string") {
        const parsed: unknown = JSON.parse(form.payload);
        return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
          ? (parsed as Record<string, unknown>)
          : undefined;
      }
      return form;
    }
  } catch {
    return undefined;
  }
  return undefined;
}

function ackResponse(response: unknown): HttpResponse {
  if (response === undefined || response === "") return EMPTY_OK;
  if (typeof response === "string") return { status: 200, headers: { "content-type": "text/plain" }, body: response };
  return { status: 200, headers: { "content-type": "application/json" }, body: JSON.stringify(response) };
}

function headerOf(req: Pick<HttpRequest, "headers">, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
