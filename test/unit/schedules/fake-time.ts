/** A manual clock and timers for schedule tests: time moves only when `advance` says so. */
import type { Clock } from "../../../bot/index.ts";
import type { Timers } from "../../../schedules/index.ts";

interface Pending {
  atMs: number;
  seq: number;
  fn: () => void;
}

/** Clock + timers; `advance` runs due timers in time order, settling async work between them. */
export class FakeTime implements Clock, Timers {
  #now: number;
  #seq = 0;
  readonly #pending = new Map<number, Pending>();

  constructor(startMs: number) {
    this.#now = startMs;
  }

  /** Timers waiting to run. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, delayMs: number): unknown {
    const seq = ++this.#seq;
    this.#pending.set(seq, { atMs: this.#now + Math.max(0, delayMs), seq, fn });
    return seq;
  }

  clearTimeout(handle: unknown): void {
    this.#pending.delete(handle as number);
  }

  /** Move time forward by `ms`, running every timer that falls due, in order; `settle` runs after each. */
  async advance(ms: number, settle: () => Promise<void> = async () => undefined): Promise<void> {
    const target = this.#now + ms;
    await settle();
    for (;;) {
      let next: Pending | undefined;
      for (const p of this.#pending.values()) {
        if (
          p.atMs <= target &&
          (next === undefined || p.atMs < next.atMs || (p.atMs === next.atMs && p.seq < next.seq))
        )
          next = p;
      }
      if (next === undefined) break;
      this.#pending.delete(next.seq);
      this.#now = Math.max(this.#now, next.atMs);
      next.fn();
      await settle();
    }
    this.#now = target;
  }

  /** Jump to an absolute time (no earlier than now). */
  async advanceTo(atMs: number, settle?: () => Promise<void>): Promise<void> {
    await this.advance(Math.max(0, atMs - this.#now), settle);
  }
}
