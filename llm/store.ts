/**
 * The LLM layer's durable data on the shared SQL store: conversation turns (history, feedback, export), usage
 * per day/chat/user (quotas), and one row per model call (statistics). Written once against `SqlClient`, so
 * it runs on the embedded store and on PostgreSQL alike; where SQLite lacks what PostgreSQL does in one
 * statement (sequences, data-modifying CTEs, ordered-set aggregates) the embedded path takes a small detour.
 */
import type { Migration, SqlClient } from "../bot/index.ts";
import type { ChatMessage } from "./types.ts";

/** Rebuild the bot-wide day totals from the per-chat-and-person rows (the migration; benchmarks that seed rows). */
export const USAGE_DAYS_BACKFILL = `INSERT INTO llm_usage_days (day, input_tokens, output_tokens, cost, turns)
  SELECT day, sum(input_tokens), sum(output_tokens), sum(cost), sum(turns) FROM llm_usage GROUP BY day`;

/** The day totals' upsert: one turn's usage added to its day. */
const ADD_TO_DAY = `INSERT INTO llm_usage_days (day, input_tokens, output_tokens, cost, turns) VALUES ($1, $2, $3, $4, $5)
  ON CONFLICT (day) DO UPDATE SET
    input_tokens = llm_usage_days.input_tokens + EXCLUDED.input_tokens,
    output_tokens = llm_usage_days.output_tokens + EXCLUDED.output_tokens,
    cost = llm_usage_days.cost + EXCLUDED.cost,
    turns = llm_usage_days.turns + EXCLUDED.turns`;

/** Tables of the LLM layer. */
export const LLM_MIGRATIONS: readonly Migration[] = [
  {
    id: "llm-001-turns-usage-calls",
    sql: `
CREATE TABLE IF NOT EXISTS llm_turns (
  id BIGSERIAL PRIMARY KEY,
  conversation TEXT NOT NULL,
  chat_key TEXT NOT NULL,
  user_key TEXT NOT NULL,
  at BIGINT NOT NULL,
  model TEXT,
  system_prompt TEXT,
  messages JSONB NOT NULL,
  tokens INTEGER NOT NULL,
  input_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  cost DOUBLE PRECISION NOT NULL DEFAULT 0,
  feedback SMALLINT,
  feedback_by TEXT
);
CREATE INDEX IF NOT EXISTS llm_turns_conversation ON llm_turns (conversation, at);
CREATE INDEX IF NOT EXISTS llm_turns_chat ON llm_turns (chat_key, id);
CREATE TABLE IF NOT EXISTS llm_usage (
  day TEXT NOT NULL,
  chat_key TEXT NOT NULL,
  user_key TEXT NOT NULL,
  input_tokens BIGINT NOT NULL DEFAULT 0,
  output_tokens BIGINT NOT NULL DEFAULT 0,
  cost DOUBLE PRECISION NOT NULL DEFAULT 0,
  turns INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (day, chat_key, user_key)
);
CREATE TABLE IF NOT EXISTS llm_calls (
  id BIGSERIAL PRIMARY KEY,
  model TEXT NOT NULL,
  at BIGINT NOT NULL,
  ok BOOLEAN NOT NULL,
  kind TEXT,
  latency_ms DOUBLE PRECISION NOT NULL,
  input_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  cost DOUBLE PRECISION NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS llm_calls_model_at ON llm_calls (model, at);
`,
  },
  {
    // Bot-wide usage per day, kept beside the per-chat-and-person rows by the same writes, so the console's
    // 90-day chart reads 90 rows whatever the number of chats and people (test/bench/console.ts).
    id: "core-060-llm-usage-days",
    sql: `
CREATE TABLE IF NOT EXISTS llm_usage_days (
  day TEXT PRIMARY KEY,
  input_tokens BIGINT NOT NULL DEFAULT 0,
  output_tokens BIGINT NOT NULL DEFAULT 0,
  cost DOUBLE PRECISION NOT NULL DEFAULT 0,
  turns BIGINT NOT NULL DEFAULT 0
);
${USAGE_DAYS_BACKFILL};
`,
  },
  {
    // Feedback per person (a 👍 button press or reaction replaces that person's earlier vote on the turn), and
    // the platform messages that carried each answer, so a reaction on one finds its turn. The turn's own
    // `feedback` column keeps the latest vote; earlier single votes become the first rows.
    id: "llm-070-feedback-votes",
    sql: `
CREATE TABLE IF NOT EXISTS llm_feedback (
  turn_id BIGINT NOT NULL,
  user_key TEXT NOT NULL,
  chat_key TEXT NOT NULL,
  value SMALLINT NOT NULL,
  at BIGINT NOT NULL,
  PRIMARY KEY (turn_id, user_key)
);
CREATE INDEX IF NOT EXISTS llm_feedback_chat ON llm_feedback (chat_key);
CREATE TABLE IF NOT EXISTS llm_answer_messages (
  chat_key TEXT NOT NULL,
  message_id TEXT NOT NULL,
  turn_id BIGINT NOT NULL,
  PRIMARY KEY (chat_key, message_id)
);
INSERT INTO llm_feedback (turn_id, user_key, chat_key, value, at)
  SELECT id, feedback_by, chat_key, feedback, at FROM llm_turns WHERE feedback IS NOT NULL AND feedback_by IS NOT NULL
  ON CONFLICT DO NOTHING;
`,
  },
];

/** One stored turn: the user's message and everything the model and tools said in answer. */
export interface TurnRecord {
  id: number;
  conversation: string;
  chatKey: string;
  userKey: string;
  at: number;
  model: string | null;
  systemPrompt: string | null;
  messages: ChatMessage[];
  /** Prompt tokens these messages take when sent again as history. */
  tokens: number;
  /** The latest vote on the turn. */
  feedback: -1 | 1 | null;
  /** Votes by different people (read for export only). */
  votes?: { up: number; down: number };
}

/** Most call records one statement inserts (a power of two: flushes use slices of 64, 32, …, 1). */
const MAX_CALLS_PER_INSERT = 64;

/** A new turn to store. */
export type NewTurn = Omit<TurnRecord, "id" | "feedback" | "votes"> & {
  inputTokens: number;
  outputTokens: number;
  cost: number;
  /** Whose usage the turn counts as (`principal:<name>` for a named person); default the turn's `userKey`. */
  usageKey?: string;
};

/** A turn's columns from `conversation` to `cost`, in the order every turn insert lists them. */
function turnValues(t: NewTurn): unknown[] {
  return [
    t.conversation,
    t.chatKey,
    t.userKey,
    t.at,
    t.model,
    t.systemPrompt,
    JSON.stringify(t.messages),
    t.tokens,
    t.inputTokens,
    t.outputTokens,
    t.cost,
  ];
}

/** Tokens and cost used. */
export interface UsageTotals {
  tokens: number;
  cost: number;
}

/** One model call, for statistics. */
export interface CallRecord {
  model: string;
  at: number;
  ok: boolean;
  kind?: string | undefined;
  latencyMs: number;
  inputTokens: number;
  outputTokens: number;
  cost: number;
}

/** Per-model statistics over the retention window. */
export interface ModelStats {
  model: string;
  calls: number;
  failures: Record<string, number>;
  p50Ms: number | null;
  p95Ms: number | null;
  inputTokens: number;
  outputTokens: number;
  cost: number;
  thumbsUp: number;
  thumbsDown: number;
}

type Row = Record<string, unknown>;

/** Turn ids reserved per query. */
const ID_BLOCK = 32;

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));

// Turn ids on the embedded store: one process owns the database, so the next id is counted here (from the
// highest stored one) instead of a sequence. Shared by every LlmStore on the same client.
const embeddedNextId = new WeakMap<SqlClient, Promise<{ next: number }>>();

/** `percentile_cont` over sorted values (linear interpolation), as PostgreSQL computes it. */
function percentileCont(sorted: readonly number[], fraction: number): number | null {
  if (sorted.length === 0) return null;
  const position = fraction * (sorted.length - 1);
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  return sorted[lower]! + (sorted[upper]! - sorted[lower]!) * (position - lower);
}

/** Repository over the LLM tables. */
export class LlmStore {
  readonly #sql: SqlClient;
  readonly #ids: number[] = [];
  #refill: Promise<void> | undefined;

  constructor(sql: SqlClient) {
    this.#sql = sql;
  }

  /** Store a turn; returns its id. */
  async appendTurn(t: NewTurn): Promise<number> {
    if (this.#sql.driver === "sqlite") return this.#insertTurn(this.#sql, { ...t, id: await this.nextTurnId() });
    const { rows } = await this.#sql.query<{ id: unknown }>(
      `INSERT INTO llm_turns (conversation, chat_key, user_key, at, model, system_prompt, messages, tokens, input_tokens, output_tokens, cost)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
      turnValues(t),
    );
    return num(rows[0]?.id);
  }

  /**
   * Reserve the id of a turn about to happen (so its reply can carry it before the turn is stored). Ids come
   * from the table's sequence in blocks, so most turns need no query for it; they stay unique across processes.
   */
  async nextTurnId(): Promise<number> {
    if (this.#sql.driver === "sqlite") {
      let counter = embeddedNextId.get(this.#sql);
      if (counter === undefined) {
        counter = this.#sql
          .query<{ id: unknown }>("SELECT COALESCE(MAX(id), 0) AS id FROM llm_turns")
          .then(({ rows }) => ({ next: num(rows[0]?.id) + 1 }));
        embeddedNextId.set(this.#sql, counter);
        counter.catch(() => embeddedNextId.delete(this.#sql));
      }
      const state = await counter;
      return state.next++;
    }
    if (this.#ids.length === 0) {
      this.#refill ??= this.#sql
        .query<{ id: unknown }>(
          `SELECT nextval(pg_get_serial_sequence('llm_turns', 'id')) AS id FROM generate_series(1, ${ID_BLOCK})`,
        )
        .then(({ rows }) => {
          this.#ids.push(...rows.map((r) => num(r.id)));
        })
        .finally(() => {
          this.#refill = undefined;
        });
      await this.#refill;
      if (this.#ids.length === 0) return this.nextTurnId();
    }
    return this.#ids.shift()!;
  }

  /** Store a turn under a reserved id and add its usage for the day, in one statement (one round trip). */
  async appendTurnWithUsage(t: NewTurn & { id: number }, day: string): Promise<number> {
    if (this.#sql.driver === "sqlite") {
      // No data-modifying CTE in SQLite: two statements in one transaction (in-process, no round trips).
      return this.#sql.transaction(async (tx) => {
        const id = await this.#insertTurn(tx, t);
        await new LlmStore(tx).addUsage({ ...t, userKey: t.usageKey ?? t.userKey, day });
        return id;
      });
    }
    const { rows } = await this.#sql.query<{ id: unknown }>(
      `WITH turn AS (
         INSERT INTO llm_turns (id, conversation, chat_key, user_key, at, model, system_prompt, messages, tokens, input_tokens, output_tokens, cost)
         VALUES ($13, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id
       ), usage AS (
         INSERT INTO llm_usage (day, chat_key, user_key, input_tokens, output_tokens, cost, turns) VALUES ($12, $2, $14, $9, $10, $11, 1)
         ON CONFLICT (day, chat_key, user_key) DO UPDATE SET
           input_tokens = llm_usage.input_tokens + EXCLUDED.input_tokens,
           output_tokens = llm_usage.output_tokens + EXCLUDED.output_tokens,
           cost = llm_usage.cost + EXCLUDED.cost,
           turns = llm_usage.turns + 1
       ), usage_day AS (
         INSERT INTO llm_usage_days (day, input_tokens, output_tokens, cost, turns) VALUES ($12, $9, $10, $11, 1)
         ON CONFLICT (day) DO UPDATE SET
           input_tokens = llm_usage_days.input_tokens + EXCLUDED.input_tokens,
           output_tokens = llm_usage_days.output_tokens + EXCLUDED.output_tokens,
           cost = llm_usage_days.cost + EXCLUDED.cost,
           turns = llm_usage_days.turns + 1
       )
       SELECT id FROM turn`,
      [...turnValues(t), day, t.id, t.usageKey ?? t.userKey],
    );
    return num(rows[0]?.id);
  }

  async #insertTurn(sql: SqlClient, t: NewTurn & { id: number }): Promise<number> {
    await sql.query(
      `INSERT INTO llm_turns (id, conversation, chat_key, user_key, at, model, system_prompt, messages, tokens, input_tokens, output_tokens, cost)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [t.id, ...turnValues(t)],
    );
    return t.id;
  }

  /** The newest `limit` turns of one conversation, oldest first (by time: ids are reserved per process in blocks). */
  async recentTurns(conversation: string, limit: number): Promise<TurnRecord[]> {
    if (limit <= 0) return [];
    const { rows } = await this.#sql.query<Row>(
      `SELECT * FROM llm_turns WHERE conversation = $1 ORDER BY at DESC, id DESC LIMIT $2`,
      [conversation, limit],
    );
    return rows.map(toTurn).reverse();
  }

  /** Every turn of a chat (all its threads), by conversation then time: for export. */
  async chatTurns(chatKey: string): Promise<TurnRecord[]> {
    const { rows } = await this.#sql.query<Row>(
      `SELECT t.*,
         (SELECT count(*) FROM llm_feedback f WHERE f.turn_id = t.id AND f.value = 1) AS votes_up,
         (SELECT count(*) FROM llm_feedback f WHERE f.turn_id = t.id AND f.value = -1) AS votes_down
       FROM llm_turns t WHERE t.chat_key = $1 ORDER BY t.conversation, t.at, t.id`,
      [chatKey],
    );
    return rows.map(toTurn);
  }

  /** Forget a chat's history (every thread). Returns the number of turns removed. */
  async forgetChat(chatKey: string): Promise<number> {
    await this.#sql.query(`DELETE FROM llm_feedback WHERE chat_key = $1`, [chatKey]);
    await this.#sql.query(`DELETE FROM llm_answer_messages WHERE chat_key = $1`, [chatKey]);
    const { rows } = await this.#sql.query(`DELETE FROM llm_turns WHERE chat_key = $1 RETURNING 1 AS gone`, [chatKey]);
    return rows.length;
  }

  /**
   * Record 👍 (1) or 👎 (-1) by one person on a turn of this chat: it replaces that person's earlier vote, so
   * each person counts once. False when no such turn.
   */
  async setFeedback(
    turnId: number,
    chatKey: string,
    { value, by, at }: { value: 1 | -1; by: string; at: number },
  ): Promise<boolean> {
    const { rows } = await this.#sql.query(
      `UPDATE llm_turns SET feedback = $3, feedback_by = $4 WHERE id = $1 AND chat_key = $2 RETURNING id`,
      [turnId, chatKey, value, by],
    );
    if (rows.length === 0) return false;
    await this.#sql.query(
      `INSERT INTO llm_feedback (turn_id, user_key, chat_key, value, at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (turn_id, user_key) DO UPDATE SET value = EXCLUDED.value, at = EXCLUDED.at`,
      [turnId, by, chatKey, value, at],
    );
    return true;
  }

  /**
   * Withdraw one person's vote on a turn, only if it is still `value` (a 👍 taken away does not undo a later 👎).
   * The turn's latest vote becomes the newest one left. False when there was no such vote.
   */
  async clearFeedback(turnId: number, chatKey: string, { value, by }: { value: 1 | -1; by: string }): Promise<boolean> {
    const { rows } = await this.#sql.query(
      `DELETE FROM llm_feedback WHERE turn_id = $1 AND chat_key = $2 AND user_key = $3 AND value = $4 RETURNING 1 AS gone`,
      [turnId, chatKey, by, value],
    );
    if (rows.length === 0) return false;
    await this.#sql.query(
      `UPDATE llm_turns SET
         feedback = (SELECT value FROM llm_feedback WHERE turn_id = $1 ORDER BY at DESC LIMIT 1),
         feedback_by = (SELECT user_key FROM llm_feedback WHERE turn_id = $1 ORDER BY at DESC LIMIT 1)
       WHERE id = $1 AND chat_key = $2`,
      [turnId, chatKey],
    );
    return true;
  }

  /** Remember that a platform message of this chat carried a turn's answer (for reactions on it). */
  async linkAnswer({
    chatKey,
    messageId,
    turnId,
  }: {
    chatKey: string;
    messageId: string;
    turnId: number;
  }): Promise<void> {
    await this.#sql.query(
      `INSERT INTO llm_answer_messages (chat_key, message_id, turn_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
      [chatKey, messageId, turnId],
    );
  }

  /** The turn whose answer a platform message of this chat carried, if any. */
  async turnOfMessage(chatKey: string, messageId: string): Promise<number | undefined> {
    const { rows } = await this.#sql.query<{ turn_id: unknown }>(
      `SELECT turn_id FROM llm_answer_messages WHERE chat_key = $1 AND message_id = $2`,
      [chatKey, messageId],
    );
    return rows[0] === undefined ? undefined : num(rows[0].turn_id);
  }

  /** Add usage for a chat and user on a UTC day (`YYYY-MM-DD`), and to the day's bot-wide total. */
  async addUsage(u: {
    day: string;
    chatKey: string;
    userKey: string;
    inputTokens: number;
    outputTokens: number;
    cost: number;
    /** Turns or calls these figures sum (default 1: one use). */
    turns?: number;
  }): Promise<void> {
    const turns = u.turns ?? 1;
    const perChat = `INSERT INTO llm_usage (day, chat_key, user_key, input_tokens, output_tokens, cost, turns) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (day, chat_key, user_key) DO UPDATE SET
         input_tokens = llm_usage.input_tokens + EXCLUDED.input_tokens,
         output_tokens = llm_usage.output_tokens + EXCLUDED.output_tokens,
         cost = llm_usage.cost + EXCLUDED.cost,
         turns = llm_usage.turns + EXCLUDED.turns`;
    if (this.#sql.driver === "sqlite") {
      // In process: two statements (the turn's caller already holds a transaction around them).
      await this.#sql.query(perChat, [u.day, u.chatKey, u.userKey, u.inputTokens, u.outputTokens, u.cost, turns]);
      await this.#sql.query(ADD_TO_DAY, [u.day, u.inputTokens, u.outputTokens, u.cost, turns]);
      return;
    }
    await this.#sql.query(
      `WITH usage AS (${perChat})
       INSERT INTO llm_usage_days (day, input_tokens, output_tokens, cost, turns) VALUES ($1, $4, $5, $6, $7)
       ON CONFLICT (day) DO UPDATE SET
         input_tokens = llm_usage_days.input_tokens + EXCLUDED.input_tokens,
         output_tokens = llm_usage_days.output_tokens + EXCLUDED.output_tokens,
         cost = llm_usage_days.cost + EXCLUDED.cost,
         turns = llm_usage_days.turns + EXCLUDED.turns`,
      [u.day, u.chatKey, u.userKey, u.inputTokens, u.outputTokens, u.cost, turns],
    );
  }

  /** Today's totals for a chat, a user and everyone. */
  async usageOn(
    day: string,
    chatKey: string,
    userKey: string,
  ): Promise<{ chat: UsageTotals; user: UsageTotals; global: UsageTotals }> {
    const { rows } = await this.#sql.query<Row>(
      `SELECT
         coalesce(sum(input_tokens + output_tokens) FILTER (WHERE chat_key = $2), 0) AS chat_tokens,
         coalesce(sum(cost) FILTER (WHERE chat_key = $2), 0) AS chat_cost,
         coalesce(sum(input_tokens + output_tokens) FILTER (WHERE user_key = $3), 0) AS user_tokens,
         coalesce(sum(cost) FILTER (WHERE user_key = $3), 0) AS user_cost,
         coalesce(sum(input_tokens + output_tokens), 0) AS all_tokens,
         coalesce(sum(cost), 0) AS all_cost
       FROM llm_usage WHERE day = $1`,
      [day, chatKey, userKey],
    );
    const r = rows[0] ?? {};
    return {
      chat: { tokens: num(r.chat_tokens), cost: num(r.chat_cost) },
      user: { tokens: num(r.user_tokens), cost: num(r.user_cost) },
      global: { tokens: num(r.all_tokens), cost: num(r.all_cost) },
    };
  }

  /** Tokens and cost from `fromDay` (inclusive) of one chat (`api:<keyId>` for a key) or one person. */
  async spentSince(fromDay: string, who: { chatKey: string } | { userKey: string }): Promise<UsageTotals> {
    const [column, value] = "chatKey" in who ? ["chat_key", who.chatKey] : ["user_key", who.userKey];
    const { rows } = await this.#sql.query<Row>(
      `SELECT coalesce(sum(input_tokens + output_tokens), 0) AS tokens, coalesce(sum(cost), 0) AS cost
       FROM llm_usage WHERE day >= $1 AND ${column} = $2`,
      [fromDay, value],
    );
    return { tokens: num(rows[0]?.tokens), cost: num(rows[0]?.cost) };
  }

  /**
   * Roll the usage rows of days before `beforeDay` up into one row per day (chat and user `*`), so the table
   * does not grow without bound; day totals (export by day, the global cap) stay as they were. Returns the
   * number of rows folded.
   */
  async rollUpBefore(beforeDay: string): Promise<number> {
    return this.#sql.transaction(async (tx) => {
      // Summed from what this statement deleted, so two processes rolling up at once never count a row twice.
      const { rows } = await tx.query<Row>(
        `DELETE FROM llm_usage WHERE day < $1 AND NOT (chat_key = '*' AND user_key = '*')
         RETURNING day, input_tokens, output_tokens, cost, turns`,
        [beforeDay],
      );
      const byDay = new Map<string, { i: number; o: number; c: number; t: number }>();
      for (const r of rows) {
        const d = byDay.get(String(r.day)) ?? { i: 0, o: 0, c: 0, t: 0 };
        d.i += num(r.input_tokens);
        d.o += num(r.output_tokens);
        d.c += num(r.cost);
        d.t += num(r.turns);
        byDay.set(String(r.day), d);
      }
      for (const [day, d] of byDay) {
        await tx.query(
          `INSERT INTO llm_usage (day, chat_key, user_key, input_tokens, output_tokens, cost, turns) VALUES ($1, '*', '*', $2, $3, $4, $5)
           ON CONFLICT (day, chat_key, user_key) DO UPDATE SET
             input_tokens = llm_usage.input_tokens + EXCLUDED.input_tokens,
             output_tokens = llm_usage.output_tokens + EXCLUDED.output_tokens,
             cost = llm_usage.cost + EXCLUDED.cost,
             turns = llm_usage.turns + EXCLUDED.turns`,
          [day, d.i, d.o, d.c, d.t],
        );
      }
      return rows.length;
    });
  }

  /** A chat's usage per day since `fromDay`, newest first, and its top users over that span. */
  async chatUsage(
    chatKey: string,
    fromDay: string,
  ): Promise<{
    days: Array<{ day: string; tokens: number; cost: number; turns: number }>;
    users: Array<{ userKey: string; tokens: number; cost: number }>;
  }> {
    const days = await this.#sql.query<Row>(
      `SELECT day, sum(input_tokens + output_tokens) AS tokens, sum(cost) AS cost, sum(turns) AS turns
       FROM llm_usage WHERE chat_key = $1 AND day >= $2 GROUP BY day ORDER BY day DESC`,
      [chatKey, fromDay],
    );
    const users = await this.#sql.query<Row>(
      `SELECT user_key, sum(input_tokens + output_tokens) AS tokens, sum(cost) AS cost
       FROM llm_usage WHERE chat_key = $1 AND day >= $2 GROUP BY user_key ORDER BY tokens DESC LIMIT 5`,
      [chatKey, fromDay],
    );
    return {
      days: days.rows.map((r) => ({
        day: String(r.day),
        tokens: num(r.tokens),
        cost: num(r.cost),
        turns: num(r.turns),
      })),
      users: users.rows.map((r) => ({ userKey: String(r.user_key), tokens: num(r.tokens), cost: num(r.cost) })),
    };
  }

  /** Record model calls (one statement for the batch). */
  async recordCalls(calls: readonly CallRecord[]): Promise<void> {
    // In slices of 64, 32, …, 1 rows: a handful of statement texts, each prepared once and kept (a text per
    // batch size would be planned afresh every flush and push the hot statements out of the statement cache),
    // and the event loop gets a turn between slices, so a big flush never holds up requests for long.
    let at = 0;
    for (let size = MAX_CALLS_PER_INSERT; size >= 1; size /= 2) {
      while (calls.length - at >= size) {
        if (at > 0) await new Promise((resolve) => setImmediate(resolve));
        await this.#insertCalls(calls.slice(at, at + size));
        at += size;
      }
    }
  }

  async #insertCalls(calls: readonly CallRecord[]): Promise<void> {
    const params: unknown[] = [];
    const rows = calls.map((c, i) => {
      params.push(c.model, c.at, c.ok, c.kind ?? null, c.latencyMs, c.inputTokens, c.outputTokens, c.cost);
      const b = i * 8;
      return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7}, $${b + 8})`;
    });
    await this.#sql.query(
      `INSERT INTO llm_calls (model, at, ok, kind, latency_ms, input_tokens, output_tokens, cost) VALUES ${rows.join(", ")}`,
      params,
    );
  }

  /** Run the hot-path statements once (rolled back) so the first conversation does not pay for planning them. */
  async warm(): Promise<void> {
    await this.#sql
      .transaction(async (tx) => {
        const probe = new LlmStore(tx);
        await probe.recentTurns("warm:up", 1);
        await probe.appendTurnWithUsage(
          {
            id: await probe.nextTurnId(),
            conversation: "warm:up",
            chatKey: "warm:up",
            userKey: "warm:up",
            at: 0,
            model: null,
            systemPrompt: null,
            messages: [],
            tokens: 0,
            inputTokens: 0,
            outputTokens: 0,
            cost: 0,
          },
          "0000-00-00",
        );
        await probe.usageOn("0000-00-00", "warm:up", "warm:up");
        throw new WarmRollback();
      })
      .catch((error: unknown) => {
        if (!(error instanceof WarmRollback)) throw error;
      });
  }

  /** Statistics per model for calls since `sinceMs` (feedback over all stored turns). */
  async modelStats(sinceMs: number): Promise<ModelStats[]> {
    const calls =
      this.#sql.driver === "sqlite"
        ? await this.#embeddedCallStats(sinceMs)
        : await this.#sql.query<Row>(
            `SELECT model, count(*) AS calls,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) FILTER (WHERE ok) AS p50,
         percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) FILTER (WHERE ok) AS p95,
         sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, sum(cost) AS cost
       FROM llm_calls WHERE at >= $1 GROUP BY model ORDER BY model`,
            [sinceMs],
          );
    const failures = await this.#sql.query<Row>(
      `SELECT model, kind, count(*) AS n FROM llm_calls WHERE at >= $1 AND NOT ok GROUP BY model, kind`,
      [sinceMs],
    );
    // One vote per person and turn (llm_feedback's key), so a person pressing 👍 twice counts once.
    const feedback = await this.#sql.query<Row>(
      `SELECT t.model, count(*) FILTER (WHERE f.value = 1) AS up, count(*) FILTER (WHERE f.value = -1) AS down
       FROM llm_feedback f JOIN llm_turns t ON t.id = f.turn_id WHERE t.model IS NOT NULL GROUP BY t.model`,
    );
    const byModel = new Map<string, ModelStats>();
    const entry = (model: string): ModelStats => {
      let s = byModel.get(model);
      if (s === undefined) {
        s = {
          model,
          calls: 0,
          failures: {},
          p50Ms: null,
          p95Ms: null,
          inputTokens: 0,
          outputTokens: 0,
          cost: 0,
          thumbsUp: 0,
          thumbsDown: 0,
        };
        byModel.set(model, s);
      }
      return s;
    };
    for (const r of calls.rows) {
      const s = entry(String(r.model));
      s.calls = num(r.calls);
      s.p50Ms = r.p50 === null ? null : num(r.p50);
      s.p95Ms = r.p95 === null ? null : num(r.p95);
      s.inputTokens = num(r.input_tokens);
      s.outputTokens = num(r.output_tokens);
      s.cost = num(r.cost);
    }
    for (const r of failures.rows) entry(String(r.model)).failures[String(r.kind ?? "unknown")] = num(r.n);
    for (const r of feedback.rows) {
      const s = entry(String(r.model));
      s.thumbsUp = num(r.up);
      s.thumbsDown = num(r.down);
    }
    return [...byModel.values()].sort((a, b) => a.model.localeCompare(b.model));
  }

  // SQLite has no ordered-set aggregates: the latencies of successful calls are sorted by the database and the
  // percentiles interpolated here, the way percentile_cont does.
  async #embeddedCallStats(sinceMs: number): Promise<{ rows: Row[] }> {
    const totals = await this.#sql.query<Row>(
      `SELECT model, count(*) AS calls, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
         sum(cost) AS cost
       FROM llm_calls WHERE at >= $1 GROUP BY model ORDER BY model`,
      [sinceMs],
    );
    const latencies = await this.#sql.query<{ model: string; latency_ms: unknown }>(
      "SELECT model, latency_ms FROM llm_calls WHERE at >= $1 AND ok ORDER BY model, latency_ms",
      [sinceMs],
    );
    const byModel = new Map<string, number[]>();
    for (const r of latencies.rows) {
      const list = byModel.get(r.model) ?? [];
      list.push(num(r.latency_ms));
      byModel.set(r.model, list);
    }
    return {
      rows: totals.rows.map((r) => {
        const sorted = byModel.get(String(r.model)) ?? [];
        return { ...r, p50: percentileCont(sorted, 0.5), p95: percentileCont(sorted, 0.95) };
      }),
    };
  }

  /** Drop call records older than `beforeMs`. */
  async pruneCalls(beforeMs: number): Promise<void> {
    await this.#sql.query(`DELETE FROM llm_calls WHERE at < $1`, [beforeMs]);
  }
}

class WarmRollback extends Error {}

function toTurn(r: Row): TurnRecord {
  const messages =
    typeof r.messages === "string" ? (JSON.parse(r.messages) as ChatMessage[]) : (r.messages as ChatMessage[]);
  const feedback = r.feedback === null || r.feedback === undefined ? null : num(r.feedback) > 0 ? 1 : -1;
  return {
    id: num(r.id),
    conversation: String(r.conversation),
    chatKey: String(r.chat_key),
    userKey: String(r.user_key),
    at: num(r.at),
    model: r.model === null ? null : String(r.model),
    systemPrompt: r.system_prompt === null ? null : String(r.system_prompt),
    messages,
    tokens: num(r.tokens),
    feedback,
    ...(r.votes_up === undefined ? {} : { votes: { up: num(r.votes_up), down: num(r.votes_down) } }),
  };
}
