import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { OutboundLimiter, LimiterStoppedError, parseRetryAfterMs } from "../../../../adapters/shared/index.ts";
import { REDIS_URL, serviceAvailable } from "../../../helpers/services.ts";

class RetryLater extends Error {
  readonly retryAfterMs: number;
  constructor(retryAfterMs: number) {
    super("429");
    this.retryAfterMs = retryAfterMs;
  }
}

const retryAfterMsOf = (e: unknown) => (e instanceof RetryLater ? e.retryAfterMs : undefined);
const limiters: OutboundLimiter[] = [];
function make(options: Partial<ConstructorParameters<typeof OutboundLimiter>[0]> = {}): OutboundLimiter {
  const limiter = new OutboundLimiter({ id: `t-${randomUUID()}`, limits: {}, retryAfterMsOf, ...options });
  limiters.push(limiter);
  return limiter;
}

afterEach(async () => {
  await Promise.all(limiters.splice(0).map((l) => l.stop()));
});

describe("OutboundLimiter", () => {
  it("keeps messages to one chat in order and spaced by the per-chat interval", async () => {
    const limiter = make({ limits: { perChatIntervalMs: 100 } });
    const at: Array<[number, number]> = [];
    const started = Date.now();
    await Promise.all(
      [0, 1, 2, 3].map((i) =>
        limiter.run({ chatId: "c1" }, async () => {
          at.push([i, Date.now() - started]);
        }),
      ),
    );
    expect(at.map(([i]) => i)).toEqual([0, 1, 2, 3]);
    expect(at[3]![1]).toBeGreaterThanOrEqual(290);
  });

  it("does not make other chats wait for one chat's budget", async () => {
    const limiter = make({ limits: { perChatIntervalMs: 5_000 } });
    await limiter.run({ chatId: "a" }, async () => undefined);
    const started = Date.now();
    await limiter.run({ chatId: "b" }, async () => undefined);
    expect(Date.now() - started).toBeLessThan(2_500);
  });

  it("retries a call refused with retry-after after that delay, a bounded number of times", async () => {
    const limiter = make({ maxRetries: 2 });
    let calls = 0;
    const retries: number[] = [];
    const limiter2 = make({ maxRetries: 2, onRetry: (i) => retries.push(i.retryAfterMs) });
    const started = Date.now();
    const result = await limiter2.run({ chatId: "c" }, async () => {
      calls++;
      if (calls === 1) throw new RetryLater(150);
      return "ok";
    });
    expect(result).toBe("ok");
    expect(calls).toBe(2);
    expect(retries).toEqual([150]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);

    let refused = 0;
    await expect(
      limiter.run({ chatId: "c" }, async () => {
        refused++;
        throw new RetryLater(10);
      }),
    ).rejects.toBeInstanceOf(RetryLater);
    expect(refused).toBe(3);
  });

  it("without per-chat spacing, starts calls at once but holds a chat for its retry-after", async () => {
    const limiter = make({ limits: { perChatIntervalMs: 0 } });
    const started = Date.now();
    const startedAt: Record<string, number> = {};
    let first = true;
    const refused = limiter.run({ chatId: "held" }, async () => {
      if (first) {
        first = false;
        throw new RetryLater(200);
      }
      return "retried";
    });
    // Both start without waiting for each other: no queue when there is no spacing to keep.
    const a = limiter.run({ chatId: "free" }, async () => (startedAt.free = Date.now() - started));
    await a;
    expect(startedAt.free).toBeLessThan(150);
    await new Promise((resolve) => setTimeout(resolve, 20));
    // The held chat waits out the retry-after, also for calls made meanwhile; other chats do not.
    const later = limiter.run({ chatId: "held" }, async () => (startedAt.held = Date.now() - started));
    const other = limiter.run({ chatId: "free" }, async () => (startedAt.other = Date.now() - started));
    await Promise.all([refused, later, other]);
    expect(await refused).toBe("retried");
    expect(startedAt.held).toBeGreaterThanOrEqual(190);
    expect(startedAt.other).toBeLessThan(150);
  });

  it("gives each attempt a signal of its own, aborted on the attempt timeout or at stop", async () => {
    const limiter = make({ attemptTimeoutMs: 100, drainTimeoutMs: 50 });
    const signals: AbortSignal[] = [];
    await Promise.all(
      [1, 2, 3].map(() =>
        limiter.run({ chatId: "c" }, async (signal) => {
          signals.push(signal);
        }),
      ),
    );
    expect(new Set(signals).size).toBe(3);
    expect(signals.every((s) => !s.aborted)).toBe(true);

    const timedOut = await limiter.run(
      { chatId: "c" },
      (signal) =>
        new Promise<unknown>((resolve) => {
          signal.addEventListener("abort", () => resolve(signal.reason));
        }),
    );
    expect(timedOut).toMatchObject({ name: "TimeoutError" });

    const stopping = make({ drainTimeoutMs: 50 });
    let inFlight: AbortSignal | undefined;
    const hanging = stopping.run(
      { chatId: "c" },
      (signal) =>
        new Promise<never>((_resolve, reject) => {
          inFlight = signal;
          signal.addEventListener("abort", () => reject(signal.reason));
        }),
    );
    await stopping.stop();
    await expect(hanging).rejects.toBeInstanceOf(LimiterStoppedError);
    expect(inFlight?.aborted).toBe(true);
  });

  it("fails at once on errors that are not retry-after, and on a retry-after beyond the cap", async () => {
    const limiter = make({ maxRetryAfterMs: 1_000 });
    let calls = 0;
    await expect(
      limiter.run({ chatId: "c" }, async () => {
        calls++;
        throw new Error("forbidden");
      }),
    ).rejects.toThrow("forbidden");
    await expect(
      limiter.run({ chatId: "c" }, async () => {
        calls++;
        throw new RetryLater(5_000);
      }),
    ).rejects.toBeInstanceOf(RetryLater);
    expect(calls).toBe(2);
  });

  it("fails queued calls with LimiterStoppedError after the drain timeout, and refuses new ones", async () => {
    const limiter = make({ limits: { perChatIntervalMs: 10_000 }, drainTimeoutMs: 100 });
    const first = limiter.run({ chatId: "c" }, async () => "first");
    const second = limiter.run({ chatId: "c" }, async () => "second");
    await expect(first).resolves.toBe("first");
    await limiter.stop();
    await expect(second).rejects.toThrow(/stopped/);
    await expect(limiter.run({ chatId: "c" }, async () => 1)).rejects.toBeInstanceOf(LimiterStoppedError);
  });

  it("spaces calls across all chats by the global rate", async () => {
    const limiter = make({ limits: { globalPerSecond: 10 } });
    const started = Date.now();
    await Promise.all(["a", "b", "c", "d", "e"].map((chatId) => limiter.run({ chatId }, async () => undefined)));
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
  });

  it("holds a group chat's messages beyond its allowance per minute", async () => {
    const limiter = make({ limits: { perGroupPerMinute: 2 }, drainTimeoutMs: 50 });
    const ran: number[] = [];
    await limiter.run({ chatId: "-1", isGroup: true }, async () => void ran.push(1));
    await limiter.run({ chatId: "-1", isGroup: true }, async () => void ran.push(2));
    const third = limiter.run({ chatId: "-1", isGroup: true }, async () => void ran.push(3));
    await limiter.run({ chatId: "-2", isGroup: true }, async () => void ran.push(4));
    await new Promise((r) => setTimeout(r, 300));
    expect(ran).toEqual([1, 2, 4]);
    await limiter.stop();
    await expect(third).rejects.toThrow(/stopped/);
  });

  it("maps the final outcome with onValue and onError, after retries, on both the direct and the queued path", async () => {
    for (const limits of [{}, { perChatIntervalMs: 1 }]) {
      const limiter = make({ limits });
      let calls = 0;
      const value = await limiter.run(
        { chatId: "c" },
        async () => {
          calls++;
          if (calls === 1) throw new RetryLater(5);
          return 7;
        },
        { onValue: (n) => `got ${n}`, onError: (e) => new Error(`mapped: ${String(e)}`) },
      );
      expect(value).toBe("got 7");
      expect(calls).toBe(2);
      await expect(
        limiter.run(
          { chatId: "c" },
          async () => {
            throw new Error("boom");
          },
          { onValue: (n) => n, onError: (e) => new Error(`mapped: ${(e as Error).message}`) },
        ),
      ).rejects.toThrow("mapped: boom");
      expect(limiter.pending()).toBe(0);
    }
    const stopped = make();
    await stopped.stop();
    await expect(
      stopped.run({ chatId: "c" }, async () => 1, { onError: () => new Error("mapped stop") }),
    ).rejects.toThrow("mapped stop");
  });

  it("reads Retry-After in seconds and as an HTTP date", () => {
    expect(parseRetryAfterMs("2")).toBe(2_000);
    expect(parseRetryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(parseRetryAfterMs("soon")).toBeUndefined();
    expect(parseRetryAfterMs(undefined)).toBeUndefined();
  });
});

describe.skipIf(!(await serviceAvailable("redis")))("OutboundLimiter clustered through Redis", () => {
  it("shares one per-chat budget between two limiters with the same id", async () => {
    const id = `cluster-${randomUUID()}`;
    const a = make({ id, redisUrl: REDIS_URL, limits: { perChatIntervalMs: 200 } });
    const b = make({ id, redisUrl: REDIS_URL, limits: { perChatIntervalMs: 200 } });
    expect(a.isClustered).toBe(true);
    const started = Date.now();
    const at: number[] = [];
    const job = async () => {
      at.push(Date.now() - started);
    };
    await Promise.all([a, b, a, b, a, b].map((l) => l.run({ chatId: "shared" }, job)));
    at.sort((x, y) => x - y);
    // Six sends to one chat with a shared 200 ms spacing need at least ~1 s; two separate budgets would take ~0.4 s.
    expect(at[5]! - at[0]!).toBeGreaterThanOrEqual(900);
  }, 20_000);

  it("keeps separate budgets for different ids", async () => {
    const a = make({ id: `x-${randomUUID()}`, redisUrl: REDIS_URL, limits: { perChatIntervalMs: 3_000 } });
    const b = make({ id: `y-${randomUUID()}`, redisUrl: REDIS_URL, limits: { perChatIntervalMs: 3_000 } });
    await a.run({ chatId: "c" }, async () => undefined);
    const started = Date.now();
    await b.run({ chatId: "c" }, async () => undefined);
    expect(Date.now() - started).toBeLessThan(2_000);
  }, 20_000);
});
