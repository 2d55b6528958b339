/**
 * Shared fixed windows on real Redis: the takes of one turn are counted with one command per window key, each
 * take still getting its own exact count, and two processes' takes never share a count.
 */
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { openRedisLink, type RedisLink } from "../../../bot/router/redis-link.ts";
import { redisSharedWindows } from "../../../bot/router/shared-windows.ts";
import { REDIS_URL, serviceAvailable } from "../../helpers/services.ts";

const redisUp = await serviceAvailable("redis");
const WINDOW = { windowMs: 60_000, nowMs: 1_800_000_000_000 };

describe.runIf(redisUp)("redisSharedWindows", () => {
  const links: RedisLink[] = [];
  const open = async (namespace: string) => {
    const link = await openRedisLink({ url: REDIS_URL, namespace });
    links.push(link);
    return link;
  };
  afterAll(async () => {
    for (const link of links) await link.close();
  });

  it("counts a turn's takes of one key with one command, each take its own count in order", async () => {
    const namespace = `sbtest-windows-${randomUUID()}`;
    const windows = redisSharedWindows(await open(namespace));
    const monitor = new Redis(REDIS_URL);
    const seen: string[] = [];
    const feed = await monitor.monitor();
    feed.on("monitor", (_time: string, args: string[]) => {
      if (args.some((a) => a.startsWith(`${namespace}:`))) seen.push(args.join(" "));
    });
    try {
      const first = await Promise.all(Array.from({ length: 50 }, () => windows.count("hook:a", WINDOW)));
      const second = await Promise.all([windows.count("hook:a", WINDOW), windows.count("hook:b", WINDOW)]);
      expect(first).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      expect(second).toEqual([51, 1]);
      // Commands seen by Redis for this namespace: one for the 50 takes, then one per key.
      const deadline = Date.now() + 5_000;
      while (seen.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(seen, seen.join("\n")).toHaveLength(3);
      expect(seen[0]).toContain(`${namespace}:window:hook:a:`);
      // The window's key expires one window after its end.
      const ttl = await links[0]!.command.pttl(`${namespace}:window:hook:a:${WINDOW.nowMs - (WINDOW.nowMs % 60_000)}`);
      expect(ttl).toBeGreaterThan(60_000);
      expect(ttl).toBeLessThanOrEqual(120_000);
    } finally {
      feed.disconnect();
      monitor.disconnect();
    }
  });

  it("gives two processes' takes in the same turn distinct counts", async () => {
    const namespace = `sbtest-windows-${randomUUID()}`;
    const a = redisSharedWindows(await open(namespace));
    const b = redisSharedWindows(await open(namespace));
    const counts = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).count("hook:x", WINDOW)),
    );
    expect([...counts].sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  });
});
