/** Usage and quotas on the real store, and the JSONL export format. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Store } from "../../../bot/index.ts";
import { exportJsonl, groupConversations } from "../../../llm/export.ts";
import { LLM_MIGRATIONS, LlmStore, type TurnRecord } from "../../../llm/store.ts";
import { costOf, dayOf, resetText, UsageService } from "../../../llm/usage.ts";
import { memoryStore } from "../../../bot/storage/open.ts";

let store: Store;
let llm: LlmStore;
beforeAll(async () => {
  store = await memoryStore({ migrations: LLM_MIGRATIONS });
  llm = new LlmStore(store.sql);
}, 120_000);
afterAll(async () => {
  await store?.close();
});

const NOON = Date.parse("2026-03-10T12:00:00Z");

describe("usage and quotas", () => {
  const quotas = (o: Record<string, unknown> = {}) => ({ perChat: {}, perUser: {}, global: {}, chats: {}, ...o });

  it("lets turns through under the caps and stops the next one once the chat's cap is reached", async () => {
    const clock = { now: () => NOON };
    const usage = new UsageService(llm, quotas({ perChat: { dailyTokens: 100 } }), clock);
    await usage.check("q:1", "q:u1");
    await usage.add("q:1", "q:u1", { usage: { inputTokens: 60, outputTokens: 50 }, cost: 0.5 });
    const error = await usage.check("q:1", "q:u1").catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "E_QUOTA_EXCEEDED",
      chatMessage:
        "This chat has used the daily language-model quota (110 of 100 tokens). It resets at 00:00 UTC, in 12 h 0 min.",
    });
    // Another chat is not affected; the next UTC day starts fresh.
    await usage.check("q:2", "q:u1");
    await usage.flush();
    await new UsageService(llm, quotas({ perChat: { dailyTokens: 100 } }), { now: () => NOON + 86_400_000 }).check(
      "q:1",
      "q:u1",
    );
  });

  it("caps a user across chats, cost as well as tokens, and honours per-chat overrides", async () => {
    const clock = { now: () => NOON };
    const usage = new UsageService(
      llm,
      quotas({
        perUser: { dailyCost: 1 },
        chats: { "q:big": { dailyTokens: 1_000_000 } },
        perChat: { dailyTokens: 10 },
      }),
      clock,
    );
    await usage.add("q:3", "q:u2", { usage: { inputTokens: 1, outputTokens: 1 }, cost: 0.6 });
    await usage.add("q:big", "q:u2", { usage: { inputTokens: 1, outputTokens: 1 }, cost: 0.6 });
    const error = await usage.check("q:big", "q:u2").catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "E_QUOTA_EXCEEDED",
      chatMessage: expect.stringMatching(/^You have used the daily language-model budget \(1\.2000 of 1 spent\)/),
    });
    await usage.check("q:big", "q:u3");
    await usage.flush();
  });

  it("sums uses in memory, counts them in this process's checks at once and writes them on flush", async () => {
    const clock = { now: () => NOON };
    const caps = quotas({ perChat: { dailyTokens: 10 } });
    const usage = new UsageService(llm, caps, clock);
    for (let i = 0; i < 3; i++)
      await usage.add("q:sum", "q:u9", { usage: { inputTokens: 2, outputTokens: 2 }, cost: 0.25 });
    const refused = await usage.check("q:sum", "q:u9").catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: "E_QUOTA_EXCEEDED" });
    expect(await usage.spentSince("2026-03-10", { chatKey: "q:sum" })).toEqual({ tokens: 12, cost: 0.75 });
    // Another process sees the uses once they are written, in one row with its turn count.
    const other = new UsageService(llm, caps, clock);
    await other.check("q:sum", "q:u9");
    await usage.flush();
    await expect(other.check("q:sum", "q:u9")).rejects.toMatchObject({ code: "E_QUOTA_EXCEEDED" });
    const { rows } = await store.sql.query<{ turns: unknown; cost: unknown }>(
      "SELECT turns, cost FROM llm_usage WHERE chat_key = 'q:sum'",
    );
    expect(rows.map((r) => [Number(r.turns), Number(r.cost)])).toEqual([[3, 0.75]]);
    expect(await usage.spentSince("2026-03-10", { chatKey: "q:sum" })).toEqual({ tokens: 12, cost: 0.75 });
  });

  it("applies a global cap to everyone", async () => {
    const usage = new UsageService(llm, quotas({ global: { dailyTokens: 1 } }), { now: () => NOON });
    await expect(usage.check("q:new", "q:new-user")).rejects.toMatchObject({
      chatMessage: expect.stringMatching(/^The bot has used the daily/),
    });
  });

  it("computes cost, day and reset time", () => {
    expect(costOf({ costPer1kInput: 0.5, costPer1kOutput: 1.5 }, { inputTokens: 2000, outputTokens: 1000 })).toBe(2.5);
    expect(dayOf(NOON)).toBe("2026-03-10");
    expect(resetText(Date.parse("2026-03-10T23:59:30Z"))).toBe("00:00 UTC, in 1 min");
  });
});

describe("export", () => {
  const t = (
    id: number,
    conversation: string,
    { at, messages }: { at: number; messages: TurnRecord["messages"] },
  ): TurnRecord => ({
    id,
    conversation,
    chatKey: "e:1",
    userKey: "e:u",
    at,
    model: "m",
    systemPrompt: "be brief",
    messages,
    tokens: 1,
    feedback: null,
  });

  it("splits conversations by thread and by idle gap", () => {
    const turns = [
      t(1, "e:1", { at: 0, messages: [] }),
      t(2, "e:1", { at: 1_000, messages: [] }),
      t(3, "e:1", { at: 10_000_000, messages: [] }),
      t(4, "e:1:th", { at: 1, messages: [] }),
    ];
    expect(groupConversations(turns, 60_000).map((g) => g.map((x) => x.id))).toEqual([[1, 2], [3], [4]]);
  });

  it("writes one chat-format JSON object per line, tool calls included", () => {
    const out = exportJsonl(
      [
        t(1, "e:1", {
          at: 0,
          messages: [
            { role: "user", content: "roll" },
            { role: "assistant", content: "", toolCalls: [{ id: "c1", name: "dice__roll", arguments: '{"sides":6}' }] },
            { role: "tool", toolCallId: "c1", toolName: "dice__roll", content: "4" },
            { role: "assistant", content: "You rolled 4." },
          ],
        }),
        t(2, "e:1:th", {
          at: 5,
          messages: [
            { role: "user", content: "hi" },
            { role: "assistant", content: "hello" },
          ],
        }),
      ],
      60_000,
    );
    expect(out).toMatchObject({ conversations: 2, turns: 2 });
    expect(out.text.endsWith("\n")).toBe(true);
    const lines = out.text
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { messages: unknown[] });
    expect(lines[0]!.messages).toEqual([
      { role: "system", content: "be brief" },
      { role: "user", content: "roll" },
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "c1", type: "function", function: { name: "dice__roll", arguments: '{"sides":6}' } }],
      },
      { role: "tool", tool_call_id: "c1", content: "4" },
      { role: "assistant", content: "You rolled 4." },
    ]);
    expect(lines[1]!.messages).toHaveLength(3);
  });

  it("labels each turn with its own system prompt, not the first turn's", () => {
    const turn = (id: number, prompt: string | null, text: string): TurnRecord => ({
      ...t(id, "e:1", { at: id, messages: [{ role: "user", content: text }] }),
      systemPrompt: prompt,
    });
    const out = exportJsonl(
      [turn(1, "be brief", "a"), turn(2, "be brief", "b"), turn(3, "talk like a pirate", "c"), turn(4, null, "d")],
      60_000,
    );
    const [line] = out.text
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { messages: unknown[] });
    expect(line!.messages).toEqual([
      { role: "system", content: "be brief" },
      { role: "user", content: "a" },
      { role: "user", content: "b" },
      { role: "system", content: "talk like a pirate" },
      { role: "user", content: "c" },
      { role: "user", content: "d" },
    ]);
  });

  it("labels rated answers with their votes, pointing at each answer's message", () => {
    const qa = (q: string, a: string): TurnRecord["messages"] => [
      { role: "user", content: q },
      { role: "assistant", content: a },
    ];
    const out = exportJsonl(
      [
        { ...t(1, "e:1", { at: 0, messages: qa("a", "A") }), votes: { up: 2, down: 0 } },
        { ...t(2, "e:1", { at: 1, messages: qa("b", "B") }), votes: { up: 0, down: 0 } },
        { ...t(3, "e:1", { at: 2, messages: qa("c", "C") }), votes: { up: 1, down: 1 } },
        { ...t(4, "e:1", { at: 3, messages: qa("d", "D") }), votes: { up: 0, down: 3 } },
        t(5, "e:1:quiet", { at: 4, messages: qa("e", "E") }),
      ],
      60_000,
    );
    const [rated, quiet] = out.text
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { messages: Array<{ content: string }>; feedback?: unknown[] });
    expect(rated!.feedback).toEqual([
      { message: 2, label: "good", up: 2, down: 0 },
      { message: 6, label: "mixed", up: 1, down: 1 },
      { message: 8, label: "bad", up: 0, down: 3 },
    ]);
    expect(rated!.messages[2]!.content).toBe("A");
    expect(rated!.messages[8]!.content).toBe("D");
    expect(quiet).not.toHaveProperty("feedback");
  });

  it("exports an empty chat as an empty file", () => {
    expect(exportJsonl([], 1)).toEqual({ text: "", conversations: 0, turns: 0 });
  });
});
