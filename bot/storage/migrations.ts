/**
 * The core schema, as versioned migrations. Never edit a migration that has shipped: add a new one. Other modules
 * bring their own lists (ids prefixed by module) and pass them to `openStore({ migrations })` or `store.migrate`.
 * Timestamps are epoch ms in `bigint`; JSON is `jsonb`.
 */
import type { Migration } from "./types.ts";

/**
 * The core tables: chats, chat policies, the audit log and the generic key-value store; then the audit log's
 * `via` (chat, web, api, cli), the console's sign-in links, sessions and API tokens (secrets stored hashed),
 * messages per platform per day, and the console dashboard's commands and error codes per day.
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
    // Commands waiting for their requester's confirmation or others' approvals (bot/router/confirmations.ts).
    id: "core-020-pending-requests",
    sql: `
      CREATE TABLE pending_requests (
        id text PRIMARY KEY,
        chat_key text NOT NULL,
        requester text NOT NULL,
        request text NOT NULL,
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL
      );
      CREATE INDEX pending_requests_chat ON pending_requests (chat_key, requester, created_at);`,
  },
  {
    // One person across platforms: identities (user keys) joined into a principal by /link (bot/router/principals.ts).
    id: "core-020-principals",
    sql: `
      CREATE TABLE principal_links (
        user_key text PRIMARY KEY,
        principal text NOT NULL,
        linked_at bigint NOT NULL
      );
      CREATE INDEX principal_links_principal ON principal_links (principal);`,
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
  {
    // The console dashboard's daily counts (bot/admin/activity.ts): commands run and error codes.
    id: "core-060-activity",
    sql: `
      CREATE TABLE activity_daily (
        day text NOT NULL,
        kind text NOT NULL,
        platform text NOT NULL,
        name text NOT NULL,
        count bigint NOT NULL,
        PRIMARY KEY (day, kind, platform, name)
      );
      CREATE TABLE activity_errors (
        at bigint NOT NULL,
        code text NOT NULL
      );
      CREATE INDEX activity_errors_at ON activity_errors (at DESC);`,
  },
];
