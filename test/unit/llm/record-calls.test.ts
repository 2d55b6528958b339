/** Call records are written in slices of 64, 32, …, 1 rows: every record lands, and few statement texts are used. */
import { describe, expect, it } from "vitest";
import { memoryStore } from "../../../bot/storage/open.ts";
import { LLM_MIGRATIONS, LlmStore } from "../../../llm/store.ts";

describe("LlmStore.recordCalls", () => {
  it("writes every record of a batch of any size, in power-of-two slices", async () => {
    const store = await memoryStore({ migrations: LLM_MIGRATIONS });
    try {
      const texts: string[] = [];
      const sql = {
        ...store.sql,
        query: ((text: string, params?: unknown[]) => {
          texts.push(text);
          return store.sql.query(text, params);
        }) as typeof store.sql.query,
      };
      const llm = new LlmStore(sql);
      const batch = (n: number, model: string) =>
        Array.from({ length: n }, (_, i) => ({
          model,
          at: 1_000 + i,
          ok: true,
          latencyMs: i,
          inputTokens: 1,
          outputTokens: 2,
          cost: 0.001,
        }));
      await llm.recordCalls(batch(203, "a")); // 64 + 64 + 64 + 8 + 2 + 1
      await llm.recordCalls(batch(5, "b")); // 4 + 1
      await llm.recordCalls([]);
      const stats = new Map((await llm.modelStats(0)).map((s) => [s.model, s]));
      expect(stats.get("a")).toMatchObject({ calls: 203, inputTokens: 203, outputTokens: 406 });
      expect(stats.get("b")).toMatchObject({ calls: 5 });
      const inserts = texts.filter((t) => t.startsWith("INSERT INTO llm_calls"));
      expect(inserts).toHaveLength(8);
      expect(new Set(inserts).size).toBe(5); // 64, 8, 4, 2 and 1 rows
    } finally {
      await store.close();
    }
  });
});
