/**
 * Quotas and rate limits: a key's daily tokens run out mid-day; a person's chat usage counts against their
 * API quota (and the other way round); requests per minute per key; each refusal is a 429 with Retry-After that
 * never reaches a model.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Clock } from "../../../bot/index.ts";
import { startOpenAiStandIn, type OpenAiStandIn } from "../../stand-ins/openai/server.ts";
import { type GatewayBot, startGatewayBot } from "./helpers.ts";

let openai: OpenAiStandIn;
let bot: GatewayBot;
// 10:00:20 UTC: inside one minute and one day, whatever the machine's speed.
let nowMs = Date.UTC(2026, 11, 6, 10, 0, 20);
const clock: Clock = { now: () => nowMs };

beforeAll(async () => {
  openai = await startOpenAiStandIn();
  bot = await startGatewayBot(
    {
      llm: {
        models: [{ name: "hosted", provider: "openai", model: "stand-hosted", baseUrl: openai.baseUrl }],
        quotas: { perUser: { dailyTokens: 100 } },
      },
      gateway: { perKey: { dailyTokens: 50, requestsPerMinute: 3 } },
    },
    { clock },
  );
}, 120_000);

afterAll(async () => {
  await bot?.stop();
  await openai?.close();
});

beforeEach(() => {
  openai.script.clear();
  openai.script.fallback = { kind: "text", text: "ok", usage: { input: 15, output: 5 } };
  nowMs += 3_600_000; // a fresh minute for each test, same day
});

const ask = (client: OpenAI) =>
  client.chat.completions.create({ model: "hosted", messages: [{ role: "user", content: "x" }] }).then(
    () => 200,
    (e: unknown) => e as InstanceType<typeof OpenAI.APIError>,
  );

describe("quotas", () => {
  it("refuses a key whose daily tokens ran out mid-day, before reaching the model, until the next day", async () => {
    const { key } = await bot.gateway.keys.create({ userKey: "test:gina" }, { actor: "test", via: "cli" });
    const client = bot.client(key);
    expect(await ask(client)).toBe(200); // 20 tokens
    expect(await ask(client)).toBe(200); // 40
    expect(await ask(client)).toBe(200); // 60: started under 50
    nowMs += 60_000;
    const refused = await ask(client);
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    const e = refused as InstanceType<typeof OpenAI.APIError>;
    expect(e.code).toBe("insufficient_quota");
    expect(e.message).toContain("60 of 50 tokens");
    expect(Number(e.headers?.get("retry-after"))).toBeGreaterThan(0);
    expect(openai.script.requests).toHaveLength(3);
    // Another key of the same person has its own key quota.
    const second = await bot.gateway.keys.create({ userKey: "test:gina" }, { actor: "test", via: "cli" });
    expect(await ask(bot.client(second.key))).toBe(200);
  });

  it("counts a person's chat turns and API calls against one daily quota", async () => {
    const { key } = await bot.gateway.keys.create({ userKey: "test:hank" }, { actor: "test", via: "cli" });
    openai.script.fallback = { kind: "text", text: "chat answer", usage: { input: 80, output: 30 } };
    await bot.app.core.router.process(
      bot.adapter.inbound("hello", { chatId: "dm-hank", chatKind: "dm", userId: "hank" }),
    );
    expect(bot.adapter.textsIn("dm-hank").at(-1)).toContain("chat answer");
    const refused = await ask(bot.client(key));
    expect((refused as InstanceType<typeof OpenAI.APIError>).status).toBe(429);
    expect((refused as InstanceType<typeof OpenAI.APIError>).message).toContain("110 of 100 tokens");
    expect(openai.script.requests).toHaveLength(1);
  });
});

describe("quota checks on a busy key", () => {
  it("read the day's figures from the store once, then keep them up from this process's uses", async () => {
    const store = bot.llm.service.store;
    const read = store.usageOn.bind(store);
    let reads = 0;
    store.usageOn = (...args) => {
      reads++;
      return read(...args);
    };
    try {
      const { key } = await bot.gateway.keys.create({ userKey: "test:jo" }, { actor: "test", via: "cli" });
      const client = bot.client(key);
      // The clock stands still within a test: the figures read for the first request serve the next two.
      expect([await ask(client), await ask(client), await ask(client)]).toEqual([200, 200, 200]);
      // …and grew with each answer: the fourth is refused on 60 tokens (the daily check comes before the
      // per-minute one), where the one store read said 0.
      const refused = (await ask(client)) as InstanceType<typeof OpenAI.APIError>;
      expect(refused.code).toBe("insufficient_quota");
      expect(refused.message).toContain("60 of 50 tokens");
      expect(reads).toBe(1);
    } finally {
      store.usageOn = read;
    }
  });
});

describe("rate limits", () => {
  it("refuses the request past requestsPerMinute with Retry-After to the next minute", async () => {
    const { key } = await bot.gateway.keys.create({ userKey: "test:ivy" }, { actor: "test", via: "cli" });
    const client = bot.client(key);
    openai.script.fallback = { kind: "text", text: "ok", usage: { input: 1, output: 1 } };
    expect([await ask(client), await ask(client), await ask(client)]).toEqual([200, 200, 200]);
    const refused = (await ask(client)) as InstanceType<typeof OpenAI.APIError>;
    expect(refused.status).toBe(429);
    expect(refused.code).toBe("rate_limit_exceeded");
    expect(refused.headers?.get("retry-after")).toBe("40");
    expect(openai.script.requests).toHaveLength(3);
    nowMs += 60_000;
    expect(await ask(client)).toBe(200);
  });
});
