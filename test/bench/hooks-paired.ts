/**
 * The hooks bench against the base tree (`test/bench/base-tree.ts`: where this branch left main, or
 * `BENCH_BASE`), process by process: each pair runs `test/bench/hooks.ts` once in the base tree and once in this
 * one (order alternating), the same harness and load generator in both (this tree's copies are put beside the
 * base tree's, as `hooks-paired-harness.ts` and `hooks-paired-load.ts`), so only the hook path differs. Prints, per store, the medians over pairs of the hook path's events/s, its share of the
 * floor arm and its CPU per event beyond the floor, base beside ours, with the paired quotient (ours / base) and
 * best-of beside; and the load average at each run.
 *
 *   npx node test/bench/hooks-paired.ts [events=3000] [pairs=5] [stores=embedded,postgres]
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { ensureBaseTree, median, ROOT } from "./base-tree.ts";

const EVENTS = process.argv[2] ?? "3000";
const PAIRS = Number(process.argv[3] ?? 5);
const STORES = process.argv[4] ?? "embedded,postgres";

interface Result {
  label: string;
  rate: number;
  floor: number;
  ratio: number;
  p99: number;
  cpuHook: number;
  cpuFloor: number;
}

const base = ensureBaseTree();
// Beside the base tree's own bench, not over it (the base tree may be shared with other comparisons).
const HARNESS = "test/bench/hooks-paired-harness.ts";
const LOAD = "test/bench/hooks-paired-load.ts";
writeFileSync(
  join(base.dir, HARNESS),
  readFileSync(join(ROOT, "test/bench/hooks.ts"), "utf8").replace('"./hooks-load.ts"', '"./hooks-paired-load.ts"'),
);
writeFileSync(join(base.dir, LOAD), readFileSync(join(ROOT, "test/bench/hooks-load.ts")));

function run(dir: string): Result[] {
  const script = dir === ROOT ? "test/bench/hooks.ts" : HARNESS;
  const out = execFileSync("npx", ["node", script, EVENTS, "1", STORES], {
    cwd: dir,
    encoding: "utf8",
    env: { ...process.env, BENCH_JSON: "1" },
    maxBuffer: 16 * 1024 * 1024,
  });
  return out
    .split("\n")
    .filter((l) => l.startsWith("RESULT "))
    .map((l) => JSON.parse(l.slice(7)) as Result);
}

const runs: { base: Result[][]; ours: Result[][] } = { base: [], ours: [] };
for (let i = 0; i < PAIRS; i++) {
  const order = i % 2 === 0 ? (["base", "ours"] as const) : (["ours", "base"] as const);
  for (const which of order) {
    const load = loadavg()[0]!.toFixed(1);
    const results = run(which === "base" ? base.dir : ROOT);
    runs[which].push(results);
    console.log(
      `pair ${i + 1} ${which} (load ${load}): ${results.map((r) => `${r.label} ${Math.round(r.rate)}/s, floor ${Math.round(r.floor)}/s, CPU ${r.cpuHook.toFixed(0)} µs (floor ${r.cpuFloor.toFixed(0)})`).join("; ")}`,
    );
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
console.log(`\n${PAIRS} pairs, ${EVENTS} events per round, base ${base.commit}; medians (best-of in brackets)`);
for (const [s, first] of runs.ours[0]!.entries()) {
  const ours = runs.ours.map((r) => r[s]!);
  const was = runs.base.map((r) => r[s]!);
  const quotient = median(ours.map((o, i) => o.rate / was[i]!.rate));
  const own = (r: Result) => r.cpuHook - r.cpuFloor;
  console.log(`${first.label}:`);
  console.log(
    `  events/s: base ${fmt(median(was.map((r) => r.rate)))} [${fmt(Math.max(...was.map((r) => r.rate)))}], ours ${fmt(median(ours.map((r) => r.rate)))} [${fmt(Math.max(...ours.map((r) => r.rate)))}]; ours / base ${quotient.toFixed(2)} (median of paired quotients)`,
  );
  console.log(
    `  hook / floor: base ${median(was.map((r) => r.ratio)).toFixed(2)}, ours ${median(ours.map((r) => r.ratio)).toFixed(2)}; p99 base ${median(was.map((r) => r.p99)).toFixed(0)} ms, ours ${median(ours.map((r) => r.p99)).toFixed(0)} ms`,
  );
  console.log(
    `  CPU per event: base ${median(was.map((r) => r.cpuHook)).toFixed(0)} µs (own ${median(was.map(own)).toFixed(0)}), ours ${median(ours.map((r) => r.cpuHook)).toFixed(0)} µs (own ${median(ours.map(own)).toFixed(0)})`,
  );
}
