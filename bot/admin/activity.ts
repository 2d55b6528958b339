/**
 * What the console's dashboard shows besides LLM usage and messages per platform (`bot/message-counts.ts`): the
 * commands and skills run most, and recent errors. Counted in memory as messages pass (a map of at most `MAX_PENDING_KEYS`
 * day, platform and name cells, plus at most `MAX_PENDING_ERRORS` error events), and written every `FLUSH_MS`
 * as upserts into daily aggregates (`activity_daily`, one row per day, kind, platform and name), so the top
 * commands of 30 days read at most 30 × commands × platforms rows, never a scan of messages. Recent errors keep
 * their last `KEPT_ERRORS` events; daily rows are kept `RETENTION_DAYS`. The tables are the core migration
 * `core-060-activity`.
 */
import type { Clock } from "../core.ts";
import type { Inbound } from "../model.ts";
import type { SqlClient } from "../storage/types.ts";

const DAY_MS = 86_400_000;
/** How often pending counts are written. */
export const FLUSH_MS = 5_000;
/** Pending cells before an early write (a burst of many commands on many platforms). */
const MAX_PENDING_KEYS = 2_000;
/** Pending error events kept between writes; older ones in the same window are counted, not listed. */
const MAX_PENDING_ERRORS = 100;
/** Error events kept for "recent errors". */
const KEPT_ERRORS = 200;
/** Days of daily rows kept. */
export const RETENTION_DAYS = 400;

/** `YYYY-MM-DD` in UTC, the days the usage figures are kept in too. */
export const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** Counts commands and errors, and writes them in batches. */
export class ActivityRecorder {
  readonly #sql: SqlClient;
  readonly #clock: Clock;
  readonly #commandOf: (name: string) => { skill?: string } | undefined;
  #pending = new Map<string, number>();
  #errors: { at: number; code: string }[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #writing: Promise<void> = Promise.resolve();
  #prunedDay = "";

  /** `commandOf` names a registered command's skill (`skill` absent for a built-in), or is undefined for none. */
  constructor(o: { sql: SqlClient; clock: Clock; commandOf: (name: string) => { skill?: string } | undefined }) {
    this.#sql = o.sql;
    this.#clock = o.clock;
    this.#commandOf = o.commandOf;
  }

  /** A message arrived from a platform: count it when it names a known command, and its skill when it has one. */
  inbound(inbound: Pick<Inbound, "platform" | "command">): void {
    const name = inbound.command?.name;
    const def = name === undefined ? undefined : this.#commandOf(name);
    if (def === undefined) return;
    const day = dayOf(this.#clock.now());
    this.#add(`${day}\tcommand\t${inbound.platform}\t${name}`);
    if (def.skill !== undefined) this.#add(`${day}\tskill\t${inbound.platform}\t${def.skill}`);
  }

  /** A handler failed, or a message was refused, with this code. */
  error(code: string): void {
    const at = this.#clock.now();
    this.#add(`${dayOf(at)}\terror\t*\t${code}`);
    if (this.#errors.length < MAX_PENDING_ERRORS) this.#errors.push({ at, code });
  }

  /** Write what is pending now (and wait for writes under way). */
  flush(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const cells = this.#pending;
    const errors = this.#errors;
    this.#pending = new Map();
    this.#errors = [];
    this.#writing = this.#writing
      .catch(() => undefined)
      .then(() => this.#write(cells, errors))
      .catch((error: unknown) => {
        // Kept for the next write (the database may be back by then); error events stay capped.
        for (const [key, n] of cells) this.#pending.set(key, (this.#pending.get(key) ?? 0) + n);
        this.#errors = [...errors, ...this.#errors].slice(-MAX_PENDING_ERRORS);
        throw error;
      });
    return this.#writing;
  }

  #add(key: string): void {
    this.#pending.set(key, (this.#pending.get(key) ?? 0) + 1);
    if (this.#pending.size >= MAX_PENDING_KEYS) void this.flush().catch(() => undefined);
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => void this.flush().catch(() => undefined), FLUSH_MS);
      this.#timer.unref?.();
    }
  }

  async #write(cells: Map<string, number>, errors: { at: number; code: string }[]): Promise<void> {
    if (cells.size === 0 && errors.length === 0) return;
    const today = dayOf(this.#clock.now());
    await this.#sql.transaction(async (tx) => {
      for (const [key, n] of cells) {
        const [day, kind, platform, name] = key.split("\t");
        await tx.query(
          `INSERT INTO activity_daily (day, kind, platform, name, count) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (day, kind, platform, name) DO UPDATE SET count = activity_daily.count + excluded.count`,
          [day, kind, platform, name, n],
        );
      }
      for (const e of errors) await tx.query("INSERT INTO activity_errors (at, code) VALUES ($1, $2)", [e.at, e.code]);
      if (errors.length > 0)
        await tx.query(
          `DELETE FROM activity_errors WHERE at < (SELECT min(at) FROM (SELECT at FROM activity_errors ORDER BY at DESC LIMIT ${KEPT_ERRORS}) AS kept)`,
        );
      if (this.#prunedDay !== today) {
        await tx.query("DELETE FROM activity_daily WHERE day < $1", [
          dayOf(this.#clock.now() - RETENTION_DAYS * DAY_MS),
        ]);
        this.#prunedDay = today;
      }
    });
  }
}
