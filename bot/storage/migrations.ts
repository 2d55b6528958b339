/**
 * The core schema, as versioned migrations. Never edit a migration that has shipped: add a new one. Other modules
 * bring their own lists (ids prefixed by module) and pass them to `openStore({ migrations })` or `store.migrate`.
 * Timestamps are epoch ms in `bigint`; JSON is `jsonb`.
 */
import type { Migration } from "./types.ts";

/**
 * The core tables: chats, chat policies, the audit log and the generic key-value store; then the audit log's
 * `via` (chat, web, api, cli), the console's sign-in links, sessions and API tokens (secrets stored hashed), and
 * messages per platform per day.
 */
export const CORE_MIGRATIONS: readonly Migration[] = [
  {
    id: "core-001-chats",
    sql: `
      CREATE TABLE chats (
        chat_key text PRIMARY KEY,
        kind text NOT NULL,
        title text,
        first_seen_at bigint NOT NULL,
        last_seen_at bigint NOT NULL
      );
      CREATE TABLE chat_policies (
        chat_key text PRIMARY KEY,
        policy jsonb NOT NULL,
        updated_at bigint NOT NULL
      );`,
  },
  {
    id: "core-002-audit-log",
    sql: `
      CREATE TABLE audit_log (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at bigint NOT NULL,
        actor text NOT NULL,
        chat_key text NOT NULL,
        action text NOT NULL,
        target text,
        before jsonb,
        after jsonb
      );
      CREATE INDEX audit_log_chat_id ON audit_log (chat_key, id DESC);`,
  },
  {
    id: "core-003-kv",
    sql: `
      CREATE TABLE kv (
        namespace text NOT NULL,
        scope text NOT NULL,
        key text NOT NULL,
        value jsonb NOT NULL,
        updated_at bigint NOT NULL,
        PRIMARY KEY (namespace, scope, key)
      );`,
  },
  {
    id: "core-030-audit-via",
    sql: `ALTER TABLE audit_log ADD COLUMN via text;
      CREATE INDEX audit_log_at ON audit_log (at DESC, id DESC);`,
  },
  {
    id: "core-030-console-credentials",
    sql: `
      CREATE TABLE console_sign_ins (
        code_hash text PRIMARY KEY,
        user_key text NOT NULL,
        display_name text NOT NULL,
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        used_at bigint
      );
      CREATE TABLE console_sessions (
        id text PRIMARY KEY,
        secret_hash text NOT NULL,
        csrf_token text NOT NULL,
        user_key text NOT NULL,
        display_name text NOT NULL,
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        last_used_at bigint NOT NULL,
        revoked_at bigint
      );
      CREATE INDEX console_sessions_user ON console_sessions (user_key);
      CREATE TABLE api_tokens (
        id text PRIMARY KEY,
        secret_hash text NOT NULL,
        name text NOT NULL,
        scopes jsonb NOT NULL,
        user_key text NOT NULL,
        display_name text NOT NULL,
        created_at bigint NOT NULL,
        expires_at bigint,
        last_used_at bigint,
        revoked_at bigint
      );
      CREATE INDEX api_tokens_user ON api_tokens (user_key);`,
  },
  {
    id: "core-030-message-counts",
    sql: `
      CREATE TABLE message_counts (
        day text NOT NULL,
        platform text NOT NULL,
        messages_in bigint NOT NULL DEFAULT 0,
        messages_out bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (day, platform)
      );`,
  },
];
