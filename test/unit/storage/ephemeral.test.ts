/**
 * Ephemeral state on keyv, in memory and on real Redis (127.0.0.1:6379): TTLs, namespaces, and `rememberOnce`,
 * which must let exactly one of many concurrent callers through — across processes on Redis.
 */
import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import {
  createEphemeral,
  isSwitchboardError,
  onceChecker,
  onceMarkCount,
  rememberOnce,
  type Keyv,
} from "../../../bot/index.ts";
import { REDIS_URL, serviceAvailable } from "../../helpers/services.ts";

const redisUp = await serviceAvailable("redis");

function waitMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll until `check` is true (expiry has no event to wait on). */
async function eventually(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await waitMs(20);
  }
}

function defineEphemeralTests(name: string, make: (namespace: string) => Keyv): void {
  describe(`ephemeral state: ${name}`, { timeout: 60_000 }, () => {
    const opened: Keyv[] = [];
    const open = (namespace = `sbtest-${randomUUID().slice(0, 8)}`): Keyv => {
      const kv = make(namespace);
      opened.push(kv);
      return kv;
    };
    afterAll(async () => {
      for (const kv of opened) {
        await kv.clear();
        await kv.disconnect();
      }
    });

    it("stores JSON values and lets them expire after their TTL", async () => {
      const kv = open();
      await kv.set("cache:a", { hits: 3, tags: ["x"] });
      await kv.set("cache:short", "soon gone", 1_000);
      expect(await kv.get("cache:a")).toEqual({ hits: 3, tags: ["x"] });
      expect(await kv.get("cache:short")).toBe("soon gone");
      await eventually(async () => (await kv.get("cache:short")) === undefined);
      expect(await kv.get("cache:a")).toEqual({ hits: 3, tags: ["x"] });
      expect(await kv.delete("cache:a")).toBe(true);
      expect(await kv.get("cache:a")).toBeUndefined();
    });

    it("rememberOnce is true the first time within the TTL, and again after it", async () => {
      const kv = open();
      expect(await rememberOnce(kv, "delivery:1", 1_000)).toBe(true);
      expect(await rememberOnce(kv, "delivery:1", 1_000)).toBe(false);
      expect(await rememberOnce(kv, "delivery:2", 1_000)).toBe(true);
      await eventually(() => rememberOnce(kv, "delivery:1", 60_000));
      expect(await rememberOnce(kv, "delivery:1", 60_000)).toBe(false);
    });

    it("rememberOnce lets exactly one of many concurrent callers through, across instances", async () => {
      const namespace = `sbtest-${randomUUID().slice(0, 8)}`;
      const first = open(namespace);
      // In memory, one process shares one instance; on Redis a second client stands for a second process.
      const second = name === "memory" ? first : open(namespace);
      for (let round = 0; round < 5; round += 1) {
        const key = `delivery:${round}`;
        const answers = await Promise.all(
          Array.from({ length: 40 }, (_, index) => rememberOnce(index % 2 === 0 ? first : second, key, 60_000)),
        );
        expect(answers.filter(Boolean)).toHaveLength(1);
      }
    });

    it("onceChecker answers once per key within its TTL, apart from other prefixes, across instances", async () => {
      const namespace = `sbtest-${randomUUID().slice(0, 8)}`;
      const first = open(namespace);
      const second = name === "memory" ? first : open(namespace);
      const dedupe = onceChecker(first, "dedupe:", 60_000);
      const dedupeElsewhere = onceChecker(second, "dedupe:", 60_000);
      const other = onceChecker(first, "other:", 60_000);
      const short = onceChecker(first, "short:", 30);
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? dedupe : dedupeElsewhere)("d1")),
      );
      expect(answers.filter(Boolean)).toHaveLength(1);
      if (name === "memory") expect(dedupe("d2")).toBe(true); // in memory the answer is synchronous
      expect(await other("d1")).toBe(true);
      expect(await short("s1")).toBe(true);
      expect(await short("s1")).toBe(false);
      await waitMs(60);
      expect(await short("s1")).toBe(true);
      expect(() => onceChecker(first, "x:", 0)).toThrow(/ttlMs/);
    });

    it("keeps namespaces apart", async () => {
      const a = open();
      const b = open();
      await a.set("k", "from a");
      expect(await b.get("k")).toBeUndefined();
      expect(await rememberOnce(a, "delivery:x", 60_000)).toBe(true);
      expect(await rememberOnce(b, "delivery:x", 60_000)).toBe(true);
    });

    it("refuses a missing key or a bad TTL with E_BAD_ARGS", () => {
      const kv = open();
      for (const [key, ttlMs] of [
        ["", 1_000],
        ["k", 0],
        ["k", Number.NaN],
        ["k", Number.POSITIVE_INFINITY],
        [undefined, 1_000],
      ] as const) {
        let caught: unknown;
        try {
          void rememberOnce(kv, key as unknown as string, ttlMs);
        } catch (error) {
          caught = error;
        }
        expect(isSwitchboardError(caught) && caught.code === "E_BAD_ARGS").toBe(true);
      }
    });
  });
}

defineEphemeralTests("memory", (namespace) => createEphemeral({ namespace }));

describe.skipIf(!redisUp)("Redis", () => {
  defineEphemeralTests("redis", (namespace) => createEphemeral({ redisUrl: REDIS_URL, namespace }));
});

describe("in-memory dedupe marks", () => {
  it("sweeps expired marks as new ones arrive, so memory stays bounded", async () => {
    const kv = createEphemeral();
    for (let index = 0; index < 1_000; index += 1) await rememberOnce(kv, `old:${index}`, 1);
    await waitMs(5);
    for (let index = 0; index < 1_000; index += 1) await rememberOnce(kv, `new:${index}`, 60_000);
    expect(onceMarkCount(kv)).toBeLessThan(1_300);
    expect(onceMarkCount(kv)).toBeGreaterThanOrEqual(1_000);
    expect(await rememberOnce(kv, "new:0", 60_000)).toBe(false);
    expect(await rememberOnce(kv, "old:0", 60_000)).toBe(true);
  });

  it("sweeps marks with mixed TTLs once the map has doubled", async () => {
    const kv = createEphemeral();
    await rememberOnce(kv, "long-lived-head", 3_600_000);
    for (let index = 0; index < 5_000; index += 1) await rememberOnce(kv, `short:${index}`, 1);
    await waitMs(5);
    for (let index = 0; index < 5_000; index += 1) await rememberOnce(kv, `short2:${index}`, 1);
    expect(onceMarkCount(kv)).toBeLessThan(8_000);
    expect(await rememberOnce(kv, "long-lived-head", 3_600_000)).toBe(false);
  });
});

describe.skipIf(!redisUp)("Redis failures", () => {
  it("rejects with E_STORAGE when Redis cannot be reached, instead of answering as if nothing was seen", async () => {
    const kv = createEphemeral({ redisUrl: "redis://:hunter2@127.0.0.1:1", connectTimeoutMs: 500 });
    try {
      const error = await rememberOnce(kv, "delivery:1", 1_000).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(isSwitchboardError(error) && error.code === "E_STORAGE").toBe(true);
      expect((error as Error).message).not.toContain("hunter2");
      await expect(kv.get("anything")).rejects.toThrow();
    } finally {
      await kv.disconnect().catch(() => undefined);
    }
  });
});
