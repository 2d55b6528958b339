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

/** A set of token buckets sharing one shape. Idle buckets are swept. */
export class TokenBuckets {
  readonly #buckets = new Map<string, Bucket>();
  readonly #burst: number;
  readonly #perMs: number;
  readonly #clock: Clock;
  #lastSweep = 0;

  constructor(options: { burst: number; perMinute: number; clock: Clock }) {
    this.#burst = options.burst;
    this.#perMs = options.perMinute / 60_000;
    this.#clock = options.clock;
  }

  /** Take one token for `key`; `nowMs` lets a caller that checks several buckets read the clock once. */
  take(key: string, nowMs?: number): RateVerdict {
    const now = nowMs ?? this.#clock.now();
    let b = this.#buckets.get(key);
    if (b === undefined) {
      b = { tokens: this.#burst, updatedAt: now, warned: false };
      this.#buckets.set(key, b);
      if (this.#buckets.size > 10_000 && now - this.#lastSweep > 60_000) this.#sweep(now);
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

  /** Number of tracked keys. */
  get size(): number {
    return this.#buckets.size;
  }

  #sweep(now: number): void {
    this.#lastSweep = now;
    const fullAfterMs = this.#burst / this.#perMs;
    for (const [key, b] of this.#buckets) if (now - b.updatedAt > fullAfterMs) this.#buckets.delete(key);
  }
}
