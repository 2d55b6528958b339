/** `countInWindow`: a fixed-window counter, bounded in memory, atomic and shared on Redis. */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { countInWindow, createEphemeral } from "../../../bot/index.ts";
import { BoundedMap } from "../../../gateway/cache.ts";
import { REDIS_URL, serviceAvailable } from "../../helpers/services.ts";

const redisUp = await serviceAvailable("redis");

describe("countInWindow", () => {
  it("counts within a window and starts again after it, in memory", async () => {
    const kv = createEphemeral();
    const key = `t:${randomUUID()}`;
    expect([await countInWindow(kv, key, 60_000), await countInWindow(kv, key, 60_000)]).toEqual([1, 2]);
    const short = `s:${randomUUID()}`;
    await countInWindow(kv, short, 1);
    await new Promise((r) => setTimeout(r, 5));
    expect(await countInWindow(kv, short, 1)).toBe(1);
  });

  it.skipIf(!redisUp)("shares one atomic count between two connections on Redis", async () => {
    const a = createEphemeral({ redisUrl: REDIS_URL });
    const b = createEphemeral({ redisUrl: REDIS_URL });
    try {
      const key = `t:${randomUUID()}`;
      const counts = await Promise.all(Array.from({ length: 20 }, (_, i) => countInWindow(i % 2 ? a : b, key, 60_000)));
      expect(counts.sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    } finally {
      await Promise.all([a.disconnect(), b.disconnect()]);
    }
  });
});

describe("BoundedMap", () => {
  it("forgets the oldest entry past its bound", () => {
    const m = new BoundedMap<string, number>(2);
    m.set("a", 1).set("b", 2).set("c", 3);
    expect([...m.keys()]).toEqual(["b", "c"]);
    m.set("b", 4);
    expect(m.size).toBe(2);
  });
});
