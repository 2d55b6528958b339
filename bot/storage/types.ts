/**
 * Storage interfaces. One SQL schema (PostgreSQL's spelling) serves both the embedded store (SQLite through
 * `node:sqlite` in the data folder, which rewrites the few spellings it lacks) and PostgreSQL through `pg`;
 * repositories are written once against `SqlClient`.
 */
import type { ChatPolicy } from "../permissions.ts";

/** The one SQL surface both drivers offer. Parameters are `$1, $2, …`. */
export interface SqlClient {
  /** `sqlite`: the embedded store (one process); `postgres`: shared by any number of processes. */
  readonly driver: "sqlite" | "postgres";
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: R[] }>;
  /** Run `fn` in one transaction; a throw rolls back. */
  transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T>;
}

/** A versioned migration. Ids are applied once, in list order, and recorded in `schema_migrations`. */
export interface Migration {
  /** Stable and unique, prefixed by module: `core-001-chats`, `schedules-001`, … */
  id: string;
  sql: string;
  /** The same change for the embedded SQLite store, when `sql` cannot serve both (sequences, defaults). */
  sqlite?: string;
}

/** What the store remembers about a chat it has seen. */
export interface ChatRecord {
  chatKey: string;
  kind: string;
  title: string | null;
  firstSeenAt: number;
  lastSeenAt: number;
}

/** Chats and their policies. */
export interface ChatRepo {
  getPolicy(chatKey: string): Promise<ChatPolicy | undefined>;
  setPolicy(chatKey: string, policy: ChatPolicy): Promise<void>;
  /** Record that a chat was seen (upsert). */
  touch(chatKey: string, info: { kind: string; title?: string | undefined }, at: number): Promise<void>;
  get(chatKey: string): Promise<ChatRecord | undefined>;
  list(): Promise<ChatRecord[]>;
}

/** One audit entry: who did what where, with before and after. */
export interface AuditEntry {
  id?: number;
  /** Epoch ms. */
  at: number;
  /** `platform:userId`, or `system`, or `skill:<name>`. */
  actor: string;
  /** `platform:chatId`, or `*` for bot-wide changes. */
  chatKey: string;
  /** Dotted verb: `perms.set`, `perms.deny`, `skills.enable`, `skill.failed`, … */
  action: string;
  target?: string | null;
  /** Where the change came from: `chat` (a command), `web` (a console session), `api` (a token), `cli`. */
  via?: string;
  before?: unknown;
  after?: unknown;
}

/** Filters of an audit listing, newest first; `beforeId` is the cursor (the last id of the previous page). */
export interface AuditQuery {
  limit?: number;
  beforeId?: number;
  actor?: string;
  action?: string;
  /** Epoch ms, inclusive. */
  since?: number;
  /** Epoch ms, exclusive. */
  until?: number;
}

/** The append-only audit log. */
export interface AuditRepo {
  append(entry: AuditEntry): Promise<void>;
  /** Newest first. `chatKey` null lists every chat. */
  list(chatKey: string | null, options?: AuditQuery): Promise<AuditEntry[]>;
}

/** One entry of a key-value listing. */
export interface KvEntry<T = unknown> {
  key: string;
  value: T;
  updatedAt: number;
}

/**
 * Durable key-value storage scoped by (namespace, scope). Namespaces name the owner (`skill:dice`,
 * `llm.history`, `schedules`); scope is usually a chat key. Values are JSON.
 */
export interface KvRepo {
  get<T = unknown>(namespace: string, scope: string, key: string): Promise<T | undefined>;
  set(namespace: string, scope: string, entry: { key: string; value: unknown }): Promise<void>;
  delete(namespace: string, scope: string, key: string): Promise<boolean>;
  /** Entries ordered by key; `prefix` filters keys. */
  list<T = unknown>(
    namespace: string,
    scope: string,
    options?: { prefix?: string; limit?: number },
  ): Promise<KvEntry<T>[]>;
  /** Bytes of JSON stored under (namespace, scope), for quotas. */
  sizeBytes(namespace: string, scope: string): Promise<number>;
  /** Remove a scope's entries, or the whole namespace when `scope` is omitted. Returns the count removed. */
  clear(namespace: string, scope?: string): Promise<number>;
}

/** The durable store: repositories over one SQL connection. */
export interface Store {
  readonly sql: SqlClient;
  readonly chats: ChatRepo;
  readonly audit: AuditRepo;
  readonly kv: KvRepo;
  /** Apply migrations not yet applied (core ones are applied at open). */
  migrate(migrations: readonly Migration[]): Promise<string[]>;
  close(): Promise<void>;
}
