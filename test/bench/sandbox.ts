/**
 * Containment figures: `npx node test/bench/sandbox.ts [--rounds N] [--window MS] [--every MS] [--only REGEXP]
 * [--set path=json] [--once]`. Runs the hostile cases of the greedy and allocbomb fixture skills through a real bot while an
 * observer chat runs `/dice 2d6` every `--every` ms (default 20) through the router and the built-ins' skill host
 * (`test/helpers/containment.ts`).
 *
 * First, each case once: what it reached (requests, other ports, model calls, store operations) and what it cost
 * (the bot's event-loop stall and resident size, the hosts' resident size).
 *
 * Then the observer's latency for each resource case of issue 14 (fetch flood, the 60 M-slot allocation that
 * aborts a host, capability-call floods, LLM floods, work after return, string doubling) in `N` paired rounds
 * (default 5, `test/bench/paired.ts`): each round takes the observer's samples once while the case runs and once
 * in a window as long with nothing else running, the order alternating. In its window a case runs again and again
 * for `--window` ms (default 3000); the allocation, which crashes its host, runs once. The figure is the p99 of
 * each arm's samples pooled over the rounds (several hundred each; a 100 ms observer gave 30-odd a window, so a
 * window's p99 was its maximum), with the median of the rounds' own ratios and the best round beside it, the
 * sample counts, and per window the CPU time of the bot, of the observer's host and of the other hosts and the
 * bot's event-loop delay, to say where the observer's time went. On a shared machine the OS scheduler alone moves
 * a p99 several times over, so only pairs taken back to back say anything.
 *
 * Targets: observer p99 ≤ 2× its paired baseline, 0 observer failures, bot RSS ≤ 50 MB over its size before the
 * case, nothing reaching a request count or port beyond the grant.
 *
 * The bench runs itself again with `--max-semi-space-size=2`, the young generation `switchboard start` gives the bot.
 *
 * The bench lifts the quarantine threshold (the allocation case crashes its host every round); the allocation's
 * host restarts after a backoff that doubles with each crash, which the case's window includes.
 */
import os from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import {
  type CaseFigures,
  type HostCpu,
  hostCpu,
  type ObserverFigures,
  quantile,
  startContainment,
} from "../helpers/containment.ts";
import { median } from "./base-tree.ts";
import { formatPaired, type Paired, pairedRatio, pairedRounds } from "./paired.ts";

// The bot runs in this process: give it the young generation `switchboard start` gives the bot
// (`--max-semi-space-size=2`, bin/switchboard.js). Under Node's default, the LLM flood's garbage grew the heap
// (heapTotal 63 → 224 MB over four 3 s windows, 34 MB live after a full GC) and the "bot RSS" figure with it;
// with the bot's own flag the same windows grew it 27 MB once and then 0–4 MB.
if (!process.execArgv.some((a) => a.startsWith("--max-semi-space-size"))) {
  const { spawnSync } = await import("node:child_process");
  const again = spawnSync(
    process.execPath,
    [...process.execArgv, "--max-semi-space-size=2", ...process.argv.slice(1)],
    { stdio: "inherit" },
  );
  process.exit(again.status ?? 1);
}

const roundsAt = process.argv.indexOf("--rounds");
const ROUNDS = roundsAt === -1 ? 5 : Math.max(1, Number(process.argv[roundsAt + 1]));
const onlyAt = process.argv.indexOf("--only");
/** Measure only the cases whose name matches this regular expression (`--only "fetch|string"`). */
const ONLY = new RegExp(onlyAt === -1 ? "" : (process.argv[onlyAt + 1] ?? ""));
/**
 * `--once`: every case runs once a round, as the issue's reproductions did (one hostile invocation while the
 * observer runs), instead of back to back for `--window` ms with the hostile chat's rate limits lifted (a flood of
 * invocations, harder than one). Its windows are as long as one run, so it wants more rounds.
 */
const ONCE = process.argv.includes("--once");
const windowAt = process.argv.indexOf("--window");
/** How long each case runs (again and again) in a paired round, in ms. */
const WINDOW_MS = windowAt === -1 ? 3_000 : Math.max(500, Number(process.argv[windowAt + 1]));
const everyAt = process.argv.indexOf("--every");
/** The observer's period, in ms: 20 puts 150-odd samples in a window, so a window's p99 is not its maximum. */
const EVERY_MS = everyAt === -1 ? 20 : Math.max(5, Number(process.argv[everyAt + 1]));
const fmt = (n: number): string => n.toFixed(n < 10 ? 1 : 0);
const load = (): string =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(", ");

interface Case {
  name: string;
  text: string;
  followUp?: boolean;
  /** One of the resource cases of issue 14: measured in paired rounds. */
  paired: boolean;
  /** Run once per round, not again and again (a case that crashes its host waits out a growing backoff). */
  once?: boolean;
}

/** `--set path=json`: config set on the bot, over the bench's own (a base tree without a setting, an A/B). */
const set: Record<string, unknown> = { "skills.quarantineAfterCrashes": 1_000_000 };
process.argv.forEach((arg, i) => {
  const pair = arg === "--set" ? (process.argv[i + 1] ?? "") : "";
  const at = pair.indexOf("=");
  if (at > 0) set[pair.slice(0, at)] = JSON.parse(pair.slice(at + 1));
});
const h = await startContainment({ set, observerEveryMs: EVERY_MS });
try {
  const cases: Case[] = [
    { name: "fetch flood (5000 at once)", text: `/greedy fetchflood ${h.floodUrl}`, paired: true },
    { name: "settings.get flood", text: "/greedy callflood", paired: true },
    { name: "storage.set flood", text: "/greedy storeflood", paired: true },
    { name: "LLM 500 at once", text: "/greedy llmflood", paired: true },
    { name: "LLM 50 in a row", text: "/greedy llmseq", paired: true },
    { name: "work after return", text: "/greedy afterreturn", followUp: true, paired: true },
    { name: "string doubling", text: "/greedy strings", paired: true },
    { name: "60 M-slot allocation", text: "/allocbomb", paired: true, once: true },
    { name: "other ports of a declared host", text: `/greedy ports ${h.otherPorts.join(" ")}`, paired: false },
    { name: "reply hygiene", text: "/greedy hygiene", paired: false },
    { name: "unhandled rejection", text: "/greedy rejection", paired: false },
  ];
  // Warm the built-in dice and the greedy skill's host before measuring.
  await h.baseline(1_000);
  await h.run("warm", "/greedy ok");
  console.log(`load average at start: ${load()}`);

  console.log("\nWhat each case reached and cost (one run each)");
  const windows = new Map<string, number>();
  for (const c of cases.filter((x) => ONLY.test(x.name))) {
    const r = await h.run(c.name, c.text, c.followUp === true ? { followUp: true } : {});
    windows.set(c.name, r.observer.windowMs);
    printReach(r);
  }

  console.log(`\nObserver /dice 2d6 p99 while each case runs, against a paired baseline (${ROUNDS} rounds)`);
  const summary: string[] = [];
  for (const c of cases.filter((x) => x.paired && ONLY.test(x.name))) {
    const once = c.once === true || ONCE;
    let windowMs = once ? (windows.get(c.name) ?? 1_500) : WINDOW_MS + 800;
    const runs: CaseFigures[] = [];
    const bases: ObserverFigures[] = [];
    // The bot runs in this process: its CPU time and event-loop delay over each baseline window, to set beside
    // the case's (where the observer's time goes: the bot's loop, or the hosts and the OS).
    const baseLoop: { cpuMs: number; loopP99Ms: number; loopMaxMs: number; hostCpuMs: HostCpu }[] = [];
    const p: Paired = await pairedRounds(
      ROUNDS,
      async () => {
        const loop = monitorEventLoopDelay({ resolution: 10 });
        loop.enable();
        const cpu0 = process.cpuUsage();
        const host0 = hostCpu(h.plugin);
        const b = await h.baseline(windowMs);
        const cpu = process.cpuUsage(cpu0);
        const host1 = hostCpu(h.plugin);
        loop.disable();
        baseLoop.push({
          cpuMs: (cpu.user + cpu.system) / 1_000,
          loopP99Ms: loop.percentile(99) / 1e6,
          loopMaxMs: loop.max / 1e6,
          hostCpuMs: { shared: host1.shared - host0.shared, own: Math.max(0, host1.own - host0.own) },
        });
        bases.push(b);
        return b.p99Ms;
      },
      async () => {
        // A round whose case meets its host's crash backoff measures nothing: wait it out first, outside the window.
        const skill = c.text.startsWith("/allocbomb") ? "allocbomb" : "greedy";
        await new Promise((r) => setTimeout(r, h.plugin.supervisor.hostFor(skill).restartWaitMs + 20));
        const r = await h.run(c.name, c.text, {
          ...(c.followUp === true ? { followUp: true } : {}),
          ...(once ? {} : { repeatForMs: WINDOW_MS }),
        });
        runs.push(r);
        windowMs = r.observer.windowMs;
        return r.observer.p99Ms;
      },
    );
    // A p99 under 0.1 ms is not a measurement: floor it so one quiet window cannot make the ratio infinite.
    const floored: Paired = { base: p.base.map((b) => Math.max(0.1, b)), ours: p.ours };
    const failures = runs.reduce((n, r) => n + r.observer.failures, 0);
    const calls = runs.reduce((n, r) => n + r.observer.count, 0);
    const firstFailure = runs.find((r) => r.observer.firstFailure !== undefined)?.observer.firstFailure;
    const rss = Math.max(...runs.map((r) => r.botRssGrowthMb));
    const stall = Math.max(...runs.map((r) => r.loopMaxMs));
    // Every round's samples of each arm pooled: the p99 of several hundred samples, taken from windows that
    // alternate with the other arm's, so a slow minute of the machine weighs on both.
    const basePool = bases.flatMap((b) => b.samples);
    const casePool = runs.flatMap((r) => r.observer.samples);
    const pooled = quantile(casePool, 0.99) / Math.max(0.1, quantile(basePool, 0.99));
    const lines = formatPaired(floored, {
      baseLabel: "baseline",
      oursLabel: "case",
      unit: "ms",
      target: 2,
      lowerIsBetter: true,
    });
    console.log(`\n${c.name} (load average ${load()})`);
    console.log(
      `  pooled p99: baseline ${fmt(quantile(basePool, 0.99))} ms of ${basePool.length} samples, case ${fmt(quantile(casePool, 0.99))} ms of ${casePool.length} samples: ${pooled.toFixed(2)}× (target ≤ 2); p50 ${fmt(quantile(basePool, 0.5))} → ${fmt(quantile(casePool, 0.5))} ms`,
    );
    console.log(
      `  per round, each window's p99 (${fmt(median(bases.map((b) => b.count)))} and ${fmt(median(runs.map((r) => r.observer.count)))} samples a window, medians):`,
    );
    for (const line of lines) console.log(line);
    // What the hostile chat saw in each round: a case that only met its backoff measured nothing.
    const replies = [...new Set(runs.map((r) => r.reply.slice(0, 90)))];
    console.log(`  the hostile chat saw: ${replies.map((t) => JSON.stringify(t)).join(" / ")}`);
    console.log(
      `  the case ran ${runs.reduce((n, r) => n + r.runs, 0)} times over the rounds; observer failures: ${failures} of ${calls} calls (target 0)${firstFailure === undefined ? "" : `; first: ${JSON.stringify(firstFailure.slice(0, 160))}`}`,
    );
    console.log(
      `  bot RSS growth: ${fmt(rss)} MB at most over the rounds (target ≤ 50); event loop max stall ${fmt(stall)} ms`,
    );
    console.log(
      `  bot process, medians of the rounds: CPU ${fmt(median(baseLoop.map((b) => b.cpuMs)))} → ${fmt(median(runs.map((r) => r.botCpuMs)))} ms a window, event-loop delay p99 ${fmt(median(baseLoop.map((b) => b.loopP99Ms)))} → ${fmt(median(runs.map((r) => r.loopP99Ms)))} ms, max ${fmt(median(baseLoop.map((b) => b.loopMaxMs)))} → ${fmt(median(runs.map((r) => r.loopMaxMs)))} ms`,
    );
    const med = (xs: number[]): string => fmt(median(xs));
    console.log(
      `  skill hosts' CPU a window, medians: the observer's host ${med(baseLoop.map((b) => b.hostCpuMs.shared))} → ${med(runs.map((r) => r.hostCpuMs.shared))} ms, the others ${med(baseLoop.map((b) => b.hostCpuMs.own))} → ${med(runs.map((r) => r.hostCpuMs.own))} ms`,
    );
    const ratios = floored.ours.map((x, i) => x / floored.base[i]!).sort((a, b) => a - b);
    summary.push(
      `  ${c.name.padEnd(28)} pooled ${pooled.toFixed(2)}× (${basePool.length}/${casePool.length} samples; ≤ 2)   rounds ${pairedRatio(floored).toFixed(2)}× (best ${ratios[0]!.toFixed(2)}×)   failures ${failures} (0)   bot RSS +${fmt(rss)} MB (≤ 50)`,
    );
  }
  console.log(`\nSummary (load average at the end: ${load()})`);
  for (const line of summary) console.log(line);
} finally {
  await h.stop();
}

function printReach(r: CaseFigures): void {
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
    `  observer /dice: ${o.count} calls, ${o.failures} failed, p50 ${fmt(o.p50Ms)} ms, p99 ${fmt(o.p99Ms)} ms, max ${fmt(o.maxMs)} ms`,
  );
}
