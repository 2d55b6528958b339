/** `/ai` settings and their permissions, the skills' `llm` capability, and a bot with no model configured. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createApp, type App } from "../../../bot/app/app.ts";
import { createLlmPlugin } from "../../../llm/index.ts";
import { createLogger } from "../../../bot/logger.ts";
import { memoryStore } from "../../../bot/storage/open.ts";
import { parseConfig, type ConfigInput } from "../../../config/index.ts";
import { TestAdapter } from "../../helpers/test-adapter.ts";
import { startOpenAiStandIn, type OpenAiStandIn } from "../../stand-ins/openai/server.ts";

async function startBot(llm: ConfigInput["llm"]): Promise<{ app: App; adapter: TestAdapter }> {
  const adapter = new TestAdapter();
  const app = await createApp({
    config: parseConfig({
      http: { enabled: false },
      log: { level: "silent" },
      bot: { owners: ["test:boss"] },
      limits: { perUser: { burst: 1000, perMinute: 10_000 }, perChat: { burst: 1000, perMinute: 10_000 } },
      llm,
    }),
    console: false,
    platformAdapters: false,
    store: await memoryStore(),
    log: createLogger({ level: "silent", format: "json" }),
    extraAdapters: [adapter],
    plugins: [(core) => createLlmPlugin(core)],
  });
  await app.start();
  return { app, adapter };
}

async function stopBot(bot: { app: App } | undefined): Promise<void> {
  await bot?.app.stop();
  await bot?.app.core.store.close();
}

describe("with no model configured", () => {
  let bot: { app: App; adapter: TestAdapter };
  beforeAll(async () => {
    bot = await startBot({});
  }, 120_000);
  afterAll(() => stopBot(bot));

  it("explains what to configure on /ai on, and leaves conversation to the router", async () => {
    await bot.app.core.router.process(bot.adapter.inbound("/ai on", { chatId: "d", chatKind: "dm" }));
    const text = bot.adapter.textsIn("d").at(-1)!;
    expect(text).toMatch(/No language model is configured/);
    expect(text).toMatch(/OPENAI_BASE_URL/);
    expect(text).toMatch(/OLLAMA_HOST/);
    await bot.app.core.router.process(bot.adapter.inbound("hello", { chatId: "d", chatKind: "dm" }));
    expect(bot.adapter.textsIn("d").at(-1)).toMatch(/I answer commands here/);
  });
});

describe("with a model", () => {
  let openai: OpenAiStandIn;
  let bot: { app: App; adapter: TestAdapter };
  beforeAll(async () => {
    openai = await startOpenAiStandIn();
    bot = await startBot({
      editIntervalMs: 0,
      models: [
        { name: "main", provider: "openai", model: "stand", baseUrl: openai.baseUrl, apiKey: "k", stream: false },
      ],
      quotas: { chats: { "test:capped": { dailyTokens: 5 } } },
    });
  }, 120_000);
  afterAll(async () => {
    await stopBot(bot);
    await openai?.close();
  });
  beforeEach(() => openai.script.clear());

  const say = (text: string, o: Parameters<TestAdapter["inbound"]>[1]) =>
    bot.app.core.router.process(bot.adapter.inbound(text, o));

  it("refuses settings changes from a group member and accepts them from a group admin", async () => {
    // Settings are privileged subcommands: a chat without a policy keeps them for bot owners, as /perms does.
    await say("/ai off", { chatId: "g", chatKind: "group", role: "admin" });
    expect(bot.adapter.textsIn("g").at(-1)).toMatch(/\/ai off is a privileged command and this chat has no policy/);
    await say("/perms platform-admins on", { chatId: "g", chatKind: "group", userId: "boss" });
    await say("/ai off", { chatId: "g", chatKind: "group", role: "member" });
    expect(bot.adapter.textsIn("g").at(-1)).toMatch(/needs the admin role and you are member/);
    await say("/ai prompt You are a pirate.", { chatId: "g", chatKind: "group", role: "admin" });
    expect(bot.adapter.textsIn("g").at(-1)).toBe("System prompt updated.");
    await say("@bot hi", { chatId: "g", chatKind: "group", role: "member", mentionsBot: true });
    expect(openai.script.requests[0]!.messages[0]).toEqual({ role: "system", content: "You are a pirate." });
  });

  it("turns conversation off and on per chat", async () => {
    await say("/ai off", { chatId: "o", chatKind: "dm" });
    await say("hello", { chatId: "o", chatKind: "dm" });
    expect(openai.script.requests).toHaveLength(0);
    expect(bot.adapter.textsIn("o").at(-1)).toMatch(/I answer commands here/);
    await say("/ai on", { chatId: "o", chatKind: "dm" });
    await say("hello", { chatId: "o", chatKind: "dm" });
    expect(openai.script.requests).toHaveLength(1);
  });

  it("shows a typing indicator while the model works, where the platform has one", async () => {
    let typing = 0;
    openai.script.push("stand", { kind: "text", text: "typed", delayMs: 50 });
    const inbound = {
      ...bot.adapter.inbound("hello", { chatId: "ty", chatKind: "dm" }),
      typing: async () => void typing++,
    };
    await bot.app.core.router.process(inbound);
    expect(typing).toBeGreaterThanOrEqual(1);
    expect(bot.adapter.textsIn("ty").at(-1)).toBe("typed");
  });

  it("rejects an unknown model name, listing the configured ones", async () => {
    await say("/ai model nope", { chatId: "m", chatKind: "dm" });
    expect(bot.adapter.textsIn("m").at(-1)).toBe("Unknown model: nope. Configured: main.");
  });

  it("forgets the chat's history on /ai reset", async () => {
    openai.script.push("stand", { kind: "text", text: "noted" });
    await say("my secret is 42", { chatId: "r", chatKind: "dm" });
    await say("/ai reset", { chatId: "r", chatKind: "dm" });
    expect(bot.adapter.textsIn("r").at(-1)).toBe("Forgot this chat's conversation history (1 turn).");
    await say("what is my secret?", { chatId: "r", chatKind: "dm" });
    const contents = openai.script.requests.at(-1)!.messages.map((m) => m.content);
    expect(contents).not.toContain("my secret is 42");
  });

  it("shows today's usage with /ai usage", async () => {
    openai.script.push("stand", { kind: "text", text: "hi", usage: { input: 11, output: 4 } });
    await say("hello", { chatId: "u", chatKind: "dm" });
    await say("/ai usage", { chatId: "u", chatKind: "dm" });
    expect(bot.adapter.textsIn("u").at(-1)).toMatch(/this chat: 15 tokens/);
  });

  it("answers a skill's llm capability call under the chat's quota", async () => {
    const llm = bot.app.core.capabilities.get("llm")!;
    openai.script.push("stand", { kind: "text", text: "summary", usage: { input: 4, output: 2 } });
    const call = (chatKey: string, args: unknown) =>
      llm({
        skill: "notes",
        chatKey,
        userKey: "test:u1",
        target: { platform: "test", chatId: chatKey.slice(5) },
        args,
        signal: new AbortController().signal,
      });
    expect(await call("test:capped", { prompt: "summarise", system: "be short" })).toEqual({
      text: "summary",
      model: "main",
    });
    expect(openai.script.requests[0]!.messages).toEqual([
      { role: "system", content: "be short" },
      { role: "user", content: "summarise" },
    ]);
    await expect(call("test:capped", { prompt: "again" })).rejects.toMatchObject({ code: "E_QUOTA_EXCEEDED" });
    await expect(call("test:other", { messages: [{ role: "system", content: "x" }] })).rejects.toMatchObject({
      code: "E_BAD_ARGS",
    });
    await expect(call("test:other", "just a string")).rejects.toMatchObject({ code: "E_BAD_ARGS" });
    expect(openai.script.requests).toHaveLength(1);
  });
});
