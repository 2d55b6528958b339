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
    lastFireAt: numOrNull(r.last_fire_at),
    lastOutcome: strOrNull(r.last_outcome),
    rev: num(r.rev),
    spreadMs: num(r.spread_ms ?? 0),
  };
}

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
    const { rows } = await this.#sql.query("SELECT * FROM schedules WHERE id = $1", [id]);
    return rows[0] === undefined ? undefined : toSchedule(rows[0]);
  }

  /** Active and paused schedules, of one chat or of all, oldest first. */
  async list(chatKey?: string): Promise<ScheduleRecord[]> {
    const { rows } =
      chatKey === undefined
        ? await this.#sql.query("SELECT * FROM schedules WHERE state IN ('active', 'paused') ORDER BY id")
        : await this.#sql.query(
            "SELECT * FROM schedules WHERE chat_key = $1 AND state IN ('active', 'paused') ORDER BY id",
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
    const { rows } = await this.#sql.query("SELECT * FROM schedules WHERE state = 'active'");
    return rows.map(toSchedule);
  }

  /** Every active schedule, only what the engine needs (what a process loads at start). */
  async loadActiveTiming(): Promise<TimingRecord[]> {
    const { rows } = await this.#sql.query(
      "SELECT id, kind, expression, run_at, time_zone, missed_policy, created_at, last_fire_at, rev, spread_ms FROM schedules WHERE state = 'active'",
    );
    return rows.map((r) => ({
      id: String(r.id),
      kind: String(r.kind) as ScheduleKind,
      expression: strOrNull(r.expression),
      runAt: numOrNull(r.run_at),
      timeZone: String(r.time_zone),
      missedPolicy: String(r.missed_policy) as MissedPolicy,
      createdAt: num(r.created_at),
      lastFireAt: numOrNull(r.last_fire_at),
      rev: num(r.rev),
      spreadMs: num(r.spread_ms ?? 0),
    }));
  }

  /** Schedules changed after `rev`, in rev order. */
  async changedSince(rev: number): Promise<ScheduleRecord[]> {
    const { rows } = await this.#sql.query("SELECT * FROM schedules WHERE rev > $1 ORDER BY rev", [rev]);
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
       WHERE id = $1 AND state IN (${states}) RETURNING *`,
      [id, state, at, ...from],
    );
    return rows[0] === undefined ? undefined : toSchedule(rows[0]);
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
      if (options.kind !== "manual") {
        const done = schedule.kind === "once";
        await tx.query(
          done
            ? `UPDATE schedules SET last_fire_at = GREATEST(COALESCE(last_fire_at, 0), $2), state = 'done', updated_at = $3,
                 rev = ${nextRev(tx)} WHERE id = $1`
            : "UPDATE schedules SET last_fire_at = GREATEST(COALESCE(last_fire_at, 0), $2) WHERE id = $1",
          done ? [options.id, options.fireTime, options.at] : [options.id, options.fireTime],
        );
      }
      return { runId: String(rows[0].id), schedule };
    });
  }

  /**
   * Claim a batch of scheduled or catch-up fires in one transaction: the schedules still active are locked
   * (`FOR UPDATE SKIP LOCKED` on PostgreSQL: a schedule another process is claiming is left to it), one
   * statement inserts every run row (`ON CONFLICT DO NOTHING`: a fire another process claimed is left out), one
   * moves `last_fire_at` on and finishes one-shots. Returns the fires this process won, with their schedules, and
   * the fires left `held`: their schedule is still active, its row was locked, and no run row is committed for
   * them, so nobody may have claimed them (the lock may be a finish or an edit, not a claim). The caller tries
   * those again with `wait`: the schedule rows are then locked without `SKIP LOCKED`, waiting at most
   * `lockTimeoutMs` (default 2 s; past it the claim is refused with PostgreSQL's lock timeout error).
   */
  async claimMany(
    fires: ReadonlyArray<{ id: string; fireTime: number; kind: "scheduled" | "catchup" }>,
    options: { process: string; at: number; wait?: boolean; lockTimeoutMs?: number },
  ): Promise<{ claimed: Array<Claim & { fireTime: number }>; held: typeof fires }> {
    const { process, at } = options;
    if (fires.length === 0) return { claimed: [], held: [] };
    const isPg = this.#sql.driver === "postgres";
    const isWaiting = isPg && options.wait === true;
    return this.#sql.transaction(async (tx) => {
      const ids = [...new Set(fires.map((f) => f.id))];
      if (isWaiting)
        await tx.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.floor(options.lockTimeoutMs ?? 2_000))}`);
      const { rows: found } = await tx.query(
        isPg
          ? `SELECT * FROM schedules WHERE id = ANY($1::bigint[]) AND state = 'active' ORDER BY id FOR UPDATE${isWaiting ? "" : " SKIP LOCKED"}`
          : "SELECT * FROM schedules WHERE id IN (SELECT value FROM json_each($1)) AND state = 'active'",
        [isPg ? ids : JSON.stringify(ids.map(Number))],
      );
      const active = new Map(found.map((r) => [String(r.id), toSchedule(r)]));
      // Skipped schedules: locked by a claim (its run row shows once it commits), a finish or an edit. Those still
      // active whose fire has no committed run row are handed back to be tried again.
      let held: typeof fires = [];
      if (isPg && !isWaiting && active.size < ids.length) {
        const skipped = fires.filter((f) => !active.has(f.id));
        const { rows } = await tx.query<{ id: unknown; t: unknown }>(
          `SELECT f.id, f.t FROM unnest($1::bigint[], $2::bigint[]) AS f(id, t)
           JOIN schedules s ON s.id = f.id AND s.state = 'active'
           WHERE NOT EXISTS (SELECT 1 FROM schedule_runs r WHERE r.schedule_id = f.id AND r.fire_time = f.t AND r.kind <> 'manual')`,
          [skipped.map((f) => f.id), skipped.map((f) => f.fireTime)],
        );
        const open = new Set(rows.map((r) => `${String(r.id)}:${Number(r.t)}`));
        held = skipped.filter((f) => open.has(`${f.id}:${f.fireTime}`));
      }
      const wanted = fires.filter((f) => active.has(f.id));
      if (wanted.length === 0) return { claimed: [], held };
      const { rows: won } = await tx.query<{ id: unknown; schedule_id: unknown; fire_time: unknown }>(
        isPg
          ? `INSERT INTO schedule_runs (schedule_id, fire_time, kind, started_at, outcome, process)
             SELECT f.id, f.t, f.k, $4, 'running', $5 FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS f(id, t, k)
             ON CONFLICT (schedule_id, fire_time) WHERE kind <> 'manual' DO NOTHING RETURNING id, schedule_id, fire_time`
          : `INSERT INTO schedule_runs (schedule_id, fire_time, kind, started_at, outcome, process)
             SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), $2, 'running', $3
             FROM json_each($1) WHERE true
             ON CONFLICT (schedule_id, fire_time) WHERE kind <> 'manual' DO NOTHING RETURNING id, schedule_id, fire_time`,
        isPg
          ? [wanted.map((f) => f.id), wanted.map((f) => f.fireTime), wanted.map((f) => f.kind), at, process]
          : [JSON.stringify(wanted.map((f) => [Number(f.id), f.fireTime, f.kind])), at, process],
      );
      if (won.length === 0) return { claimed: [], held };
      const claimed = won.map((r) => ({
        runId: String(r.id),
        schedule: active.get(String(r.schedule_id))!,
        fireTime: Number(r.fire_time),
      }));
      await tx.query(
        isPg
          ? `UPDATE schedules s SET last_fire_at = GREATEST(COALESCE(s.last_fire_at, 0), c.t),
               state = CASE WHEN s.kind = 'once' THEN 'done' ELSE s.state END,
               updated_at = CASE WHEN s.kind = 'once' THEN $3 ELSE s.updated_at END,
               rev = CASE WHEN s.kind = 'once' THEN nextval('schedules_rev_seq') ELSE s.rev END
             FROM (SELECT id, MAX(t) AS t FROM unnest($1::bigint[], $2::bigint[]) AS f(id, t) GROUP BY id) AS c
             WHERE s.id = c.id`
          : `UPDATE schedules SET last_fire_at = MAX(COALESCE(last_fire_at, 0), c.t),
               state = CASE WHEN kind = 'once' THEN 'done' ELSE state END,
               updated_at = CASE WHEN kind = 'once' THEN $2 ELSE updated_at END,
               rev = CASE WHEN kind = 'once' THEN (SELECT MAX(rev) + 1 FROM schedules) ELSE rev END
             FROM (SELECT json_extract(value, '$[0]') AS id, MAX(json_extract(value, '$[1]')) AS t
                   FROM json_each($1) GROUP BY 1) AS c
             WHERE schedules.id = c.id`,
        isPg
          ? [claimed.map((c) => c.schedule.id), claimed.map((c) => c.fireTime), at]
          : [JSON.stringify(claimed.map((c) => [Number(c.schedule.id), c.fireTime])), at],
      );
      return { claimed, held };
    });
  }

  /** Record how a batch of claimed runs ended (one statement for the runs, one for the schedules' last outcome). */
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
    const isPg = this.#sql.driver === "postgres";
    const details = runs.map((r) => (r.detail === undefined ? null : r.detail.slice(0, 500)));
    // The last outcome of each schedule in the batch.
    const last = new Map<string, string>();
    for (let i = 0; i < runs.length; i++) {
      const r = runs[i]!;
      last.set(r.scheduleId, describeOutcome(r.outcome, details[i]!, r.at));
    }
    await this.#sql.transaction(async (tx) => {
      // The schedules first, in id order, and only then the runs. The other way round deadlocked on PostgreSQL
      // against another process's claim: the claim holds a schedule (`FOR UPDATE`) and its `INSERT … ON CONFLICT`
      // waits for this transaction, which had updated the conflicting run row, while this one waited for that
      // schedule to write its last outcome. PostgreSQL then aborted one of the two; when it was this one, the
      // outcomes of the whole batch were lost and the runs stayed `running`.
      if (isPg)
        await tx.query("SELECT id FROM schedules WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE", [
          [...last.keys()],
        ]);
      await tx.query(
        isPg
          ? `UPDATE schedule_runs r SET ended_at = f.e, outcome = f.o, detail = f.d
             FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[]) AS f(id, e, o, d) WHERE r.id = f.id`
          : `UPDATE schedule_runs SET ended_at = json_extract(f.value, '$[1]'), outcome = json_extract(f.value, '$[2]'),
               detail = json_extract(f.value, '$[3]')
             FROM json_each($1) AS f WHERE schedule_runs.id = json_extract(f.value, '$[0]')`,
        isPg
          ? [runs.map((r) => r.runId), runs.map((r) => r.at), runs.map((r) => r.outcome), details]
          : [JSON.stringify(runs.map((r, i) => [Number(r.runId), r.at, r.outcome, details[i]]))],
      );
      await tx.query(
        isPg
          ? `UPDATE schedules s SET last_outcome = f.lo FROM unnest($1::bigint[], $2::text[]) AS f(id, lo) WHERE s.id = f.id`
          : `UPDATE schedules SET last_outcome = json_extract(f.value, '$[1]')
             FROM json_each($1) AS f WHERE schedules.id = json_extract(f.value, '$[0]')`,
        isPg ? [[...last.keys()], [...last.values()]] : [JSON.stringify([...last].map(([id, lo]) => [Number(id), lo]))],
      );
    });
  }

  /** Record how a claimed run ended, and remember it as the schedule's last outcome. */
  async finish(options: {
    runId: string;
    scheduleId: string;
    outcome: Exclude<RunOutcome, "running">;
    detail?: string;
    at: number;
  }): Promise<void> {
    const detail = options.detail === undefined ? null : options.detail.slice(0, 500);
    await this.#sql.transaction(async (tx) => {
      await tx.query("UPDATE schedule_runs SET ended_at = $2, outcome = $3, detail = $4 WHERE id = $1", [
        options.runId,
        options.at,
        options.outcome,
        detail,
      ]);
      await tx.query("UPDATE schedules SET last_outcome = $2 WHERE id = $1", [
        options.scheduleId,
        describeOutcome(options.outcome, detail, options.at),
      ]);
    });
  }

  /**
   * Record fires missed while no process ran (one row for the latest missed time) and move `last_fire_at` past
   * them; a one-shot is finished. Returns false when another process already accounted for that fire.
   */
  async recordMissed(options: { id: string; fireTime: number; count: number; at: number }): Promise<boolean> {
    return this.#sql.transaction(async (tx) => {
      // The schedule first (see `finishMany`): a claim holding it may be inserting the same fire's run row.
      if (tx.driver === "postgres") await tx.query("SELECT id FROM schedules WHERE id = $1 FOR UPDATE", [options.id]);
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
      await tx.query(
        `UPDATE schedules SET last_fire_at = GREATEST(COALESCE(last_fire_at, 0), $2), last_outcome = $3,
           state = CASE WHEN kind = 'once' AND state = 'active' THEN 'done' ELSE state END,
           rev = CASE WHEN kind = 'once' AND state = 'active' THEN ${nextRev(tx)} ELSE rev END
         WHERE id = $1`,
        [options.id, options.fireTime, describeOutcome("missed", null, options.at)],
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
