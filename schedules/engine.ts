/**
 * The firing engine: one timer over a min-heap of next fire times. Due entries are popped and handed to
 * `onFire` first, in time order; only then are their next fire times computed (in chunks that yield to the event
 * loop), so a burst of schedules due in the same second is not held back by recomputing them all. The engine
 * knows ids and instants only; what a fire does and how the next time is computed belong to the caller.
 */
import type { Clock } from "../bot/index.ts";
import { MinHeap } from "./heap.ts";

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
  gen: number;
  atMs: number | undefined;
}

/** One timer, many schedules. */
export class FireEngine {
  readonly #o: EngineOptions;
  readonly #timers: Timers;
  readonly #heap = new MinHeap();
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
    return this.#slots.get(id)?.atMs;
  }

  /** Schedule (or reschedule) `id` to fire at `atMs`; undefined removes it. */
  set(id: string, atMs: number | undefined): void {
    if (atMs === undefined || !Number.isFinite(atMs)) {
      this.remove(id);
      return;
    }
    const gen = ++this.#gen;
    this.#slots.set(id, { gen, atMs });
    this.#heap.push({ atMs, id, gen });
    if (this.#isRunning && this.#recomputing === 0 && atMs < this.#timerAtMs) this.#arm();
  }

  /** Forget `id` (paused, deleted). */
  remove(id: string): void {
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

  #peekValid(): { atMs: number } | undefined {
    for (let top = this.#heap.peek(); top !== undefined; top = this.#heap.peek()) {
      if (this.#slots.get(top.id)?.gen === top.gen) return top;
      this.#heap.pop();
    }
    return undefined;
  }

  #arm(): void {
    if (!this.#isRunning) return;
    const top = this.#peekValid();
    if (top === undefined) {
      this.#clearTimer();
      return;
    }
    if (this.#timer !== undefined && this.#timerAtMs <= top.atMs) return;
    this.#clearTimer();
    const now = this.#o.clock.now();
    const delay = Math.max(0, Math.min(top.atMs - now, this.#o.maxWaitMs ?? 30_000));
    this.#timerAtMs = now + delay;
    this.#timer = this.#timers.setTimeout(() => this.#onTimer(), delay);
  }

  #onTimer(): void {
    this.#timer = undefined;
    this.#timerAtMs = Number.POSITIVE_INFINITY;
    if (!this.#isRunning) return;
    const now = this.#o.clock.now();
    const due: Array<{ id: string; gen: number; atMs: number }> = [];
    for (let top = this.#heap.peek(); top !== undefined && top.atMs <= now; top = this.#heap.peek()) {
      this.#heap.pop();
      const slot = this.#slots.get(top.id);
      if (slot === undefined || slot.gen !== top.gen) continue;
      slot.atMs = undefined;
      due.push(top);
    }
    for (const d of due) {
      try {
        this.#o.onFire(d.id, d.atMs);
      } catch (error) {
        this.#o.onError?.(error, d.id);
      }
    }
    this.#recomputing++;
    this.#busy = this.#busy
      .then(() => this.#recompute(due))
      .catch((error: unknown) => this.#o.onError?.(error, "*"))
      .then(() => {
        this.#recomputing--;
        this.#arm();
      });
  }

  async #recompute(due: ReadonlyArray<{ id: string; gen: number; atMs: number }>): Promise<void> {
    const chunk = this.#o.chunkSize ?? 1_000;
    for (let i = 0; i < due.length; i++) {
      if (i > 0 && i % chunk === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      const d = due[i]!;
      const slot = this.#slots.get(d.id);
      if (slot === undefined || slot.gen !== d.gen) continue; // changed or removed meanwhile
      try {
        const now = this.#o.clock.now();
        let next = this.#o.nextAfter(d.id, d.atMs);
        // Fell far behind (the process stalled): skip what is already past rather than firing it late.
        if (next !== undefined && next <= now - 1_000) next = this.#o.nextAfter(d.id, now);
        if (next === undefined) this.#slots.delete(d.id);
        else this.set(d.id, next);
      } catch (error) {
        this.#slots.delete(d.id);
        this.#o.onError?.(error, d.id);
      }
    }
  }
}
