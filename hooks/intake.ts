/**
 * `POST /hooks/<id>`: the raw-body route every hook posts to. In order: size (413), the hook (404), verification
 * for its template (401), the hook's rate (429 with `Retry-After`, refused at once), JSON (400), then the
 * delivery is queued durably under its delivery id and only then answered `202` (`200` for a redelivery already
 * queued). Nothing reaches a chat before the queue holds it, and nothing refused reaches one at all.
 */
import type { Clock, HttpHandler, HttpResponse, SharedWindows } from "../bot/index.ts";
import type { Logger } from "pino";
import type { DeliveryWorker } from "./delivery.ts";
import type { HooksMetrics } from "./metrics.ts";
import type { HookRegistry } from "./registry.ts";
import type { DeliveryRepo, QueuedDelivery } from "./store.ts";
import { deliveryIdOf, header, verifyRequest } from "./verify.ts";

/** The path prefix; a hook's URL is `<publicUrl>/hooks/<id>`. */
export const HOOK_PATH = "/hooks";

const MAX_RATE_KEYS = 10_000;

/**
 * Requests per minute per hook: fixed one-minute windows. In this process they are counted in memory, bounded by
 * hook count and age; with Redis (`core.sharedWindows`) the same windows are also counted in Redis for every
 * process, so the limit holds for the deployment, not per process. The local count is checked first (it can only
 * be lower than the shared one, so a refusal there is right and costs no round trip); a request it lets through is
 * counted in Redis, and refused when the deployment's count is over. While Redis does not answer, the local count
 * decides alone (logged once per outage).
 */
export class HookRates {
  readonly #windows = new Map<string, { minute: number; count: number }>();
  readonly #perMinute: number;
  readonly #shared: SharedWindows | undefined;
  readonly #log: Logger | undefined;
  #isSharedFailing = false;
  constructor(perMinute: number, shared?: { windows: SharedWindows; log: Logger }) {
    this.#perMinute = perMinute;
    this.#shared = shared?.windows;
    this.#log = shared?.log;
  }

  /** Hooks with a window kept (at most 10,000). */
  get size(): number {
    return this.#windows.size;
  }

  /** Count one request in this process; answers the seconds to wait when over the limit, else undefined. */
  take(hookId: string, nowMs: number): number | undefined {
    const minute = Math.floor(nowMs / 60_000);
    let w = this.#windows.get(hookId);
    if (w === undefined || w.minute !== minute) {
      if (w === undefined && this.#windows.size >= MAX_RATE_KEYS) {
        // Windows of past minutes are dead weight: drop them, and the oldest if that is not enough.
        for (const [k, v] of this.#windows) if (v.minute !== minute) this.#windows.delete(k);
        if (this.#windows.size >= MAX_RATE_KEYS) this.#windows.delete(this.#windows.keys().next().value as string);
      }
      w = { minute, count: 0 };
      this.#windows.set(hookId, w);
    }
    if (w.count >= this.#perMinute) return secondsToNextMinute(nowMs);
    w.count++;
    return undefined;
  }

  /**
   * After `take` let a request through: count it for the deployment (Redis), answering the seconds to wait when
   * the shared count is over the limit. Undefined when the count is not shared (no Redis).
   */
  takeShared(hookId: string, nowMs: number): Promise<number | undefined> | undefined {
    if (this.#shared === undefined) return undefined;
    return this.#shared.count(`hook:${hookId}`, { windowMs: 60_000, nowMs }).then(
      (count) => {
        this.#isSharedFailing = false;
        return count > this.#perMinute ? secondsToNextMinute(nowMs) : undefined;
      },
      (error: unknown) => {
        if (!this.#isSharedFailing)
          this.#log?.warn({ err: error }, "hook rates: Redis did not answer; counted per process until it does");
        this.#isSharedFailing = true;
        return undefined;
      },
    );
  }
}

function secondsToNextMinute(nowMs: number): number {
  return Math.max(1, Math.ceil(((Math.floor(nowMs / 60_000) + 1) * 60_000 - nowMs) / 1000));
}

/** What the endpoint uses. */
export interface IntakeOptions {
  registry: HookRegistry;
  repo: DeliveryRepo;
  worker: DeliveryWorker;
  metrics: HooksMetrics;
  log: Logger;
  clock: Clock;
  rates: HookRates;
  limits: { maxPayloadBytes: number; replayWindowMs: number; leaseMs: number };
}

const json = (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): HttpResponse => ({
  status,
  headers: { "content-type": "application/json; charset=utf-8", ...headers },
  body: JSON.stringify(body),
});

/** The route's handler. */
export function hookEndpoint(o: IntakeOptions): HttpHandler {
  return async (req) => {
    const id = req.path.slice(HOOK_PATH.length + 1);
    if (req.rawBody.length > o.limits.maxPayloadBytes) {
      o.metrics.request("unknown", "too_large");
      return json(413, { error: "payload_too_large", message: `at most ${o.limits.maxPayloadBytes} bytes` });
    }
    const hook = /^[A-Za-z0-9_-]{8,64}$/.test(id) ? await o.registry.find(id) : undefined;
    if (hook === undefined) {
      o.metrics.request("unknown", "not_found");
      return json(404, { error: "not_found", message: "no such hook" });
    }
    const now = o.clock.now();
    const failure = verifyRequest({
      template: hook.template,
      secret: hook.secret,
      headers: req.headers,
      body: req.rawBody,
      nowMs: now,
      replayWindowMs: o.limits.replayWindowMs,
    });
    if (failure !== undefined) {
      o.metrics.request(hook.template, "unauthorized");
      o.log.info({ hook: hook.id, why: failure }, "hook request refused");
      return json(401, { error: "unauthorized", message: "verification failed" });
    }
    let waitSeconds = o.rates.take(hook.id, now);
    if (waitSeconds === undefined) {
      const shared = o.rates.takeShared(hook.id, now); // with Redis: the deployment's count of this minute
      if (shared !== undefined) waitSeconds = await shared;
    }
    if (waitSeconds !== undefined) {
      o.metrics.request(hook.template, "rate_limited");
      return json(
        429,
        { error: "rate_limited", message: `try again in ${waitSeconds} s` },
        { "retry-after": String(waitSeconds) },
      );
    }
    let payload: unknown;
    try {
      payload = JSON.parse(req.rawBody.toString("utf8"));
    } catch {
      o.metrics.request(hook.template, "bad_json");
      return json(400, { error: "bad_json", message: "the body is not JSON" });
    }
    const deliveryId = deliveryIdOf({ template: hook.template, headers: req.headers, body: req.rawBody, payload });
    const meta: Record<string, string> = {};
    const event = header(req.headers, "x-github-event");
    if (hook.template === "github" && event !== undefined) meta.event = event.slice(0, 64);
    let queued: QueuedDelivery | undefined;
    try {
      queued = await o.repo.enqueue({
        hookId: hook.id,
        deliveryId,
        payload: req.rawBody.toString("utf8"),
        meta,
        at: now,
        leaseUntil: now + o.limits.leaseMs,
      });
    } catch (error) {
      // Not queued, so not acknowledged: the sender retries, and nothing is lost.
      o.metrics.request(hook.template, "unavailable");
      o.log.warn({ err: error, hook: hook.id }, "could not queue a hook delivery");
      return json(503, { error: "unavailable", message: "try again later" }, { "retry-after": "5" });
    }
    if (queued === undefined) {
      o.metrics.request(hook.template, "duplicate");
      return json(200, { status: "duplicate", deliveryId });
    }
    o.metrics.request(hook.template, "queued");
    o.worker.submit(queued);
    return json(202, { status: "queued", deliveryId });
  };
}
