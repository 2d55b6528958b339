/**
 * The store contract: every `Store` implementation (embedded SQLite, PostgreSQL) must pass these tests.
 * A test file calls `defineStoreContract` with a harness that opens stores on one database for the suite.
 * Tests share that database, so each one uses its own chat keys, namespaces and migration ids.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  emptyPolicy,
  GLOBAL_POLICY_KEY,
  isSwitchboardError,
  type ChatPolicy,
  type Migration,
  type Store,
} from "../../bot/index.ts";

/** How a test file gives the contract its stores. */
export interface StoreHarness {
  /** Open a store on this suite's database (the same database every call), core migrations applied. */
  open(): Promise<Store>;
  /** True when two stores may be open on the database at once (separate processes sharing PostgreSQL). */
  allowsConcurrentOpen: boolean;
  /** Called once after the suite (drop schemas, remove folders). */
  cleanup?(): Promise<void>;
}

const SUITE_TIMEOUT_MS = 120_000;

/** Resolve with the error `promise` rejects with; fail if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the promise to reject");
}

async function expectCode(promise: Promise<unknown>, code: string, messagePart?: RegExp): Promise<void> {
  const error = await rejection(promise);
  expect(isSwitchboardError(error), `expected a SwitchboardError, got ${String(error)}`).toBe(true);
  expect((error as { code: string }).code).toBe(code);
  if (messagePart !== undefined) expect((error as Error).message).toMatch(messagePart);
}

function uid(): string {
  return randomUUID().slice(0, 8);
}

/** Define the contract tests for one store implementation. */
export function defineStoreContract(name: string, harness: StoreHarness): void {
  describe(`store contract: ${name}`, { timeout: SUITE_TIMEOUT_MS }, () => {
    let store: Store;

    beforeAll(async () => {
      store = await harness.open();
    }, SUITE_TIMEOUT_MS);

    afterAll(async () => {
      await store?.close();
      await harness.cleanup?.();
    }, SUITE_TIMEOUT_MS);

    describe("chat policies", () => {
      it("has no policy for a chat it has never stored one for", async () => {
        expect(await store.chats.getPolicy(`t:${uid()}`)).toBeUndefined();
      });

      it("returns the stored policy unchanged, and the latest after an overwrite", async () => {
        const chatKey = `telegram:-100${uid()}`;
        const policy: ChatPolicy = {
          commandRoles: { perms: "admin", deploy: "owner", "skill:dice": "member" },
          roleOverrides: { "telegram:42": "admin", "discord:7": "guest" },
          allow: ["telegram:1"],
          deny: ["telegram:666"],
          trustPlatformAdmins: false,
        };
        await store.chats.setPolicy(chatKey, policy);
        expect(await store.chats.getPolicy(chatKey)).toEqual(policy);
        const next = { ...policy, commandRoles: { perms: "member" as const } };
        await store.chats.setPolicy(chatKey, next);
        expect(await store.chats.getPolicy(chatKey)).toEqual(next);
      });

      it("keeps the bot-wide policy under `*` with its DM setting", async () => {
        const policy = { ...emptyPolicy(), dm: "allowlist" as const, allow: [`console:${uid()}`] };
        await store.chats.setPolicy(GLOBAL_POLICY_KEY, policy);
        expect(await store.chats.getPolicy(GLOBAL_POLICY_KEY)).toEqual(policy);
      });

      it("refuses an invalid policy with E_BAD_ARGS and keeps the previous one", async () => {
        const chatKey = `t:${uid()}`;
        await store.chats.setPolicy(chatKey, { ...emptyPolicy(), commandRoles: { perms: "admin" } });
        const bad = { ...emptyPolicy(), commandRoles: { perms: "superuser" } } as unknown as ChatPolicy;
        await expectCode(store.chats.setPolicy(chatKey, bad), "E_BAD_ARGS", /commandRoles\.perms/);
        expect((await store.chats.getPolicy(chatKey))?.commandRoles).toEqual({ perms: "admin" });
      });

      it("throws E_STORAGE for a corrupt stored policy instead of granting anything", async () => {
        const chatKey = `t:${uid()}`;
        await store.chats.setPolicy(chatKey, emptyPolicy());
        for (const corrupt of [
          '{"commandRoles":{"perms":"root"},"roleOverrides":{},"allow":[],"deny":[],"trustPlatformAdmins":true}',
          '"admin"',
          "{}",
        ]) {
          await store.sql.query("UPDATE chat_policies SET policy = $1::jsonb WHERE chat_key = $2", [corrupt, chatKey]);
          await expectCode(store.chats.getPolicy(chatKey), "E_STORAGE", /corrupt/);
        }
      });

      it("keeps user keys that look like object internals as plain data", async () => {
        const chatKey = `t:${uid()}`;
        const policy = JSON.parse(
          '{"commandRoles":{"__proto__":"owner","constructor":"admin"},"roleOverrides":{},"allow":[],"deny":[],"trustPlatformAdmins":true}',
        ) as ChatPolicy;
        await store.chats.setPolicy(chatKey, policy);
        const back = await store.chats.getPolicy(chatKey);
        expect(Object.hasOwn(back!.commandRoles, "__proto__")).toBe(true);
        expect(Object.getPrototypeOf(back!.commandRoles)).toBe(Object.prototype);
        expect(Object.keys(back!.commandRoles).sort()).toEqual(["__proto__", "constructor"]);
      });
    });

    describe("chats", () => {
      it("records first and last seen, keeps a known title when none is given, and lists chats", async () => {
        const chatKey = `slack:C${uid()}`;
        expect(await store.chats.get(chatKey)).toBeUndefined();
        await store.chats.touch(chatKey, { kind: "group", title: "ops" }, 1_000);
        await store.chats.touch(chatKey, { kind: "channel" }, 5_000);
        await store.chats.touch(chatKey, { kind: "channel" }, 3_000);
        expect(await store.chats.get(chatKey)).toEqual({
          chatKey,
          kind: "channel",
          title: "ops",
          firstSeenAt: 1_000,
          lastSeenAt: 5_000,
        });
        const listed = await store.chats.list();
        expect(listed.find((chat) => chat.chatKey === chatKey)?.lastSeenAt).toBe(5_000);
        const keys = listed.map((chat) => chat.chatKey);
        expect(keys).toEqual([...keys].sort((a, b) => (Buffer.from(a) < Buffer.from(b) ? -1 : 1)));
      });

      it("records the chats touched in one turn with one statement, each as if touched one after another", async () => {
        const a = `slack:C${uid()}`;
        const b = `slack:C${uid()}`;
        const statements: string[] = [];
        const query = store.sql.query.bind(store.sql);
        store.sql.query = ((text: string, params?: unknown[]) => {
          if (text.includes("INSERT INTO chats")) statements.push(text);
          return query(text, params);
        }) as typeof store.sql.query;
        try {
          await Promise.all([
            store.chats.touch(b, { kind: "group", title: "ops" }, 4_000),
            store.chats.touch(a, { kind: "dm" }, 2_000),
            store.chats.touch(b, { kind: "channel" }, 1_000),
            store.chats.touch(b, { kind: "channel" }, 3_000),
          ]);
        } finally {
          store.sql.query = query;
        }
        expect(statements).toHaveLength(1);
        expect(await store.chats.get(a)).toEqual({
          chatKey: a,
          kind: "dm",
          title: null,
          firstSeenAt: 2_000,
          lastSeenAt: 2_000,
        });
        expect(await store.chats.get(b)).toEqual({
          chatKey: b,
          kind: "channel",
          title: "ops",
          firstSeenAt: 1_000,
          lastSeenAt: 4_000,
        });
      });

      it("refuses a timestamp that is not epoch ms", async () => {
        await expectCode(store.chats.touch(`t:${uid()}`, { kind: "dm" }, Number.NaN), "E_BAD_ARGS", /at/);
      });
    });

    describe("audit log", () => {
      it("lists newest first, filters by chat, pages with limit and beforeId", async () => {
        const chatKey = `t:${uid()}`;
        const other = `t:${uid()}`;
        for (let index = 0; index < 7; index += 1) {
          await store.audit.append({
            at: 1_000 + index,
            actor: "telegram:1",
            chatKey,
            action: "perms.set",
            target: `cmd${index}`,
            before: index,
            after: index + 1,
          });
          if (index % 3 === 0)
            await store.audit.append({ at: 2_000 + index, actor: "system", chatKey: other, action: "perms.deny" });
        }
        const all = await store.audit.list(chatKey);
        expect(all.map((entry) => entry.target)).toEqual(["cmd6", "cmd5", "cmd4", "cmd3", "cmd2", "cmd1", "cmd0"]);
        expect(all.every((entry) => entry.chatKey === chatKey)).toBe(true);
        const ids = all.map((entry) => entry.id!);
        expect(ids).toEqual([...ids].sort((a, b) => b - a));

        const page1 = await store.audit.list(chatKey, { limit: 3 });
        const page2 = await store.audit.list(chatKey, { limit: 3, beforeId: page1[2]!.id });
        const page3 = await store.audit.list(chatKey, { limit: 3, beforeId: page2[2]!.id });
        expect([...page1, ...page2, ...page3].map((entry) => entry.target)).toEqual(all.map((entry) => entry.target));
        expect(page3).toHaveLength(1);

        const everywhere = await store.audit.list(null, { limit: 1_000 });
        expect(everywhere.some((entry) => entry.chatKey === other)).toBe(true);
        expect(everywhere.some((entry) => entry.chatKey === chatKey)).toBe(true);
      });

      it("filters by actor, action and time, and keeps where a change came from (via)", async () => {
        const chatKey = `t:${uid()}`;
        const rows: [number, string, string, string | undefined][] = [
          [5_000, "telegram:1", "perms.set", "chat"],
          [5_001, "telegram:2", "perms.set", "web"],
          [5_002, "telegram:1", "perms.role", "api"],
          [5_003, "telegram:1", "perms.set", undefined],
        ];
        for (const [at, actor, action, via] of rows)
          await store.audit.append({ at, actor, chatKey, action, ...(via === undefined ? {} : { via }) });
        const byActor = await store.audit.list(chatKey, { actor: "telegram:1" });
        expect(byActor.map((e) => e.at)).toEqual([5_003, 5_002, 5_000]);
        const both = await store.audit.list(chatKey, { actor: "telegram:1", action: "perms.set" });
        expect(both.map((e) => e.at)).toEqual([5_003, 5_000]);
        const window = await store.audit.list(chatKey, { since: 5_001, until: 5_003 });
        expect(window.map((e) => e.at)).toEqual([5_002, 5_001]);
        expect(window.map((e) => e.via)).toEqual(["api", "web"]);
        expect("via" in byActor[0]!).toBe(false);
      });

      it("round-trips every field, telling an absent before/after from a JSON null", async () => {
        const chatKey = `discord:${uid()}`;
        await store.audit.append({
          at: 1_700_000_000_000,
          actor: "discord:9",
          chatKey,
          action: "skills.enable",
          target: "dice",
          before: null,
          after: { enabled: true, grants: ["net:api.example"] },
        });
        await store.audit.append({ at: 1_700_000_000_001, actor: "system", chatKey, action: "perms.dm" });
        const [second, first] = await store.audit.list(chatKey);
        expect(first).toEqual({
          id: first!.id,
          at: 1_700_000_000_000,
          actor: "discord:9",
          chatKey,
          action: "skills.enable",
          target: "dice",
          before: null,
          after: { enabled: true, grants: ["net:api.example"] },
        });
        expect(typeof first!.id).toBe("number");
        expect(second).toEqual({
          id: second!.id,
          at: 1_700_000_000_001,
          actor: "system",
          chatKey,
          action: "perms.dm",
          target: null,
        });
        expect("before" in second!).toBe(false);
      });

      it("refuses an entry without an actor and writes nothing", async () => {
        const chatKey = `t:${uid()}`;
        await expectCode(
          store.audit.append({ at: 1, actor: undefined as unknown as string, chatKey, action: "perms.set" }),
          "E_BAD_ARGS",
          /actor/,
        );
        await expectCode(store.audit.list(chatKey, { limit: 0 }), "E_BAD_ARGS", /limit/);
        expect(await store.audit.list(chatKey)).toEqual([]);
      });
    });

    describe("key-value store", () => {
      it("gets, sets, overwrites and deletes JSON values of every kind", async () => {
        const ns = `skill:${uid()}`;
        const values: unknown[] = [
          { nested: { list: [1, "two", null, false] } },
          [1, 2, 3],
          "text with ünïcode 🎲",
          42.5,
          true,
          null,
          0,
          "",
        ];
        for (const [index, value] of values.entries())
          await store.kv.set(ns, "chat", { key: `k${index}`, value: value });
        for (const [index, value] of values.entries())
          expect(await store.kv.get(ns, "chat", `k${index}`)).toEqual(value);
        expect(await store.kv.get(ns, "chat", "missing")).toBeUndefined();
        await store.kv.set(ns, "chat", { key: "k0", value: { replaced: true } });
        expect(await store.kv.get(ns, "chat", "k0")).toEqual({ replaced: true });
        expect(await store.kv.delete(ns, "chat", "k0")).toBe(true);
        expect(await store.kv.delete(ns, "chat", "k0")).toBe(false);
        expect(await store.kv.get(ns, "chat", "k0")).toBeUndefined();
      });

      it("treats keys, scopes and namespaces as data", async () => {
        const ns = `ns'; DROP TABLE kv; --${uid()}`;
        const keys = ["'); DELETE FROM kv; --", "$1", "a\\b", "ключ", "🎲", " spaced ", '"quoted"'];
        for (const key of keys) await store.kv.set(ns, "scope'", { key: key, value: key });
        for (const key of keys) expect(await store.kv.get(ns, "scope'", key)).toBe(key);
        expect(await store.kv.get(ns, "scope", keys[0]!)).toBeUndefined();
        expect((await store.kv.list(ns, "scope'")).length).toBe(keys.length);
      });

      it("lists by key in byte order, with a literal prefix (% and _ are not wildcards) and a limit", async () => {
        const ns = `skill:${uid()}`;
        for (const key of ["b", "a%b", "a_b", "axb", "a%", "a", "A", "a\\b", "ab"])
          await store.kv.set(ns, "s", { key: key, value: key.length });
        const all = await store.kv.list(ns, "s");
        expect(all.map((entry) => entry.key)).toEqual(["A", "a", "a%", "a%b", "a\\b", "a_b", "ab", "axb", "b"]);
        expect((await store.kv.list(ns, "s", { prefix: "a%" })).map((entry) => entry.key)).toEqual(["a%", "a%b"]);
        expect((await store.kv.list(ns, "s", { prefix: "a_" })).map((entry) => entry.key)).toEqual(["a_b"]);
        expect((await store.kv.list(ns, "s", { prefix: "a\\" })).map((entry) => entry.key)).toEqual(["a\\b"]);
        expect((await store.kv.list(ns, "s", { prefix: "a", limit: 2 })).map((entry) => entry.key)).toEqual([
          "a",
          "a%",
        ]);
        expect(await store.kv.list(ns, "s", { prefix: "zzz" })).toEqual([]);
        const entry = all[0]!;
        expect(entry.value).toBe(1);
        expect(Math.abs(entry.updatedAt - Date.now())).toBeLessThan(60_000);
      });

      it("measures the JSON bytes stored per scope", async () => {
        const ns = `skill:${uid()}`;
        expect(await store.kv.sizeBytes(ns, "s")).toBe(0);
        await store.kv.set(ns, "s", { key: "a", value: "abc" }); // "abc" → 5 bytes
        await store.kv.set(ns, "s", { key: "b", value: "é" }); // "é" → 4 bytes
        await store.kv.set(ns, "s", { key: "c", value: 12345 }); // 5 bytes
        await store.kv.set(ns, "other", { key: "a", value: "a long value in another scope" });
        expect(await store.kv.sizeBytes(ns, "s")).toBe(14);
        await store.kv.set(ns, "s", { key: "a", value: "abcdef" });
        expect(await store.kv.sizeBytes(ns, "s")).toBe(17);
      });

      it("clears one scope or a whole namespace and says how many entries went", async () => {
        const ns = `skill:${uid()}`;
        const neighbour = `${ns}-neighbour`;
        await store.kv.set(ns, "s1", { key: "a", value: 1 });
        await store.kv.set(ns, "s1", { key: "b", value: 2 });
        await store.kv.set(ns, "s2", { key: "a", value: 3 });
        await store.kv.set(neighbour, "s1", { key: "a", value: 4 });
        expect(await store.kv.clear(ns, "s1")).toBe(2);
        expect(await store.kv.list(ns, "s1")).toEqual([]);
        expect(await store.kv.get(ns, "s2", "a")).toBe(3);
        expect(await store.kv.clear(ns)).toBe(1);
        expect(await store.kv.clear(ns)).toBe(0);
        expect(await store.kv.get(neighbour, "s1", "a")).toBe(4);
      });

      it("refuses what JSON or the database cannot hold, with E_BAD_ARGS, and writes nothing", async () => {
        const ns = `skill:${uid()}`;
        const circular: Record<string, unknown> = {};
        circular.self = circular;
        await store.kv.set(ns, "s", { key: "k", value: "kept" });
        for (const value of [
          undefined,
          10n,
          circular,
          "nul \u0000 inside",
          { text: "lone \ud800 surrogate" },
          () => 1,
        ]) {
          await expectCode(store.kv.set(ns, "s", { key: "k", value: value }), "E_BAD_ARGS", /value/);
        }
        await expectCode(store.kv.set(ns, "s", { key: "nul\u0000key", value: 1 }), "E_BAD_ARGS", /key/);
        await expectCode(store.kv.set(ns, "s", { key: "x".repeat(600), value: 1 }), "E_BAD_ARGS", /key/);
        await expectCode(store.kv.get(ns, 42 as unknown as string, "k"), "E_BAD_ARGS", /scope/);
        expect(await store.kv.list(ns, "s")).toEqual([expect.objectContaining({ key: "k", value: "kept" })]);
        // An escaped backslash followed by "u0000" is ordinary text.
        await store.kv.set(ns, "s", { key: "k", value: "\\u0000" });
        expect(await store.kv.get(ns, "s", "k")).toBe("\\u0000");
      });
    });

    describe("migrations", () => {
      function tableMigrations(prefix: string, count: number): Migration[] {
        return Array.from({ length: count }, (_, index) => ({
          id: `${prefix}-${String(index + 1).padStart(3, "0")}`,
          sql: `CREATE TABLE ${prefix.replaceAll("-", "_")}_${index + 1} (id int PRIMARY KEY); INSERT INTO ${prefix.replaceAll("-", "_")}_${index + 1} VALUES (${index + 1});`,
        }));
      }

      it("applies only what is new, in order, once", async () => {
        const prefix = `t-${uid()}`;
        const list = tableMigrations(prefix, 3);
        expect(await store.migrate(list.slice(0, 2))).toEqual([list[0]!.id, list[1]!.id]);
        expect(await store.migrate(list)).toEqual([list[2]!.id]);
        expect(await store.migrate(list)).toEqual([]);
        const { rows } = await store.sql.query<{ id: number }>(`SELECT id FROM ${prefix.replaceAll("-", "_")}_3`);
        expect(rows).toEqual([{ id: 3 }]);
        const recorded = await store.sql.query<{ id: string }>(
          "SELECT id FROM schema_migrations WHERE id LIKE $1 ORDER BY id",
          [`${prefix}-%`],
        );
        expect(recorded.rows.map((row) => row.id)).toEqual(list.map((migration) => migration.id));
      });

      it("has the core migrations applied at open (migrating again is a no-op)", async () => {
        const { rows } = await store.sql.query<{ id: string }>(
          "SELECT id FROM schema_migrations WHERE id LIKE 'core-%' ORDER BY id",
        );
        expect(rows.map((row) => row.id)).toEqual([
          "core-001-chats",
          "core-002-audit-log",
          "core-003-kv",
          "core-020-pending-requests",
          "core-020-principals",
          "core-030-audit-via",
          "core-030-console-credentials",
          "core-030-message-counts",
          "core-060-activity",
        ]);
        const { CORE_MIGRATIONS } = await import("../../bot/storage/migrations.ts");
        expect(await store.migrate(CORE_MIGRATIONS)).toEqual([]);
      });

      it("rolls back a failing migration, names it, and stops before the next one", async () => {
        const prefix = `t-${uid()}`;
        const table = prefix.replaceAll("-", "_");
        const list: Migration[] = [
          { id: `${prefix}-001`, sql: `CREATE TABLE ${table}_ok (id int)` },
          { id: `${prefix}-002`, sql: `CREATE TABLE ${table}_half (id int); SELECT no_such_column FROM ${table}_half` },
          { id: `${prefix}-003`, sql: `CREATE TABLE ${table}_after (id int)` },
        ];
        await expectCode(store.migrate(list), "E_STORAGE", new RegExp(`${prefix}-002`));
        const tables = await store.sql.query<{ name: string }>(
          store.sql.driver === "sqlite"
            ? "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE $1 ORDER BY 1"
            : "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name LIKE $1 ORDER BY 1",
          [`${table}%`],
        );
        expect(tables.rows.map((row) => row.name)).toEqual([`${table}_ok`]);
        const fixed = [list[0]!, { id: `${prefix}-002`, sql: `CREATE TABLE ${table}_half (id int)` }, list[2]!];
        expect(await store.migrate(fixed)).toEqual([`${prefix}-002`, `${prefix}-003`]);
      });

      it("refuses a list with a duplicate id before applying anything", async () => {
        const prefix = `t-${uid()}`;
        const list = tableMigrations(prefix, 1);
        await expectCode(store.migrate([...list, ...list]), "E_STORAGE", /twice/);
        expect(await store.migrate(list)).toEqual([list[0]!.id]);
      });

      it("applies each migration exactly once when two stores migrate the same database at once", async () => {
        const prefix = `t-${uid()}`;
        const list = tableMigrations(prefix, 4);
        const second = harness.allowsConcurrentOpen ? await harness.open() : store;
        try {
          const [a, b] = await Promise.all([store.migrate(list), second.migrate(list)]);
          expect([...a, ...b].sort()).toEqual(list.map((migration) => migration.id));
          const recorded = await store.sql.query<{ n: number }>(
            "SELECT COUNT(*)::int AS n FROM schema_migrations WHERE id LIKE $1",
            [`${prefix}-%`],
          );
          expect(recorded.rows[0]!.n).toBe(4);
        } finally {
          if (second !== store) await second.close();
        }
      });
    });

    describe("transactions", () => {
      it("commits on success and rolls back on a throw", async () => {
        const ns = `tx:${uid()}`;
        await store.sql.transaction(async (tx) => {
          await tx.query(
            "INSERT INTO kv (namespace, scope, key, value, updated_at) VALUES ($1, 's', 'a', '1'::jsonb, 0)",
            [ns],
          );
        });
        const failed = await rejection(
          store.sql.transaction(async (tx) => {
            await tx.query(
              "INSERT INTO kv (namespace, scope, key, value, updated_at) VALUES ($1, 's', 'b', '2'::jsonb, 0)",
              [ns],
            );
            throw new Error("changed my mind");
          }),
        );
        expect((failed as Error).message).toBe("changed my mind");
        expect((await store.kv.list(ns, "s")).map((entry) => entry.key)).toEqual(["a"]);
      });

      it("keeps concurrent read-modify-write transactions from losing updates", async () => {
        const ns = `tx:${uid()}`;
        await store.kv.set(ns, "s", { key: "counter", value: 0 });
        await Promise.all(
          Array.from({ length: 10 }, () =>
            store.sql.transaction(async (tx) => {
              // JSON read as text is what both drivers return alike (jsonb parses only on PostgreSQL).
              const { rows } = await tx.query<{ value: string }>(
                "SELECT value::text AS value FROM kv WHERE namespace = $1 AND scope = 's' AND key = 'counter' FOR UPDATE",
                [ns],
              );
              await new Promise((resolve) => setImmediate(resolve));
              await tx.query(
                "UPDATE kv SET value = $2::jsonb WHERE namespace = $1 AND scope = 's' AND key = 'counter'",
                [ns, JSON.stringify((JSON.parse(rows[0]!.value) as number) + 1)],
              );
            }),
          ),
        );
        expect(await store.kv.get(ns, "s", "counter")).toBe(10);
      });
    });

    describe("restart", () => {
      it("keeps policies, audit entries and kv data across close and reopen", async () => {
        const chatKey = `telegram:${uid()}`;
        const policy = { ...emptyPolicy(), commandRoles: { deploy: "admin" as const }, deny: ["telegram:13"] };
        await store.chats.setPolicy(chatKey, policy);
        await store.audit.append({
          at: 1_234,
          actor: "telegram:1",
          chatKey,
          action: "perms.set",
          target: "deploy",
          before: null,
          after: "admin",
        });
        await store.kv.set("llm.history", chatKey, { key: "turn:1", value: { role: "user", text: "hello" } });
        await store.close();

        store = await harness.open();
        expect(await store.chats.getPolicy(chatKey)).toEqual(policy);
        const audit = await store.audit.list(chatKey);
        expect(audit).toHaveLength(1);
        expect(audit[0]).toMatchObject({
          actor: "telegram:1",
          action: "perms.set",
          target: "deploy",
          before: null,
          after: "admin",
        });
        expect(await store.kv.get("llm.history", chatKey, "turn:1")).toEqual({ role: "user", text: "hello" });
        expect(await store.migrate([])).toEqual([]);
      });
    });
  });
}
