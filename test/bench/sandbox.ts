/**
 * Containment figures: `npx node test/bench/sandbox.ts`. Runs each hostile case of the greedy and allocbomb
 * fixture skills through a real bot while an observer chat runs `/dice 2d6` every 100 ms, and prints what each
 * case reached (requests, other ports, model calls, store operations) and what it cost (the bot's event-loop
 * stall and resident size, the hosts' resident size, the observer's latency against its baseline). The harness
 * (`test/helpers/containment.ts`) uses only APIs older commits have, so the same script measures them.
 * Targets: observer p99 within 2× of its baseline, bot RSS within 50 MB of its baseline, no request count or
 * port beyond the grant.
 *
 * `--rounds N` (default 5) measures the observer's ratio in paired rounds: each round takes a baseline window as
 * long as the case's window next to the case (order alternating), and the ratio of the two p99s; the median
 * of the rounds' ratios is printed, with the best and every round's pair beside it. On a shared machine the OS
 * scheduler alone moves a 5 ms p99, so one baseline taken minutes earlier says little.
 */
import { startContainment, type CaseFigures, type ObserverFigures } from "../helpers/containment.ts";

const roundsAt = process.argv.indexOf("--rounds");
const ROUNDS = roundsAt === -1 ? 5 : Math.max(1, Number(process.argv[roundsAt + 1]));
const h = await startContainment();
const fmt = (n: number): string => n.toFixed(n < 10 ? 1 : 0);
try {
  // Warm the built-in dice and the greedy skill's host before measuring.
  await h.baseline(1_000);
  await h.run("warm", "/greedy ok");
  const baseline: ObserverFigures = await h.baseline(3_000);
  console.log(
    `observer baseline: /dice 2d6 p50 ${fmt(baseline.p50Ms)} ms, p99 ${fmt(baseline.p99Ms)} ms (${baseline.count} calls)`,
  );
  const cases: Array<[string, string, { followUp?: boolean }?]> = [
    ["fetch flood (5000 at once)", `/greedy fetchflood ${h.floodUrl}`],
    ["settings.get flood", "/greedy callflood"],
    ["storage.set flood", "/greedy storeflood"],
    ["LLM 500 at once", "/greedy llmflood"],
    ["LLM 50 in a row", "/greedy llmseq"],
    ["work after return", "/greedy afterreturn", { followUp: true }],
    ["other ports of a declared host", `/greedy ports ${h.otherPorts.join(" ")}`],
    ["reply hygiene", "/greedy hygiene"],
    ["string doubling", "/greedy strings"],
    ["unhandled rejection", "/greedy rejection"],
    ["60 M-slot allocation", "/allocbomb"],
  ];
  const rows: CaseFigures[] = [];
  const pairs = new Map<string, Array<{ baseP99: number; caseP99: number }>>();
  for (const [name, text, options] of cases) {
    const list: Array<{ baseP99: number; caseP99: number }> = [];
    let windowMs = 1_500;
    for (let i = 0; i < ROUNDS; i++) {
      let base: ObserverFigures;
      let r: CaseFigures;
      const t0 = performance.now();
      if (i % 2 === 0) {
        base = await h.baseline(windowMs);
        r = await h.run(name, text, options);
      } else {
        r = await h.run(name, text, options);
        base = await h.baseline(windowMs);
      }
      windowMs = Math.max(1_500, performance.now() - t0 - windowMs);
      list.push({ baseP99: base.p99Ms, caseP99: r.observer.p99Ms });
      if (i === 0) rows.push(r);
    }
    pairs.set(name, list);
  }
  for (const r of rows) {
    console.log(`\n${r.name}`);
    console.log(`  chat sees: ${JSON.stringify(r.reply.slice(0, 200))}`);
    console.log(
      `  invocation ${fmt(r.invocationMs)} ms; reached: ${r.requests} requests, ${r.otherPortConnections} other-port connections, ${r.llmRequests} model calls, ${r.kvOps} store operations`,
    );
    console.log(
      `  bot: event loop max stall ${fmt(r.loopMaxMs)} ms, RSS +${fmt(r.botRssGrowthMb)} MB (target ≤ 50); hosts RSS +${fmt(r.hostRssGrowthMb)} MB`,
    );
    if (r.nextCallMs !== undefined) console.log(`  next call of the same skill: ${fmt(r.nextCallMs)} ms`);
    const o = r.observer;
    console.log(
      `  observer /dice: ${o.count} calls, ${o.failures} failed, p50 ${fmt(o.p50Ms)} ms, p99 ${fmt(o.p99Ms)} ms (${(o.p99Ms / Math.max(0.1, baseline.p99Ms)).toFixed(1)}× the first baseline), max ${fmt(o.maxMs)} ms`,
    );
    const list = pairs.get(r.name) ?? [];
    const ratios = list.map((p) => p.caseP99 / Math.max(0.1, p.baseP99)).sort((a, b) => a - b);
    const mid =
      ratios.length % 2 === 1
        ? ratios[(ratios.length - 1) / 2]!
        : (ratios[ratios.length / 2 - 1]! + ratios[ratios.length / 2]!) / 2;
    console.log(
      `  observer p99 against a paired baseline: ${mid.toFixed(2)}× median of ${ratios.length} rounds (best ${ratios[0]!.toFixed(2)}×; target ≤ 2×); rounds (baseline → case, ms): ${list.map((p) => `${fmt(p.baseP99)} → ${fmt(p.caseP99)}`).join(", ")}`,
    );
  }
} finally {
  await h.stop();
}
