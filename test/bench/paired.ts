/**
 * Paired rounds, as every comparing benchmark reports them: each round measures the baseline and ours back to
 * back (order alternating), the figure is the median of the rounds' ratios, every round's pair is printed, and
 * each side's best-of is printed beside it only (a best-of taken separately flatters a noisy run).
 */
import { median } from "./base-tree.ts";

/** One paired measurement series. */
export interface Paired {
  /** Baseline rates, one per round. */
  base: number[];
  /** Our rates, the same rounds. */
  ours: number[];
}

/** Run `rounds` paired rounds of two measurements, alternating which goes first. */
export async function pairedRounds(
  rounds: number,
  measureBase: () => Promise<number>,
  measureOurs: () => Promise<number>,
): Promise<Paired> {
  const out: Paired = { base: [], ours: [] };
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      out.base.push(await measureBase());
      out.ours.push(await measureOurs());
    } else {
      out.ours.push(await measureOurs());
      out.base.push(await measureBase());
    }
  }
  return out;
}

/** The median of the rounds' ratios ours / base. */
export function pairedRatio(p: Paired): number {
  return median(p.ours.map((x, i) => x / p.base[i]!));
}

const fmt = (n: number) => (n < 10 ? n.toFixed(1) : Math.round(n).toLocaleString("en-US"));

/**
 * Lines: the median paired ratio against the target (with the best round's ratio beside it), medians of each
 * side, each round's pair, best-of beside. `lowerIsBetter` is for latencies: the target reads "≤", and the best
 * is the lowest.
 */
export function formatPaired(
  p: Paired,
  o: { baseLabel: string; oursLabel: string; unit: string; target: number; lowerIsBetter?: boolean },
): string[] {
  const ratio = pairedRatio(p);
  const lower = o.lowerIsBetter === true;
  const best = (xs: number[]) => (lower ? Math.min(...xs) : Math.max(...xs));
  const ratios = p.ours.map((x, i) => x / p.base[i]!);
  return [
    `  ${o.oursLabel} / ${o.baseLabel}: ${ratio.toFixed(3)} (median of ${p.ours.length} paired rounds; target ${lower ? "≤" : "≥"} ${o.target}) [best round ${best(ratios).toFixed(3)}]`,
    `  medians: ${o.baseLabel} ${fmt(median(p.base))} ${o.unit}, ${o.oursLabel} ${fmt(median(p.ours))} ${o.unit}` +
      `   [best-of beside: ${fmt(best(p.base))} and ${fmt(best(p.ours))}, ratio ${(best(p.ours) / best(p.base)).toFixed(3)}]`,
    `  rounds (${o.baseLabel} → ${o.oursLabel}, ratio): ${p.base
      .map((b, i) => `${fmt(b)} → ${fmt(p.ours[i]!)} (${(p.ours[i]! / b).toFixed(2)})`)
      .join("; ")}`,
  ];
}
