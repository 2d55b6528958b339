/**
 * The answer cache's bounds: at most `maxEntries` answers in memory (oldest out), none over `maxEntryBytes`,
 * none past `ttlMs`; on Redis (the bot's ephemeral store) one cache for every process.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createEphemeral } from "../../../bot/index.ts";
import { parseConfig } from "../../../config/index.ts";
import { AnswerCache } from "../../../gateway/cache.ts";
import { ModelRegistry, resolveModels } from "../../../llm/registry.ts";
import type { TurnCacheQuery } from "../../../llm/index.ts";
import { REDIS_URL, serviceAvailable } from "../../helpers/services.ts";

const redisUp = await serviceAvailable("redis");
const config = parseConfig({
  llm: { models: [{ name: "m", provider: "openai", model: "x", baseUrl: "http://127.0.0.1:9/v1" }] },
});
const registry = new ModelRegistry(resolveModels(config.llm), { now: () => Date.now() });
const cacheConfig = (o: Partial<typeof config.gateway.cache> = {}) => ({
  ...config.gateway.cache,
  enabled: true,
  ...o,
});
const query = (text: string, who = "t:1"): TurnCacheQuery => ({
  who,
  chain: ["m"],
  messages: [{ role: "user", content: text }],
  params: { temperature: 0 },
});
const answer = (text: string) => ({ result: { text, toolCalls: [], finishReason: "stop" }, model: "m" });

describe("AnswerCache", () => {
  it("keeps at most maxEntries answers in memory, the oldest out", async () => {
    const cache = new AnswerCache({ shared: createEphemeral(), config: cacheConfig({ maxEntries: 2 }), registry });
    for (const q of ["one", "two", "three"]) await cache.setTurn(query(q), answer(q));
    expect(await cache.getTurn(query("one"))).toBeUndefined();
    expect(await cache.getTurn(query("two"))).toMatchObject({ text: "two", model: "m" });
    expect(await cache.getTurn(query("three"))).toMatchObject({ text: "three" });
  });

  it("keeps no answer over maxEntryBytes, none with tool calls, and none past ttlMs", async () => {
    const cache = new AnswerCache({
      shared: createEphemeral(),
      config: cacheConfig({ maxEntryBytes: 200, ttlMs: 1 }),
      registry,
    });
    await cache.setTurn(query("big"), answer("x".repeat(500)));
    expect(await cache.getTurn(query("big"))).toBeUndefined();
    await cache.setTurn(query("tools"), {
      result: { text: "", toolCalls: [{ id: "c", name: "f", arguments: "{}" }], finishReason: "tool_calls" },
      model: "m",
    });
    expect(await cache.getTurn(query("tools"))).toBeUndefined();
    await cache.setTurn(query("short"), answer("short"));
    await new Promise((r) => setTimeout(r, 10)); // past the 1 ms TTL however slow the machine is
    expect(await cache.getTurn(query("short"))).toBeUndefined();
    // The same turn of another person is another entry.
    const lasting = new AnswerCache({ shared: createEphemeral(), config: cacheConfig(), registry });
    await lasting.setTurn(query("mine", "t:1"), answer("mine"));
    expect(await lasting.getTurn(query("mine", "t:2"))).toBeUndefined();
    expect(await lasting.getTurn(query("mine", "t:1"))).toMatchObject({ text: "mine" });
  });

  it.skipIf(!redisUp)("is one cache for two processes on Redis", async () => {
    const a = createEphemeral({ redisUrl: REDIS_URL });
    const b = createEphemeral({ redisUrl: REDIS_URL });
    try {
      const one = new AnswerCache({ shared: a, config: cacheConfig(), registry });
      const two = new AnswerCache({ shared: b, config: cacheConfig(), registry });
      const q = query(`shared ${randomUUID()}`);
      await one.setTurn(q, answer("from one"));
      expect(await two.getTurn(q)).toEqual({ text: "from one", finishReason: "stop", model: "m" });
    } finally {
      await Promise.all([a.disconnect(), b.disconnect()]);
    }
  });
});
