/**
 * Cron expressions in node-cron's syntax (5 or 6 fields, names, ranges, steps, `L`, `W`, `#`, nicknames such
 * as `@daily`), validated and parsed by node-cron itself. On top of node-cron's parsed fields this file computes
 * the next matching wall-clock time on a naive (zone-less) calendar; `next-fire.ts` maps wall-clock to instants.
 * Day of month and day of week must both match, as in node-cron.
 */
import nodeCron, { type ParsedFields } from "node-cron";
import cronstrue from "cronstrue";
import { SwitchboardError } from "../bot/index.ts";
import { DAY_MS } from "./zone.ts";

/** Scan this many days ahead at most (node-cron scans 100 years; 30 covers a Feb 29 on a given weekday). */
const MAX_SCAN_DAYS = 366 * 30;

const CRON_EXAMPLES =
  '"*/5 * * * *" (every 5 minutes), "0 9 * * 1-5" (09:00 on weekdays), "*/30 * * * * *" (every 30 seconds)';

/** A validated, parsed cron expression. */
export interface CompiledCron {
  readonly expression: string;
  /** True when the hour field names every hour: such schedules follow real time across DST changes. */
  readonly isEveryHour: boolean;
  /** The first matching naive wall-clock ms in `[fromMs, toMs)` (whole seconds), or undefined. */
  nextNaive(fromMs: number, toMs: number): number | undefined;
}

const LAST_DAY = "L";
const WEEKDAY_TOKEN = /^(\d{1,2}|L)W$/;
const LAST_DAY_OFFSET_TOKEN = /^L-(\d{1,2})$/;
const LAST_WEEKDAY = /^([0-7])L$/i;
const NTH_WEEKDAY = /^([0-7])#([1-5])$/;

function lastDayOfMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function nearestWeekday(year: number, month: number, target: number): number {
  const last = lastDayOfMonth(year, month);
  if (target < 1 || target > last) return -1;
  const weekday = new Date(Date.UTC(year, month - 1, target)).getUTCDay();
  if (weekday === 6) return target === 1 ? target + 2 : target - 1;
  if (weekday === 0) return target === last ? target - 2 : target + 1;
  return target;
}

/** A calendar day: year, month (1–12), day of the month, weekday (0 = Sunday). */
interface CalendarDay {
  year: number;
  month: number;
  day: number;
  weekday: number;
}

function domTokenMatches(token: string, { year, month, day }: CalendarDay): boolean {
  if (token === LAST_DAY) return day === lastDayOfMonth(year, month);
  const w = WEEKDAY_TOKEN.exec(token);
  if (w !== null) {
    const target = w[1] === LAST_DAY ? lastDayOfMonth(year, month) : parseInt(w[1]!, 10);
    return nearestWeekday(year, month, target) === day;
  }
  const off = LAST_DAY_OFFSET_TOKEN.exec(token);
  if (off !== null) {
    const target = lastDayOfMonth(year, month) - parseInt(off[1]!, 10);
    return target >= 1 && target === day;
  }
  return false;
}

function dowTokenMatches(token: string, { year, month, day, weekday }: CalendarDay): boolean {
  const nth = NTH_WEEKDAY.exec(token);
  if (nth !== null) {
    return parseInt(nth[1]!, 10) % 7 === weekday && Math.floor((day - 1) / 7) + 1 === parseInt(nth[2]!, 10);
  }
  const last = LAST_WEEKDAY.exec(token);
  if (last !== null) {
    return parseInt(last[1]!, 10) % 7 === weekday && day + 7 > lastDayOfMonth(year, month);
  }
  return false;
}

function mask(values: ReadonlyArray<number | string>, size: number): { bits: boolean[]; tokens: string[] } {
  const bits = new Array<boolean>(size).fill(false);
  const tokens: string[] = [];
  for (const v of values) {
    if (typeof v === "number") bits[v] = true;
    else tokens.push(v);
  }
  return { bits, tokens };
}

class Compiled implements CompiledCron {
  readonly expression: string;
  readonly isEveryHour: boolean;
  readonly #seconds: number[];
  readonly #minutes: number[];
  readonly #hours: number[];
  readonly #months: boolean[];
  readonly #dom: { bits: boolean[]; tokens: string[] };
  readonly #dow: { bits: boolean[]; tokens: string[] };

  constructor(expression: string, fields: ParsedFields) {
    this.expression = expression;
    const sorted = (xs: ReadonlyArray<number>) => [...new Set(xs)].sort((a, b) => a - b);
    this.#seconds = sorted(fields.second);
    this.#minutes = sorted(fields.minute);
    this.#hours = sorted(fields.hour);
    this.isEveryHour = this.#hours.length === 24;
    this.#months = mask(fields.month, 13).bits;
    this.#dom = mask(fields.dayOfMonth, 32);
    this.#dow = mask(
      fields.dayOfWeek.map((v) => (v === 7 ? 0 : v)),
      7,
    );
  }

  #dayMatches(dayIndex: number): boolean {
    const d = new Date(dayIndex * DAY_MS);
    const month = d.getUTCMonth() + 1;
    if (this.#months[month] !== true) return false;
    const year = d.getUTCFullYear();
    const day = d.getUTCDate();
    const weekday = d.getUTCDay();
    const date: CalendarDay = { year, month, day, weekday };
    const domOk = this.#dom.bits[day] === true || this.#dom.tokens.some((t) => domTokenMatches(t, date));
    if (!domOk) return false;
    return this.#dow.bits[weekday] === true || this.#dow.tokens.some((t) => dowTokenMatches(t, date));
  }

  /** First matching second of the day at or after `fromSecond` (0–86399), in seconds of the day. */
  #firstTimeOfDay(fromSecond: number): number | undefined {
    const h0 = Math.floor(fromSecond / 3600);
    const m0 = Math.floor((fromSecond % 3600) / 60);
    const s0 = fromSecond % 60;
    for (const h of this.#hours) {
      if (h < h0) continue;
      for (const m of this.#minutes) {
        if (h === h0 && m < m0) continue;
        for (const s of this.#seconds) {
          if (h === h0 && m === m0 && s < s0) continue;
          return h * 3600 + m * 60 + s;
        }
      }
    }
    return undefined;
  }

  nextNaive(fromMs: number, toMs: number): number | undefined {
    const from = Math.ceil(fromMs / 1000) * 1000;
    let dayIndex = Math.floor(from / DAY_MS);
    let fromSecond = (from - dayIndex * DAY_MS) / 1000;
    for (let i = 0; i < MAX_SCAN_DAYS; i++, dayIndex++, fromSecond = 0) {
      if (dayIndex * DAY_MS >= toMs) return undefined;
      if (!this.#dayMatches(dayIndex)) continue;
      const s = this.#firstTimeOfDay(fromSecond);
      if (s === undefined) continue;
      const at = dayIndex * DAY_MS + s * 1000;
      return at < toMs ? at : undefined;
    }
    return undefined;
  }
}

const cache = new Map<string, CompiledCron>();
const CACHE_MAX = 10_000;

function normalise(expression: string): string {
  return expression.trim().replace(/\s+/g, " ");
}

/**
 * Validate and compile a cron expression (node-cron syntax). Throws `E_SCHEDULE_INVALID` with node-cron's
 * reason and examples of valid expressions. Compiled expressions are shared (one object per expression).
 */
export function compileCron(expression: string): CompiledCron {
  const key = normalise(expression);
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const result =
    key.length > 200
      ? { valid: false as const, errors: [{ field: "expression", message: "expression is too long" }] }
      : nodeCron.validateDetailed(key);
  if (!result.valid || result.fields === undefined) {
    const reason = result.errors.map((e) => e.message).join("; ") || "not a cron expression";
    throw new SwitchboardError("E_SCHEDULE_INVALID", `invalid cron expression ${JSON.stringify(key)}: ${reason}`, {
      chatMessage: `Invalid cron expression "${key.slice(0, 80)}": ${reason}. Examples: ${CRON_EXAMPLES}.`,
      details: { expression: key, errors: result.errors },
    });
  }
  const compiled = new Compiled(key, result.fields);
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(key, compiled);
  return compiled;
}

/** The shortest gap between two consecutive fires (wall-clock), measured over the first 1,000 fires from 2025. */
export function minGapMs(cron: CompiledCron): number {
  let prev = cron.nextNaive(Date.UTC(2025, 0, 1), Number.POSITIVE_INFINITY);
  let min = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 1000 && prev !== undefined; i++) {
    const next = cron.nextNaive(prev + 1000, Number.POSITIVE_INFINITY);
    if (next === undefined) break;
    min = Math.min(min, next - prev);
    prev = next;
  }
  return min;
}

/** "At 09:00, Monday through Friday": the expression in words (cronstrue, 24-hour clock). */
export function describeCron(expression: string): string {
  try {
    return cronstrue.toString(expression, { use24HourTimeFormat: true, verbose: false });
  } catch {
    return expression;
  }
}
