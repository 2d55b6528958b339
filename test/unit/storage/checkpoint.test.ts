/**
 * The embedded store's WAL checkpoints run in a worker thread, never inside a commit on the event loop: a commit
 * that takes the WAL past SQLite's automatic threshold (1,000 pages) leaves the database file as it was, and the
 * worker's checkpoint copies the WAL into it. Past the cap, the main connection checkpoints itself, so the WAL
 * stays bounded under writes that never pause.
 */
import { statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { DatabaseSync } from "node:sqlite";
import { Checkpointer } from "../../../bot/storage/checkpointer.ts";
import { openSqlite } from "../../../bot/storage/sqlite.ts";

const root = await mkdtemp(join(tmpdir(), "switchboard-checkpoint-"));
afterAll(() => rm(root, { recursive: true, force: true }));

const MB = 1024 * 1024;
/** About 100 Telegram updates as the journal writes them. */
const ROW = "x".repeat(35_000);

async function fill(sql: Awaited<ReturnType<typeof openSqlite>>, commits: number): Promise<void> {
  for (let i = 0; i < commits; i++) {
    await sql.transaction(async (tx) => {
      await tx.query("INSERT INTO t (body) VALUES ($1)", [ROW]);
    });
  }
}

describe("embedded store checkpoints", () => {
  it("no commit copies the WAL into the database; the worker does", async () => {
    const file = join(root, "worker.sqlite");
    // No checkpoint asked for during the writes (interval a minute), so what the file holds after them is what the
    // commits themselves copied.
    const sql = await openSqlite({ file, checkpointIntervalMs: 60_000 });
    try {
      await sql.query("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
      expect(await sql.checkpoint?.()).toMatchObject({ busy: 0 });
      const before = statSync(file).size;
      await fill(sql, 240); // about 8 MB, twice SQLite's automatic threshold
      expect(statSync(`${file}-wal`).size).toBeGreaterThan(8 * MB);
      expect(statSync(file).size - before).toBeLessThan(MB);

      const result = await sql.checkpoint?.();
      expect(result).toBeDefined();
      expect(result!.busy).toBe(0);
      expect(result!.checkpointed).toBe(result!.log);
      expect(statSync(file).size - before).toBeGreaterThan(8 * MB);
      const { rows } = await sql.query<{ n: number }>("SELECT count(*) AS n FROM t");
      expect(rows[0]!.n).toBe(240);
    } finally {
      await sql.close();
    }
    // Closed last, the main connection checkpointed and removed the WAL.
    expect(() => statSync(`${file}-wal`)).toThrow();
  });

  it("past the cap the main connection checkpoints too", async () => {
    const file = join(root, "cap.sqlite");
    const db = new DatabaseSync(file);
    db.exec("PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (body TEXT)");
    const inline: number[] = [];
    const checkpointer = new Checkpointer({
      file,
      capFrames: 500,
      inline: async () => {
        inline.push(1);
        return undefined;
      },
      fallBack: (error) => {
        throw error;
      },
    });
    try {
      const insert = db.prepare("INSERT INTO t (body) VALUES (?)");
      for (let i = 0; i < 20; i++) insert.run(ROW); // about 180 frames
      expect((await checkpointer.checkpoint())?.log).toBeLessThan(500);
      expect(inline).toHaveLength(0);
      for (let i = 0; i < 100; i++) insert.run(ROW);
      expect((await checkpointer.checkpoint())?.log).toBeGreaterThan(500);
      expect(inline).toHaveLength(1);
      expect(checkpointer.stats).toMatchObject({ workers: 1, inline: 1 });
    } finally {
      await checkpointer.close();
      db.close();
    }
  });

  it("the worker closes when idle and starts again for the next checkpoint", async () => {
    const file = join(root, "idle.sqlite");
    const db = new DatabaseSync(file);
    db.exec("PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (body TEXT)");
    const checkpointer = new Checkpointer({
      file,
      idleMs: 20,
      inline: async () => undefined,
      fallBack: (error) => {
        throw error;
      },
    });
    try {
      const insert = db.prepare("INSERT INTO t (body) VALUES (?)");
      insert.run(ROW);
      expect((await checkpointer.checkpoint())?.busy).toBe(0);
      expect(checkpointer.hasWorker).toBe(true);
      await vi.waitFor(() => expect(checkpointer.hasWorker).toBe(false), { timeout: 10_000 });
      insert.run(ROW);
      const again = await checkpointer.checkpoint();
      expect(again).toMatchObject({ busy: 0 });
      expect(again!.checkpointed).toBe(again!.log);
      expect(checkpointer.stats.workers).toBe(2);
    } finally {
      await checkpointer.close();
      db.close();
    }
    expect(checkpointer.hasWorker).toBe(false);
  });

  it("a commit after a complete checkpoint writes the WAL from its start", async () => {
    const file = join(root, "restart.sqlite");
    const sql = await openSqlite({ file, checkpointIntervalMs: 60_000 });
    try {
      await sql.query("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
      await fill(sql, 120); // about 1,000 frames
      const result = await sql.checkpoint?.();
      expect(result).toMatchObject({ busy: 0 });
      expect(result!.checkpointed).toBe(result!.log);
      const walSize = statSync(`${file}-wal`).size;
      // The next commit writes the WAL again from its start: it does not grow.
      await fill(sql, 10);
      expect(statSync(`${file}-wal`).size).toBe(walSize);
      const again = await sql.checkpoint?.();
      expect(again!.log).toBeLessThan(200);
    } finally {
      await sql.close();
    }
  });

  it("a worker that cannot open the database hands checkpoints back to SQLite", async () => {
    const fallBacks: unknown[] = [];
    const checkpointer = new Checkpointer({
      file: root, // a folder: no database opens there
      inline: async () => undefined,
      fallBack: (error) => fallBacks.push(error),
    });
    try {
      expect(await checkpointer.checkpoint()).toBeUndefined();
      expect(fallBacks).toHaveLength(1);
      expect(await checkpointer.checkpoint()).toBeUndefined(); // not tried again
      expect(checkpointer.stats.workers).toBe(1);
    } finally {
      await checkpointer.close();
    }
  });

  it("a store in memory has no checkpoint worker", async () => {
    const sql = await openSqlite();
    try {
      expect(sql.checkpoint).toBeUndefined();
    } finally {
      await sql.close();
    }
  });
});
