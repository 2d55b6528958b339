import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import pg from "pg";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { openStore } from "../../../bot/storage/open.ts";
import type { Store } from "../../../bot/storage/types.ts";
import { secretBox } from "../../../hooks/secrets.ts";
import { DeliveryRepo, HOOKS_MIGRATIONS } from "../../../hooks/store.ts";
import { POSTGRES_URL, serviceAvailable } from "../../helpers/services.ts";

describe("hook secrets at rest", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it("seal and open with the configured key; another key cannot open them", () => {
    const box = secretBox({ secretKey: "ab".repeat(32), dataDir: "/nonexistent", isShared: true });
    const sealed = box.seal("top secret");
    expect(sealed).not.toContain("top secret");
    expect(box.open(sealed)).toBe("top secret");
    expect(box.seal("top secret")).not.toBe(sealed); // a fresh IV each time
    const other = secretBox({ secretKey: "cd".repeat(32), dataDir: "/nonexistent", isShared: true });
    expect(() => other.open(sealed)).toThrow();
  });

  it("keep a generated key in the data folder (0600) for the embedded store, and require one with PostgreSQL", () => {
    const dir = mkdtempSync(join(tmpdir(), "sb-hooks-key-"));
    dirs.push(dir);
    const sealed = secretBox({ secretKey: undefined, dataDir: dir, isShared: false }).seal("x");
    expect(statSync(join(dir, "hooks.key")).mode & 0o777).toBe(0o600);
    expect(secretBox({ secretKey: undefined, dataDir: dir, isShared: false }).open(sealed)).toBe("x");
    expect(() => secretBox({ secretKey: undefined, dataDir: dir, isShared: true }).seal("x")).toThrow(
      /hooks.secretKey is required/,
    );
    expect(() => secretBox({ secretKey: "short", dataDir: dir, isShared: false })).toThrow(/32 bytes/);
  });
});

interface QueueStore {
  store: Store;
  /** Make the next insert of a payload holding `poison` fail inside the database. */
  poison(): Promise<void>;
  dispose(): Promise<void>;
}

async function embedded(): Promise<QueueStore> {
  const dataDir = mkdtempSync(join(tmpdir(), "sb-hooks-queue-"));
  const store = await openStore({ dataDir });
  await store.migrate(HOOKS_MIGRATIONS);
  return {
    store,
    // A trigger's body has semicolons the store's one-statement calls do not take: made on a connection of its own.
    poison: async () => {
      const db = new DatabaseSync(join(dataDir, "db.sqlite"));
      db.exec(
        "CREATE TRIGGER poison BEFORE INSERT ON hook_deliveries WHEN NEW.payload LIKE '%poison%' BEGIN SELECT RAISE(ABORT, 'poisoned'); END",
      );
      db.close();
    },
    async dispose() {
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function postgres(): Promise<QueueStore> {
  const name = `sb_hooks_queue_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  const dataDir = mkdtempSync(join(tmpdir(), "sb-hooks-queue-"));
  const store = await openStore({ dataDir, databaseUrl: url.toString() });
  await store.migrate(HOOKS_MIGRATIONS);
  return {
    store,
    async poison() {
      await store.sql.query(
        "CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN IF NEW.payload LIKE '%poison%' THEN RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
      );
      await store.sql.query(
        "CREATE TRIGGER poison BEFORE INSERT ON hook_deliveries FOR EACH ROW EXECUTE FUNCTION poison()",
      );
    },
    async dispose() {
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
      const drop = new pg.Client({ connectionString: POSTGRES_URL });
      await drop.connect();
      await drop.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await drop.end();
    },
  };
}

const item = (deliveryId: string, payload = "{}") => ({
  hookId: "h1",
  deliveryId,
  payload,
  meta: {},
  at: 1_000,
  leaseUntil: 31_000,
});

const isPostgresUp = await serviceAvailable("postgres");

const turn = () => new Promise<void>((r) => setImmediate(r));

for (const [label, open] of [
  ["embedded", embedded],
  ["PostgreSQL", postgres],
] as const) {
  describe.runIf(label === "embedded" || isPostgresUp)(`the delivery queue (${label})`, () => {
    let q: QueueStore | undefined;
    afterEach(async () => {
      await q?.dispose();
      q = undefined;
    });

    it("queues each delivery id once, also when repeated inside one commit", async () => {
      q = await open();
      const repo = new DeliveryRepo(q.store.sql);
      const [a, b, c] = await Promise.all([repo.enqueue(item("x")), repo.enqueue(item("x")), repo.enqueue(item("y"))]);
      expect(a?.deliveryId).toBe("x");
      expect(b).toBeUndefined();
      expect(c?.deliveryId).toBe("y");
      expect(await repo.enqueue(item("x"))).toBeUndefined();
      expect(await repo.queued()).toBe(2);
    });

    it("commits inserts and sent marks asked for together in one batch, with payloads as sent", async () => {
      q = await open();
      const repo = new DeliveryRepo(q.store.sql);
      const first = await repo.enqueue(item("m"));
      const odd = `{"s":"quote \\" backslash \\\\ brace { } comma , ünïcode ✓"}`;
      const [, queued] = await Promise.all([repo.markSent(first!.id, 2_000), repo.enqueue(item("n", odd))]);
      const { rows } = await q.store.sql.query<{ delivery_id: string; state: string; payload: string }>(
        "SELECT delivery_id, state, payload FROM hook_deliveries ORDER BY id",
      );
      expect(rows).toEqual([
        { delivery_id: "m", state: "sent", payload: "{}" },
        { delivery_id: "n", state: "queued", payload: odd },
      ]);
      expect(queued?.payload).toBe(odd);
    });

    it("fails every caller of a batch whose commit fails, and writes none of its rows", async () => {
      q = await open();
      const repo = new DeliveryRepo(q.store.sql);
      const before = await repo.enqueue(item("before"));
      await q.poison();
      const results = await Promise.allSettled([
        repo.enqueue(item("a")),
        repo.enqueue(item("b", '{"text":"poison"}')),
        repo.enqueue(item("c")),
        repo.markSent(before!.id, 2_000),
      ]);
      expect(results.map((r) => r.status)).toEqual(["rejected", "rejected", "rejected", "rejected"]);
      const { rows } = await q.store.sql.query<{ delivery_id: string; state: string }>(
        "SELECT delivery_id, state FROM hook_deliveries ORDER BY id",
      );
      expect(rows).toEqual([{ delivery_id: "before", state: "queued" }]);
      // The next batch is its own commit.
      expect((await repo.enqueue(item("a")))?.deliveryId).toBe("a");
    });

    it("leaves leased deliveries to their process, and hands out due retries and expired leases", async () => {
      q = await open();
      const repo = new DeliveryRepo(q.store.sql);
      const d = await repo.enqueue(item("z"));
      expect(await repo.claim({ now: 2_000, leaseUntil: 40_000, limit: 10 })).toEqual([]);
      const claimed = await repo.claim({ now: 32_000, leaseUntil: 62_000, limit: 10 });
      expect(claimed.map((x) => x.id)).toEqual([d!.id]);
      expect(await repo.claim({ now: 33_000, leaseUntil: 63_000, limit: 10 })).toEqual([]); // leased to 62,000
      await repo.markSent(d!.id, 33_000);
      expect(await repo.queued()).toBe(0);
      await repo.markFailed(d!.id, { error: "boom", nextAt: 40_000, at: 34_000 });
      expect(await repo.claim({ now: 39_000, leaseUntil: 70_000, limit: 10 })).toEqual([]);
      expect((await repo.claim({ now: 40_000, leaseUntil: 70_000, limit: 10 })).map((x) => x.attempts)).toEqual([1]);
      expect(await repo.prune(50_000)).toBe(0); // still queued: never pruned
    });

    it("claims due deliveries in one batch, oldest first, up to the limit", async () => {
      q = await open();
      const repo = new DeliveryRepo(q.store.sql);
      const queued = await Promise.all(["d1", "d2", "d3", "d4", "d5"].map((id) => repo.enqueue(item(id))));
      const claimed = await repo.claim({ now: 40_000, leaseUntil: 70_000, limit: 3 });
      expect(claimed.map((x) => x.deliveryId)).toEqual(["d1", "d2", "d3"]);
      expect(claimed.map((x) => x.id)).toEqual(queued.slice(0, 3).map((x) => x!.id));
      expect((await repo.claim({ now: 40_000, leaseUntil: 70_000, limit: 10 })).map((x) => x.deliveryId)).toEqual([
        "d4",
        "d5",
      ]);
    });
  });
}

describe.runIf(isPostgresUp)("the delivery queue's commits on PostgreSQL", () => {
  let q: QueueStore | undefined;
  afterAll(async () => {
    await q?.dispose();
  });

  it("start a batch that forms while others commit on another connection, at most 4 under way", async () => {
    q = await postgres();
    const repo = new DeliveryRepo(q.store.sql);
    // Another session holds the table: every commit waits on its lock until it lets go.
    const holder = await q.store.sql.transaction(async (tx) => {
      await tx.query("LOCK TABLE hook_deliveries IN EXCLUSIVE MODE");
      const waits: Array<Promise<unknown>> = [];
      for (let i = 0; i < 6; i++) {
        waits.push(repo.enqueue(item(`t${i}`)));
        await turn();
        await turn();
      }
      const deadline = Date.now() + 10_000;
      while (repo.committing < 4 && Date.now() < deadline) await turn();
      const committing = repo.committing;
      return { waits, committing };
    });
    expect(holder.committing).toBe(4);
    const done = await Promise.all(holder.waits);
    expect(done.every((d) => d !== undefined)).toBe(true);
    expect(await repo.queued()).toBe(6);
  });
});
