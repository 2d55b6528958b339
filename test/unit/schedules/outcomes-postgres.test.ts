/**
 * Outcomes of schedule fires on real PostgreSQL (a fresh schema per run): a finish never deadlocks against
 * another process's claim of the same schedule, and a finish the store refuses is written on a later try. Both
 * once left runs `running` although their command had run (the two-process burst test saw it under load). A claim
 * neither locks nor waits for the schedule's row; it waits only for another claim or a finish of the same fire.
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

  it("finishes a batch while another process's late claim of the same fire is open, without a deadlock", async () => {
    const repo = new ScheduleRepo(store.sql);
    const s = await insertPing(repo);
    const fireTime = 60_000;
    const row = async () => (await store.sql.query("SELECT * FROM schedules WHERE id = $1", [s.id])).rows[0];
    const before = await row();
    const {
      claimed: [claim],
    } = await repo.claimMany([{ id: s.id, fireTime, kind: "scheduled" }], { process: "a", at: 60_001 });
    expect(claim).toBeDefined();
    // The other process's claim of the same fire, late, left open: it once held the schedule's row (`FOR UPDATE`)
    // and the finish, which wrote the schedule's last outcome, waited for it while the claim's insert waited for the
    // finish; PostgreSQL aborted one of the two. Now neither touches the schedule's row.
    const other = await connect(schemaUrl);
    try {
      await other.query("BEGIN");
      const late = await other.query(
        `INSERT INTO schedule_runs (schedule_id, fire_time, kind, started_at, outcome, process)
         SELECT $1, $2, 'scheduled', 60002, 'running', 'b' WHERE (SELECT state FROM schedules WHERE id = $1) = 'active'
         ON CONFLICT (schedule_id, fire_time) WHERE kind <> 'manual' DO NOTHING RETURNING id`,
        [s.id, fireTime],
      );
      expect(late.rows).toEqual([]); // the fire was this process's
      // With the claim still open, the finish is written (it would wait for the open transaction forever otherwise).
      await repo.finishMany([{ runId: claim!.runId, scheduleId: s.id, outcome: "ok", at: 60_010 }]);
      await other.query("COMMIT");
    } finally {
      await other.end();
    }
    const [run] = await repo.runs(s.id);
    expect(run).toMatchObject({ outcome: "ok", process: "a" });
    expect(JSON.parse((await repo.get(s.id))!.lastOutcome!)).toMatchObject({ outcome: "ok", at: 60_010 });
    expect((await repo.get(s.id))!.lastFireAt).toBe(fireTime);
    // A claim and a finish leave the schedule's row as it was: the last fire and outcome come from the runs.
    expect(await row()).toEqual(before);
  }, 30_000);

  it("claims while a finish of the same fire is open only after it, and never twice", async () => {
    const repo = new ScheduleRepo(store.sql);
    const s = await insertPing(repo);
    const fire = { id: s.id, fireTime: 60_000, kind: "scheduled" as const };
    const {
      claimed: [claim],
    } = await repo.claimMany([fire], { process: "a", at: 60_001 });
    // Process a's finish, open: it has updated the run row.
    const finishing = await connect(schemaUrl);
    try {
      await finishing.query("BEGIN");
      const pid = Number((await finishing.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid);
      await finishing.query("UPDATE schedule_runs SET outcome = 'ok', ended_at = 60010 WHERE id = $1", [claim!.runId]);
      // Process b's late claim of the same fire waits for that finish, and only for it ...
      const late = repo.claimMany([fire], { process: "b", at: 60_002 });
      await waitUntilBlockedBy(pid);
      await finishing.query("COMMIT");
      // ... then finds the fire taken.
      expect(await late).toEqual({ claimed: [] });
    } finally {
      await finishing.end();
    }
    expect(await repo.runs(s.id)).toMatchObject([{ process: "a", outcome: "ok" }]);
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
  it("claims a fire whose schedule's row another transaction holds at its fire time, without waiting for it", async () => {
    const time = new FakeTime(Date.UTC(2026, 2, 27, 12, 0));
    const h = await startHarness({ time, store });
    open = h;
    const id = idOf((await h.say('/schedule add "0 9 * * *" /ping'))[0]);
    // Another transaction (a pause or a zone change committing, or a process of an older version) holds the row
    // across the fire time. The claim once passed it by (`SKIP LOCKED`) and had to claim it again after the lock
    // went; now it reads the row and does not lock it, so the fire runs while the row is still held.
    const other = await connect(schemaUrl);
    try {
      await other.query("BEGIN");
      await other.query("SELECT id FROM schedules WHERE id = $1 FOR UPDATE", [id]);
      await h.advanceTo(Date.UTC(2026, 2, 28, 8, 1));
      expect(h.pings).toHaveLength(1);
      await other.query("COMMIT");
    } finally {
      await other.end();
    }
    expect(await runsOf(h, id)).toEqual([
      { kind: "scheduled", outcome: "ok", fireTime: Date.UTC(2026, 2, 28, 8, 0), detail: null },
    ]);
    expect(h.plugin.service.pipeline.heldRetries).toBe(0);
    expect(h.plugin.service.pipeline.heldLost).toBe(0);
  }, 60_000);

  it("claims a fire another process's claim rolled back, and none that it committed", async () => {
    const repo = new ScheduleRepo(store.sql);
    const s = await insertPing(repo);
    const fire = { id: s.id, fireTime: 60_000, kind: "scheduled" as const };
    const other = await connect(schemaUrl);
    try {
      const pid = Number((await other.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid);
      const claimByOther = () =>
        other.query(
          `INSERT INTO schedule_runs (schedule_id, fire_time, kind, started_at, outcome, process)
           VALUES ($1, $2, 'scheduled', 60002, 'running', 'b')`,
          [s.id, fire.fireTime],
        );
      // The other process's claim is in progress: this claim waits for it. It rolls back: the fire is this one's.
      await other.query("BEGIN");
      await claimByOther();
      let claiming = repo.claimMany([fire], { process: "a", at: 60_003 });
      await waitUntilBlockedBy(pid);
      await other.query("ROLLBACK");
      expect((await claiming).claimed).toMatchObject([{ fireTime: fire.fireTime, schedule: { id: s.id } }]);
      // The next fire: the other process's claim commits, and this one claims nothing.
      fire.fireTime = 120_000;
      await other.query("BEGIN");
      await claimByOther();
      claiming = repo.claimMany([fire], { process: "a", at: 120_003 });
      await waitUntilBlockedBy(pid);
      await other.query("COMMIT");
      expect(await claiming).toEqual({ claimed: [] });
    } finally {
      await other.end();
    }
    expect((await repo.runs(s.id)).map((r) => [r.fireTime, r.process])).toEqual([
      [120_000, "b"],
      [60_000, "a"],
    ]);
  }, 30_000);
});

/** Resolves once some session waits for a lock that session `pid` holds. */
async function waitUntilBlockedBy(pid: number): Promise<void> {
  const watcher = await connect();
  try {
    for (;;) {
      const { rows } = await watcher.query<{ n: string }>(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
        [pid],
      );
      if (Number(rows[0]!.n) > 0) return;
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    await watcher.end();
  }
}

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
