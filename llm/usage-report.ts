/**
 * Usage between two UTC days grouped by day, chat, person, gateway key or model, for `switchboard usage export`.
 * Day, chat, person and key come from the daily usage rows (chat turns and gateway requests alike; a key's rows
 * are those of chat `api:<keyId>`; rolled-up days show as chat and person `*`); model comes from the call
 * records, which are kept `llm.statsRetentionDays`.
 */
import type { SqlClient } from "../bot/index.ts";

/** What a report is grouped by. */
export type UsageGrouping = "day" | "model" | "chat" | "user" | "key";

/** One row: the group, tokens, cost, and turns or calls. */
export interface UsageReportRow {
  group: string;
  inputTokens: number;
  outputTokens: number;
  cost: number;
  count: number;
}

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));

/** The rows from `from` to `to` (inclusive, `YYYY-MM-DD`). */
export async function usageReport(
  sql: SqlClient,
  o: { from: string; to: string; by: UsageGrouping },
): Promise<UsageReportRow[]> {
  type Row = { k: unknown; i: unknown; o: unknown; c: unknown; n: unknown };
  if (o.by === "model") {
    const fromMs = Date.parse(`${o.from}T00:00:00Z`);
    const toMs = Date.parse(`${o.to}T00:00:00Z`) + 86_400_000;
    const { rows } = await sql.query<Row>(
      `SELECT model AS k, sum(input_tokens) AS i, sum(output_tokens) AS o, sum(cost) AS c, count(*) AS n
       FROM llm_calls WHERE ok AND at >= $1 AND at < $2 GROUP BY model ORDER BY c DESC, k`,
      [fromMs, toMs],
    );
    return rows.map(toRow);
  }
  const column = { day: "day", chat: "chat_key", user: "user_key", key: "chat_key" }[o.by];
  const filter =
    o.by === "key" ? " AND chat_key LIKE 'api:%'" : o.by === "chat" ? " AND chat_key NOT LIKE 'api:%'" : "";
  const { rows } = await sql.query<Row>(
    `SELECT ${column} AS k, sum(input_tokens) AS i, sum(output_tokens) AS o, sum(cost) AS c, sum(turns) AS n
     FROM llm_usage WHERE day >= $1 AND day <= $2${filter} GROUP BY ${column} ORDER BY ${o.by === "day" ? "k" : "c DESC, k"}`,
    [o.from, o.to],
  );
  return rows.map((r) => {
    const row = toRow(r);
    return o.by === "key" ? { ...row, group: row.group.slice(4) } : row;
  });

  function toRow(r: Row): UsageReportRow {
    return { group: String(r.k), inputTokens: num(r.i), outputTokens: num(r.o), cost: num(r.c), count: num(r.n) };
  }
}
