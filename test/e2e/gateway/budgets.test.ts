/**
 * Budget alerts: a key's daily budget crossing 80% and 100% posts one alert each to the configured chat and
 * counts them in metrics; its `block` policy then refuses the key's requests before any model; a person's
 * budget is crossed by a chat turn as well; a `block` budget of a person or a chat refuses chat turns (and the
 * person's gateway requests) at 100%, a `warn` budget only posts the alert.
 */
import type OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOpenAiStandIn, type OpenAiStandIn } from "../../stand-ins/openai/server.ts";
import { type GatewayBot, startGatewayBot } from "./helpers.ts";

let openai: OpenAiStandIn;
let bot: GatewayBot;

beforeAll(async () => {
  openai = await startOpenAiStandIn();
  bot = await startGatewayBot({
    bot: { owners: ["test:boss"] },
    llm: {
      models: [
        { name: "hosted", provider: "openai", model: "stand-hosted", baseUrl: openai.baseUrl, costPer1kInput: 1 },
      ],
    },
    gateway: {
      alertChat: "test:ops",
      budgets: [
        { scope: "key", id: "*", period: "day", cost: 0.05, policy: "block" },
        { scope: "user", id: "test:lena", period: "month", cost: 0.03, policy: "warn" },
        { scope: "user", id: "test:ivo", period: "day", cost: 0.03, policy: "block" },
        { scope: "chat", id: "test:team", period: "day", cost: 0.03, policy: "block" },
      ],
    },
  });
  openai.script.fallback = { kind: "text", text: "ok", usage: { input: 20, output: 0 } }; // 0.02 a call
}, 120_000);

afterAll(async () => {
  await bot?.stop();
  await openai?.close();
});

/** Background budget checks are tracked: wait until the alert chat has `n` messages. */
async function alerts(n: number): Promise<string[]> {
  for (let i = 0; i < 200 && bot.adapter.textsIn("ops").length < n; i++) await new Promise((r) => setTimeout(r, 10));
  return bot.adapter.textsIn("ops");
}

describe("budgets", () => {
  it("posts 80% and 100% once each to the alert chat, then blocks the key", async () => {
    const { key, info } = await bot.gateway.keys.create({ userKey: "test:mo" }, { actor: "test", via: "cli" });
    const ask = () =>
      bot
        .client(key)
        .chat.completions.create({ model: "hosted", messages: [{ role: "user", content: "x" }] })
        .then(
          () => 200,
          (e: unknown) => e as InstanceType<typeof OpenAI.APIError>,
        );
    expect(await ask()).toBe(200); // 0.02: 40%
    expect(await ask()).toBe(200); // 0.04: 80%
    expect(await alerts(1)).toEqual([`Budget alert: key ${info.id} has spent 0.0400 of 0.05 today (80%).`]);
    expect(await ask()).toBe(200); // 0.06: 120%
    const posted = await alerts(2);
    expect(posted).toHaveLength(2);
    expect(posted[1]).toBe(
      `Budget alert: key ${info.id} has spent 0.0600 of 0.05 today (120%). Its gateway requests and chat turns are refused until the period ends.`,
    );
    const refused = await ask();
    expect((refused as InstanceType<typeof OpenAI.APIError>).status).toBe(429);
    expect((refused as InstanceType<typeof OpenAI.APIError>).code).toBe("budget_exceeded");
    expect(openai.script.for("stand-hosted")).toHaveLength(3);
    expect(bot.adapter.textsIn("ops")).toHaveLength(2); // a refused request posts nothing more
    const metrics = await (await fetch(`${bot.baseUrl.replace("/v1", "")}/metrics`)).text();
    expect(metrics).toMatch(/switchboard_gateway_budget_alerts_total\{scope="key",threshold="80"\} 1/);
    expect(metrics).toMatch(/switchboard_gateway_budget_alerts_total\{scope="key",threshold="100"\} 1/);
  });

  it("counts a person's chat turns against their budget", async () => {
    const before = bot.adapter.textsIn("ops").length;
    openai.script.push("stand-hosted", { kind: "text", text: "chat answer", usage: { input: 40, output: 0 } });
    await bot.app.core.router.process(
      bot.adapter.inbound("hello", { chatId: "dm-lena", chatKind: "dm", userId: "lena" }),
    );
    const posted = await alerts(before + 1);
    expect(posted.at(-1)).toBe(
      "Budget alert: person test:lena has spent 0.0400 of 0.03 this month (133%). Policy: warn.",
    );
    // `warn` only alerts: her next turn still reaches the model.
    openai.script.push("stand-hosted", { kind: "text", text: "still answering", usage: { input: 1, output: 0 } });
    await bot.app.core.router.process(
      bot.adapter.inbound("again", { chatId: "dm-lena", chatKind: "dm", userId: "lena" }),
    );
    expect(bot.adapter.textsIn("dm-lena").at(-1)).toBe("still answering");
  });

  it("blocks a person's chat turns and gateway requests once their block budget is spent, before any model", async () => {
    const before = bot.adapter.textsIn("ops").length;
    openai.script.push("stand-hosted", { kind: "text", text: "first answer", usage: { input: 40, output: 0 } });
    const say = async (text: string) => {
      await bot.app.core.router.process(bot.adapter.inbound(text, { chatId: "dm-ivo", chatKind: "dm", userId: "ivo" }));
      return bot.adapter.textsIn("dm-ivo").at(-1);
    };
    expect(await say("hello")).toBe("first answer");
    expect((await alerts(before + 1)).at(-1)).toBe(
      "Budget alert: person test:ivo has spent 0.0400 of 0.03 today (133%). Its gateway requests and chat turns are refused until the period ends.",
    );
    const calls = openai.script.requests.length;
    expect(await say("hello again")).toMatch(/^Your budget of 0\.03 today is spent \(0\.0400\)\. It renews in /);
    const { key } = await bot.gateway.keys.create({ userKey: "test:ivo" }, { actor: "test", via: "cli" });
    const refused = await bot
      .client(key)
      .chat.completions.create({ model: "hosted", messages: [{ role: "user", content: "x" }] })
      .catch((e: unknown) => e);
    expect((refused as { status?: number; code?: string }).code).toBe("budget_exceeded");
    expect(openai.script.requests.length).toBe(calls);
  });

  it("blocks a chat's turns once the chat's block budget is spent, for everyone in it", async () => {
    openai.script.push("stand-hosted", { kind: "text", text: "team answer", usage: { input: 40, output: 0 } });
    const say = async (text: string, userId: string) => {
      await bot.app.core.router.process(bot.adapter.inbound(text, { chatId: "team", userId, mentionsBot: true }));
      return bot.adapter.textsIn("team").at(-1);
    };
    expect(await say("hello", "uma")).toBe("team answer");
    const calls = openai.script.requests.length;
    expect(await say("hello", "vic")).toMatch(/^This chat's budget of 0\.03 today is spent \(0\.0400\)\./);
    expect(openai.script.requests.length).toBe(calls);
  });

  it("lets an owner set a budget in chat, audited, which then alerts; others may only read theirs", async () => {
    const say = async (text: string, userId: string) => {
      await bot.app.core.router.process(bot.adapter.inbound(text, { chatId: `dm-${userId}`, chatKind: "dm", userId }));
      return bot.adapter.textsIn(`dm-${userId}`).at(-1) ?? "";
    };
    // The command tree refuses it before the handler runs: `ai.budget.set` needs an owner.
    expect(await say("/ai budget set user test:olaf day 0.01 block", "olaf")).toMatch(
      /\/ai budget set is a privileged command/,
    );
    expect(await say("/ai budget set user test:olaf day 0.01 block", "boss")).toBe(
      "Budget set: person test:olaf, 0.01 per day, block at 100%.",
    );
    const before = bot.adapter.textsIn("ops").length;
    const { key } = await bot.gateway.keys.create({ userKey: "test:olaf" }, { actor: "test", via: "cli" });
    await bot.client(key).chat.completions.create({ model: "hosted", messages: [{ role: "user", content: "x" }] });
    expect((await alerts(before + 1)).at(-1)).toMatch(
      /^Budget alert: person test:olaf has spent 0\.0200 of 0\.01 today \(200%\)/,
    );
    expect(await say("/ai budget", "olaf")).toContain("person test:olaf: 0.0200 of 0.01 today (block, chat)");
    const refused = await bot
      .client(key)
      .chat.completions.create({ model: "hosted", messages: [{ role: "user", content: "x" }] })
      .catch((e: unknown) => e);
    expect((refused as { code?: string }).code).toBe("budget_exceeded");
    // Raised, then removed: each change audited with before and after, and /audit shows both.
    expect(await say("/ai budget set user test:olaf day 0.05 block", "boss")).toMatch(/^Budget set/);
    expect(await say("/ai budget remove user test:olaf day", "boss")).toMatch(/^Removed/);
    const { rows } = await bot.app.core.store.sql.query<{ action: string; actor: string }>(
      "SELECT action, actor FROM audit_log WHERE action LIKE 'gateway.budget.%' ORDER BY id",
    );
    expect(rows).toEqual([
      { action: "gateway.budget.set", actor: "test:boss" },
      { action: "gateway.budget.set", actor: "test:boss" },
      { action: "gateway.budget.remove", actor: "test:boss" },
    ]);
    const entries = (await bot.app.core.store.audit.list("*", { limit: 50 }))
      .filter((a) => a.action.startsWith("gateway.budget."))
      .reverse()
      .map((a) => [a.action, a.before, a.after]);
    const first = { scope: "user", id: "test:olaf", period: "day", cost: 0.01, policy: "block" };
    const raised = { ...first, cost: 0.05 };
    expect(entries).toEqual([
      ["gateway.budget.set", null, first],
      ["gateway.budget.set", first, raised],
      ["gateway.budget.remove", raised, null],
    ]);
    const shown = await say("/audit all", "boss");
    expect(shown).toContain('gateway.budget.set user:test:olaf:day (bot-wide): {"cost":0.01} → {"cost":0.05}');
    expect(shown).toMatch(/gateway\.budget\.remove user:test:olaf:day \(bot-wide\): \{.*"cost":0\.05.*\} → \(none\)/);
  });
});

describe("budget checks on a busy key", () => {
  it("read a subject's spend from the store once, then keep it up from this process's uses", async () => {
    const now = Date.now();
    const stand = await startOpenAiStandIn();
    const busy = await startGatewayBot(
      {
        llm: {
          models: [
            { name: "hosted", provider: "openai", model: "stand-hosted", baseUrl: stand.baseUrl, costPer1kInput: 1 },
          ],
        },
        gateway: { budgets: [{ scope: "key", id: "*", period: "day", cost: 0.05, policy: "block" }] },
      },
      { clock: { now: () => now } }, // a clock that stands still: the held spend never goes stale here
    );
    try {
      stand.script.fallback = { kind: "text", text: "ok", usage: { input: 10, output: 0 } }; // 0.01 a call
      const store = busy.llm.service.store;
      const read = store.spentSince.bind(store);
      let reads = 0;
      store.spentSince = (...args) => {
        reads++;
        return read(...args);
      };
      const { key } = await busy.gateway.keys.create({ userKey: "test:max" }, { actor: "test", via: "cli" });
      const ask = () =>
        busy
          .client(key)
          .chat.completions.create({ model: "hosted", messages: [{ role: "user", content: "x" }] })
          .then(
            () => 200,
            (e: unknown) => (e as { code?: string }).code,
          );
      const outcomes: unknown[] = [];
      for (let i = 0; i < 6; i++) outcomes.push(await ask());
      expect(outcomes).toEqual([200, 200, 200, 200, 200, "budget_exceeded"]);
      expect(stand.script.requests).toHaveLength(5);
      expect(reads).toBe(1);
    } finally {
      await busy.stop();
      await stand.close();
    }
  });
});
