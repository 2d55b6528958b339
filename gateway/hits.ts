/**
 * Answers served from the cache, counted per UTC day, model, person and key (table `gateway_cache_hits`): the
 * hit marked beside the zero-cost usage row it also adds, for `/v1/models`, `/models` and `switchboard usage
 * export`. A chat turn's hit is counted under `chat:<chatKey>` in place of a key id.
 */
import type { SqlClient } from "../bot/index.ts";
import type { UsageGrouping } from "../llm/index.ts";

/** Count one hit. */
export async function recordHit(
  sql: SqlClient,
  h: { day: string; model: string; userKey: string; keyId: string },
): Promise<void> {
  await sql.query(
    `INSERT INTO gateway_cache_hits (day, model, user_key, key_id, hits) VALUES ($1, $2, $3, $4, 1)
     ON CONFLICT (day, model, user_key, key_id) DO UPDATE SET hits = gateway_cache_hits.hits + 1`,
    [h.day, h.model, h.userKey, h.keyId],
  );
}

/** Hits per model since `fromDay`. */
export async function hitsByModel(sql: SqlClient, fromDay: string): Promise<Map<string, number>> {
  const { rows } = await sql.query<{ model: string; n: unknown }>(
    "SELECT model, sum(hits) AS n FROM gateway_cache_hits WHERE day >= $1 GROUP BY model",
    [fromDay],
  );
  return new Map(rows.map((r) => [r.model, Number(r.n)]));
}

/** The key id a chat turn's hit is counted under. */
export const chatHitKey = (chatKey: string): string => `${CHAT_PREFIX}${chatKey}`;
const CHAT_PREFIX = "chat:";

/** Hits between two days by the export's grouping (chat: the chats' own turns; key: gateway requests). */
export async function hitsBy(
  sql: SqlClient,
  o: { from: string; to: string; by: UsageGrouping },
): Promise<Map<string, number>> {
  const column = {
    day: "day",
    model: "model",
    user: "user_key",
    key: "key_id",
    chat: `substr(key_id, ${CHAT_PREFIX.length + 1})`,
  }[o.by];
  const filter =
    o.by === "chat"
      ? ` AND key_id LIKE '${CHAT_PREFIX}%'`
      : o.by === "key"
        ? ` AND key_id NOT LIKE '${CHAT_PREFIX}%'`
        : "";
  const { rows } = await sql.query<{ k: string; n: unknown }>(
    `SELECT ${column} AS k, sum(hits) AS n FROM gateway_cache_hits WHERE day >= $1 AND day <= $2${filter} GROUP BY ${column}`,
    [o.from, o.to],
  );
  return new Map(rows.map((r) => [String(r.k), Number(r.n)]));
}
