/** The LLM tables on real PostgreSQL (fresh schema per run): the same SQL as the embedded store, and concurrent writers. */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Store } from "../../../bot/index.ts";
import { LLM_MIGRATIONS, LlmStore } from "../../../llm/store.ts";
import { openStore } from "../../../bot/storage/open.ts";
import { POSTGRES_URL, serviceAvailable } from "../../helpers/services.ts";

const isUp = await serviceAvailable("postgres");
const schema = `llm_${randomBytes(6).toString("hex")}`;

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

describe.skipIf(!isUp)("LlmStore on PostgreSQL", () => {
  const stores: Store[] = [];
  let a: LlmStore;
  let b: LlmStore;

  beforeAll(async () => {
    await admin(`CREATE SCHEMA ${schema}`);
    const url = new URL(POSTGRES_URL);
    url.searchParams.set("options", `-c search_path=${schema}`);
    // Two stores: two bot processes on one database.
    for (let i = 0; i < 2; i++)
      stores.push(await openStore({ dataDir: "unused", databaseUrl: url.toString(), migrations: LLM_MIGRATIONS }));
    a = new LlmStore(stores[0]!.sql);
    b = new LlmStore(stores[1]!.sql);
  }, 120_000);

  afterAll(async () => {
    for (const s of stores) await s.close();
    if (isUp) await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });

  it("hands out unique turn ids to two processes and keeps each conversation's turns in time order", async () => {
    const ids = await Promise.all([
      ...Array.from({ length: 40 }, () => a.nextTurnId()),
      ...Array.from({ length: 40 }, () => b.nextTurnId()),
    ]);
    expect(new Set(ids).size).toBe(80);
    const turn = (store: LlmStore, id: number, { at, text }: { at: number; text: string }) =>
      store.appendTurnWithUsage(
        {
          id,
          conversation: "pg:c",
          chatKey: "pg:c",
          userKey: "pg:u",
          at,
          model: "m",
          systemPrompt: "s",
          messages: [{ role: "user", content: text }],
          tokens: 3,
          inputTokens: 10,
          outputTokens: 5,
          cost: 0.25,
        },
        "2026-03-10",
      );
    await turn(b, await b.nextTurnId(), { at: 1, text: "first" });
    await turn(a, await a.nextTurnId(), { at: 2, text: "second" });
    await turn(b, await b.nextTurnId(), { at: 3, text: "third" });
    expect((await a.recentTurns("pg:c", 2)).map((t) => t.messages[0]!.content)).toEqual(["second", "third"]);
    expect(await a.usageOn("2026-03-10", "pg:c", "pg:u")).toEqual({
      chat: { tokens: 45, cost: 0.75 },
      user: { tokens: 45, cost: 0.75 },
      global: { tokens: 45, cost: 0.75 },
    });
  });

  it("adds concurrent usage from two processes without losing any", async () => {
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? a : b).addUsage({
          day: "2026-03-11",
          chatKey: "pg:race",
          userKey: "pg:u",
          inputTokens: 1,
          outputTokens: 1,
          cost: 0.5,
        }),
      ),
    );
    expect((await b.usageOn("2026-03-11", "pg:race", "pg:u")).chat).toEqual({ tokens: 40, cost: 10 });
  });

  it("keeps the bot-wide day totals equal to the sum of the per-chat rows, turns and usage alike", async () => {
    const { rows } = await stores[0]!.sql.query<Record<string, unknown>>(
      `SELECT d.day, d.input_tokens = u.input_tokens AND d.output_tokens = u.output_tokens AND d.turns = u.turns
                 AND abs(d.cost - u.cost) < 1e-9 AS same
       FROM llm_usage_days d JOIN (SELECT day, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
              sum(cost) AS cost, sum(turns) AS turns FROM llm_usage GROUP BY day) u ON u.day = d.day ORDER BY d.day`,
    );
    expect(rows.map((r) => [r.day, r.same])).toEqual([
      ["2026-03-10", true],
      ["2026-03-11", true],
    ]);
  });

  it("computes per-model statistics with percentiles and feedback", async () => {
    await a.recordCalls(
      [10, 20, 30, 40, 100].map((latencyMs) => ({
        model: "m",
        at: 5,
        ok: true,
        latencyMs,
        inputTokens: 2,
        outputTokens: 1,
        cost: 0.01,
      })),
    );
    await b.recordCalls([
      { model: "m", at: 5, ok: false, kind: "rate_limit", latencyMs: 1, inputTokens: 0, outputTokens: 0, cost: 0 },
    ]);
    const [t] = await a.recentTurns("pg:c", 1);
    expect(await b.setFeedback(t!.id, "pg:c", { value: 1, by: "pg:u", at: 6 })).toBe(true);
    const [stats] = await a.modelStats(0);
    expect(stats).toMatchObject({
      model: "m",
      calls: 6,
      failures: { rate_limit: 1 },
      p50Ms: 30,
      inputTokens: 10,
      outputTokens: 5,
      thumbsUp: 1,
      thumbsDown: 0,
    });
    expect(stats!.p95Ms).toBeCloseTo(88, 0);
  });
});
