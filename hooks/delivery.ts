/**
 * The delivery worker: hands queued deliveries to the platforms through the adapter hub (and so through each
 * adapter's outbound limiter), at most `concurrency` at once. A delivery accepted by this process goes at once;
 * a sweep every second takes what is due again (retries) or was left by a process that died (its lease ran
 * out). Each delivery is marked sent right before its platform call, as the inbound journal does for replies:
 * a crash after the answer loses nothing queued and repeats nothing sent.
 */
import type { AdapterHub, Clock, ConversationTarget, EventBus, SentMessage } from "../bot/index.ts";
import type { Logger } from "pino";
import type { HooksMetrics } from "./metrics.ts";
import type { HookRegistry, OpenHook } from "./registry.ts";
import type { DeliveryRepo, QueuedDelivery } from "./store.ts";
import { renderDelivery } from "./templates/index.ts";

/** Where a delivery goes and what it says, when a hook's owner decides (the workflow callbacks). */
export type DeliveryRoute = (o: {
  hook: OpenHook;
  payload: unknown;
  meta: Record<string, string>;
  text: string;
}) => Promise<{ target: ConversationTarget; text: string; edit?: SentMessage } | undefined>;

/** Limits of the worker (the `hooks` config section's). */
export interface DeliveryLimits {
  concurrency: number;
  maxAttempts: number;
  retryMaxMs: number;
  maxMessageChars: number;
  leaseMs: number;
  retentionMs: number;
}

const MAX_WAITING = 10_000;
const SWEEP_MS = 1_000;
const PRUNE_MS = 60_000;

/** What the worker uses. */
export interface WorkerOptions {
  repo: DeliveryRepo;
  registry: HookRegistry;
  adapters: AdapterHub;
  events: EventBus;
  metrics: HooksMetrics;
  log: Logger;
  clock: Clock;
  limits: DeliveryLimits;
  track<T>(p: Promise<T>): Promise<T>;
  /** PostgreSQL: other processes may hold leases. */
  isShared: boolean;
  route?: DeliveryRoute;
}

/** See the file comment. */
export class DeliveryWorker {
  readonly #o: WorkerOptions;
  readonly #waiting: QueuedDelivery[] = [];
  readonly #inFlight = new Set<number>();
  #timer: NodeJS.Timeout | undefined;
  #sweeping = false;
  #lastPruneAt = 0;
  #stopped = false;
  #firstSweep = true;

  constructor(o: WorkerOptions) {
    this.#o = o;
  }

  /** Start sweeping the queue (the first sweep at once). */
  start(): void {
    this.#stopped = false;
    this.#schedule(0);
  }

  /** Stop sweeping and wait for deliveries in flight. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#waiting.length = 0;
    while (this.#inFlight.size > 0) await new Promise((r) => setTimeout(r, 20));
  }

  /** Deliver a just-queued delivery now (or as soon as a slot frees). */
  submit(d: QueuedDelivery): void {
    if (this.#stopped) return;
    // Past the bound it stays in the store, leased; a sweep takes it once the lease runs out.
    if (this.#waiting.length >= MAX_WAITING) return;
    this.#waiting.push(d);
    this.#pump();
  }

  /** Deliveries waiting in this process or being sent. */
  get pending(): number {
    return this.#waiting.length + this.#inFlight.size;
  }

  #pump(): void {
    while (this.#inFlight.size < this.#o.limits.concurrency && this.#waiting.length > 0) {
      const d = this.#waiting.shift()!;
      if (this.#inFlight.has(d.id)) continue;
      this.#inFlight.add(d.id);
      void this.#o.track(
        this.#deliver(d)
          .catch((error: unknown) => this.#o.log.error({ err: error, delivery: d.id }, "hook delivery failed"))
          .finally(() => {
            this.#inFlight.delete(d.id);
            this.#pump();
          }),
      );
    }
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      void this.#o.track(this.#sweep()).finally(() => this.#schedule(SWEEP_MS));
    }, ms);
    this.#timer.unref();
  }

  async #sweep(): Promise<void> {
    if (this.#sweeping || this.#stopped) return;
    this.#sweeping = true;
    try {
      const now = this.#o.clock.now();
      const room = MAX_WAITING - this.#waiting.length;
      if (room > 0) {
        const claimed = await this.#o.repo.claim({
          now,
          leaseUntil: now + this.#o.limits.leaseMs,
          limit: Math.min(room, this.#o.limits.concurrency * 8),
          // One process owns the embedded store: at start, what the last one leased is ours.
          ...(this.#firstSweep && !this.#o.isShared ? { leasedBefore: Number.MAX_SAFE_INTEGER } : {}),
        });
        this.#firstSweep = false;
        for (const d of claimed) if (!this.#inFlight.has(d.id)) this.#waiting.push(d);
        this.#pump();
      }
      if (now - this.#lastPruneAt > PRUNE_MS) {
        this.#lastPruneAt = now;
        await this.#o.repo.prune(now - this.#o.limits.retentionMs);
      }
    } catch (error) {
      this.#o.log.warn({ err: error }, "could not sweep the hook delivery queue");
    } finally {
      this.#sweeping = false;
    }
  }

  async #deliver(d: QueuedDelivery): Promise<void> {
    const { repo, metrics, clock } = this.#o;
    const hook = await this.#o.registry.find(d.hookId);
    if (hook === undefined) {
      await repo.markFailed(d.id, { error: "the hook was removed", nextAt: undefined, at: clock.now() });
      metrics.delivery("unknown", "failed");
      return;
    }
    let payload: unknown;
    let text: string;
    try {
      payload = JSON.parse(d.payload) as unknown;
      text = renderDelivery({ hook, payload, meta: d.meta, maxChars: this.#o.limits.maxMessageChars });
    } catch (error) {
      this.#o.log.warn({ err: error, hook: hook.id }, "a hook payload could not be rendered");
      payload = undefined;
      text = `Hook ${hook.name}: a delivery could not be rendered (${d.deliveryId.slice(0, 40)}).`;
    }
    let target = hook.target;
    let edit: SentMessage | undefined;
    if (this.#o.route !== undefined) {
      const routed = await this.#o.route({ hook, payload, meta: d.meta, text });
      if (routed !== undefined) ({ target, text, edit } = routed);
    }
    // Marked sent right before the platform call, after the wait in the adapter's outbound limiter; adapters
    // that call no hook (the console) are marked once the send returned.
    let marking: Promise<void> | undefined;
    const mark = (): Promise<void> => {
      marking ??= repo.markSent(d.id, clock.now());
      return marking;
    };
    try {
      if (edit !== undefined) await this.#o.adapters.edit(edit, { text });
      else
        await this.#o.adapters.send(
          target,
          { text },
          { beforeSend: mark, afterSend: mark, idempotencyKey: `hook${d.id}` },
        );
      await mark();
    } catch (error) {
      const attempts = d.attempts + 1;
      const giveUp = attempts >= this.#o.limits.maxAttempts;
      const waitMs = Math.min(this.#o.limits.retryMaxMs, 500 * 2 ** (attempts - 1));
      await repo.markFailed(d.id, {
        error: error instanceof Error ? error.message : String(error),
        nextAt: giveUp ? undefined : clock.now() + waitMs,
        at: clock.now(),
      });
      metrics.delivery(hook.template, giveUp ? "failed" : "retry");
      this.#o.log.warn({ err: error, hook: hook.id, attempts, giveUp }, "a hook delivery could not be sent");
      return;
    }
    metrics.delivery(hook.template, "sent");
    if (this.#o.events.size > 0)
      this.#o.events.publish({
        type: "hook",
        chatKey: hook.chatKey,
        target,
        hook: { id: hook.id, name: hook.name, template: hook.template },
        deliveryId: d.deliveryId,
        payload,
        text,
      });
  }
}
