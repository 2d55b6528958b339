/**
 * Chat conversations on the gateway's answer cache, per profile: a second identical turn is answered from the
 * cache without reaching the stand-in, counted as a hit per model in `/models`, `/metrics` and the usage
 * export's hits; never across people unless the profile shares its cache; never a turn that called a tool, nor
 * one with a temperature other than 0; never in a chat whose profile did not opt in.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { ToolProvider } from "../../../bot/index.ts";
import { hitsBy } from "../../../gateway/hits.ts";
import { dayOf } from "../../../llm/index.ts";
import { startOpenAiStandIn, type OpenAiStandIn } from "../../stand-ins/openai/server.ts";
import { type GatewayBot, startGatewayBot } from "./helpers.ts";

let openai: OpenAiStandIn;
let bot: GatewayBot;
let n = 0;
let rolls = 0;

const dice: ToolProvider = {
  tools: () => [
    {
      name: "dice__roll",
      description: "Roll a die",
      parameters: { type: "object", properties: {} },
      skill: "dice",
      defaultRole: "member",
    },
  ],
  async call() {
    rolls++;
    return "rolled 4";
  },
};

beforeAll(async () => {
  openai = await startOpenAiStandIn();
  bot = await startGatewayBot({
    bot: { owners: ["test:boss"] },
    permissions: { principals: { ada: { identities: ["test:ada", "test:ada-2"] } } },
    limits: { perUser: { burst: 1000, perMinute: 10_000 }, perChat: { burst: 1000, perMinute: 10_000 } },
    llm: {
      editIntervalMs: 0,
      models: [
        { name: "hosted", provider: "openai", model: "stand-hosted", baseUrl: openai.baseUrl, costPer1kInput: 1 },
      ],
      profiles: {
        cached: { temperature: 0, historyTurns: 0, tools: "none", cache: { enabled: true } },
        shared: { temperature: 0, historyTurns: 0, tools: "none", cache: { enabled: true, shared: true } },
        sampled: { temperature: 0.7, historyTurns: 0, tools: "none", cache: { enabled: true } },
        withTools: { temperature: 0, historyTurns: 0, cache: { enabled: true } },
        plain: { temperature: 0, historyTurns: 0, tools: "none" },
      },
      chats: {
        "test:c1": "cached",
        "test:c2": "cached",
        "test:s1": "shared",
        "test:s2": "shared",
        "test:warm": "sampled",
        "test:tools": "withTools",
        "test:plain": "plain",
      },
    },
  });
  bot.app.core.tools.register(dice);
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

/** Say `text` in a direct chat as `userId` and return the bot's last answer there. */
async function say(chatId: string, userId: string, text: string): Promise<string | undefined> {
  await bot.app.core.router.process(bot.adapter.inbound(text, { chatId, userId, chatKind: "dm" }));
  return bot.adapter.textsIn(chatId).at(-1);
}

describe("chat turns on the answer cache", () => {
  it("answers a second identical turn from the cache without reaching the model, and counts the hit", async () => {
    const first = await say("c1", "ann", "what is 2+2?");
    expect(first).toMatch(/^answer \d+$/);
    const second = await say("c1", "ann", "what is 2+2?");
    expect(second).toBe(first);
    expect(openai.script.requests).toHaveLength(1);
    // The same person in another chat of the profile: the same cache.
    expect(await say("c2", "ann", "what is 2+2?")).toBe(first);
    expect(openai.script.requests).toHaveLength(1);
    // A hit costs nothing: the turns are stored, usage counts turns, not cost.
    const { rows } = await bot.app.core.store.sql.query<{ turns: unknown; cost: unknown }>(
      "SELECT sum(turns) AS turns, sum(cost) AS cost FROM llm_usage WHERE chat_key IN ('test:c1', 'test:c2')",
    );
    expect(Number(rows[0]!.turns)).toBe(3);
    expect(Number(rows[0]!.cost)).toBeCloseTo(0.01, 6); // the one model call: 10 input tokens at 1 per 1k

    const models = await say("ops", "boss", "/models");
    expect(models).toMatch(/\*\*hosted\*\*[^\n]*\n {2}1 calls[^\n]*\n {2}2 answered from the cache \(cost 0\)/);
    const metrics = await (await fetch(`${bot.baseUrl.replace("/v1", "")}/metrics`)).text();
    expect(metrics).toMatch(/switchboard_gateway_cache_hits_total\{model="hosted"\} 2/);
    const day = dayOf(Date.now());
    const byChat = await hitsBy(bot.app.core.store.sql, { from: day, to: day, by: "chat" });
    expect(byChat.get("test:c1")).toBe(1);
    expect(byChat.get("test:c2")).toBe(1);
    expect((await hitsBy(bot.app.core.store.sql, { from: day, to: day, by: "key" })).size).toBe(0);
  });

  it("counts a named person's cached turns under their principal, as their model-answered turns are", async () => {
    const first = await say("c1", "ada", "a principal's question");
    expect(await say("c1", "ada", "a principal's question")).toBe(first);
    const { rows } = await bot.app.core.store.sql.query<{ user_key: string; turns: unknown }>(
      "SELECT user_key, sum(turns) AS turns FROM llm_usage WHERE user_key IN ('principal:ada', 'test:ada') GROUP BY user_key",
    );
    expect(rows.map((r) => [r.user_key, Number(r.turns)])).toEqual([["principal:ada", 2]]);
  });

  it("keeps each person's answers apart unless the profile shares the cache", async () => {
    const ann = await say("c1", "ann", "a question for one");
    const bob = await say("c1", "bob", "a question for one");
    expect(bob).not.toBe(ann);
    expect(openai.script.requests).toHaveLength(2);

    const first = await say("s1", "ann", "a shared question");
    expect(await say("s2", "bob", "a shared question")).toBe(first);
    expect(openai.script.requests).toHaveLength(3);
  });

  it("never caches a turn with a temperature above 0, a turn that called a tool, or a profile that did not opt in", async () => {
    await say("warm", "ann", "sampled");
    await say("warm", "ann", "sampled");
    expect(openai.script.requests).toHaveLength(2);

    openai.script.push(
      "stand-hosted",
      { kind: "tools", calls: [{ name: "dice__roll", arguments: {} }] },
      { kind: "text", text: "you rolled 4" },
    );
    expect(await say("tools", "ann", "roll")).toBe("you rolled 4");
    expect(await say("tools", "ann", "roll")).toMatch(/^answer \d+$/);
    expect(rolls).toBe(1);
    expect(openai.script.requests).toHaveLength(5);

    await say("plain", "ann", "not opted in");
    await say("plain", "ann", "not opted in");
    expect(openai.script.requests).toHaveLength(7);
  });
});
