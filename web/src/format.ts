/** Dates, numbers and money as the console shows them. */

/** A time in a zone (the browser's when none is given): "6 Dec 2026, 09:00 UTC". */
export function formatTime(ms: number | null | undefined, timeZone?: string): string {
  if (ms === null || ms === undefined) return "—";
  try {
    return new Intl.DateTimeFormat("en-GB", {
      day: "numeric",
      month: "short",
      year: "numeric",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
      ...(timeZone === undefined ? {} : { timeZone }),
      timeZoneName: "short",
    }).format(ms);
  } catch {
    return new Date(ms).toISOString();
  }
}

/** A whole number with separators. */
export function formatCount(n: number): string {
  return new Intl.NumberFormat("en-US").format(n);
}

/** A cost in dollars, with cents below a dollar kept visible. */
export function formatCost(n: number): string {
  return `$${n.toFixed(n < 1 ? 4 : 2)}`;
}

/** `YYYY-MM-DD` of a time, in UTC (the days the usage figures are kept in). */
export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
