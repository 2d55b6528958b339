/**
 * The next fire instant of a cron schedule in a time zone, DST-correct:
 * - a wall-clock time that exists fires exactly once;
 * - a wall-clock time repeated when clocks go back fires once, at its first occurrence — except for schedules
 *   whose hour field is `*`, which follow real time and fire in both occurrences (an every-15-minutes job keeps
 *   its rhythm through the repeated hour);
 * - a wall-clock time skipped when clocks go forward fires once, shifted forward by the size of the gap
 *   (02:30 becomes 03:30), again except for every-hour schedules, whose skipped times simply do not exist.
 * Work is proportional to the segments crossed (a DST zone has two a year), not to the candidate times.
 */
import type { CompiledCron } from "./cron.ts";
import type { ZoneTimeline } from "./zone.ts";

/** Give up after this many years without a match (an expression that never matches again). */
const HORIZON_MS = 30 * 366 * 24 * 3_600_000;

/** The first fire instant strictly after `afterMs`, or undefined when there is none within 30 years. */
export function nextFireAfter(cron: CompiledCron, zone: ZoneTimeline, afterMs: number): number | undefined {
  const limit = afterMs + HORIZON_MS;
  let cursor = Math.floor(afterMs / 1000) * 1000 + 1000;
  while (cursor < limit) {
    const seg = zone.segmentAt(cursor);
    const { offsetMs, prevOffsetMs } = seg;
    const from = Math.max(cursor, seg.startMs);
    let best: number | undefined;

    let minLocal = from + offsetMs;
    const wentBack = prevOffsetMs !== undefined && prevOffsetMs > offsetMs;
    const wentForward = prevOffsetMs !== undefined && prevOffsetMs < offsetMs;
    if (wentBack && !cron.isEveryHour) minLocal = Math.max(minLocal, seg.startMs + prevOffsetMs);
    const local = cron.nextNaive(minLocal, seg.endMs + offsetMs);
    if (local !== undefined) best = local - offsetMs;

    if (wentForward && !cron.isEveryHour) {
      // Wall-clock times inside the gap [start + prev, start + offset) fire shifted by the gap.
      const gapFrom = Math.max(seg.startMs, cursor) + prevOffsetMs;
      const shifted = cron.nextNaive(gapFrom, seg.startMs + offsetMs);
      if (shifted !== undefined) {
        const at = shifted - prevOffsetMs;
        if (at < seg.endMs && (best === undefined || at < best)) best = at;
      }
    }
    if (best !== undefined) return best;
    if (seg.endMs === Number.POSITIVE_INFINITY) return undefined;
    cursor = seg.endMs;
  }
  return undefined;
}
