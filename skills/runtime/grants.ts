/**
 * Per-chat enablement and grants, in the `skill_grants` table, cached in memory (command availability is
 * checked synchronously on every message). A grant records the permissions a chat admin approved; a skill whose
 * manifest asks for more than its grant covers "needs re-approval" and does not run there.
 */
import type { Migration, SqlClient } from "../../bot/index.ts";
import type { SkillPermissions } from "../manifest.ts";

/** The skills module's migrations. */
export const SKILLS_MIGRATIONS: readonly Migration[] = [
  {
    id: "skills-001-grants",
    sql: `CREATE TABLE IF NOT EXISTS skill_grants (
    chat_key TEXT NOT NULL,
    skill TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    version TEXT,
    permissions JSONB NOT NULL,
    granted_by TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (chat_key, skill)
  )`,
  },
];

/** One chat's record for one skill. */
export interface GrantRecord {
  chatKey: string;
  skill: string;
  enabled: boolean;
  /** The version that was approved. */
  version: string | null;
  /** What was approved (the manifest's request at the time). */
  permissions: SkillPermissions;
  grantedBy: string;
  grantedAt: number;
}

interface GrantRow {
  chat_key: string;
  skill: string;
  enabled: boolean | number;
  version: string | null;
  permissions: SkillPermissions | string;
  granted_by: string;
  granted_at: string | number;
}

/** No permissions at all. */
export function noPermissions(): SkillPermissions {
  return {
    network: [],
    storage: false,
    schedules: false,
    llm: false,
    messages: { otherChats: false, mentions: false, read: false },
    files: { read: false },
  };
}

/** The consent words for reading a message's files. */
export const FILES_READ_WORDS = "reads files and images sent with its commands";

/** Permissions `requested` asks for that `granted` does not cover (human-readable), empty when covered. */
export function missingPermissions(granted: SkillPermissions, requested: SkillPermissions): string[] {
  const missing: string[] = [];
  for (const host of requested.network) if (!granted.network.includes(host)) missing.push(`network ${host}`);
  if (requested.storage !== false) {
    const want = typeof requested.storage === "object" ? requested.storage.quotaKb : undefined;
    const have = typeof granted.storage === "object" ? granted.storage.quotaKb : undefined;
    const covered = granted.storage !== false && (want === undefined || (have !== undefined && want <= have));
    if (!covered) missing.push(want === undefined ? "storage" : `storage ${want} KB`);
  }
  if (requested.schedules && !granted.schedules) missing.push("schedules");
  if (requested.llm && !granted.llm) missing.push("llm");
  if (requested.messages.otherChats && !granted.messages.otherChats) missing.push("messages to other chats");
  if (requested.messages.mentions && !granted.messages.mentions) missing.push("mass mentions");
  // A grant recorded before this permission existed has no `read`: it does not cover it.
  if (requested.messages.read && granted.messages.read !== true) missing.push("sees every message in this chat");
  if (requested.files.read) {
    // A grant recorded before this permission existed has no `files`: it does not cover it.
    const have = granted.files as SkillPermissions["files"] | undefined;
    const want = requested.files.maxBytes;
    const covered =
      have?.read === true && (want === undefined || (have.maxBytes !== undefined && want <= have.maxBytes));
    if (!covered)
      missing.push(want === undefined ? FILES_READ_WORDS : `${FILES_READ_WORDS} (up to ${want} bytes each)`);
  }
  return missing;
}

/** The grants table with a write-through cache. */
export class GrantStore {
  readonly #sql: SqlClient;
  readonly #cache = new Map<string, Map<string, GrantRecord>>();
  readonly #loads = new Set<GrantRecord[]>();

  constructor(sql: SqlClient) {
    this.#sql = sql;
  }

  /** Load every record into the cache (at start). */
  async load(): Promise<void> {
    // Writes made while the query runs are re-applied after it, so a refresh never undoes a newer enable.
    const during: GrantRecord[] = [];
    this.#loads.add(during);
    try {
      const { rows } = await this.#sql.query<GrantRow>(
        "SELECT chat_key, skill, enabled, version, permissions, granted_by, granted_at FROM skill_grants",
      );
      this.#cache.clear();
      for (const row of rows) this.#put(fromRow(row));
      for (const record of during) this.#put(record);
    } finally {
      this.#loads.delete(during);
    }
  }

  get(chatKey: string, skill: string): GrantRecord | undefined {
    return this.#cache.get(chatKey)?.get(skill);
  }

  /** Every record of one chat. */
  inChat(chatKey: string): GrantRecord[] {
    return [...(this.#cache.get(chatKey)?.values() ?? [])];
  }

  async put(record: GrantRecord): Promise<void> {
    await this.#sql.query(
      `INSERT INTO skill_grants (chat_key, skill, enabled, version, permissions, granted_by, granted_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (chat_key, skill) DO UPDATE SET enabled = EXCLUDED.enabled, version = EXCLUDED.version,
         permissions = EXCLUDED.permissions, granted_by = EXCLUDED.granted_by, granted_at = EXCLUDED.granted_at`,
      [
        record.chatKey,
        record.skill,
        record.enabled,
        record.version,
        JSON.stringify(record.permissions),
        record.grantedBy,
        record.grantedAt,
      ],
    );
    this.#put(record);
    for (const during of this.#loads) during.push(record);
  }

  /** Delete every chat's record of one skill (it was uninstalled); returns what was there. */
  async removeSkill(skill: string): Promise<GrantRecord[]> {
    await this.#sql.query("DELETE FROM skill_grants WHERE skill = $1", [skill]);
    const removed: GrantRecord[] = [];
    for (const chat of this.#cache.values()) {
      const record = chat.get(skill);
      if (record === undefined) continue;
      removed.push(record);
      chat.delete(skill);
    }
    // A refresh running meanwhile must not bring them back.
    for (const during of this.#loads) {
      for (let i = during.length - 1; i >= 0; i--) if (during[i]!.skill === skill) during.splice(i, 1);
    }
    return removed;
  }

  #put(record: GrantRecord): void {
    let chat = this.#cache.get(record.chatKey);
    if (chat === undefined) {
      chat = new Map();
      this.#cache.set(record.chatKey, chat);
    }
    chat.set(record.skill, record);
  }
}

function fromRow(row: GrantRow): GrantRecord {
  const permissions =
    typeof row.permissions === "string" ? (JSON.parse(row.permissions) as SkillPermissions) : row.permissions;
  return {
    chatKey: row.chat_key,
    skill: row.skill,
    // PostgreSQL gives a boolean, the embedded SQLite store 1 or 0.
    enabled: row.enabled === true || Number(row.enabled) === 1,
    version: row.version,
    permissions: { ...noPermissions(), ...permissions },
    grantedBy: row.granted_by,
    grantedAt: Number(row.granted_at),
  };
}
