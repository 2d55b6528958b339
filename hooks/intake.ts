/**
 * `POST /hooks/<id>`: the raw-body route every hook posts to. In order: size (413), the hook (404), verification
 * for its template (401), the hook's rate (429 with `Retry-After`, refused at once), JSON (400), then the
 * delivery is queued durably under its delivery id and only then answered `202` (`200` for a redelivery already
 * queued). Nothing reaches a chat before the queue holds it, and nothing refused reaches one at all.
 */
import type { Clock, HttpHandler, HttpResponse } from "../bot/index.ts";
import type { Logger } from "pino";
import type { DeliveryWorker } from "./delivery.ts";
import type { HooksMetrics } from "./metrics.ts";
import type { HookRegistry } from "./registry.ts";
import type { DeliveryRepo, QueuedDelivery } from "./store.ts";
import { deliveryIdOf, header, verifyRequest } from "./verify.ts";

/** The path prefix; a hook's URL is `<publicUrl>/hooks/<id>`. */
export const HOOK_PATH = "/hooks";

const MAX_RATE_KEYS = 10_000;

/** Requests per minute per hook in this process: fixed one-minute windows, bounded by hook count and age. */
export class HookRates {
  readonly #windows = new Map<string, { minute: number; count: number }>();
  readonly #perMinute: number;
  constructor(perMinute: number) {
    this.#perMinute = perMinute;
  }

  /** Hooks with a window kept (at most 10,000). */
  get size(): number {
    return this.#windows.size;
  }

  /** Count one request; answers the seconds to wait when over the limit, else undefined. */
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
    if (w.count >= this.#perMinute) return Math.max(1, Math.ceil(((minute + 1) * 60_000 - nowMs) / 1000));
    w.count++;
    return undefined;
  }
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
    const waitSeconds = o.rates.take(hook.id, now);
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
