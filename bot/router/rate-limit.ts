/**
 * Inbound rate limits: a token bucket per key (user, chat). Inbound flooding wants "drop and say so once",
 * not a queue, so this is a counter check with no allocation on the hot path; outbound limits (which must
 * queue and wait) are the adapters' `OutboundLimiter` (`adapters/shared/outbound-limiter.ts`).
 */
import type { Clock } from "../core.ts";

interface Bucket {
  tokens: number;
  updatedAt: number;
  /** Set once the sender has been told to slow down; cleared when the bucket has room again. */
  warned: boolean;
}

/** The verdict for one message. */
export type RateVerdict = "ok" | "limited-warn" | "limited-silent";

/** Options for `TokenBuckets`. */
export interface TokenBucketsOptions {
  burst: number;
  perMinute: number;
  clock: Clock;
  /** Most keys tracked at once. Default 100,000. */
  maxKeys?: number;
}

/**
 * A set of token buckets sharing one shape, bounded by count and by age. A bucket idle long enough to be full
 * again is the same as no bucket, so it is dropped (swept at most once a minute, and whenever the count bound is
 * reached). Past `maxKeys` with every bucket still refilling, the oldest created go first: their keys start
 * again from a full bucket, a leniency only a flood of more than `maxKeys` distinct senders can cause.
 */
export class TokenBuckets {
  readonly #buckets = new Map<string, Bucket>();
  readonly #burst: number;
  readonly #perMs: number;
  readonly #clock: Clock;
  readonly #maxKeys: number;
  #lastSweep = 0;

  constructor(options: TokenBucketsOptions) {
    this.#burst = options.burst;
    this.#perMs = options.perMinute / 60_000;
    this.#clock = options.clock;
    this.#maxKeys = options.maxKeys ?? 100_000;
  }

  /** Take one token for `key`; `nowMs` lets a caller that checks several buckets read the clock once. */
  take(key: string, nowMs?: number): RateVerdict {
    const now = nowMs ?? this.#clock.now();
    let b = this.#buckets.get(key);
    if (b === undefined) {
      b = { tokens: this.#burst, updatedAt: now, warned: false };
      this.#buckets.set(key, b);
      const size = this.#buckets.size;
      if (size > this.#maxKeys || (size > 1_024 && now - this.#lastSweep > 60_000)) this.#sweep(now);
    } else {
      b.tokens = Math.min(this.#burst, b.tokens + (now - b.updatedAt) * this.#perMs);
      b.updatedAt = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      if (b.tokens >= 1) b.warned = false;
      return "ok";
    }
    if (b.warned) return "limited-silent";
    b.warned = true;
    return "limited-warn";
  }

  /**
   * Set `key`'s tokens to what a shared count says (may be negative: a debt taken elsewhere, paid off by the
   * refill before the next message is let through).
   */
  reconcile(key: string, tokens: number, nowMs: number): void {
    const b = this.#buckets.get(key);
    if (b === undefined)
      this.#buckets.set(key, { tokens: Math.min(this.#burst, tokens), updatedAt: nowMs, warned: false });
    else {
      b.tokens = Math.min(this.#burst, tokens);
      b.updatedAt = nowMs;
    }
  }

  /** The tokens `key`'s bucket held at its last take (the burst when it has none). */
  tokensOf(key: string): number {
    return this.#buckets.get(key)?.tokens ?? this.#burst;
  }

  /** True when `key` has a bucket. */
  has(key: string): boolean {
    return this.#buckets.has(key);
  }

  /** Number of tracked keys. */
  get size(): number {
    return this.#buckets.size;
  }

  #sweep(now: number): void {
    this.#lastSweep = now;
    const buckets = this.#buckets;
    const fullAfterMs = this.#burst / this.#perMs;
    for (const [key, b] of buckets) if (now - b.updatedAt > fullAfterMs) buckets.delete(key);
    if (buckets.size <= this.#maxKeys) return;
    // Still over: drop the oldest created, down to 7/8 of the bound so the next sweeps are not at every insert.
    let excess = buckets.size - Math.floor((this.#maxKeys * 7) / 8);
    for (const key of buckets.keys()) {
      if (excess-- <= 0) break;
      buckets.delete(key);
    }
  }
}
