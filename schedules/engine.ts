/**
 * The firing engine: one timer over a min-heap of distinct fire times, each with a bucket of the schedules due
 * then (cron fires fall on whole seconds, so a burst of 100,000 schedules due in the same second is one heap
 * entry and one array walk). Due schedules are handed to `onFire` first, in time order, a chunk per event-loop
 * turn (so the first fires' work starts before a large burst has been handed out); only then are their next fire
 * times computed (in chunks that yield to the event loop), so a burst is not held back by recomputing them all. Removed or rescheduled entries are skipped lazily (generation numbers). The engine knows ids and instants
 * only; what a fire does and how the next time is computed belong to the caller.
 */
import type { Clock } from "../bot/index.ts";
import { TimeHeap } from "./heap.ts";

/** The timer functions the engine uses (injected so tests can drive a fake clock). */
export interface Timers {
  setTimeout(fn: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The global timers, looked up at call time (so test fake timers apply). */
export const globalTimers: Timers = {
  setTimeout: (fn, delayMs) => setTimeout(fn, delayMs),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** What the engine needs. */
export interface EngineOptions {
  clock: Clock;
  timers?: Timers;
  /** Called synchronously for each due fire, earliest first. Must not throw (errors are reported and ignored). */
  onFire(id: string, atMs: number): void;
  /** The next fire strictly after `afterMs`, or undefined when the schedule is finished. */
  nextAfter(id: string, afterMs: number): number | undefined;
  /** Told about a throwing `onFire` or `nextAfter`. */
  onError?(error: unknown, id: string): void;
  /** Longest single timer wait, so a changed wall clock is noticed (default 30 s). */
  maxWaitMs?: number;
  /** Recompute this many next times before yielding to the event loop (default 1,000). */
  chunkSize?: number;
}

interface Slot {
  readonly id: string;
  gen: number;
  /** -1 while the fire is being handed out and the next time computed (a number, so the shape never changes). */
  atMs: number;
}

/** One timer, many schedules. */
export class FireEngine {
  readonly #o: EngineOptions;
  readonly #timers: Timers;
  readonly #times = new TimeHeap();
  /** Per fire time: the slots due then, with the generation each was due at (stale ones are skipped). */
  readonly #buckets = new Map<number, { slots: Slot[]; gens: number[] }>();
  readonly #slots = new Map<string, Slot>();
  #gen = 0;
  #timer: unknown;
  #timerAtMs = Number.POSITIVE_INFINITY;
  #isRunning = false;
  #recomputing = 0;
  #busy: Promise<void> = Promise.resolve();

  constructor(options: EngineOptions) {
    this.#o = options;
    this.#timers = options.timers ?? globalTimers;
  }

  /** Number of schedules the engine holds. */
  get size(): number {
    return this.#slots.size;
  }

  /** The next fire time the engine holds for `id`. */
  nextOf(id: string): number | undefined {
    const at = this.#slots.get(id)?.atMs;
    return at === undefined || at < 0 ? undefined : at;
  }

  /** Schedule (or reschedule) `id` to fire at `atMs`; undefined removes it. */
  set(id: string, atMs: number | undefined): void {
    if (atMs === undefined || !Number.isFinite(atMs)) {
      this.remove(id);
      return;
    }
    const gen = ++this.#gen;
    let slot = this.#slots.get(id);
    if (slot === undefined) {
      slot = { id, gen, atMs };
      this.#slots.set(id, slot);
    } else {
      slot.gen = gen;
      slot.atMs = atMs;
    }
    let bucket = this.#buckets.get(atMs);
    if (bucket === undefined) {
      bucket = { slots: [], gens: [] };
      this.#buckets.set(atMs, bucket);
      this.#times.push(atMs);
    }
    bucket.slots.push(slot);
    bucket.gens.push(gen);
    if (this.#isRunning && this.#recomputing === 0 && atMs < this.#timerAtMs) this.#arm();
  }

  /** Forget `id` (paused, deleted). */
  remove(id: string): void {
    const slot = this.#slots.get(id);
    if (slot === undefined) return;
    slot.gen = -1; // entries in buckets are now stale
    this.#slots.delete(id);
  }

  /** Start firing. */
  start(): void {
    this.#isRunning = true;
    this.#arm();
  }

  /** Stop firing and wait for the recompute in progress. */
  async stop(): Promise<void> {
    this.#isRunning = false;
    this.#clearTimer();
    await this.#busy;
  }

  /** Wait until due fires have been handed out and their next times computed (tests). */
  async idle(): Promise<void> {
    await this.#busy;
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAtMs = Number.POSITIVE_INFINITY;
  }

  #arm(): void {
    if (!this.#isRunning) return;
    const top = this.#times.peek();
    if (top === undefined) {
      this.#clearTimer();
      return;
    }
    if (this.#timer !== undefined && this.#timerAtMs <= top) return;
    this.#clearTimer();
    const now = this.#o.clock.now();
    const delay = Math.max(0, Math.min(top - now, this.#o.maxWaitMs ?? 30_000));
    this.#timerAtMs = now + delay;
    this.#timer = this.#timers.setTimeout(() => this.#onTimer(), delay);
  }

  #onTimer(): void {
    this.#timer = undefined;
    this.#timerAtMs = Number.POSITIVE_INFINITY;
    if (!this.#isRunning) return;
    const now = this.#o.clock.now();
    // The buckets handed out are also the recompute list (no per-entry copies on the fire path).
    const due: Array<{ atMs: number; slots: Slot[]; gens: number[] }> = [];
    for (let t = this.#times.peek(); t !== undefined && t <= now; t = this.#times.peek()) {
      this.#times.pop();
      const bucket = this.#buckets.get(t);
      this.#buckets.delete(t);
      if (bucket === undefined) continue;
      due.push({ atMs: t, slots: bucket.slots, gens: bucket.gens });
    }
    // The first chunk is handed out now; a large burst's rest a chunk per event-loop turn, so the first fires'
    // work (claims, replies) starts while the rest are still being handed out.
    const chunk = this.#o.chunkSize ?? 1_000;
    const cursor = { bucket: 0, index: 0 };
    const handedOut = this.#handOut(due, cursor, chunk)
      ? Promise.resolve()
      : (async () => {
          while (this.#isRunning) {
            await new Promise<void>((resolve) => setImmediate(resolve));
            if (this.#handOut(due, cursor, chunk)) return;
          }
        })();
    this.#recomputing++;
    this.#busy = Promise.all([this.#busy, handedOut])
      .then(() => this.#recompute(due))
      .catch((error: unknown) => this.#o.onError?.(error, "*"))
      .then(() => {
        this.#recomputing--;
        this.#arm();
      });
  }

  /** Hand out up to `count` due fires from `cursor` on, in time order; true when all are handed out. */
  #handOut(
    due: ReadonlyArray<{ atMs: number; slots: readonly Slot[]; gens: readonly number[] }>,
    cursor: { bucket: number; index: number },
    count: number,
  ): boolean {
    const onFire = this.#o.onFire;
    let left = count;
    for (; cursor.bucket < due.length; cursor.bucket++, cursor.index = 0) {
      const { atMs, slots, gens } = due[cursor.bucket]!;
      for (; cursor.index < slots.length; cursor.index++) {
        if (left-- === 0) return false;
        const slot = slots[cursor.index]!;
        if (slot.gen !== gens[cursor.index]) continue; // removed or rescheduled
        slot.atMs = -1;
        try {
          onFire(slot.id, atMs);
        } catch (error) {
          this.#o.onError?.(error, slot.id);
        }
      }
    }
    return true;
  }

  async #recompute(
    due: ReadonlyArray<{ atMs: number; slots: readonly Slot[]; gens: readonly number[] }>,
  ): Promise<void> {
    const chunk = this.#o.chunkSize ?? 1_000;
    let n = 0;
    for (const bucket of due) {
      for (let i = 0; i < bucket.slots.length; i++) {
        if (++n % chunk === 0) await new Promise<void>((resolve) => setImmediate(resolve));
        const slot = bucket.slots[i]!;
        const id = slot.id;
        const atMs = bucket.atMs;
        // Changed, removed or already rescheduled meanwhile; -1 marks "fired, waiting for its next time".
        if (slot.gen !== bucket.gens[i] || slot.atMs !== -1) continue;
        try {
          const now = this.#o.clock.now();
          let next = this.#o.nextAfter(id, atMs);
          // Fell far behind (the process stalled): skip what is already past rather than firing it late.
          if (next !== undefined && next <= now - 1_000) next = this.#o.nextAfter(id, now);
          if (next === undefined) this.remove(id);
          else this.set(id, next);
        } catch (error) {
          this.remove(id);
          this.#o.onError?.(error, id);
        }
      }
    }
  }
}
