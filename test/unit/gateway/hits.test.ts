/** Cache hits and keys on both SQL dialects: the embedded store and PostgreSQL. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { memoryStore, openStore, type Store } from "../../../bot/index.ts";
import { chatHitKey, hitsBy, hitsByModel, recordHit } from "../../../gateway/hits.ts";
import { GATEWAY_MIGRATIONS, KeyService } from "../../../gateway/keys.ts";
import { POSTGRES_URL, serviceAvailable } from "../../helpers/services.ts";

const hasPostgres = await serviceAvailable("postgres");
const engines: Array<[string, (dir: string) => Promise<Store>]> = [
  ["the embedded store", () => memoryStore()],
  ...(hasPostgres
    ? [
        ["PostgreSQL", (dir: string) => openStore({ dataDir: dir, databaseUrl: POSTGRES_URL })] as [
          string,
          (dir: string) => Promise<Store>,
        ],
      ]
    : []),
];

describe.each(engines)("gateway tables on %s", (_name, open) => {
  it("counts hits per day, model, person and key, and keeps keys by hash only", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sb-gw-hits-"));
    const store = await open(dir);
    try {
      await store.migrate(GATEWAY_MIGRATIONS);
      const model = `m-${randomUUID()}`;
      const day = "2999-12-31";
      await recordHit(store.sql, { day, model, userKey: "t:1", keyId: "k1" });
      await recordHit(store.sql, { day, model, userKey: "t:1", keyId: "k1" });
      await recordHit(store.sql, { day, model, userKey: "t:2", keyId: "k2" });
      expect((await hitsByModel(store.sql, day)).get(model)).toBe(3);
      const byUser = await hitsBy(store.sql, { from: day, to: day, by: "user" });
      expect(byUser.get("t:1")).toBeGreaterThanOrEqual(2);
      expect((await hitsBy(store.sql, { from: day, to: day, by: "chat" })).size).toBe(0);
      // A chat turn's hit counts under its chat, not as a key.
      await recordHit(store.sql, { day, model, userKey: "t:1", keyId: chatHitKey("t:group") });
      expect((await hitsBy(store.sql, { from: day, to: day, by: "chat" })).get("t:group")).toBe(1);
      const byKey = await hitsBy(store.sql, { from: day, to: day, by: "key" });
      expect(byKey.get("k1")).toBe(2);
      expect([...byKey.keys()].some((k) => k.startsWith("chat:"))).toBe(false);
      await store.sql.query("DELETE FROM gateway_cache_hits WHERE model = $1", [model]);

      const keys = new KeyService({
        sql: store.sql,
        clock: { now: () => Date.now() },
        audit: async () => undefined,
        maxPerUser: 2,
      });
      const user = `t:${randomUUID()}`;
      const { key, info } = await keys.create({ userKey: user, models: ["a"] }, { actor: "test", via: "cli" });
      const { rows } = await store.sql.query<Record<string, unknown>>("SELECT * FROM gateway_keys WHERE id = $1", [
        info.id,
      ]);
      expect(JSON.stringify(rows)).not.toContain(key.slice(17));
      expect((await keys.verify(key))?.models).toEqual(["a"]);
      await keys.create({ userKey: user }, { actor: "test", via: "cli" });
      await expect(keys.create({ userKey: user }, { actor: "test", via: "cli" })).rejects.toThrow(/holds 2 keys/);
      expect(await keys.revoke(info.id, { actor: "test", via: "cli" })).toBe(true);
      expect(await keys.verify(key)).toBeUndefined();
      await store.sql.query("DELETE FROM gateway_keys WHERE user_key = $1", [user]);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
