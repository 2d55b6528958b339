/**
 * The repositories, written once against `SqlClient` (the same SQL for the embedded SQLite and PostgreSQL). Every
 * query is parameterized; names and keys are data. JSON columns are read as text (`::text`) and parsed here, so
 * both drivers give the same values. Database failures surface as `E_STORAGE` naming the operation.
 */
import { isSwitchboardError, SwitchboardError } from "../errors.ts";
import type { ChatPolicy } from "../permissions.ts";
import { runMigrations } from "./migrate.ts";
import type {
  AuditEntry,
  AuditRepo,
  ChatRecord,
  ChatRepo,
  KvEntry,
  KvRepo,
  Migration,
  SqlClient,
  Store,
} from "./types.ts";
import {
  checkEpochMs,
  checkLimit,
  checkName,
  checkPolicyForWrite,
  checkPolicyFromStore,
  toJsonText,
} from "./validate.ts";

/** Most audit entries one `list` returns. */
export const AUDIT_PAGE_MAX = 1_000;
/** Default audit page size. */
export const AUDIT_PAGE_DEFAULT = 50;

async function guard<T>(operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (isSwitchboardError(error)) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new SwitchboardError("E_STORAGE", `storage: ${operation} failed: ${reason}`, {
      cause: error,
      details: { operation },
    });
  }
}

function toNumber(value: unknown): number {
  return typeof value === "number" ? value : Number(value);
}

/** A JSON column read as text; SQL NULL stays undefined. Text that is not JSON is a corrupt row. */
function fromJsonText(field: string, text: unknown): unknown {
  if (text === null || text === undefined) return undefined;
  try {
    return JSON.parse(String(text));
  } catch {
    throw new SwitchboardError("E_STORAGE", `storage: corrupt ${field}: stored text is not JSON`);
  }
}

interface ChatRow {
  chat_key: string;
  kind: string;
  title: string | null;
  first_seen_at: number;
  last_seen_at: number;
}

function toChat(row: ChatRow): ChatRecord {
  return {
    chatKey: row.chat_key,
    kind: row.kind,
    title: row.title,
    firstSeenAt: toNumber(row.first_seen_at),
    lastSeenAt: toNumber(row.last_seen_at),
  };
}

const CHAT_COLUMNS = "chat_key, kind, title, first_seen_at, last_seen_at";

/** Chats and their policies over SQL. */
export function sqlChatRepo(sql: SqlClient): ChatRepo {
  const touches = new ChatTouches(sql);
  return {
    getPolicy(chatKey) {
      return guard("read policy", async () => {
        const { rows } = await sql.query<{ policy: unknown }>(
          "SELECT policy::text AS policy FROM chat_policies WHERE chat_key = $1",
          [checkName("chatKey", chatKey)],
        );
        const row = rows[0];
        return row === undefined ? undefined : checkPolicyFromStore(chatKey, fromJsonText("policy", row.policy));
      });
    },
    setPolicy(chatKey: string, policy: ChatPolicy) {
      return guard("write policy", async () => {
        const json = toJsonText("policy", checkPolicyForWrite(chatKey, policy));
        await sql.query(
          `INSERT INTO chat_policies (chat_key, policy, updated_at) VALUES ($1, $2::jsonb, $3)
           ON CONFLICT (chat_key) DO UPDATE SET policy = EXCLUDED.policy, updated_at = EXCLUDED.updated_at`,
          [checkName("chatKey", chatKey), json, Date.now()],
        );
      });
    },
    touch(chatKey, info, at) {
      return guard("record chat", async () => {
        const title = info.title === undefined ? null : info.title;
        if (title !== null) checkName("title", title);
        await touches.add(checkName("chatKey", chatKey), {
          kind: checkName("kind", info.kind),
          title,
          at: checkEpochMs("at", at),
        });
      });
    },
    get(chatKey) {
      return guard("read chat", async () => {
        const { rows } = await sql.query<ChatRow>(`SELECT ${CHAT_COLUMNS} FROM chats WHERE chat_key = $1`, [
          checkName("chatKey", chatKey),
        ]);
        return rows[0] === undefined ? undefined : toChat(rows[0]);
      });
    },
    list() {
      return guard("list chats", async () => {
        const { rows } = await sql.query<ChatRow>(`SELECT ${CHAT_COLUMNS} FROM chats ORDER BY chat_key COLLATE "C"`);
        return rows.map(toChat);
      });
    },
  };
}

/** One chat's pending record: the latest kind and title, the earliest and latest sighting. */
interface PendingTouch {
  kind: string;
  title: string | null;
  first: number;
  last: number;
  waiters: Array<{ resolve(): void; reject(error: unknown): void }>;
}

/** Most chats one statement records. */
const TOUCH_BATCH = 500;

/**
 * Chat sightings, recorded together: the touches of one event-loop turn go out as one multi-row upsert (in
 * `chat_key` order, so two processes never wait for each other in a cycle), one statement at a time. A burst over
 * many new chats (10,000 schedule fires over 1,000 chats) made one upsert and one commit per chat, each waiting for
 * its own WAL flush on PostgreSQL and holding a pooled connection meanwhile; the fires' own statements queued
 * behind them. The queue holds only what its callers await (each touch resolves when its row is written).
 */
class ChatTouches {
  readonly #sql: SqlClient;
  #pending = new Map<string, PendingTouch>();
  #isQueued = false;
  #isWriting = false;

  constructor(sql: SqlClient) {
    this.#sql = sql;
  }

  add(chatKey: string, touch: { kind: string; title: string | null; at: number }): Promise<void> {
    return new Promise((resolve, reject) => {
      const known = this.#pending.get(chatKey);
      if (known === undefined)
        this.#pending.set(chatKey, {
          kind: touch.kind,
          title: touch.title,
          first: touch.at,
          last: touch.at,
          waiters: [{ resolve, reject }],
        });
      else {
        known.kind = touch.kind;
        known.title = touch.title ?? known.title;
        known.first = Math.min(known.first, touch.at);
        known.last = Math.max(known.last, touch.at);
        known.waiters.push({ resolve, reject });
      }
      this.#queue();
    });
  }

  #queue(): void {
    if (this.#isQueued || this.#isWriting) return;
    this.#isQueued = true;
    setImmediate(() => {
      this.#isQueued = false;
      void this.#write();
    });
  }

  async #write(): Promise<void> {
    if (this.#pending.size === 0) return;
    const batch = [...this.#pending].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    this.#pending = new Map();
    this.#isWriting = true;
    try {
      for (let from = 0; from < batch.length; from += TOUCH_BATCH) {
        const part = batch.slice(from, from + TOUCH_BATCH);
        const params: unknown[] = [];
        const rows = part.map(([chatKey, t]) => {
          const p = params.push(chatKey, t.kind, t.title, t.first, t.last);
          return `($${p - 4}, $${p - 3}, $${p - 2}, $${p - 1}, $${p})`;
        });
        try {
          await this.#sql.query(
            `INSERT INTO chats (chat_key, kind, title, first_seen_at, last_seen_at) VALUES ${rows.join(", ")}
             ON CONFLICT (chat_key) DO UPDATE SET
               kind = EXCLUDED.kind,
               title = COALESCE(EXCLUDED.title, chats.title),
               first_seen_at = LEAST(chats.first_seen_at, EXCLUDED.first_seen_at),
               last_seen_at = GREATEST(chats.last_seen_at, EXCLUDED.last_seen_at)`,
            params,
          );
          for (const [, t] of part) for (const w of t.waiters) w.resolve();
        } catch (error) {
          for (const [, t] of part) for (const w of t.waiters) w.reject(error);
        }
      }
    } finally {
      this.#isWriting = false;
      if (this.#pending.size > 0) this.#queue();
    }
  }
}

interface AuditRow {
  id: number;
  at: number;
  actor: string;
  chat_key: string;
  action: string;
  target: string | null;
  via: string | null;
  before: unknown;
  after: unknown;
  has_before: boolean;
  has_after: boolean;
}

function toAudit(row: AuditRow): AuditEntry {
  const entry: AuditEntry = {
    id: toNumber(row.id),
    at: toNumber(row.at),
    actor: row.actor,
    chatKey: row.chat_key,
    action: row.action,
    target: row.target,
  };
  if (row.via !== null) entry.via = row.via;
  // SQL NULL means "not given"; a stored JSON null stays null.
  if (row.has_before) entry.before = fromJsonText("audit before", row.before);
  if (row.has_after) entry.after = fromJsonText("audit after", row.after);
  return entry;
}

function optionalJson(field: string, value: unknown): string | null {
  return value === undefined ? null : toJsonText(field, value);
}

/** The audit log over SQL. */
export function sqlAuditRepo(sql: SqlClient): AuditRepo {
  return {
    append(entry) {
      return guard("append audit entry", async () => {
        const target = entry.target === undefined || entry.target === null ? null : checkName("target", entry.target);
        await sql.query(
          `INSERT INTO audit_log (at, actor, chat_key, action, target, before, after, via)
           VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8)`,
          [
            checkEpochMs("at", entry.at),
            checkName("actor", entry.actor),
            checkName("chatKey", entry.chatKey),
            checkName("action", entry.action),
            target,
            optionalJson("before", entry.before),
            optionalJson("after", entry.after),
            entry.via === undefined ? null : checkName("via", entry.via),
          ],
        );
      });
    },
    list(chatKey, options = {}) {
      return guard("list audit entries", async () => {
        const limit = checkLimit("limit", options.limit, AUDIT_PAGE_MAX) ?? AUDIT_PAGE_DEFAULT;
        const beforeId =
          options.beforeId === undefined ? null : checkLimit("beforeId", options.beforeId, Number.MAX_SAFE_INTEGER);
        const key = chatKey === null ? null : checkName("chatKey", chatKey);
        const optional = (name: string, value: string | undefined) =>
          value === undefined ? null : checkName(name, value);
        const { rows } = await sql.query<AuditRow>(
          `SELECT id, at, actor, chat_key, action, target, via, before::text AS before, after::text AS after,
                  before IS NOT NULL AS has_before, after IS NOT NULL AS has_after
           FROM audit_log
           WHERE ($1::text IS NULL OR chat_key = $1::text) AND ($2::bigint IS NULL OR id < $2::bigint)
             AND ($4::text IS NULL OR actor = $4::text) AND ($5::text IS NULL OR action = $5::text)
             AND ($6::bigint IS NULL OR at >= $6::bigint) AND ($7::bigint IS NULL OR at < $7::bigint)
           ORDER BY id DESC
           LIMIT $3`,
          [
            key,
            beforeId,
            limit,
            optional("actor", options.actor),
            optional("action", options.action),
            options.since === undefined ? null : checkEpochMs("since", options.since),
            options.until === undefined ? null : checkEpochMs("until", options.until),
          ],
        );
        return rows.map(toAudit);
      });
    },
  };
}

interface KvRow {
  key: string;
  value: unknown;
  updated_at: number;
}

/** The generic key-value store over SQL. */
export function sqlKvRepo(sql: SqlClient): KvRepo {
  return {
    get<T = unknown>(namespace: string, scope: string, key: string) {
      return guard("read kv", async () => {
        const { rows } = await sql.query<{ value: unknown }>(
          "SELECT value::text AS value FROM kv WHERE namespace = $1 AND scope = $2 AND key = $3",
          [checkName("namespace", namespace), checkName("scope", scope), checkName("key", key)],
        );
        return rows[0] === undefined ? undefined : (fromJsonText("kv value", rows[0].value) as T);
      });
    },
    set(namespace, scope, { key, value }) {
      return guard("write kv", async () => {
        await sql.query(
          `INSERT INTO kv (namespace, scope, key, value, updated_at) VALUES ($1, $2, $3, $4::jsonb, $5)
           ON CONFLICT (namespace, scope, key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at`,
          [
            checkName("namespace", namespace),
            checkName("scope", scope),
            checkName("key", key),
            toJsonText("value", value),
            Date.now(),
          ],
        );
      });
    },
    delete(namespace, scope, key) {
      return guard("delete kv", async () => {
        const { rows } = await sql.query(
          "DELETE FROM kv WHERE namespace = $1 AND scope = $2 AND key = $3 RETURNING 1 AS gone",
          [checkName("namespace", namespace), checkName("scope", scope), checkName("key", key)],
        );
        return rows.length > 0;
      });
    },
    list<T = unknown>(namespace: string, scope: string, options: { prefix?: string; limit?: number } = {}) {
      return guard("list kv", async () => {
        const prefix =
          options.prefix === undefined || options.prefix === "" ? null : checkName("prefix", options.prefix);
        // No LIMIT NULL: SQLite refuses it; the largest integer means "all" on both.
        const limit = checkLimit("limit", options.limit, Number.MAX_SAFE_INTEGER) ?? Number.MAX_SAFE_INTEGER;
        // A substring comparison treats the prefix as plain text: `%` and `_` are not wildcards.
        const { rows } = await sql.query<KvRow>(
          `SELECT key, value::text AS value, updated_at FROM kv
           WHERE namespace = $1 AND scope = $2
             AND ($3::text IS NULL OR substr(key, 1, length($3::text)) = $3::text)
           ORDER BY key COLLATE "C"
           LIMIT $4`,
          [checkName("namespace", namespace), checkName("scope", scope), prefix, limit],
        );
        return rows.map(
          (row): KvEntry<T> => ({
            key: row.key,
            value: fromJsonText("kv value", row.value) as T,
            updatedAt: toNumber(row.updated_at),
          }),
        );
      });
    },
    sizeBytes(namespace, scope) {
      return guard("measure kv", async () => {
        const { rows } = await sql.query<{ bytes: unknown }>(
          "SELECT COALESCE(SUM(octet_length(value::text)), 0) AS bytes FROM kv WHERE namespace = $1 AND scope = $2",
          [checkName("namespace", namespace), checkName("scope", scope)],
        );
        return toNumber(rows[0]?.bytes ?? 0);
      });
    },
    clear(namespace, scope) {
      return guard("clear kv", async () => {
        const { rows } =
          scope === undefined
            ? await sql.query("DELETE FROM kv WHERE namespace = $1 RETURNING 1 AS gone", [
                checkName("namespace", namespace),
              ])
            : await sql.query("DELETE FROM kv WHERE namespace = $1 AND scope = $2 RETURNING 1 AS gone", [
                checkName("namespace", namespace),
                checkName("scope", scope),
              ]);
        return rows.length;
      });
    },
  };
}

/** A `Store` over one `SqlClient`; `close` releases the underlying database. */
export function createSqlStore(sql: SqlClient, close: () => Promise<void>): Store {
  let closing: Promise<void> | undefined;
  return {
    sql,
    chats: sqlChatRepo(sql),
    audit: sqlAuditRepo(sql),
    kv: sqlKvRepo(sql),
    migrate: (migrations: readonly Migration[]) => guard("migrate", () => runMigrations(sql, migrations)),
    close() {
      closing ??= close();
      return closing;
    },
  };
}
