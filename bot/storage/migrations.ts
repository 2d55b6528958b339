/**
 * The core schema, as versioned migrations. Never edit a migration that has shipped: add a new one. Other modules
 * bring their own lists (ids prefixed by module) and pass them to `openStore({ migrations })` or `store.migrate`.
 * Timestamps are epoch ms in `bigint`; JSON is `jsonb`.
 */
import type { Migration } from "./types.ts";

/** The core tables: chats, chat policies, the audit log and the generic key-value store. */
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
];
