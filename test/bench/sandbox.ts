/**
 * Containment figures: `npx node test/bench/sandbox.ts`. Runs each hostile case of the greedy and allocbomb
 * fixture skills through a real bot while an observer chat runs `/dice 2d6` every 100 ms, and prints what each
 * case reached (requests, other ports, model calls, store operations) and what it cost (the bot's event-loop
 * stall and resident size, the hosts' resident size, the observer's latency against its baseline). The harness
 * (`test/helpers/containment.ts`) uses only APIs older commits have, so the same script measures them.
 * Targets: observer p99 within 2× of its baseline, bot RSS within 50 MB of its baseline, no request count or
 * port beyond the grant.
 */
import { startContainment, type CaseFigures, type ObserverFigures } from "../helpers/containment.ts";

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
  for (const [name, text, options] of cases) rows.push(await h.run(name, text, options));
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
      `  observer /dice: ${o.count} calls, ${o.failures} failed, p50 ${fmt(o.p50Ms)} ms, p99 ${fmt(o.p99Ms)} ms (${(o.p99Ms / Math.max(0.1, baseline.p99Ms)).toFixed(1)}× baseline; target ≤ 2×), max ${fmt(o.maxMs)} ms`,
    );
  }
} finally {
  await h.stop();
}
