/**
 * The answer cache: an identical deterministic request is answered without reaching the stand-in, marked as a
 * hit and counted at zero cost; sampled requests, tool calls, other people and opted-out requests are not.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { hitsBy } from "../../../gateway/hits.ts";
import { CACHE_HEADER, MODEL_HEADER } from "../../../gateway/index.ts";
import { startOpenAiStandIn, type OpenAiStandIn } from "../../stand-ins/openai/server.ts";
import { type GatewayBot, startGatewayBot } from "./helpers.ts";

let openai: OpenAiStandIn;
let bot: GatewayBot;
let jay: string;
let kim: string;
let optedOut: string;
let n = 0;

beforeAll(async () => {
  openai = await startOpenAiStandIn();
  bot = await startGatewayBot({
    llm: {
      models: [
        { name: "hosted", provider: "openai", model: "stand-hosted", baseUrl: openai.baseUrl, costPer1kInput: 1 },
      ],
    },
    gateway: { cache: { enabled: true } },
  });
  const by = { actor: "test", via: "cli" };
  jay = (await bot.gateway.keys.create({ userKey: "test:jay" }, by)).key;
  kim = (await bot.gateway.keys.create({ userKey: "test:kim" }, by)).key;
  optedOut = (await bot.gateway.keys.create({ userKey: "test:jay", cache: "off" }, by)).key;
}, 120_000);

afterAll(async () => {
  await bot?.stop();
  await openai?.close();
});

beforeEach(() => {
  openai.script.clear();
  openai.script.fallback = {
    kind: "fn",
    fn: () => ({ kind: "text", text: `answer ${++n}`, usage: { input: 10, output: 5 } }),
  };
});

const messages = (text: string) => [{ role: "user" as const, content: text }];

describe("answer cache", () => {
  it("answers an identical temperature-0 request from the cache, marked and at zero usage, JSON and streamed", async () => {
    const first = await bot
      .client(jay)
      .chat.completions.create({ model: "hosted", messages: messages("capital of France?"), temperature: 0 })
      .withResponse();
    const second = await bot
      .client(jay)
      .chat.completions.create({ model: "hosted", messages: messages("capital of France?"), temperature: 0 })
      .withResponse();
    expect(openai.script.requests).toHaveLength(1);
    expect(second.data.choices[0]!.message.content).toBe(first.data.choices[0]!.message.content);
    expect(first.response.headers.get(CACHE_HEADER)).toBeNull();
    expect(second.response.headers.get(CACHE_HEADER)).toBe("hit");
    expect(second.response.headers.get(MODEL_HEADER)).toBe("hosted");
    expect(second.data.usage).toMatchObject({ prompt_tokens: 0, completion_tokens: 0 });

    const stream = await bot.client(jay).chat.completions.create({
      model: "hosted",
      messages: messages("capital of France?"),
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage: unknown;
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? "";
      usage = c.usage ?? usage;
    }
    expect(text).toBe(first.data.choices[0]!.message.content);
    expect(usage).toMatchObject({ total_tokens: 0 });
    expect(openai.script.requests).toHaveLength(1);

    const metrics = await (await fetch(`${bot.baseUrl.replace("/v1", "")}/metrics`)).text();
    expect(metrics).toMatch(/switchboard_gateway_cache_hits_total\{model="hosted"\} 2/);
    // The hits count as requests at zero cost: the person's day holds only the first answer's tokens.
    const today = await bot.llm.service.usage.today("api:none", "test:jay");
    expect(today.user.tokens).toBe(15);
    // …and marked per model, in /v1/models and the usage export's table.
    const models = (await bot.client(jay).models.list()).data as unknown as Array<{
      id: string;
      cache_hits_today: number;
    }>;
    expect(models.find((m) => m.id === "hosted")?.cache_hits_today).toBe(2);
    const day = new Date().toISOString().slice(0, 10);
    const byKey = await hitsBy(bot.app.core.store.sql, { from: day, to: day, by: "key" });
    expect([...byKey.values()]).toEqual([2]);
  });

  it("does not share answers across people, nor serve requests that opt out", async () => {
    await bot.client(jay).chat.completions.create({ model: "hosted", messages: messages("q2"), temperature: 0 });
    await bot.client(kim).chat.completions.create({ model: "hosted", messages: messages("q2"), temperature: 0 });
    await bot.client(optedOut).chat.completions.create({ model: "hosted", messages: messages("q2"), temperature: 0 });
    await bot
      .client(jay)
      .chat.completions.create({ model: "hosted", messages: messages("q2"), temperature: 0, cache: false } as never);
    await bot
      .client(jay)
      .chat.completions.create(
        { model: "hosted", messages: messages("q2"), temperature: 0 },
        { headers: { [CACHE_HEADER]: "off" } },
      );
    expect(openai.script.requests).toHaveLength(5);
    // The first answer is still there for jay.
    await bot.client(jay).chat.completions.create({ model: "hosted", messages: messages("q2"), temperature: 0 });
    expect(openai.script.requests).toHaveLength(5);
  });

  it("never caches sampled requests or answers with tool calls", async () => {
    for (let i = 0; i < 2; i++)
      await bot.client(jay).chat.completions.create({ model: "hosted", messages: messages("poem"), temperature: 0.8 });
    expect(openai.script.requests).toHaveLength(2);
    const tools = [
      { type: "function" as const, function: { name: "lookup", parameters: { type: "object", properties: {} } } },
    ];
    for (let i = 0; i < 2; i++) {
      openai.script.push("stand-hosted", { kind: "tools", calls: [{ name: "lookup", arguments: {} }] });
      const res = await bot
        .client(jay)
        .chat.completions.create({ model: "hosted", messages: messages("use a tool"), temperature: 0, tools });
      expect(res.choices[0]!.finish_reason).toBe("tool_calls");
    }
    expect(openai.script.requests).toHaveLength(4);
  });
});
