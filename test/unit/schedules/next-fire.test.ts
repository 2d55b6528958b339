import cron from "node-cron";
import { afterEach, describe, expect, it, vi } from "vitest";
import { compileCron, describeCron, nextFireAfter } from "../../../schedules/index.ts";
import { minGapMs } from "../../../schedules/cron.ts";
import { parseDuration, parseOneShot } from "../../../schedules/parse-time.ts";
import { canonicalTimeZone, formatInZone, instantOf, offsetAt, timelineOf } from "../../../schedules/zone.ts";

const iso = (ms: number | undefined) => (ms === undefined ? "none" : new Date(ms).toISOString());

function fires(expression: string, zone: string, { fromMs, count }: { fromMs: number; count: number }): number[] {
  const c = compileCron(expression);
  const out: number[] = [];
  let t = fromMs;
  for (let i = 0; i < count; i++) {
    const next = nextFireAfter(c, timelineOf(zone), t);
    if (next === undefined) break;
    out.push(next);
    t = next;
  }
  return out;
}

afterEach(() => {
  vi.useRealTimers();
});

describe("next fire times agree with node-cron where no clock change intervenes", () => {
  const expressions = [
    "* * * * *",
    "*/7 * * * *",
    "0 9 * * 1-5",
    "30 4 1,15 * *",
    "0 0 L * *",
    "0 12 15W * *",
    "0 8 * * 5L",
    "0 10 * * 1#2",
    "*/15 9-17 * jan-mar mon,wed",
    "0 0 29 2 *",
    "5,10 */3 * * * *",
    "@daily",
    "0 0 L-2 * *",
  ];
  const cases: Array<[string, number]> = [
    ["UTC", Date.UTC(2026, 0, 30, 22, 59, 30)],
    ["Asia/Tokyo", Date.UTC(2026, 1, 27, 3, 0)],
    ["Asia/Kolkata", Date.UTC(2027, 11, 30, 20, 0)],
    ["Europe/Berlin", Date.UTC(2026, 5, 1, 0, 0)], // summer: no change within the fires compared
  ];
  for (const [zone, base] of cases) {
    it(`in ${zone}`, () => {
      vi.useFakeTimers({ toFake: ["Date"] });
      vi.setSystemTime(base);
      let compared = 0;
      for (const e of expressions) {
        const task = cron.createTask(e, () => undefined, { timezone: zone });
        const theirs = task.getNextRuns(12).map((d) => d.getTime());
        void task.destroy();
        const ours = fires(e, zone, { fromMs: base, count: 12 }).filter(
          (t) => zone !== "Europe/Berlin" || t < Date.UTC(2026, 9, 25),
        );
        expect(ours.map(iso), `${e} in ${zone}`).toEqual(theirs.slice(0, ours.length).map(iso));
        compared += ours.length;
      }
      expect(compared).toBeGreaterThan(80);
    });
  }
});

describe("daylight-saving changes (Europe/Berlin and America/New_York)", () => {
  it("fires a fixed-time schedule once on both change days, shifting a skipped time by the gap", () => {
    expect(fires("30 2 * * *", "Europe/Berlin", { fromMs: Date.UTC(2026, 2, 28, 12), count: 2 }).map(iso)).toEqual([
      "2026-03-29T01:30:00.000Z",
      "2026-03-30T00:30:00.000Z",
    ]);
    expect(fires("30 2 * * *", "Europe/Berlin", { fromMs: Date.UTC(2026, 9, 24, 12), count: 2 }).map(iso)).toEqual([
      "2026-10-25T00:30:00.000Z",
      "2026-10-26T01:30:00.000Z",
    ]);
    expect(fires("30 1 * * *", "America/New_York", { fromMs: Date.UTC(2026, 10, 1, 0), count: 2 }).map(iso)).toEqual([
      "2026-11-01T05:30:00.000Z",
      "2026-11-02T06:30:00.000Z", // 01:30 EDT (first occurrence), then EST
    ]);
    expect(fires("30 2 * * *", "America/New_York", { fromMs: Date.UTC(2026, 2, 7, 12), count: 2 }).map(iso)).toEqual([
      "2026-03-08T07:30:00.000Z",
      "2026-03-09T06:30:00.000Z", // 02:30 does not exist: 03:30 EDT
    ]);
  });

  it("does not double-fire when a shifted time meets a real one", () => {
    expect(fires("30 2,3 * * *", "Europe/Berlin", { fromMs: Date.UTC(2026, 2, 28, 23), count: 3 }).map(iso)).toEqual([
      "2026-03-29T01:30:00.000Z",
      "2026-03-30T00:30:00.000Z",
      "2026-03-30T01:30:00.000Z",
    ]);
  });

  it("keeps every-hour schedules on real time: none in the gap, both occurrences of the repeated hour", () => {
    expect(fires("0 * * * *", "Europe/Berlin", { fromMs: Date.UTC(2026, 2, 28, 23, 30), count: 4 }).map(iso)).toEqual([
      "2026-03-29T00:00:00.000Z",
      "2026-03-29T01:00:00.000Z",
      "2026-03-29T02:00:00.000Z",
      "2026-03-29T03:00:00.000Z",
    ]);
    expect(fires("0 * * * *", "Europe/Berlin", { fromMs: Date.UTC(2026, 9, 24, 23, 30), count: 4 }).map(iso)).toEqual([
      "2026-10-25T00:00:00.000Z",
      "2026-10-25T01:00:00.000Z",
      "2026-10-25T02:00:00.000Z",
      "2026-10-25T03:00:00.000Z",
    ]);
  });

  it("turns wall-clock times into instants the same way", () => {
    expect(iso(instantOf("Europe/Berlin", Date.UTC(2026, 2, 29, 2, 30)))).toBe("2026-03-29T01:30:00.000Z");
    expect(iso(instantOf("Europe/Berlin", Date.UTC(2026, 9, 25, 2, 30)))).toBe("2026-10-25T00:30:00.000Z");
    expect(offsetAt("Asia/Kolkata", Date.UTC(2026, 0, 1))).toBe(5.5 * 3_600_000);
    expect(formatInZone("Europe/Berlin", Date.UTC(2026, 6, 1, 7, 0, 5))).toBe("2026-07-01 09:00:05");
  });

  it("finds a rare match years ahead and says when there is none", () => {
    expect(iso(fires("0 0 29 2 1", "Europe/Berlin", { fromMs: Date.UTC(2026, 0, 1), count: 1 })[0])).toBe(
      "2044-02-28T23:00:00.000Z",
    );
    expect(nextFireAfter(compileCron("0 0 L-30 2 *"), timelineOf("UTC"), 0)).toBeUndefined();
  });
});

describe("cron validation and words", () => {
  it("rejects invalid expressions with node-cron's reason and examples", () => {
    expect(() => compileCron("61 * * * *")).toThrow(/61 is a invalid expression for minute/);
    expect(() => compileCron("* * *")).toThrow(/expected 5 or 6 fields but got 3/);
    expect(() => compileCron("0 9 * * mon;rm")).toThrow(/illegal characters/);
    try {
      compileCron("* * * * * * *");
    } catch (error) {
      expect((error as { code: string; chatMessage: string }).code).toBe("E_SCHEDULE_INVALID");
      expect((error as { chatMessage: string }).chatMessage).toContain('"0 9 * * 1-5" (09:00 on weekdays)');
    }
  });

  it("measures the shortest gap between fires", () => {
    expect(minGapMs(compileCron("* * * * *"))).toBe(60_000);
    expect(minGapMs(compileCron("*/10 * * * * *"))).toBe(10_000);
    expect(minGapMs(compileCron("0,1 0 * * *"))).toBe(60_000);
    expect(minGapMs(compileCron("59 59 23 * * *".replace("59 59 23", "0,59 59 23")))).toBe(59_000);
    expect(minGapMs(compileCron("0 9 * * 1-5"))).toBe(24 * 3_600_000);
  });

  it("describes expressions in words on a 24-hour clock", () => {
    expect(describeCron("0 9 * * 1-5")).toBe("At 09:00, Monday through Friday");
    expect(describeCron("*/1 * * * *")).toBe("Every minute");
  });

  it("canonicalises zones and rejects unknown ones", () => {
    expect(canonicalTimeZone("europe/berlin")).toBe("Europe/Berlin");
    expect(() => canonicalTimeZone("Mars/Olympus")).toThrow(/unknown time zone/);
  });
});

describe("one-shot times", () => {
  const now = Date.UTC(2026, 2, 27, 12, 0);
  it("reads durations, dates and times of day in the zone", () => {
    expect(parseDuration("1h30m")).toBe(90 * 60_000);
    expect(parseDuration("soon")).toBeUndefined();
    expect(parseOneShot("in 10m", "UTC", now)).toBe(now + 600_000);
    expect(iso(parseOneShot("2026-12-01 09:00", "Europe/Berlin", now))).toBe("2026-12-01T08:00:00.000Z");
    expect(iso(parseOneShot("2026-12-01T09:00:30", "UTC", now))).toBe("2026-12-01T09:00:30.000Z");
    expect(iso(parseOneShot("14:00", "Europe/Berlin", now))).toBe("2026-03-27T13:00:00.000Z");
    expect(iso(parseOneShot("09:00", "Europe/Berlin", now))).toBe("2026-03-28T08:00:00.000Z");
  });

  it("refuses what is not a time", () => {
    expect(() => parseOneShot("2026-02-30 09:00", "UTC", now)).toThrow(/not a time/);
    expect(() => parseOneShot("25:00", "UTC", now)).toThrow(/not a time/);
    expect(() => parseOneShot("tomorrow", "UTC", now)).toThrow(/not a time/);
  });
});
