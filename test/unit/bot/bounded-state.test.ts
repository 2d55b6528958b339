/**
 * Per-chat and per-user state is bounded by count and by age: the aged map (policy cache, chats seen), the
 * compact delivery-id marks, the rate-limit buckets, and the permission service and router built on them.
 */
import { describe, expect, it } from "vitest";
import { AgedMap } from "../../../bot/router/aged-map.ts";
import { DeliveryMarks } from "../../../bot/router/delivery-marks.ts";
import { deliveryDedupe } from "../../../bot/router/dedupe.ts";
import { TokenBuckets } from "../../../bot/router/rate-limit.ts";
import { CachedPermissionService } from "../../../bot/router/permission-service.ts";
import { CommandRegistry } from "../../../bot/commands.ts";
import { createEphemeral } from "../../../bot/ephemeral.ts";
import { createLogger } from "../../../bot/logger.ts";
import { memoryStore } from "../../../bot/storage/open.ts";
import { startTestBot } from "../../helpers/app.ts";

describe("AgedMap", () => {
  it("drops the oldest entries when inserting past the count bound", () => {
    const map = new AgedMap<number>({ maxEntries: 3, maxAgeMs: Number.POSITIVE_INFINITY });
    for (let i = 0; i < 5; i++) map.set(`k${i}`, i, i);
    expect(map.size).toBe(3);
    expect(map.get("k0", 5)).toBeUndefined();
    expect(map.get("k1", 5)).toBeUndefined();
    expect([map.get("k2", 5), map.get("k3", 5), map.get("k4", 5)]).toEqual([2, 3, 4]);
  });

  it("a rewrite makes an entry the newest, so it outlives older ones", () => {
    const map = new AgedMap<number>({ maxEntries: 2, maxAgeMs: Number.POSITIVE_INFINITY });
    map.set("a", 1, 0);
    map.set("b", 2, 1);
    map.set("a", 3, 2);
    map.set("c", 4, 3);
    expect(map.get("b", 4)).toBeUndefined();
    expect(map.get("a", 4)).toBe(3);
  });

  it("answers nothing for entries past their age and drops them as new ones come", () => {
    const map = new AgedMap<string>({ maxEntries: 100, maxAgeMs: 1_000 });
    for (let i = 0; i < 8; i++) map.set(`old${i}`, "x", 0);
    expect(map.get("old0", 999)).toBe("x");
    expect(map.get("old0", 1_000)).toBeUndefined();
    map.set("new1", "y", 2_000);
    map.set("new2", "y", 2_000);
    expect(map.size).toBe(2); // 8 expired dropped, 4 per write
    expect(map.get("new1", 2_500)).toBe("y");
  });

  it("with age 0 never answers", () => {
    const map = new AgedMap<number>({ maxEntries: 10, maxAgeMs: 0 });
    map.set("a", 1, 5);
    expect(map.get("a", 5)).toBeUndefined();
  });
});

describe("DeliveryMarks", () => {
  it("answers true once per id within the window", () => {
    const marks = new DeliveryMarks({ ttlMs: 60_000, maxMarks: 1_000 });
    const ids = Array.from({ length: 300 }, (_, i) => `Ev${i.toString(36)}`);
    expect(ids.map((id) => marks.mark(id, 0))).toEqual(ids.map(() => true));
    expect(ids.map((id) => marks.mark(id, 1_000))).toEqual(ids.map(() => false));
    expect(marks.size).toBe(300);
  });

  it("keeps marks across table growth", () => {
    const marks = new DeliveryMarks({ ttlMs: 60_000, maxMarks: 1_000_000 });
    for (let i = 0; i < 20_000; i++) marks.mark(`slack:Ev${i}`, 0);
    let redelivered = 0;
    for (let i = 0; i < 20_000; i++) if (!marks.mark(`slack:Ev${i}`, 1)) redelivered++;
    expect(redelivered).toBe(20_000);
    expect(marks.bytes).toBeLessThanOrEqual(20_000 * 16 * 2);
  });

  it("remembers a mark for at least the TTL and forgets it after a few buckets more", () => {
    const marks = new DeliveryMarks({ ttlMs: 3_000, maxMarks: 1_000, generations: 4 }); // a bucket per second
    expect(marks.mark("a", 0)).toBe(true);
    expect(marks.mark("tick", 1_000)).toBe(true);
    expect(marks.mark("tick2", 2_000)).toBe(true);
    expect(marks.mark("a", 2_999)).toBe(false);
    expect(marks.mark("tick3", 3_000)).toBe(true);
    expect(marks.mark("a", 3_500)).toBe(false); // remembered up to ttl · 4/3
    expect(marks.mark("tick4", 4_000)).toBe(true); // "a"'s bucket is dropped
    expect(marks.mark("a", 4_001)).toBe(true);
  });

  it("drops the oldest marks when inserting past the count bound", () => {
    const marks = new DeliveryMarks({ ttlMs: 600_000, maxMarks: 400, generations: 4 });
    for (let i = 0; i < 1_000; i++) marks.mark(`id${i}`, 0);
    expect(marks.size).toBeLessThanOrEqual(400);
    expect(marks.earlyRotations).toBeGreaterThan(0);
    expect(marks.mark("id999", 0)).toBe(false); // the newest are kept
    expect(marks.mark("id0", 0)).toBe(true); // the oldest went
  });
});

describe("deliveryDedupe in memory", () => {
  it("keeps one bounded set of delivery-id marks per platform", () => {
    const first = deliveryDedupe(createEphemeral(), 600_000, { maxMarks: 64 });
    for (let i = 0; i < 500; i++) first({ platform: "slack", deliveryId: `slack:Ev${i}`, receivedAt: 0 });
    first({ platform: "discord", deliveryId: "discord:1", receivedAt: 0 });
    expect(first.marks.get("slack")!.size).toBeLessThanOrEqual(64);
    expect(first.marks.get("discord")!.size).toBe(1);
    expect(first({ platform: "slack", deliveryId: "slack:Ev499", receivedAt: 0 })).toBe(false);
  });
});

describe("TokenBuckets", () => {
  it("drops the oldest keys when tracking past the count bound, idle ones first", () => {
    let now = 0;
    const buckets = new TokenBuckets({ burst: 2, perMinute: 60, clock: { now: () => now }, maxKeys: 100 });
    buckets.take("limited");
    buckets.take("limited");
    expect(buckets.take("limited")).toBe("limited-warn");
    for (let i = 0; i < 150; i++) buckets.take(`k${i}`);
    expect(buckets.size).toBeLessThanOrEqual(100);
    // "limited" was the oldest: it went, and starts again full.
    expect(buckets.take("limited")).toBe("ok");
    // After a while every bucket has refilled: a sweep drops them all at the next overflow.
    now = 10 * 60_000;
    for (let i = 0; i < 101; i++) buckets.take(`later${i}`);
    expect(buckets.size).toBeLessThanOrEqual(101);
    expect(buckets.size).toBeGreaterThan(0);
  });

  it("sweeps buckets that have refilled once a minute, whatever the count", () => {
    let now = 0;
    const buckets = new TokenBuckets({ burst: 2, perMinute: 60, clock: { now: () => now }, maxKeys: 100_000 });
    for (let i = 0; i < 2_000; i++) buckets.take(`k${i}`);
    now = 120_000;
    buckets.take("fresh");
    expect(buckets.size).toBe(1);
  });
});

describe("CachedPermissionService cache", () => {
  it("holds at most its bound of chats, the least recently loaded go first", async () => {
    const store = await memoryStore();
    try {
      const permissions = new CachedPermissionService({
        store,
        commands: new CommandRegistry(),
        clock: { now: () => 1_000 },
        log: createLogger({ level: "silent", format: "json" }),
        owners: [],
        defaultDm: "open",
        newChats: "locked",
        commandRoles: {},
        cacheTtlMs: 600_000,
        cacheMaxEntries: 10,
      });
      for (let i = 0; i < 25; i++) await permissions.policy(`test:c${i}`);
      expect(permissions.cachedCount).toBe(10);
      expect(permissions.peek("test:c0")).toBeNull(); // must be loaded again
      expect(permissions.peek("test:c24")).toBeUndefined(); // cached: no policy
    } finally {
      await store.close();
    }
  });
});

describe("router chats seen", () => {
  it("records a chat again once it has fallen out of the bounded record", async () => {
    const bot = await startTestBot({ set: { "limits.maxTrackedKeys": 3 } });
    try {
      const touched: string[] = [];
      const chats = bot.app.core.store.chats;
      const touch = chats.touch.bind(chats);
      chats.touch = (chatKey, ...rest) => {
        touched.push(chatKey);
        return touch(chatKey, ...rest);
      };
      for (const chatId of ["A", "B", "A", "C", "D", "A", "B"]) await bot.adapter.say("hello", { chatId });
      await bot.app.core.router.drain();
      // A, B, C recorded; D pushes A out; A comes back (pushing B out), then B.
      expect(touched).toEqual(["test:A", "test:B", "test:C", "test:D", "test:A", "test:B"]);
    } finally {
      await bot.stop();
    }
  });
});
