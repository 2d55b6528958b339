/**
 * Outcomes of schedule fires on real PostgreSQL (a fresh schema per run): a finish never deadlocks against
 * another process's claim of the same schedule, and a finish the store refuses is written on a later try. Both
 * once left runs `running` although their command had run (the two-process burst test saw it under load).
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Store } from "../../../bot/index.ts";
import { openStore } from "../../../bot/storage/open.ts";
import { SCHEDULES_MIGRATIONS, ScheduleRepo } from "../../../schedules/repo.ts";
import { POSTGRES_URL, serviceAvailable } from "../../helpers/services.ts";
import { FakeTime } from "./fake-time.ts";
import { idOf, runsOf, startHarness, type Harness } from "./harness.ts";

const isUp = await serviceAvailable("postgres");
const schema = `sched_${randomBytes(6).toString("hex")}`;
const schemaUrl = (() => {
  const url = new URL(POSTGRES_URL);
  url.searchParams.set("options", `-c search_path=${schema}`);
  return url.toString();
})();

async function connect(url = POSTGRES_URL): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

async function admin(sql: string): Promise<void> {
  const client = await connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

describe.skipIf(!isUp)("schedule outcomes on PostgreSQL", () => {
  let store: Store;
  let open: Harness | undefined;

  beforeAll(async () => {
    await admin(`CREATE SCHEMA ${schema}`);
    store = await openStore({ dataDir: "unused", databaseUrl: schemaUrl, migrations: SCHEDULES_MIGRATIONS });
  }, 120_000);

  afterEach(async () => {
    await open?.stop();
    open = undefined;
    await store.sql.query("DELETE FROM schedule_runs; DELETE FROM schedules");
  });

  afterAll(async () => {
    await store?.close();
    if (isUp) await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });

  it("finishes a batch while another process's claim holds the schedule, without a deadlock", async () => {
    const repo = new ScheduleRepo(store.sql);
    const s = await insertPing(repo);
    const fireTime = 60_000;
    const {
      claimed: [claim],
    } = await repo.claimMany([{ id: s.id, fireTime, kind: "scheduled" }], { process: "a", at: 60_001 });
    expect(claim).toBeDefined();
    // The other process's claim of the same fire, late: it holds the schedule (as `claimMany` does) ...
    const other = await connect(schemaUrl);
    try {
      await other.query("BEGIN");
      const pid = Number((await other.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid);
      await other.query("SELECT id FROM schedules WHERE id = $1 FOR UPDATE SKIP LOCKED", [s.id]);
      // ... while this process records the fire's outcome, which must wait for that schedule ...
      const finishing = repo.finishMany([{ runId: claim!.runId, scheduleId: s.id, outcome: "ok", at: 60_010 }]).then(
        () => "written",
        (error: unknown) => `refused: ${String(error)}`,
      );
      const watcher = await connect();
      try {
        for (;;) {
          const { rows } = await watcher.query<{ n: string }>(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
            [pid],
          );
          if (Number(rows[0]!.n) > 0) break;
          await new Promise((r) => setTimeout(r, 10));
        }
      } finally {
        await watcher.end();
      }
      // ... and the claim then inserts its run row. With the run row updated before the schedule was locked, this
      // insert waited for the finish and the finish for the schedule: PostgreSQL aborted one of the two.
      const inserted = await other.query(
        `INSERT INTO schedule_runs (schedule_id, fire_time, kind, started_at, outcome, process)
         VALUES ($1, $2, 'scheduled', 60002, 'running', 'b')
         ON CONFLICT (schedule_id, fire_time) WHERE kind <> 'manual' DO NOTHING RETURNING id`,
        [s.id, fireTime],
      );
      expect(inserted.rows).toEqual([]); // the fire was this process's
      await other.query("COMMIT");
      expect(await finishing).toBe("written");
    } finally {
      await other.end();
    }
    const [run] = await repo.runs(s.id);
    expect(run).toMatchObject({ outcome: "ok", process: "a" });
  }, 30_000);

  it("writes a fire's outcome that the store refused once, on a later try", async () => {
    const time = new FakeTime(Date.UTC(2026, 2, 27, 12, 0));
    const h = await startHarness({ time, store });
    open = h;
    const id = idOf((await h.say('/schedule add "0 9 * * *" /ping'))[0]);
    // A real fault in the store: the first write of an outcome fails (a sequence is not rolled back with it).
    await store.sql.query(`
      CREATE SEQUENCE refuse_finish_seq;
      CREATE FUNCTION refuse_first_finish() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF nextval('refuse_finish_seq') = 1 THEN
          RAISE EXCEPTION 'deadlock detected (injected)' USING ERRCODE = '40P01';
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER refuse_first_finish BEFORE UPDATE OF outcome ON schedule_runs
        FOR EACH ROW WHEN (NEW.outcome <> 'running') EXECUTE FUNCTION refuse_first_finish();`);
    try {
      await h.advanceTo(Date.UTC(2026, 2, 28, 8, 1));
      expect(h.pings).toHaveLength(1);
      expect(await runsOf(h, id)).toEqual([
        { kind: "scheduled", outcome: "ok", fireTime: Date.UTC(2026, 2, 28, 8, 0), detail: null },
      ]);
      expect(h.plugin.service.pipeline.recordRetries).toBe(1);
    } finally {
      await store.sql.query(
        "DROP TRIGGER refuse_first_finish ON schedule_runs; DROP FUNCTION refuse_first_finish(); DROP SEQUENCE refuse_finish_seq",
      );
    }
  }, 60_000);
  it("claims a fire whose schedule's row was locked by something other than a claim at its fire time, once", async () => {
    const time = new FakeTime(Date.UTC(2026, 2, 27, 12, 0));
    const h = await startHarness({ time, store });
    open = h;
    const id = idOf((await h.say('/schedule add "0 9 * * *" /ping'))[0]);
    // Another transaction (a finish of the previous fire, a pause or a zone change committing) holds the row
    // across the fire time, so the claim's `SKIP LOCKED` passes it by.
    const other = await connect(schemaUrl);
    try {
      await other.query("BEGIN");
      const pid = Number((await other.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid);
      await other.query("SELECT id FROM schedules WHERE id = $1 FOR UPDATE", [id]);
      let isAdvanced = false;
      const advancing = h.advanceTo(Date.UTC(2026, 2, 28, 8, 1)).then(() => {
        isAdvanced = true;
      });
      // The fire is claimed again and now waits for the row (without the retry, nothing waits and the fire was
      // simply never claimed: `advanceTo` settles with no run at all).
      const watcher = await connect();
      try {
        for (;;) {
          const { rows } = await watcher.query<{ n: string }>(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
            [pid],
          );
          if (Number(rows[0]!.n) > 0 || isAdvanced) break;
          await new Promise((r) => setTimeout(r, 10));
        }
      } finally {
        await watcher.end();
      }
      await other.query("COMMIT");
      await advancing;
    } finally {
      await other.end();
    }
    expect(h.pings).toHaveLength(1);
    expect(await runsOf(h, id)).toEqual([
      { kind: "scheduled", outcome: "ok", fireTime: Date.UTC(2026, 2, 28, 8, 0), detail: null },
    ]);
    expect(h.plugin.service.pipeline.heldRetries).toBeGreaterThan(0);
    expect(h.plugin.service.pipeline.heldLost).toBe(0);
  }, 60_000);

  it("hands back a fire skipped for a lock unless a run row shows another process claimed it", async () => {
    const repo = new ScheduleRepo(store.sql);
    const s = await insertPing(repo);
    const fire = { id: s.id, fireTime: 60_000, kind: "scheduled" as const };
    const other = await connect(schemaUrl);
    try {
      await other.query("BEGIN");
      await other.query("SELECT id FROM schedules WHERE id = $1 FOR UPDATE", [s.id]);
      // Held by a transaction that claims nothing: handed back.
      expect(await repo.claimMany([fire], { process: "a", at: 60_001 })).toEqual({ claimed: [], held: [fire] });
      // A waiting claim gives up at its lock timeout while the row stays held.
      await expect(repo.claimMany([fire], { process: "a", at: 60_002, wait: true, lockTimeoutMs: 50 })).rejects.toThrow(
        /lock timeout/,
      );
      // Held by another process's claim, which committed its run row: not handed back, not claimed twice.
      await other.query(
        `INSERT INTO schedule_runs (schedule_id, fire_time, kind, started_at, outcome, process)
         VALUES ($1, $2, 'scheduled', 60002, 'running', 'b')`,
        [s.id, fire.fireTime],
      );
      await other.query("COMMIT");
      await other.query("BEGIN");
      await other.query("SELECT id FROM schedules WHERE id = $1 FOR UPDATE", [s.id]);
      expect(await repo.claimMany([fire], { process: "a", at: 60_003 })).toEqual({ claimed: [], held: [] });
      await other.query("COMMIT");
      expect(await repo.claimMany([fire], { process: "a", at: 60_004, wait: true })).toEqual({ claimed: [], held: [] });
    } finally {
      await other.end();
    }
    expect(await repo.runs(s.id)).toMatchObject([{ process: "b" }]);
  }, 30_000);
});

/** A schedule that runs `/ping` every minute in chat t:c1, as the repo-level tests use it. */
function insertPing(repo: ScheduleRepo) {
  return repo.insert({
    chatKey: "t:c1",
    platform: "t",
    chatId: "c1",
    chatKind: "group",
    threadId: null,
    creatorId: "u1",
    creatorName: "u1",
    createdBy: "user",
    kind: "cron",
    expression: "0 * * * * *",
    runAt: null,
    timeZone: "UTC",
    isTzExplicit: false,
    commandLine: "/ping",
    missedPolicy: "skip",
    createdAt: 1_000,
  });
}
