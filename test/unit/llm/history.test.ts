/** Prompt building, history trimming, token counting, and per-conversation storage. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPrompt } from "../../../llm/history.ts";
import { LLM_MIGRATIONS, LlmStore, type TurnRecord } from "../../../llm/store.ts";
import { encodingFor, estimateTokens, PER_MESSAGE_TOKENS, TokenCounter } from "../../../llm/tokens.ts";
import type { Store } from "../../../bot/index.ts";
import { memoryStore } from "../../../bot/storage/open.ts";

const counter = new TokenCounter();

function turn(id: number, text: string, tokens: number): TurnRecord {
  return {
    id,
    conversation: "t:c",
    chatKey: "t:c",
    userKey: "t:u",
    at: id,
    model: "m",
    systemPrompt: "s",
    feedback: null,
    tokens,
    messages: [
      { role: "user", content: `q${text}` },
      { role: "assistant", content: `a${text}` },
    ],
  };
}

describe("buildPrompt", () => {
  const base = {
    encoding: "estimate" as const,
    counter,
    systemPrompt: "sys",
    tools: [],
    current: [{ role: "user" as const, content: "now" }],
  };

  it("keeps the newest turns that fit the context budget, dropping whole turns oldest first", () => {
    const history = [turn(1, "1", 40), turn(2, "2", 40), turn(3, "3", 40)];
    const fixed = counter.countMessages([{ role: "system", content: "sys" }, ...base.current], "estimate");
    const p = buildPrompt({ ...base, model: { contextWindow: fixed + 85 + 100, maxOutputTokens: 100 }, history });
    expect(p.historyTurns).toBe(2);
    expect(p.messages.map((m) => m.content)).toEqual(["sys", "q2", "a2", "q3", "a3", "now"]);
    expect(p.promptTokens).toBe(fixed + 80);
  });

  it("sends everything when it fits, and nothing of the past when nothing fits", () => {
    const history = [turn(1, "1", 10), turn(2, "2", 10)];
    expect(buildPrompt({ ...base, model: { contextWindow: 8192, maxOutputTokens: 1024 }, history }).historyTurns).toBe(
      2,
    );
    expect(
      buildPrompt({ ...base, model: { contextWindow: 40, maxOutputTokens: 10 }, history: [turn(1, "1", 25)] })
        .historyTurns,
    ).toBe(0);
  });

  it("counts tool definitions against the budget", () => {
    const tools = [{ name: "x__y", description: "d".repeat(100), parameters: { type: "object" } }];
    const history = [turn(1, "1", 50)];
    const without = buildPrompt({ ...base, model: { contextWindow: 200, maxOutputTokens: 100 }, history });
    const withTools = buildPrompt({ ...base, tools, model: { contextWindow: 200, maxOutputTokens: 100 }, history });
    expect(without.historyTurns).toBe(1);
    expect(withTools.historyTurns).toBe(0);
  });

  it("refuses a message that alone does not fit, saying so", () => {
    expect(() =>
      buildPrompt({
        ...base,
        current: [{ role: "user", content: "x".repeat(2000) }],
        model: { contextWindow: 300, maxOutputTokens: 100 },
        history: [],
      }),
    ).toThrowError(
      expect.objectContaining({
        code: "E_MESSAGE_TOO_LONG",
        chatMessage: expect.stringMatching(/too long for the model's context window/),
      }),
    );
  });
});

describe("token counting", () => {
  it("picks the tokenizer by model family", () => {
    expect(encodingFor({ model: "gpt-4o-mini", tokenizer: "auto" })).toBe("o200k_base");
    expect(encodingFor({ model: "openai/gpt-4.1", tokenizer: "auto" })).toBe("o200k_base");
    expect(encodingFor({ model: "gpt-3.5-turbo", tokenizer: "auto" })).toBe("cl100k_base");
    expect(encodingFor({ model: "llama3.2", tokenizer: "auto" })).toBe("estimate");
    expect(encodingFor({ model: "llama3.2", tokenizer: "cl100k_base" })).toBe("cl100k_base");
  });

  it("estimates 3.5 ASCII characters per token and one per other code point", () => {
    expect(estimateTokens("abcdefg")).toBe(2);
    expect(estimateTokens("日本語")).toBe(3);
    expect(estimateTokens("")).toBe(0);
  });

  it("counts exactly with the real tokenizer once loaded", async () => {
    const c = new TokenCounter();
    expect(c.isExact("o200k_base")).toBe(false);
    await c.load("o200k_base");
    expect(c.isExact("o200k_base")).toBe(true);
    expect(c.count("hello world", "o200k_base")).toBe(2);
    // Special-token text from a user is counted as text, not refused.
    expect(c.count("<|endoftext|>", "o200k_base")).toBeGreaterThan(1);
    expect(c.countMessages([{ role: "user", content: "hello world" }], "o200k_base")).toBe(2 + PER_MESSAGE_TOKENS);
  }, 60_000);
});

describe("LlmStore history", () => {
  let store: Store;
  let llm: LlmStore;
  beforeAll(async () => {
    store = await memoryStore({ migrations: LLM_MIGRATIONS });
    llm = new LlmStore(store.sql);
  }, 120_000);
  afterAll(async () => {
    await store?.close();
  });

  const add = (conversation: string, chatKey: string, { text, at }: { text: string; at: number }) =>
    llm.appendTurn({
      conversation,
      chatKey,
      userKey: "t:u",
      at,
      model: "m",
      systemPrompt: "s",
      messages: [
        { role: "user", content: text },
        { role: "assistant", content: `re ${text}` },
      ],
      tokens: 5,
      inputTokens: 1,
      outputTokens: 1,
      cost: 0,
    });

  it("returns only the conversation's own newest turns, oldest first", async () => {
    for (let i = 1; i <= 5; i++) await add("t:a", "t:a", { text: `a${i}`, at: i });
    await add("t:b", "t:b", { text: "b1", at: 6 });
    await add("t:a:thread", "t:a", { text: "in thread", at: 7 });
    const recent = await llm.recentTurns("t:a", 3);
    expect(recent.map((t) => t.messages[0]!.content)).toEqual(["a3", "a4", "a5"]);
    expect((await llm.recentTurns("t:b", 10)).map((t) => t.messages[0]!.content)).toEqual(["b1"]);
    expect((await llm.recentTurns("t:a:thread", 10)).map((t) => t.messages[0]!.content)).toEqual(["in thread"]);
    expect(await llm.recentTurns("t:a", 0)).toEqual([]);
  });

  it("forgets a whole chat, threads included, and nothing else", async () => {
    expect(await llm.forgetChat("t:a")).toBe(6);
    expect(await llm.recentTurns("t:a", 10)).toEqual([]);
    expect(await llm.recentTurns("t:a:thread", 10)).toEqual([]);
    expect(await llm.recentTurns("t:b", 10)).toHaveLength(1);
  });

  it("stores feedback only on a turn of the same chat", async () => {
    const id = await add("t:f", "t:f", { text: "rate", at: 10 });
    expect(await llm.setFeedback(id, "t:other", { value: 1, by: "t:x", at: 1 })).toBe(false);
    expect(await llm.setFeedback(id, "t:f", { value: -1, by: "t:x", at: 2 })).toBe(true);
    expect((await llm.recentTurns("t:f", 1))[0]!.feedback).toBe(-1);
  });

  it("counts one vote per person, a later vote replacing the earlier, and withdraws only a matching vote", async () => {
    const id = await add("t:v", "t:v", { text: "vote", at: 20 });
    await llm.setFeedback(id, "t:v", { value: 1, by: "t:ann", at: 1 });
    await llm.setFeedback(id, "t:v", { value: 1, by: "t:ann", at: 2 });
    await llm.setFeedback(id, "t:v", { value: 1, by: "t:bob", at: 3 });
    await llm.setFeedback(id, "t:v", { value: -1, by: "t:cy", at: 4 });
    const votes = async () => (await llm.chatTurns("t:v")).find((t) => t.id === id)!.votes;
    expect(await votes()).toEqual({ up: 2, down: 1 });
    await llm.setFeedback(id, "t:v", { value: -1, by: "t:bob", at: 5 });
    expect(await votes()).toEqual({ up: 1, down: 2 });
    // Taking away a 👍 that bob no longer gives changes nothing; taking away cy's 👎 removes it.
    expect(await llm.clearFeedback(id, "t:v", { value: 1, by: "t:bob" })).toBe(false);
    expect(await llm.clearFeedback(id, "t:v", { value: -1, by: "t:cy" })).toBe(true);
    expect(await votes()).toEqual({ up: 1, down: 1 });
    expect((await llm.recentTurns("t:v", 1))[0]!.feedback).toBe(-1); // bob's, now the latest left
  });

  it("finds the turn an answer message carried, in its own chat only", async () => {
    const id = await add("t:m", "t:m", { text: "answer", at: 30 });
    await llm.linkAnswer({ chatKey: "t:m", messageId: "m-1", turnId: id });
    await llm.linkAnswer({ chatKey: "t:m", messageId: "m-1", turnId: id }); // a repeat is harmless
    expect(await llm.turnOfMessage("t:m", "m-1")).toBe(id);
    expect(await llm.turnOfMessage("t:other", "m-1")).toBeUndefined();
    expect(await llm.turnOfMessage("t:m", "m-2")).toBeUndefined();
  });
});
