/**
 * The LLM layer end to end: a real bot (router, permissions, in-memory store) with the LLM plugin, a test
 * adapter, and the stand-in OpenAI and Ollama servers spoken to through the real SDKs.
 */
import { readFile } from "node:fs/promises";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { ToolCallContext, ToolProvider } from "../../../bot/index.ts";
import { createLlmPlugin, type LlmPlugin } from "../../../llm/index.ts";
import { createApp, type App } from "../../../bot/app/app.ts";
import { createLogger } from "../../../bot/logger.ts";
import { memoryStore } from "../../../bot/storage/open.ts";
import { parseConfig } from "../../../config/index.ts";
import { TestAdapter } from "../../helpers/test-adapter.ts";
import { startOllamaStandIn, type OllamaStandIn } from "../../stand-ins/ollama/server.ts";
import { startOpenAiStandIn, type OpenAiStandIn } from "../../stand-ins/openai/server.ts";

/** An adapter that cannot edit messages (like the console). */
class NoEditAdapter extends TestAdapter {
  override readonly capabilities = {
    edit: false,
    buttons: false,
    ephemeral: false,
    typing: false,
    maxTextLength: 4000,
  };
}

let openai: OpenAiStandIn;
let ollama: OllamaStandIn;
let bot: { app: App; adapter: TestAdapter };
let plain: NoEditAdapter;
let llm: LlmPlugin | undefined;
let dataDir: string;
const toolCalls: Array<{ name: string; args: unknown; ctx: ToolCallContext }> = [];

/** A skill-like tool provider: `dice__roll` for members, `ops__deploy` for admins only. */
const provider: ToolProvider = {
  tools: () => [
    {
      name: "dice__roll",
      description: "Roll a die",
      parameters: { type: "object", properties: { sides: { type: "integer" } } },
      skill: "dice",
      defaultRole: "member",
    },
    {
      name: "ops__deploy",
      description: "Deploy a service",
      parameters: { type: "object", properties: { service: { type: "string" } } },
      skill: "ops",
      defaultRole: "admin",
    },
  ],
  async call(name, args, ctx) {
    toolCalls.push({ name, args, ctx });
    if (name === "dice__roll") return `rolled 4 on a d${(args as { sides?: number }).sides ?? 6}`;
    return "deployed";
  },
};

beforeAll(async () => {
  [openai, ollama] = await Promise.all([startOpenAiStandIn(), startOllamaStandIn()]);
  dataDir = await mkdtemp(join(tmpdir(), "llm-e2e-"));
  plain = new NoEditAdapter("plain");
  const adapter = new TestAdapter();
  const config = parseConfig({
    bot: { dataDir, owners: ["test:boss"] },
    http: { enabled: false },
    log: { level: "silent" },
    limits: { perUser: { burst: 1000, perMinute: 10_000 }, perChat: { burst: 1000, perMinute: 10_000 } },
    llm: {
      editIntervalMs: 0,
      feedbackButtons: true,
      models: [
        {
          name: "oa-main",
          provider: "openai",
          model: "stand-main",
          baseUrl: openai.baseUrl,
          apiKey: "k",
          priority: 10,
          costPer1kInput: 1,
          costPer1kOutput: 2,
        },
        {
          name: "oa-backup",
          provider: "openai",
          model: "stand-backup",
          baseUrl: openai.baseUrl,
          apiKey: "k",
          priority: 5,
          stream: false,
        },
        { name: "local", provider: "ollama", model: "stand-llama", host: ollama.host, priority: 1 },
        {
          name: "oa-slow",
          provider: "openai",
          model: "stand-slow",
          baseUrl: openai.baseUrl,
          apiKey: "k",
          timeoutMs: 400,
        },
      ],
      profiles: { default: { models: ["oa-main", "oa-backup", "local"] } },
      quotas: { chats: { "test:quota": { dailyTokens: 50 } } },
    },
  });
  const app = await createApp({
    config,
    console: false,
    platformAdapters: false,
    store: await memoryStore(),
    log: createLogger({ level: "silent", format: "json" }),
    extraAdapters: [adapter, plain],
    plugins: [async (core) => (llm = await createLlmPlugin(core, { random: () => 0.5 }))],
  });
  await app.start();
  bot = { app, adapter };
  bot.app.core.tools.register(provider);
}, 120_000);

afterAll(async () => {
  await bot?.app.stop();
  await bot?.app.core.store.close();
  await Promise.all([openai?.close(), ollama?.close()]);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

beforeEach(() => {
  openai.script.clear();
  ollama.script.clear();
  toolCalls.length = 0;
});

/** Send a message and wait until the bot has fully handled it. */
async function say(
  text: string,
  o: Parameters<TestAdapter["inbound"]>[1] = {},
  adapter: TestAdapter = bot.adapter,
): Promise<void> {
  await bot.app.core.router.process(adapter.inbound(text, o));
}

describe("conversation", () => {
  it("answers a DM through the OpenAI-compatible provider, streaming as edits that end in the full text", async () => {
    openai.script.push("stand-main", {
      kind: "text",
      text: "Hello there, operator!",
      chunks: ["Hello ", "there, ", "operator!"],
    });
    await say("hi", { chatId: "dm1", chatKind: "dm", userId: "alice" });
    const msgs = bot.adapter.sent.filter((s) => s.chatId === "dm1");
    expect(msgs.length).toBeGreaterThanOrEqual(2);
    expect(msgs[0]!.edited).toBeUndefined();
    const last = msgs[msgs.length - 1]!;
    expect(last.edited).toBe(true);
    expect(last.messageId).toBe(msgs[0]!.messageId);
    expect(last.text).toBe("Hello there, operator!");
    expect(last.reply.buttons?.[0]?.map((b) => b.label)).toEqual(["👍", "👎"]);
    const req = openai.script.for("stand-main")[0]!;
    expect(req.stream).toBe(true);
    expect(req.messages.at(-1)).toMatchObject({ role: "user", content: "hi" });
  });

  it("answers a DM through Ollama, once, where the platform cannot edit", async () => {
    ollama.script.push("stand-llama", { kind: "text", text: "Local hello." });
    await say("/ai model local", { chatId: "dm2", chatKind: "dm", userId: "bob" }, plain);
    await say("hello local", { chatId: "dm2", chatKind: "dm", userId: "bob" }, plain);
    expect(plain.textsIn("dm2")).toEqual(["Model chain for this chat: local.", "Local hello."]);
    expect(ollama.script.for("stand-llama")[0]!.messages.at(-1)).toMatchObject({
      role: "user",
      content: "hello local",
    });
  });

  it("keeps history per chat and never sends another chat's turns", async () => {
    openai.script.push(
      "stand-main",
      { kind: "text", text: "A1" },
      { kind: "text", text: "B1" },
      { kind: "text", text: "A2" },
    );
    await say("first in A", { chatId: "hA", chatKind: "dm", userId: "ann" });
    await say("first in B", { chatId: "hB", chatKind: "dm", userId: "ben" });
    await say("second in A", { chatId: "hA", chatKind: "dm", userId: "ann" });
    const third = openai.script.for("stand-main")[2]!.messages.map((m) => m.content);
    expect(third).toContain("first in A");
    expect(third).toContain("A1");
    expect(third).not.toContain("first in B");
    expect(third).not.toContain("B1");
  });

  it("answers in groups only when mentioned or replied to, and never to bots", async () => {
    await say("just chatting", { chatId: "g1", chatKind: "group", role: "member" });
    await say("hey bot", { chatId: "g1", chatKind: "group", role: "member", isBot: true, mentionsBot: true });
    expect(openai.script.requests).toHaveLength(0);
    openai.script.push("stand-main", { kind: "text", text: "You called?" });
    await say("@bot are you there", {
      chatId: "g1",
      chatKind: "group",
      role: "member",
      userId: "carol",
      mentionsBot: true,
    });
    expect(bot.adapter.textsIn("g1").at(-1)).toBe("You called?");
    expect(openai.script.requests[0]!.messages.at(-1)).toMatchObject({ content: "carol: @bot are you there" });
  });
});

describe("tools", () => {
  it("runs a skill's tool and passes its result back to the model", async () => {
    openai.script.push(
      "stand-main",
      { kind: "tools", calls: [{ name: "dice__roll", arguments: { sides: 20 } }] },
      { kind: "fn", fn: (req) => ({ kind: "text", text: `The die says: ${String(req.messages.at(-1)?.content)}` }) },
    );
    await say("roll a d20", { chatId: "t1", chatKind: "dm", userId: "dan" });
    expect(toolCalls).toHaveLength(1);
    expect(toolCalls[0]).toMatchObject({
      name: "dice__roll",
      args: { sides: 20 },
      ctx: { chatKey: "test:t1", userKey: "test:dan" },
    });
    expect(bot.adapter.textsIn("t1").at(-1)).toBe("The die says: rolled 4 on a d20");
    const second = openai.script.for("stand-main")[1]!;
    expect(second.messages.at(-2)).toMatchObject({
      role: "assistant",
      tool_calls: [{ function: { name: "dice__roll" } }],
    });
    expect(second.messages.at(-1)).toMatchObject({ role: "tool", content: "rolled 4 on a d20" });
  });

  it("runs tools with Ollama's object arguments", async () => {
    ollama.script.push(
      "stand-llama",
      { kind: "tools", calls: [{ name: "dice__roll", arguments: { sides: 8 } }] },
      { kind: "fn", fn: (req) => ({ kind: "text", text: `ollama got ${String(req.messages.at(-1)?.content)}` }) },
    );
    await say("/ai model local", { chatId: "t2", chatKind: "dm", userId: "eve" }, plain);
    await say("roll", { chatId: "t2", chatKind: "dm", userId: "eve" }, plain);
    expect(toolCalls[0]).toMatchObject({ name: "dice__roll", args: { sides: 8 } });
    expect(plain.textsIn("t2").at(-1)).toBe("ollama got rolled 4 on a d8");
    expect(ollama.script.for("stand-llama")[1]!.messages.at(-1)).toMatchObject({
      role: "tool",
      tool_name: "dice__roll",
    });
  });

  it("never offers a tool the speaker may not run, and refuses a forged call to it", async () => {
    openai.script.push(
      "stand-main",
      { kind: "tools", calls: [{ name: "ops__deploy", arguments: { service: "web" } }] },
      { kind: "fn", fn: (req) => ({ kind: "text", text: String(req.messages.at(-1)?.content) }) },
    );
    await say("deploy web", { chatId: "t3", chatKind: "dm", userId: "mallory" });
    const first = openai.script.for("stand-main")[0]!;
    expect(first.tools).toContain("dice__roll");
    expect(first.tools).not.toContain("ops__deploy");
    expect(toolCalls).toHaveLength(0);
    expect(bot.adapter.textsIn("t3").at(-1)).toMatch(/not available/);
  });

  it("runs at most 8 tool calls of one answer and refuses the rest to the model", async () => {
    openai.script.push(
      "stand-main",
      { kind: "tools", calls: Array.from({ length: 10 }, () => ({ name: "dice__roll", arguments: { sides: 6 } })) },
      { kind: "fn", fn: (req) => ({ kind: "text", text: String(req.messages.at(-1)?.content) }) },
    );
    await say("roll ten", { chatId: "t5", chatKind: "dm", userId: "gil" });
    expect(toolCalls).toHaveLength(8);
    const second = openai.script.for("stand-main")[1]!;
    expect(second.messages.filter((m) => m.role === "tool")).toHaveLength(10);
    expect(bot.adapter.textsIn("t5").at(-1)).toMatch(/at most 8 tool calls per answer/);
  });

  it("returns malformed tool arguments to the model as a tool error", async () => {
    openai.script.push(
      "stand-main",
      { kind: "tools", calls: [{ name: "dice__roll", arguments: '{"sides": 6' }] },
      { kind: "fn", fn: (req) => ({ kind: "text", text: String(req.messages.at(-1)?.content) }) },
    );
    await say("roll", { chatId: "t4", chatKind: "dm", userId: "fay" });
    expect(toolCalls).toHaveLength(0);
    expect(bot.adapter.textsIn("t4").at(-1)).toMatch(/not valid JSON/);
  });
});

describe("fallback, quota, export", () => {
  it("falls back on 429, says which model answered, and skips the cooling model next time", async () => {
    openai.script.push("stand-main", { kind: "error", status: 429, headers: { "retry-after": "30" } });
    openai.script.push("stand-backup", { kind: "text", text: "backup here" }, { kind: "text", text: "backup again" });
    await say("hello?", { chatId: "f1", chatKind: "dm", userId: "gus" });
    const answer = bot.adapter.textsIn("f1").at(-1)!;
    expect(answer).toMatch(/^backup here/);
    expect(answer).toMatch(/answered by oa-backup/);
    expect(answer).toMatch(/oa-main: rate limited \(retry in 30 s\)/);
    await say("still there?", { chatId: "f1", chatKind: "dm", userId: "gus" });
    expect(openai.script.for("stand-main")).toHaveLength(1);
    expect(bot.adapter.textsIn("f1").at(-1)).toMatch(/^backup again/);
    await bot.app.core.kv.delete("llm:cooldown:oa-main");
  });

  it("replaces a stream cut off by a timeout with the fallback's answer in the same message", async () => {
    openai.script.push("stand-slow", { kind: "hang", text: "partial from the slow one" });
    openai.script.push("stand-backup", { kind: "text", text: "complete answer" });
    await say("/ai model oa-slow oa-backup", { chatId: "sf", chatKind: "dm", userId: "sam" });
    await say("go", { chatId: "sf", chatKind: "dm", userId: "sam" });
    const msgs = bot.adapter.sent.filter((m) => m.chatId === "sf").slice(1);
    expect(msgs[0]!.text).toMatch(/^partial from the slow one/);
    const last = msgs.at(-1)!;
    expect(last).toMatchObject({ edited: true, messageId: msgs[0]!.messageId });
    expect(last.text).toMatch(/^complete answer\n\n_answered by oa-backup \(fallback; oa-slow: timed out\)_$/);
    await bot.app.core.kv.delete("llm:cooldown:oa-slow");
  });

  it("says which models failed and why when all are down", async () => {
    openai.script.push("stand-main", { kind: "error", status: 500 });
    openai.script.push("stand-backup", { kind: "error", status: 503 });
    ollama.script.push("stand-llama", { kind: "error", status: 500, message: "model crashed" });
    await say("anyone?", { chatId: "f2", chatKind: "dm", userId: "hal" });
    const text = bot.adapter.textsIn("f2").at(-1)!;
    expect(text).toMatch(/No language model could answer/);
    expect(text).toMatch(/oa-main: server error 500/);
    expect(text).toMatch(/oa-backup: server error 503/);
    expect(text).toMatch(/local: server error 500/);
    for (const m of ["oa-main", "oa-backup", "local"]) await bot.app.core.kv.delete(`llm:cooldown:${m}`);
  });

  it("stops the next turn with a clear message once the chat's quota is used", async () => {
    openai.script.push("stand-main", { kind: "text", text: "big answer", usage: { input: 40, output: 30 } });
    await say("spend", { chatId: "quota", chatKind: "dm", userId: "ivy" });
    expect(bot.adapter.textsIn("quota").at(-1)).toBe("big answer");
    await say("more", { chatId: "quota", chatKind: "dm", userId: "ivy" });
    expect(bot.adapter.textsIn("quota").at(-1)).toMatch(
      /This chat has used the daily language-model quota \(70 of 50 tokens\)\. It resets at 00:00 UTC, in/,
    );
    expect(openai.script.requests).toHaveLength(1);
  });

  it("exports the chat's conversations as valid chat-format JSONL", async () => {
    openai.script.push(
      "stand-main",
      { kind: "text", text: "one" },
      { kind: "tools", calls: [{ name: "dice__roll", arguments: { sides: 6 } }] },
      { kind: "text", text: "two" },
    );
    await say("q1", { chatId: "x1", chatKind: "dm", userId: "jo", threadId: "th" });
    await say("q2", { chatId: "x1", chatKind: "dm", userId: "jo" });
    await say("/ai export", { chatId: "x1", chatKind: "dm", userId: "jo", role: "admin" });
    const reply = bot.adapter.textsIn("x1").at(-1)!;
    expect(reply).toMatch(/Exported 2 conversation\(s\), 2 turn\(s\) to /);
    const path = reply.slice(reply.indexOf(" to ") + 4).trim();
    const lines = (await readFile(path, "utf8")).trim().split("\n");
    expect(lines).toHaveLength(2);
    const convs = lines.map((l) => JSON.parse(l) as { messages: Array<Record<string, unknown>> });
    for (const c of convs) {
      expect(c.messages[0]).toMatchObject({ role: "system" });
      for (const m of c.messages) expect(["system", "user", "assistant", "tool"]).toContain(m.role);
    }
    const all = convs.flatMap((c) => c.messages);
    expect(all).toContainEqual(expect.objectContaining({ role: "tool", content: "rolled 4 on a d6" }));
    expect(all).toContainEqual(expect.objectContaining({ role: "assistant", content: "two" }));
  });

  it("records per-model statistics and feedback shown by /models", async () => {
    openai.script.push("stand-main", { kind: "text", text: "rate me" });
    await say("hi", { chatId: "s1", chatKind: "dm", userId: "kim" });
    const last = bot.adapter.sent.filter((s) => s.chatId === "s1").at(-1)!;
    const up = last.reply.buttons![0]![0]!.data;
    await say(up, { chatId: "s1", chatKind: "dm", userId: "kim" });
    expect(bot.adapter.textsIn("s1").at(-1)).toMatch(/Thanks/);
    await bot.app.core.router.drain();
    await say("/models", { chatId: "s1", chatKind: "dm", userId: "kim" });
    expect(bot.adapter.textsIn("s1").at(-1)).toMatch(/privileged/);
    await say("/models", { chatId: "s1", chatKind: "dm", userId: "boss" });
    const report = bot.adapter.textsIn("s1").at(-1)!;
    expect(report).toMatch(/\*\*oa-main\*\*/);
    expect(report).toMatch(/👍 [1-9]/);
    expect(report).toMatch(/failed: .*rate_limit 1/);
    const stats = await llm!.service.stats.read(0);
    expect(stats.find((x) => x.model === "oa-main")).toMatchObject({
      thumbsUp: 1,
      failures: { rate_limit: 1, server: 1 },
    });
    const exposition = await bot.app.core.metrics.registry.metrics();
    expect(exposition).toMatch(/switchboard_llm_calls_total\{model="oa-main",outcome="rate_limit"\} 1/);
    expect(exposition).toMatch(/switchboard_llm_calls_total\{model="oa-main",outcome="ok"\} [1-9]/);
    expect(exposition).toMatch(/switchboard_llm_tokens_total\{model="oa-main",direction="out"\} [1-9]/);
  });
});
