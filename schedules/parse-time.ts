/**
 * One-shot times as people type them: `in 10m`, `in 1h30m`, `2026-12-01 09:00`, `2026-12-01T09:00:30`, `09:00`
 * (the next 09:00). Wall-clock times are read in the schedule's zone.
 */
import { SwitchboardError } from "../bot/index.ts";
import { DAY_MS, instantOf, wallClock } from "./zone.ts";

const UNIT_MS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: DAY_MS, w: 7 * DAY_MS };

/** The longest delay accepted for a one-shot (5 years). */
export const MAX_ONE_SHOT_MS = 5 * 366 * DAY_MS;

/** `10m`, `1h30m`, `2d`, `45s` → milliseconds; undefined when it is not a duration. */
export function parseDuration(text: string): number | undefined {
  const t = text.trim().toLowerCase();
  if (!/^(\d{1,6}[smhdw])+$/.test(t)) return undefined;
  let total = 0;
  for (const m of t.matchAll(/(\d{1,6})([smhdw])/g)) total += Number(m[1]) * UNIT_MS[m[2]!]!;
  return total > 0 ? total : undefined;
}

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{1,2}):(\d{2})(?::(\d{2}))?$/;
const TIME_ONLY = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/;

function bad(text: string): SwitchboardError {
  return new SwitchboardError("E_SCHEDULE_INVALID", `not a time: ${JSON.stringify(text)}`, {
    chatMessage: `"${text.slice(0, 40)}" is not a time I understand. Examples: "in 10m", "in 1h30m", "2026-12-01 09:00", "09:00".`,
  });
}

/** An absolute or relative time → epoch ms, read in `timeZone`. Throws `E_SCHEDULE_INVALID` for anything else. */
export function parseOneShot(text: string, timeZone: string, nowMs: number): number {
  const t = text.trim();
  const rel = /^in\s+(\S+)$/i.exec(t);
  if (rel !== null) {
    const ms = parseDuration(rel[1]!);
    if (ms === undefined) throw bad(t);
    return nowMs + ms;
  }
  const dt = DATE_TIME.exec(t);
  if (dt !== null) {
    const [y, mo, d, h, mi, s] = dt.slice(1).map((v) => (v === undefined ? 0 : Number(v))) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const local = Date.UTC(y, mo - 1, d, h, mi, s);
    const check = new Date(local);
    if (check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) throw bad(t);
    return instantOf(timeZone, local);
  }
  const tm = TIME_ONLY.exec(t);
  if (tm !== null) {
    const [h, mi, s] = tm.slice(1).map((v) => (v === undefined ? 0 : Number(v))) as [number, number, number];
    if (h > 23 || mi > 59 || s > 59) throw bad(t);
    const today = wallClock(timeZone, nowMs);
    const base = Date.UTC(today.year, today.month - 1, today.day, h, mi, s);
    const at = instantOf(timeZone, base);
    return at > nowMs ? at : instantOf(timeZone, base + DAY_MS);
  }
  throw bad(t);
}
