/**
 * What the console's dashboard shows besides LLM usage: messages per platform per day, the commands run most,
 * and recent errors. Counted in memory as messages pass (a map of at most `MAX_PENDING_KEYS` day, platform and
 * name cells, plus at most `MAX_PENDING_ERRORS` error events), and written every `FLUSH_MS` as upserts into daily
 * aggregates (`activity_daily`, one row per day, platform, kind and name), so a 90-day chart reads at most
 * 90 × platforms rows, never a scan of messages. Recent errors keep their last `KEPT_ERRORS` events; daily rows
 * are kept `RETENTION_DAYS`. The tables are the core migration `core-060-activity`.
 */
import { z } from "zod";
import type { ApiAccess, Clock } from "../core.ts";
import { ApiError, defineRoute, type ApiRoute } from "../http/routes.ts";
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
const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** Counts messages, commands and errors, and writes them in batches. */
export class ActivityRecorder {
  readonly #sql: SqlClient;
  readonly #clock: Clock;
  readonly #isCommand: (name: string) => boolean;
  #pending = new Map<string, number>();
  #errors: { at: number; code: string }[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #writing: Promise<void> = Promise.resolve();
  #prunedDay = "";

  constructor(o: { sql: SqlClient; clock: Clock; isCommand: (name: string) => boolean }) {
    this.#sql = o.sql;
    this.#clock = o.clock;
    this.#isCommand = o.isCommand;
  }

  /** A message arrived from a platform (before dedupe and limits: what the platform sent). */
  inbound(inbound: Pick<Inbound, "platform" | "command">): void {
    const day = dayOf(this.#clock.now());
    this.#add(`${day}\tmessage\t${inbound.platform}\t`);
    const name = inbound.command?.name;
    if (name !== undefined && this.#isCommand(name)) this.#add(`${day}\tcommand\t${inbound.platform}\t${name}`);
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
    this.#writing = this.#writing.then(() => this.#write(cells, errors));
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

const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "a day is YYYY-MM-DD");
const errorSchema = z.object({ error: z.string(), message: z.string() });

/** `GET /api/activity`: messages per platform and day, top commands, recent errors (bot owners). */
export function activityRoutes(o: { sql: SqlClient; clock: Clock; access: ApiAccess }): ApiRoute[] {
  return [
    defineRoute({
      method: "GET",
      url: "/api/activity",
      summary: "Messages per platform and day, the most run commands, and recent errors, bot-wide (bot owners)",
      tags: ["usage"],
      access: { scope: "read" },
      schema: {
        querystring: z.object({ from: day.optional(), to: day.optional() }),
        response: {
          200: z.object({
            messages: z.array(z.object({ day: z.string(), platform: z.string(), count: z.number() })),
            commands: z.array(z.object({ name: z.string(), count: z.number() })),
            errors: z.array(z.object({ at: z.number(), code: z.string() })),
          }),
          403: errorSchema,
        },
      },
      handler: async ({ principal, query }) => {
        if (principal === undefined) throw new ApiError(401, "E_UNAUTHENTICATED", "sign in first");
        o.access.requireOwner(principal);
        const to = query.to ?? dayOf(o.clock.now());
        const from = query.from ?? dayOf(Date.parse(`${to}T00:00:00Z`) - 29 * DAY_MS);
        const num = (v: unknown) => Number(v ?? 0);
        const messages = await o.sql.query<{ day: string; platform: string; n: unknown }>(
          `SELECT day, platform, sum(count) AS n FROM activity_daily
           WHERE kind = 'message' AND day >= $1 AND day <= $2 GROUP BY day, platform ORDER BY day, platform`,
          [from, to],
        );
        const commands = await o.sql.query<{ name: string; n: unknown }>(
          `SELECT name, sum(count) AS n FROM activity_daily
           WHERE kind = 'command' AND day >= $1 AND day <= $2 GROUP BY name ORDER BY n DESC, name LIMIT 10`,
          [from, to],
        );
        const errors = await o.sql.query<{ at: unknown; code: string }>(
          "SELECT at, code FROM activity_errors WHERE at >= $1 AND at < $2 ORDER BY at DESC LIMIT 20",
          [Date.parse(`${from}T00:00:00Z`), Date.parse(`${to}T00:00:00Z`) + DAY_MS],
        );
        return {
          status: 200,
          body: {
            messages: messages.rows.map((r) => ({ day: r.day, platform: r.platform, count: num(r.n) })),
            commands: commands.rows.map((r) => ({ name: r.name, count: num(r.n) })),
            errors: errors.rows.map((r) => ({ at: num(r.at), code: r.code })),
          },
        };
      },
    }),
  ];
}
