/**
 * Model calls inside the stats window and one answered turn, for what `/api/models` and the console's Models page
 * show: two calls that succeeded (100 and 300 ms) and a timeout (9 s), then a turn in `chatKey` to vote on.
 */
import type { LlmStore } from "../../llm/store.ts";

export interface ModelStatsSeed {
  now: number;
  chatKey: string;
  userKey: string;
  /** Tokens and cost of each call that succeeded. */
  perCall: { inputTokens: number; outputTokens: number; cost: number };
}

/** Record the calls and the turn; resolves with the turn's id. */
export async function seedModelStats(store: LlmStore, seed: ModelStatsSeed): Promise<number> {
  const { now, perCall } = seed;
  await store.recordCalls([
    { model: "main", at: now - 3, ok: true, latencyMs: 100, ...perCall },
    { model: "main", at: now - 2, ok: true, latencyMs: 300, ...perCall },
    {
      model: "main",
      at: now - 1,
      ok: false,
      kind: "timeout",
      latencyMs: 9_000,
      inputTokens: 0,
      outputTokens: 0,
      cost: 0,
    },
  ]);
  return store.appendTurn({
    conversation: seed.chatKey,
    chatKey: seed.chatKey,
    userKey: seed.userKey,
    at: now,
    model: "main",
    systemPrompt: "",
    messages: [
      { role: "user", content: "hi" },
      { role: "assistant", content: "hello" },
    ],
    tokens: 2,
    inputTokens: 1,
    outputTokens: 1,
    cost: 0,
  });
}
