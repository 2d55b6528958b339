/**
 * Schedules and their runs in the store (one SQL: embedded SQLite or PostgreSQL). A run row is also the
 * exactly-once claim: `(schedule_id, fire_time)` is unique for scheduled, catch-up and missed runs, so of several
 * processes racing for one fire, the one whose `INSERT … ON CONFLICT DO NOTHING` returns a row runs it.
 * Every change to a schedule takes a new `rev` (PostgreSQL: from a sequence; the embedded SQLite store, one
 * process and one writer: the highest rev plus one), so other processes can poll for changes.
 */
import type { ChatKind, Migration, SqlClient } from "../bot/index.ts";

/** Cron schedule or one-shot. */
export type ScheduleKind = "cron" | "once";
/** What to do with fires missed while no process was running. */
export type MissedPolicy = "skip" | "once";
/** Lifecycle of a schedule; `deleted` rows stay as tombstones so other processes see the deletion. */
export type ScheduleState = "active" | "paused" | "done" | "deleted";
/** Why a run row exists. */
export type RunKind = "scheduled" | "catchup" | "manual" | "missed";
/** How a run ended (`running` until it does). */
export type RunOutcome = "running" | "ok" | "error" | "skipped" | "missed";

/** One stored schedule. Times are epoch ms. */
export interface ScheduleRecord {
  id: string;
  chatKey: string;
  platform: string;
  chatId: string;
  chatKind: ChatKind;
  threadId: string | null;
  /** The creator's platform user id; fires run as this user. */
  creatorId: string;
  creatorName: string;
  /** `user`, `cli` or `skill:<name>`. */
  createdBy: string;
  kind: ScheduleKind;
  expression: string | null;
  runAt: number | null;
  timeZone: string;
  /** True when the zone was set on the schedule itself (it then ignores the chat's zone). */
  isTzExplicit: boolean;
  commandLine: string;
  missedPolicy: MissedPolicy;
  state: ScheduleState;
  createdAt: number;
  updatedAt: number;
  lastFireAt: number | null;
  lastOutcome: string | null;
  rev: number;
  /** Opt-in (`--spread`): every fire of this cron schedule is this many ms after its cron time (0: none). */
  spreadMs: number;
}

/** The fields that decide when a schedule fires. */
export type TimingRecord = Pick<
  ScheduleRecord,
  "id" | "kind" | "expression" | "runAt" | "timeZone" | "missedPolicy" | "createdAt" | "lastFireAt" | "rev" | "spreadMs"
>;

/** A new schedule. */
export type NewSchedule = Omit<
  ScheduleRecord,
  "id" | "state" | "updatedAt" | "lastFireAt" | "lastOutcome" | "rev" | "spreadMs"
> & { spreadMs?: number };

/** One run of a schedule. */
export interface RunRecord {
  id: string;
  scheduleId: string;
  fireTime: number;
  kind: RunKind;
  startedAt: number | null;
  endedAt: number | null;
  outcome: RunOutcome;
  detail: string | null;
  process: string | null;
}

/** The module's tables. */
export const SCHEDULES_MIGRATIONS: readonly Migration[] = [
  {
    id: "schedules-001-tables",
    sql: `
CREATE SEQUENCE IF NOT EXISTS schedules_rev_seq;
CREATE TABLE IF NOT EXISTS schedules (
  id bigserial PRIMARY KEY,
  chat_key text NOT NULL,
  platform text NOT NULL,
  chat_id text NOT NULL,
  chat_kind text NOT NULL,
  thread_id text,
  creator_id text NOT NULL,
  creator_name text NOT NULL,
  created_by text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('cron', 'once')),
  expression text,
  run_at bigint,
  time_zone text NOT NULL,
  tz_explicit boolean NOT NULL DEFAULT false,
  command_line text NOT NULL,
  missed_policy text NOT NULL CHECK (missed_policy IN ('skip', 'once')),
  state text NOT NULL CHECK (state IN ('active', 'paused', 'done', 'deleted')),
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  last_fire_at bigint,
  last_outcome text,
  rev bigint NOT NULL DEFAULT nextval('schedules_rev_seq')
);
CREATE INDEX IF NOT EXISTS schedules_chat_idx ON schedules (chat_key) WHERE state <> 'deleted';
CREATE INDEX IF NOT EXISTS schedules_rev_idx ON schedules (rev);
CREATE TABLE IF NOT EXISTS schedule_runs (
  id bigserial PRIMARY KEY,
  schedule_id bigint NOT NULL REFERENCES schedules (id),
  fire_time bigint NOT NULL,
  kind text NOT NULL CHECK (kind IN ('scheduled', 'catchup', 'manual', 'missed')),
  started_at bigint,
  ended_at bigint,
  outcome text NOT NULL,
  detail text,
  process text
);
CREATE UNIQUE INDEX IF NOT EXISTS schedule_runs_once_idx ON schedule_runs (schedule_id, fire_time) WHERE kind <> 'manual';
CREATE INDEX IF NOT EXISTS schedule_runs_schedule_idx ON schedule_runs (schedule_id, id);
`,
    sqlite: `
CREATE TABLE IF NOT EXISTS schedules (
  id INTEGER PRIMARY KEY,
  chat_key text NOT NULL,
  platform text NOT NULL,
  chat_id text NOT NULL,
  chat_kind text NOT NULL,
  thread_id text,
  creator_id text NOT NULL,
  creator_name text NOT NULL,
  created_by text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('cron', 'once')),
  expression text,
  run_at bigint,
  time_zone text NOT NULL,
  tz_explicit boolean NOT NULL DEFAULT false,
  command_line text NOT NULL,
  missed_policy text NOT NULL CHECK (missed_policy IN ('skip', 'once')),
  state text NOT NULL CHECK (state IN ('active', 'paused', 'done', 'deleted')),
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  last_fire_at bigint,
  last_outcome text,
  rev bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS schedules_chat_idx ON schedules (chat_key) WHERE state <> 'deleted';
CREATE INDEX IF NOT EXISTS schedules_rev_idx ON schedules (rev);
CREATE TABLE IF NOT EXISTS schedule_runs (
  id INTEGER PRIMARY KEY,
  schedule_id bigint NOT NULL REFERENCES schedules (id),
  fire_time bigint NOT NULL,
  kind text NOT NULL CHECK (kind IN ('scheduled', 'catchup', 'manual', 'missed')),
  started_at bigint,
  ended_at bigint,
  outcome text NOT NULL,
  detail text,
  process text
);
CREATE UNIQUE INDEX IF NOT EXISTS schedule_runs_once_idx ON schedule_runs (schedule_id, fire_time) WHERE kind <> 'manual';
CREATE INDEX IF NOT EXISTS schedule_runs_schedule_idx ON schedule_runs (schedule_id, id);
`,
  },
  {
    // The fixed offset of a spread schedule's fires (`--spread`); existing schedules are not spread.
    id: "core-040-schedule-spread",
    sql: "ALTER TABLE schedules ADD COLUMN spread_ms bigint NOT NULL DEFAULT 0",
  },
  {
    // The sweeper's look-up of runs left `running` past their lease (`closeAbandoned`): only unfinished runs.
    id: "sched-001-running-runs",
    sql: "CREATE INDEX IF NOT EXISTS schedule_runs_running_idx ON schedule_runs (started_at) WHERE outcome = 'running'",
  },
  {
    // PostgreSQL checked the run row's foreign key with a `FOR KEY SHARE` lock on the schedule's row at every
    // claim: a write to each schedule's tuple per fire (and a multixact where two processes claim side by side),
    // the schedules table back on the fire path. A claim inserts only fires of schedules it reads as existing and
    // active, and schedules are never removed (a deletion leaves a tombstone), so the key holds without the check.
    // The embedded SQLite store keeps it: there the check is an index look-up that locks nothing.
    id: "sched2-001-runs-unlocked-schedules",
    sql: "ALTER TABLE schedule_runs DROP CONSTRAINT IF EXISTS schedule_runs_schedule_id_fkey",
    sqlite: "SELECT 1",
  },
];

/** The SQL for "the next rev" on this driver. */
function nextRev(sql: SqlClient): string {
  return sql.driver === "postgres"
    ? "nextval('schedules_rev_seq')"
    : "(SELECT COALESCE(MAX(rev), 0) + 1 FROM schedules)";
}

const num = (v: unknown): number => Number(v);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

function toSchedule(r: Record<string, unknown>): ScheduleRecord {
  return {
    id: String(r.id),
    chatKey: String(r.chat_key),
    platform: String(r.platform),
    chatId: String(r.chat_id),
    chatKind: String(r.chat_kind) as ChatKind,
    threadId: strOrNull(r.thread_id),
    creatorId: String(r.creator_id),
    creatorName: String(r.creator_name),
    createdBy: String(r.created_by),
    kind: String(r.kind) as ScheduleKind,
    expression: strOrNull(r.expression),
    runAt: numOrNull(r.run_at),
    timeZone: String(r.time_zone),
    isTzExplicit: r.tz_explicit === true || r.tz_explicit === 1 || r.tz_explicit === "t",
    commandLine: String(r.command_line),
    missedPolicy: String(r.missed_policy) as MissedPolicy,
    state: String(r.state) as ScheduleState,
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
    lastFireAt: lastFireOf(r),
    lastOutcome:
      r.run_outcome === null || r.run_outcome === undefined
        ? strOrNull(r.last_outcome)
        : describeOutcome(String(r.run_outcome), strOrNull(r.run_detail), num(r.run_ended_at)),
    rev: num(r.rev),
    spreadMs: num(r.spread_ms ?? 0),
  };
}

/**
 * The last fire of a schedule: the latest fire time among its scheduled, catch-up and missed runs. The stored
 * `last_fire_at` column is no longer written (a claim writes only its run row); it still counts for rows written
 * before, and where a test sets it.
 */
function lastFireOf(r: Record<string, unknown>): number | null {
  const stored = numOrNull(r.last_fire_at);
  const fromRuns = numOrNull(r.run_last_fire_at);
  return stored === null ? fromRuns : fromRuns === null ? stored : Math.max(stored, fromRuns);
}

/** The latest fire time of a schedule's runs (`s`), through `schedule_runs_once_idx`. */
const LAST_FIRE_SQL =
  "(SELECT MAX(r.fire_time) FROM schedule_runs r WHERE r.schedule_id = s.id AND r.kind <> 'manual') AS run_last_fire_at";

/**
 * A schedule with its last fire and last outcome derived from its runs: the schedules table stays off the fire
 * path (a claim inserts a run row, a finish updates it, neither writes or locks the schedule's row), so these are
 * read where they are shown. Append `WHERE …` on `s`.
 */
const SCHEDULE_SELECT = `SELECT s.*, ${LAST_FIRE_SQL}, lr.outcome AS run_outcome, lr.detail AS run_detail, lr.ended_at AS run_ended_at
  FROM schedules s LEFT JOIN schedule_runs lr ON lr.id = (
    SELECT r.id FROM schedule_runs r WHERE r.schedule_id = s.id AND r.outcome <> 'running' ORDER BY r.id DESC LIMIT 1)`;

function toRun(r: Record<string, unknown>): RunRecord {
  return {
    id: String(r.id),
    scheduleId: String(r.schedule_id),
    fireTime: num(r.fire_time),
    kind: String(r.kind) as RunKind,
    startedAt: numOrNull(r.started_at),
    endedAt: numOrNull(r.ended_at),
    outcome: String(r.outcome) as RunOutcome,
    detail: strOrNull(r.detail),
    process: strOrNull(r.process),
  };
}

/** A claimed fire: the run row this process owns. */
export interface Claim {
  runId: string;
  schedule: ScheduleRecord;
}

/** SQL access for schedules. */
export class ScheduleRepo {
  readonly #sql: SqlClient;

  constructor(sql: SqlClient) {
    this.#sql = sql;
  }

  /** Insert a schedule (state `active`). */
  async insert(s: NewSchedule): Promise<ScheduleRecord> {
    const { rows } = await this.#sql.query(
      `INSERT INTO schedules (chat_key, platform, chat_id, chat_kind, thread_id, creator_id, creator_name, created_by,
         kind, expression, run_at, time_zone, tz_explicit, command_line, missed_policy, state, created_at, updated_at, rev,
         spread_ms)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,'active',$16,$16,${nextRev(this.#sql)},$17) RETURNING *`,
      [
        s.chatKey,
        s.platform,
        s.chatId,
        s.chatKind,
        s.threadId,
        s.creatorId,
        s.creatorName,
        s.createdBy,
        s.kind,
        s.expression,
        s.runAt,
        s.timeZone,
        s.isTzExplicit,
        s.commandLine,
        s.missedPolicy,
        s.createdAt,
        s.spreadMs ?? 0,
      ],
    );
    return toSchedule(rows[0]!);
  }

  /** One schedule by id (tombstones included). */
  async get(id: string): Promise<ScheduleRecord | undefined> {
    if (!/^\d{1,18}$/.test(id)) return undefined;
    const { rows } = await this.#sql.query(`${SCHEDULE_SELECT} WHERE s.id = $1`, [id]);
    return rows[0] === undefined ? undefined : toSchedule(rows[0]);
  }

  /** Active and paused schedules, of one chat or of all, oldest first. */
  async list(chatKey?: string): Promise<ScheduleRecord[]> {
    const { rows } =
      chatKey === undefined
        ? await this.#sql.query(`${SCHEDULE_SELECT} WHERE s.state IN ('active', 'paused') ORDER BY s.id`)
        : await this.#sql.query(
            `${SCHEDULE_SELECT} WHERE s.chat_key = $1 AND s.state IN ('active', 'paused') ORDER BY s.id`,
            [chatKey],
          );
    return rows.map(toSchedule);
  }

  /** Active and paused schedules in a chat, optionally only those created by one skill. */
  async count(chatKey: string, createdBy?: string): Promise<number> {
    const { rows } =
      createdBy === undefined
        ? await this.#sql.query<{ n: unknown }>(
            "SELECT count(*) AS n FROM schedules WHERE chat_key = $1 AND state IN ('active', 'paused')",
            [chatKey],
          )
        : await this.#sql.query<{ n: unknown }>(
            "SELECT count(*) AS n FROM schedules WHERE chat_key = $1 AND created_by = $2 AND state IN ('active', 'paused')",
            [chatKey, createdBy],
          );
    return num(rows[0]?.n ?? 0);
  }

  /** Every active schedule (full records). */
  async loadActive(): Promise<ScheduleRecord[]> {
    const { rows } = await this.#sql.query(`${SCHEDULE_SELECT} WHERE s.state = 'active'`);
    return rows.map(toSchedule);
  }

  /** Every active schedule, only what the engine needs (what a process loads at start). */
  async loadActiveTiming(): Promise<TimingRecord[]> {
    const { rows } = await this.#sql.query(
      `SELECT s.id, s.kind, s.expression, s.run_at, s.time_zone, s.missed_policy, s.created_at, s.last_fire_at, s.rev,
         s.spread_ms, ${LAST_FIRE_SQL} FROM schedules s WHERE s.state = 'active'`,
    );
    return rows.map((r) => ({
      id: String(r.id),
      kind: String(r.kind) as ScheduleKind,
      expression: strOrNull(r.expression),
      runAt: numOrNull(r.run_at),
      timeZone: String(r.time_zone),
      missedPolicy: String(r.missed_policy) as MissedPolicy,
      createdAt: num(r.created_at),
      lastFireAt: lastFireOf(r),
      rev: num(r.rev),
      spreadMs: num(r.spread_ms ?? 0),
    }));
  }

  /** Schedules changed after `rev`, in rev order. */
  async changedSince(rev: number): Promise<ScheduleRecord[]> {
    const { rows } = await this.#sql.query(`${SCHEDULE_SELECT} WHERE s.rev > $1 ORDER BY s.rev`, [rev]);
    return rows.map(toSchedule);
  }

  /** Change a schedule's state; `from` restricts which states may change. Returns the new record, or undefined. */
  async setState(
    id: string,
    state: ScheduleState,
    { from, at }: { from: readonly ScheduleState[]; at: number },
  ): Promise<ScheduleRecord | undefined> {
    if (from.length === 0) return undefined;
    const states = from.map((_, i) => `$${i + 4}`).join(", ");
    const { rows } = await this.#sql.query(
      `UPDATE schedules SET state = $2, updated_at = $3, rev = ${nextRev(this.#sql)}
       WHERE id = $1 AND state IN (${states}) RETURNING id`,
      [id, state, at, ...from],
    );
    return rows[0] === undefined ? undefined : this.get(id);
  }

  /** Give every schedule of a chat that follows the chat's zone a new zone. Returns how many changed. */
  async setChatTimeZone(chatKey: string, timeZone: string, at: number): Promise<number> {
    const { rows } = await this.#sql.query(
      `UPDATE schedules SET time_zone = $2, updated_at = $3, rev = ${nextRev(this.#sql)}
       WHERE chat_key = $1 AND NOT tz_explicit AND state IN ('active', 'paused') RETURNING id`,
      [chatKey, timeZone, at],
    );
    return rows.length;
  }

  /**
   * Claim one fire. Scheduled and catch-up claims succeed only while the schedule is active and nobody claimed
   * that fire time before; a one-shot becomes `done` with its claim. Manual runs always claim.
   */
  async claim(options: {
    id: string;
    fireTime: number;
    kind: Exclude<RunKind, "missed">;
    process: string;
    at: number;
  }): Promise<Claim | undefined> {
    return this.#sql.transaction(async (tx) => {
      const { rows: found } = await tx.query("SELECT * FROM schedules WHERE id = $1 FOR UPDATE", [options.id]);
      const row = found[0];
      if (row === undefined) return undefined;
      const schedule = toSchedule(row);
      if (options.kind !== "manual" && schedule.state !== "active") return undefined;
      if (options.kind === "manual" && schedule.state === "deleted") return undefined;
      const { rows } = await tx.query<{ id: unknown }>(
        `INSERT INTO schedule_runs (schedule_id, fire_time, kind, started_at, outcome, process)
         VALUES ($1, $2, $3, $4, 'running', $5)
         ON CONFLICT (schedule_id, fire_time) WHERE kind <> 'manual' DO NOTHING RETURNING id`,
        [options.id, options.fireTime, options.kind, options.at, options.process],
      );
      if (rows[0] === undefined) return undefined;
      // The run row records the fire (the last fire is derived from it); only a one-shot's row changes: it is done.
      if (options.kind !== "manual" && schedule.kind === "once")
        await tx.query(`UPDATE schedules SET state = 'done', updated_at = $2, rev = ${nextRev(tx)} WHERE id = $1`, [
          options.id,
          options.at,
        ]);
      return { runId: String(rows[0].id), schedule };
    });
  }

  /**
   * Claim a batch of scheduled or catch-up fires: one statement inserts a run row for every fire whose schedule is
   * active (`ON CONFLICT DO NOTHING`: a fire another process claimed is left out) and returns the won ones with
   * their schedules; a one-shot becomes `done`. The schedules' rows are read, not locked or written (the last fire
   * is derived from the runs), so a claim never waits for a finish, an edit or another process's claim of other
   * fires. It waits only where two processes insert the same fire: for the other's statement (a single statement,
   * committed at once) or for a finish updating that very run row; then the row conflicts and is left out, or, if
   * the other rolled back, the fire is this process's. Rows are inserted in `(schedule, fire time)` order, the
   * same in every process, so two claims never wait for each other in a cycle.
   */
  async claimMany(
    fires: ReadonlyArray<{ id: string; fireTime: number; kind: "scheduled" | "catchup" }>,
    options: { process: string; at: number },
  ): Promise<{ claimed: Array<Claim & { fireTime: number }> }> {
    const { process, at } = options;
    if (fires.length === 0) return { claimed: [] };
    if (this.#sql.driver === "postgres") {
      // One statement, committed on its own: no transaction round trips, nothing held while this process is busy.
      // The state is read per fire through the primary key (a join was planned as a scan of every schedule).
      const { rows } = await this.#sql.query(
        `WITH ins AS (
           INSERT INTO schedule_runs (schedule_id, fire_time, kind, started_at, outcome, process)
           SELECT f.id, f.t, f.k, $4, 'running', $5 FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS f(id, t, k)
           WHERE (SELECT s.state FROM schedules s WHERE s.id = f.id) = 'active'
           ORDER BY f.id, f.t
           ON CONFLICT (schedule_id, fire_time) WHERE kind <> 'manual' DO NOTHING
           RETURNING id, schedule_id, fire_time),
         done AS (
           UPDATE schedules s SET state = 'done', updated_at = $4, rev = nextval('schedules_rev_seq')
           WHERE s.id IN (SELECT schedule_id FROM ins) AND s.kind = 'once' AND s.state = 'active')
         SELECT ins.id AS run_id, ins.fire_time AS run_fire_time, s.* FROM ins JOIN schedules s ON s.id = ins.schedule_id`,
        [fires.map((f) => f.id), fires.map((f) => f.fireTime), fires.map((f) => f.kind), at, process],
      );
      return {
        claimed: rows.map((r) => ({
          runId: String(r.run_id),
          schedule: toSchedule(r),
          fireTime: Number(r.run_fire_time),
        })),
      };
    }
    return this.#sql.transaction(async (tx) => {
      const { rows: won } = await tx.query<{ id: unknown; schedule_id: unknown; fire_time: unknown }>(
        `INSERT INTO schedule_runs (schedule_id, fire_time, kind, started_at, outcome, process)
         SELECT json_extract(f.value, '$[0]'), json_extract(f.value, '$[1]'), json_extract(f.value, '$[2]'), $2, 'running', $3
         FROM json_each($1) AS f JOIN schedules s ON s.id = json_extract(f.value, '$[0]') AND s.state = 'active' WHERE true
         ON CONFLICT (schedule_id, fire_time) WHERE kind <> 'manual' DO NOTHING RETURNING id, schedule_id, fire_time`,
        [JSON.stringify(fires.map((f) => [Number(f.id), f.fireTime, f.kind])), at, process],
      );
      if (won.length === 0) return { claimed: [] };
      const ids = JSON.stringify([...new Set(won.map((r) => Number(r.schedule_id)))]);
      const { rows: found } = await tx.query("SELECT * FROM schedules WHERE id IN (SELECT value FROM json_each($1))", [
        ids,
      ]);
      const schedules = new Map(found.map((r) => [String(r.id), toSchedule(r)]));
      if (found.some((r) => r.kind === "once"))
        await tx.query(
          `UPDATE schedules SET state = 'done', updated_at = $2, rev = (SELECT MAX(rev) + 1 FROM schedules)
           WHERE id IN (SELECT value FROM json_each($1)) AND kind = 'once' AND state = 'active'`,
          [ids, at],
        );
      return {
        claimed: won.map((r) => ({
          runId: String(r.id),
          schedule: schedules.get(String(r.schedule_id))!,
          fireTime: Number(r.fire_time),
        })),
      };
    });
  }

  /**
   * Record how a batch of claimed runs ended: one statement, on the run rows only (this process's own; the last
   * outcome shown for a schedule is read from its runs). It locks nothing a claim holds, so a finish and another
   * process's claim never wait for each other in a cycle.
   */
  async finishMany(
    runs: ReadonlyArray<{
      runId: string;
      scheduleId: string;
      outcome: Exclude<RunOutcome, "running">;
      detail?: string;
      at: number;
    }>,
  ): Promise<void> {
    if (runs.length === 0) return;
    const details = runs.map((r) => (r.detail === undefined ? null : r.detail.slice(0, 500)));
    await (this.#sql.driver === "postgres"
      ? this.#sql.query(
          `UPDATE schedule_runs r SET ended_at = f.e, outcome = f.o, detail = f.d
           FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[]) AS f(id, e, o, d) WHERE r.id = f.id`,
          [runs.map((r) => r.runId), runs.map((r) => r.at), runs.map((r) => r.outcome), details],
        )
      : this.#sql.query(
          `UPDATE schedule_runs SET ended_at = json_extract(f.value, '$[1]'), outcome = json_extract(f.value, '$[2]'),
             detail = json_extract(f.value, '$[3]')
           FROM json_each($1) AS f WHERE schedule_runs.id = json_extract(f.value, '$[0]')`,
          [JSON.stringify(runs.map((r, i) => [Number(r.runId), r.at, r.outcome, details[i]]))],
        ));
  }

  /** Record how a claimed run ended (the schedule's last outcome is read from its runs). */
  async finish(options: {
    runId: string;
    scheduleId: string;
    outcome: Exclude<RunOutcome, "running">;
    detail?: string;
    at: number;
  }): Promise<void> {
    await this.finishMany([options]);
  }

  /**
   * Record fires missed while no process ran (one row for the latest missed time; the last fire is derived from
   * it); a one-shot is finished. Returns false when another process already accounted for that fire.
   */
  async recordMissed(options: { id: string; fireTime: number; count: number; at: number }): Promise<boolean> {
    return this.#sql.transaction(async (tx) => {
      const detail =
        options.count === 1
          ? "missed while no process was running"
          : `${options.count} fires missed while no process was running`;
      const { rows } = await tx.query(
        `INSERT INTO schedule_runs (schedule_id, fire_time, kind, started_at, ended_at, outcome, detail)
         VALUES ($1, $2, 'missed', NULL, $3, 'missed', $4)
         ON CONFLICT (schedule_id, fire_time) WHERE kind <> 'manual' DO NOTHING RETURNING id`,
        [options.id, options.fireTime, options.at, detail],
      );
      if (rows[0] === undefined) return false;
      // The missed run row is the record (last fire and outcome are read from it); a one-shot is finished.
      await tx.query(
        `UPDATE schedules SET state = 'done', updated_at = $2, rev = ${nextRev(tx)}
         WHERE id = $1 AND kind = 'once' AND state = 'active'`,
        [options.id, options.at],
      );
      return true;
    });
  }

  /**
   * Close runs still `running` that started before `beforeMs` (their lease ran out): the process running them
   * ended during the run, or never got their outcome written. They become `error` with `detail`, never `ok`
   * (a live process whose outcome is written later overwrites it). On PostgreSQL rows another transaction holds
   * are skipped (`FOR UPDATE SKIP LOCKED`), so sweeping processes never wait on each other or on a finish.
   * At most `limit` rows a call. Returns how many.
   */
  async closeAbandoned(options: { beforeMs: number; at: number; detail: string; limit?: number }): Promise<number> {
    const isPg = this.#sql.driver === "postgres";
    const { rows } = await this.#sql.query(
      `UPDATE schedule_runs SET outcome = 'error', ended_at = $2, detail = $3
       WHERE id IN (SELECT id FROM schedule_runs WHERE outcome = 'running' AND started_at < $1
                    ORDER BY started_at LIMIT $4${isPg ? " FOR UPDATE SKIP LOCKED" : ""})
         AND outcome = 'running' RETURNING id`,
      [options.beforeMs, options.at, options.detail, options.limit ?? 10_000],
    );
    return rows.length;
  }

  /** Runs of a schedule, newest first. */
  async runs(scheduleId: string, limit = 20): Promise<RunRecord[]> {
    const { rows } = await this.#sql.query(
      "SELECT * FROM schedule_runs WHERE schedule_id = $1 ORDER BY id DESC LIMIT $2",
      [scheduleId, limit],
    );
    return rows.map(toRun);
  }
}

function describeOutcome(outcome: string, detail: string | null, at: number): string {
  const text = detail === null ? outcome : `${outcome}: ${detail}`;
  return JSON.stringify({ outcome, text: text.slice(0, 200), at });
}
