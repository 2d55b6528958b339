/**
 * Time zones through `Intl` alone: the UTC offset of a zone at an instant, and a lazily built timeline of the
 * zone's offset changes (DST transitions) so that wall-clock times can be turned into instants without asking
 * `Intl` for every candidate. Offsets are in milliseconds, `local = instant + offset`.
 */
import { SwitchboardError } from "../bot/index.ts";

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const YEAR_MS = 366 * DAY_MS;
/** Sampling step when looking for transitions: far shorter than the gap between any two real transitions. */
const SAMPLE_MS = 6 * HOUR_MS;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
      era: "short",
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** True when `Intl` knows the zone (IANA names such as `Europe/Berlin`, or `UTC`). */
export function isValidTimeZone(timeZone: unknown): timeZone is string {
  if (typeof timeZone !== "string" || timeZone.length === 0 || timeZone.length > 64) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** The zone's canonical spelling (`europe/berlin` → `Europe/Berlin`); throws `E_SCHEDULE_INVALID` for unknown zones. */
export function canonicalTimeZone(timeZone: string): string {
  if (!isValidTimeZone(timeZone)) {
    throw new SwitchboardError("E_SCHEDULE_INVALID", `unknown time zone ${JSON.stringify(timeZone)}`, {
      chatMessage: `Unknown time zone "${String(timeZone).slice(0, 64)}". Use an IANA name such as Europe/Berlin, America/New_York or UTC.`,
    });
  }
  return new Intl.DateTimeFormat("en-US", { timeZone }).resolvedOptions().timeZone;
}

/** The zone's offset from UTC at `instantMs`, in ms (`local = instant + offset`). */
export function offsetAt(timeZone: string, instantMs: number): number {
  const whole = Math.floor(instantMs / 1000) * 1000;
  const parts = formatterFor(timeZone).formatToParts(new Date(whole));
  let year = 0;
  let month = 0;
  let day = 0;
  let hour = 0;
  let minute = 0;
  let second = 0;
  let isBc = false;
  for (const p of parts) {
    switch (p.type) {
      case "year":
        year = Number(p.value);
        break;
      case "month":
        month = Number(p.value);
        break;
      case "day":
        day = Number(p.value);
        break;
      case "hour":
        hour = Number(p.value);
        break;
      case "minute":
        minute = Number(p.value);
        break;
      case "second":
        second = Number(p.value);
        break;
      case "era":
        isBc = p.value === "BC";
        break;
      default:
        break;
    }
  }
  const d = new Date(0);
  d.setUTCFullYear(isBc ? 1 - year : year, month - 1, day);
  d.setUTCHours(hour, minute, second, 0);
  return d.getTime() - whole;
}

/** The wall-clock fields of an instant in a zone. */
export function wallClock(
  timeZone: string,
  instantMs: number,
): { year: number; month: number; day: number; hour: number; minute: number; second: number } {
  const local = new Date(instantMs + offsetAt(timeZone, instantMs));
  return {
    year: local.getUTCFullYear(),
    month: local.getUTCMonth() + 1,
    day: local.getUTCDate(),
    hour: local.getUTCHours(),
    minute: local.getUTCMinutes(),
    second: local.getUTCSeconds(),
  };
}

/**
 * The instant a wall-clock time (naive ms, as if UTC) names in a zone. A repeated time (clocks went back) gives
 * its first occurrence; a skipped time (clocks went forward) is shifted forward by the gap, as in `next-fire.ts`.
 */
export function instantOf(timeZone: string, localMs: number): number {
  const before = offsetAt(timeZone, localMs - DAY_MS);
  const after = offsetAt(timeZone, localMs + DAY_MS);
  const candidates = [localMs - before, localMs - after].filter((t) => offsetAt(timeZone, t) === localMs - t);
  if (candidates.length > 0) return Math.min(...candidates);
  return localMs - before;
}

/** Format an instant as `YYYY-MM-DD HH:MM` (seconds when not zero) in a zone. */
export function formatInZone(timeZone: string, instantMs: number): string {
  const w = wallClock(timeZone, instantMs);
  const pad = (n: number) => String(n).padStart(2, "0");
  const base = `${w.year}-${pad(w.month)}-${pad(w.day)} ${pad(w.hour)}:${pad(w.minute)}`;
  return w.second === 0 ? base : `${base}:${pad(w.second)}`;
}

/** One stretch of constant offset: `[startMs, endMs)`. `prevOffsetMs` is set when `startMs` is a real transition. */
export interface OffsetSegment {
  startMs: number;
  endMs: number;
  offsetMs: number;
  prevOffsetMs: number | undefined;
}

const FIXED_ZONES = new Set(["UTC", "Etc/UTC", "Etc/GMT", "GMT", "Etc/Universal", "Etc/Zulu", "Universal", "Zulu"]);

/**
 * A zone's offset changes, discovered lazily a year at a time by sampling `Intl` every few hours and bisecting
 * to the second. One instance per zone, shared by every schedule in that zone.
 */
export class ZoneTimeline {
  readonly timeZone: string;
  /** Segment starts (the first is where coverage begins, not a transition) and their offsets. */
  #starts: number[] = [];
  #offsets: number[] = [];
  #coveredToMs = 0;
  readonly #isFixed: boolean;

  constructor(timeZone: string) {
    this.timeZone = timeZone;
    this.#isFixed = FIXED_ZONES.has(timeZone);
  }

  /** The segment holding `instantMs`. `endMs` may be where coverage currently stops; ask again from there. */
  segmentAt(instantMs: number): OffsetSegment {
    if (this.#isFixed) {
      return {
        startMs: Number.NEGATIVE_INFINITY,
        endMs: Number.POSITIVE_INFINITY,
        offsetMs: 0,
        prevOffsetMs: undefined,
      };
    }
    const first = this.#starts[0];
    if (first === undefined || instantMs < first) this.#reset(instantMs - 2 * DAY_MS);
    while (instantMs >= this.#coveredToMs) this.#extend();
    // Last segment starting at or before the instant.
    let lo = 0;
    let hi = this.#starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#starts[mid]! <= instantMs) lo = mid;
      else hi = mid - 1;
    }
    return {
      startMs: this.#starts[lo]!,
      endMs: lo + 1 < this.#starts.length ? this.#starts[lo + 1]! : this.#coveredToMs,
      offsetMs: this.#offsets[lo]!,
      prevOffsetMs: lo > 0 ? this.#offsets[lo - 1] : undefined,
    };
  }

  #reset(fromMs: number): void {
    const start = Math.floor(fromMs / 1000) * 1000;
    this.#starts = [start];
    this.#offsets = [offsetAt(this.timeZone, start)];
    this.#coveredToMs = start + 1000;
  }

  #extend(): void {
    const from = this.#coveredToMs;
    const to = from + YEAR_MS;
    let prevT = from - 1000;
    let prevOffset = this.#offsets[this.#offsets.length - 1]!;
    for (let t = from; t < to; t += SAMPLE_MS) {
      const o = offsetAt(this.timeZone, t);
      if (o !== prevOffset) {
        // Bisect (prevT, t] to the first second carrying the new offset.
        let lo = prevT;
        let hi = t;
        while (hi - lo > 1000) {
          const mid = Math.floor((lo + hi) / 2000) * 1000;
          if (mid <= lo) break;
          if (offsetAt(this.timeZone, mid) === prevOffset) lo = mid;
          else hi = mid;
        }
        this.#starts.push(hi);
        this.#offsets.push(offsetAt(this.timeZone, hi));
        prevOffset = this.#offsets[this.#offsets.length - 1]!;
        if (prevOffset !== o) {
          // Two changes inside one sample step (never seen in real zones): resample from here.
          prevT = hi;
          t = hi;
          continue;
        }
      }
      prevT = t;
    }
    this.#coveredToMs = to;
  }
}

const timelines = new Map<string, ZoneTimeline>();

/** The shared timeline of a zone (created on first use). */
export function timelineOf(timeZone: string): ZoneTimeline {
  let tl = timelines.get(timeZone);
  if (tl === undefined) {
    tl = new ZoneTimeline(timeZone);
    timelines.set(timeZone, tl);
  }
  return tl;
}

/** The host's zone, as `Intl` reports it. */
export function hostTimeZone(): string {
  return new Intl.DateTimeFormat().resolvedOptions().timeZone;
}

export { DAY_MS, HOUR_MS };
