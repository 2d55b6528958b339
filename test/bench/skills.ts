/**
 * Skill runtime benchmark: `npx node test/bench/skills.ts [--first-only]` (re-runs itself with
 * `--no-node-snapshot`, which isolated-vm needs in the process that creates isolates).
 * Prints, from one run:
 * - cold start: isolate + context + bootstrap + compile and run of the built-in dice skill (raw isolated-vm in
 *   this process), and a cold first call through the skill host (fork already up, IPC included);
 * - warm call overhead through the runtime (bot → IPC → skill host → isolate → back) against calling the same
 *   handler as a plain function in this process (baseline, same run), also with one capability round trip;
 * - what a fresh context per call would cost instead of the per-chat context kept warm;
 * - memory per idle loaded skill (host RSS growth and isolate heap, per skill);
 * - the warm call with the invocation budget in the path (a budget meter per call, every capability charged, the
 *   host counting calls against `maxCapCalls`), paired round by round with the same call without a meter;
 * - idle memory of one skill-host process (what `hostIsolation: per-skill` costs per skill in use);
 * - cold start as users see it: the first `/dice` after a bot start, through the router, with
 *   `skills.warmOnStart` off (the host forks on that call) and on, in paired rounds (a fresh bot each time; the
 *   command comes 2 s after the start, as a person's would).
 * Targets: warm overhead ≤ 0.3 ms (budgets included), cold ≤ 15 ms (the first command after start, p50),
 * ≤ 3 MB per idle skill.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import ivm from "isolated-vm";
import { BOOTSTRAP_SOURCE } from "../../skills/host/bootstrap.ts";
import type { HostSkillSpec } from "../../skills/host/protocol.ts";
import { BUILTIN_DIR } from "../../skills/plugin.ts";
import { BudgetMeter } from "../../skills/runtime/budget.ts";
import { SkillHostSupervisor } from "../../skills/runtime/supervisor.ts";
import { createApp } from "../../bot/app/app.ts";
import { pickServices } from "../../bot/core.ts";
import { createLogger } from "../../bot/logger.ts";
import { memoryStore } from "../../bot/storage/open.ts";
import { parseConfig } from "../../config/index.ts";
import { createSkillsPlugin, SKILLS_NEEDS } from "../../skills/index.ts";
import { TestAdapter } from "../helpers/test-adapter.ts";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";

const code = readFileSync(join(BUILTIN_DIR, "dice", "dist", "index.js"), "utf8");
const input = JSON.stringify({
  args: ["2d6"],
  rawArgs: "2d6",
  chat: { id: "bench:1", platform: "bench", kind: "group" },
  user: { id: "bench:u", name: "u", role: "member" },
});

function spec(key: string, source = code): HostSkillSpec {
  return {
    key,
    name: key.split("@")[0]!,
    code: source,
    memoryMb: 16,
    cpuMs: 1_000,
    timeoutMs: 5_000,
    maxResultChars: 65_536,
    maxCapArgChars: 65_536,
    maxCapCalls: 200,
    maxContexts: 16,
    idleMs: 600_000,
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const fmt = (ms: number): string => (ms < 1 ? `${(ms * 1000).toFixed(1)} µs` : `${ms.toFixed(2)} ms`);

async function rawCold(): Promise<{ cold: number[]; freshContext: number[] }> {
  const cold: number[] = [];
  const freshContext: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t0 = performance.now();
    const isolate = new ivm.Isolate({ memoryLimit: 16 });
    const context = await isolate.createContext();
    const bootstrap = await isolate.compileScript(BOOTSTRAP_SOURCE);
    const install = await bootstrap.run(context, { reference: true });
    await install.apply(
      undefined,
      [
        new ivm.Callback(() => undefined, { ignored: true }),
        JSON.stringify({ maxCapArgChars: 1e5, maxResultChars: 1e5 }),
      ],
      { result: { reference: true } },
    );
    const script = await isolate.compileScript(code);
    await script.run(context);
    cold.push(performance.now() - t0);
    // A fresh context for a call, reusing the compiled scripts.
    const t1 = performance.now();
    const c2 = await isolate.createContext();
    const i2 = await bootstrap.run(c2, { reference: true });
    await i2.apply(
      undefined,
      [new ivm.Callback(() => undefined, { ignored: true }), '{"maxCapArgChars":1,"maxResultChars":1}'],
      { result: { reference: true } },
    );
    await script.run(c2);
    freshContext.push(performance.now() - t1);
    isolate.dispose();
  }
  return { cold, freshContext };
}

function plainBaseline(iterations: number): number {
  const skill = new Function(`${code}; return skill;`)() as {
    default: { commands: { dice: (ctx: unknown) => unknown } };
  };
  const handler = skill.default.commands.dice;
  const ctx = JSON.parse(input) as Record<string, unknown>;
  let sink = 0;
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) {
    // The same work the runtime does around a call: parse the input, run the handler, serialise the result.
    const c = JSON.parse(input) as Record<string, unknown>;
    const out = JSON.stringify({ ok: true, value: handler({ ...ctx, ...c }) });
    sink += out.length;
  }
  const perCall = (performance.now() - t0) / iterations;
  if (sink === 0) throw new Error("unreachable");
  return perCall;
}

/** A fresh bot with the skills plugin; the first `/dice` 2 s after its start, through the router, in ms. */
async function firstCommandAfterStart(warmOnStart: boolean): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), "sb-bench-first-"));
  const store = await memoryStore();
  const adapter = new TestAdapter();
  const app = await createApp({
    config: parseConfig({
      bot: { dataDir: dir },
      http: { enabled: false },
      log: { level: "silent" },
      skills: { warmOnStart },
    }),
    console: false,
    platformAdapters: false,
    store,
    extraAdapters: [adapter],
    log: createLogger({ level: "silent", format: "json" }),
    plugins: [async (core) => createSkillsPlugin(pickServices(core, SKILLS_NEEDS))],
  });
  try {
    await app.start();
    await new Promise((r) => setTimeout(r, 2_000));
    const t0 = performance.now();
    await app.core.router.process(adapter.inbound("/dice 2d6", { role: "member" }));
    const ms = performance.now() - t0;
    if (!adapter.textsIn().some((t) => /\d/.test(t)))
      throw new Error(`/dice was not answered: ${adapter.textsIn().join(" | ")}`);
    return ms;
  } finally {
    await app.stop();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (process.argv.includes("--first-only")) {
    await printFirstCommand();
    return;
  }
  const { cold, freshContext } = await rawCold();
  const supervisor = new SkillHostSupervisor({ poolSize: 1, permissionModel: true, hostGraceMs: 5_000 });
  await supervisor.start();
  const noCap = async (): Promise<string> => '{"ok":true,"value":null}';

  // Cold first calls through the host: a new skill version each time.
  const coldHost: number[] = [];
  for (let i = 0; i < 20; i++) {
    const s = spec(`dice-cold${i}@1.0.0`);
    supervisor.load(s);
    const t0 = performance.now();
    const r = await supervisor.call(s, "bench:1", { kind: "command", name: "dice", input: input, onCap: noCap });
    coldHost.push(performance.now() - t0);
    if (!r.ok) throw new Error(`cold call failed: ${r.message}`);
    supervisor.unload(s);
  }

  // Warm calls.
  const warm = spec("dice@1.0.0");
  supervisor.load(warm);
  for (let i = 0; i < 500; i++)
    await supervisor.call(warm, "bench:1", { kind: "command", name: "dice", input: input, onCap: noCap });
  const N = 2_000;
  const rounds: number[] = [];
  const perCall: number[] = [];
  for (let round = 0; round < 5; round++) {
    const t0 = performance.now();
    for (let i = 0; i < N; i++) {
      const c0 = performance.now();
      await supervisor.call(warm, "bench:1", { kind: "command", name: "dice", input: input, onCap: noCap });
      perCall.push(performance.now() - c0);
    }
    rounds.push((performance.now() - t0) / N);
  }
  const baselines = Array.from({ length: 5 }, () => plainBaseline(N));

  // Warm call that makes one capability round trip (storage.get answered by the bot side).
  const capSkill = spec(
    "capper@1.0.0",
    "var skill = { commands: { c: async function (ctx) { var v = await ctx.storage.get('k'); return 'v' + v; } } };",
  );
  supervisor.load(capSkill);
  const capAnswer = async (): Promise<string> => '{"ok":true,"value":1}';
  for (let i = 0; i < 300; i++)
    await supervisor.call(capSkill, "bench:1", { kind: "command", name: "c", input: input, onCap: capAnswer });
  const capCalls: number[] = [];
  for (let i = 0; i < 3 * N; i++) {
    const c0 = performance.now();
    await supervisor.call(capSkill, "bench:1", { kind: "command", name: "c", input: input, onCap: capAnswer });
    capCalls.push(performance.now() - c0);
  }

  // Warm call with one capability round trip, with and without the budget in the path, paired per round.
  const budget = {
    fetchInFlight: 4,
    fetchRequests: 20,
    fetchBytesIn: 2_097_152,
    fetchBytesOut: 262_144,
    fileBytesIn: 4_194_304,
    capCallsPerSecond: 100_000,
    capCalls: 200,
    storageWrites: 20,
    llmCalls: 3,
    llmTokens: 8_000,
    replies: 5,
    replyChars: 8_000,
  };
  const plainRounds: number[] = [];
  const budgetRounds: number[] = [];
  const R = 500;
  for (let round = 0; round < 8; round++) {
    let t0 = performance.now();
    for (let i = 0; i < R; i++)
      await supervisor.call(capSkill, "bench:1", { kind: "command", name: "c", input, onCap: capAnswer });
    plainRounds.push((performance.now() - t0) / R);
    t0 = performance.now();
    for (let i = 0; i < R; i++) {
      const meter = new BudgetMeter(budget);
      await supervisor.callWith(capSkill, {
        chatKey: "bench:1",
        kind: "command",
        name: "c",
        input,
        onCap: (_name, _args) => {
          meter.chargeCall();
          return capAnswer();
        },
        onRefused: (count) => meter.countRefused("calls", count),
      });
    }
    budgetRounds.push((performance.now() - t0) / R);
  }
  const budgetCost = plainRounds.map((p, i) => budgetRounds[i]! - p);

  // The same call in a host of its own (a skill from a registry): the spawner forked that host and relays its
  // messages, one more IPC hop each way. Paired per round with the shared host's (the built-ins', forked by the bot).
  const ownSkill = { ...capSkill, key: "capper-own@1.0.0", name: "capper-own" };
  supervisor.load(ownSkill, { isolated: true });
  for (let i = 0; i < 300; i++)
    await supervisor.call(ownSkill, "bench:1", { kind: "command", name: "c", input, onCap: capAnswer });
  const sharedRounds: number[] = [];
  const ownRounds: number[] = [];
  for (let round = 0; round < 8; round++) {
    for (const [target, into] of [
      [capSkill, sharedRounds],
      [ownSkill, ownRounds],
    ] as const) {
      const t0 = performance.now();
      for (let i = 0; i < R; i++)
        await supervisor.call(target, "bench:1", { kind: "command", name: "c", input, onCap: capAnswer });
      into.push((performance.now() - t0) / R);
    }
  }
  const relayCost = ownRounds.map((o, i) => o - sharedRounds[i]!);
  supervisor.unload(ownSkill);

  // Memory per idle loaded skill: load and call M skills once each, compare host RSS.
  const before = (await supervisor.stats())[0]!;
  const M = 20;
  for (let i = 0; i < M; i++) {
    const s = spec(`dice-idle${i}@1.0.0`);
    supervisor.load(s);
    await supervisor.call(s, "bench:1", { kind: "command", name: "dice", input: input, onCap: noCap });
  }
  const after = (await supervisor.stats())[0]!;
  const idle = after.skills.filter((s) => s.key.startsWith("dice-idle") && s.live);
  const heapPer = idle.reduce((a, s) => a + s.heapBytes + s.externalBytes, 0) / Math.max(1, idle.length);
  const rssPer = (after.rssBytes - before.rssBytes) / M;
  await supervisor.stop();

  // Idle memory of a skill-host process: fresh isolated hosts, each with one skill called once.
  const perHost = new SkillHostSupervisor({ poolSize: 1, permissionModel: true, hostGraceMs: 5_000, maxRssMb: 256 });
  await perHost.start();
  const bare = (await perHost.stats())[0]!.rssBytes;
  const hostRss: number[] = [];
  for (let i = 0; i < 3; i++) {
    const s = spec(`own${i}@1.0.0`);
    perHost.load(s, { isolated: true });
    await perHost.call(s, "bench:1", { kind: "command", name: "dice", input, onCap: noCap });
  }
  for (const stats of (await perHost.stats()).slice(1)) hostRss.push(stats.rssBytes);
  // What a host costs beyond the pages it shares with the others (the node binary, libraries): its private pages.
  const privateMb = perHost
    .pids()
    .slice(1)
    .map((pid) => privateBytes(pid) / 1_048_576);
  await perHost.stop();

  const warmMs = median(perCall);
  const baseMs = median(baselines);
  const overhead = warmMs - baseMs;
  console.log("skills benchmark (built-in dice skill; medians; machine load shows in every figure)");
  console.log(
    `  cold start, raw (isolate + context + bootstrap + compile + run): ${fmt(median(cold))}   target ≤ 15 ms`,
  );
  console.log(`  cold first call through the skill host (IPC included):          ${fmt(median(coldHost))}`);
  console.log(
    `  warm call through the runtime (IPC + isolate):                  ${fmt(warmMs)} median, ${fmt(median(rounds))} mean`,
  );
  console.log(`  same handler as a plain function (baseline, same run):          ${fmt(baseMs)}`);
  console.log(
    `  warm overhead (runtime − baseline):                             ${fmt(overhead)}   target ≤ 0.3 ms   ratio ${(warmMs / baseMs).toFixed(0)}×`,
  );
  console.log(`  warm call with one capability round trip:                       ${fmt(median(capCalls))} median`);
  console.log(
    `  a fresh context per call would add:                             ${fmt(median(freshContext))} (per-chat contexts are kept warm instead)`,
  );
  console.log(
    `  warm call + one capability, budget in the path:                 ${fmt(median(budgetRounds))} vs ${fmt(median(plainRounds))} without; budget adds ${fmt(median(budgetCost))} median of 8 paired rounds (best ${fmt(Math.min(...budgetCost))})`,
  );
  console.log(
    `  warm overhead with budgets (runtime + budget − baseline):       ${fmt(overhead + Math.max(0, median(budgetCost)))}   target ≤ 0.3 ms`,
  );
  console.log(
    `  warm call + one capability, host of its own (spawner relay):    ${fmt(median(ownRounds))} vs ${fmt(median(sharedRounds))} in the shared host; the relay adds ${fmt(median(relayCost))} median of 8 paired rounds (best ${fmt(Math.min(...relayCost))})`,
  );
  console.log(
    `  idle skill-host process: ${(bare / 1_048_576).toFixed(1)} MB RSS with no skill; ${hostRss.map((r) => (r / 1_048_576).toFixed(1)).join(", ")} MB with one skill called once; private (not shared) ${privateMb.map((m) => m.toFixed(1)).join(", ")} MB`,
  );
  console.log(
    `  memory per idle loaded skill: host RSS ${(rssPer / 1_048_576).toFixed(2)} MB, isolate heap ${(heapPer / 1_048_576).toFixed(2)} MB   target ≤ 3 MB`,
  );
  await printFirstCommand();
}

/** The first skill command after start, as users see it: warm-up off against on, paired rounds. */
async function printFirstCommand(rounds = Number(process.env.BENCH_ROUNDS ?? 5)): Promise<void> {
  const off: number[] = [];
  const on: number[] = [];
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      off.push(await firstCommandAfterStart(false));
      on.push(await firstCommandAfterStart(true));
    } else {
      on.push(await firstCommandAfterStart(true));
      off.push(await firstCommandAfterStart(false));
    }
  }
  console.log(
    `  first /dice after start, through the router (${rounds} paired rounds, fresh bot each): warm-up off p50 ${fmt(median(off))} (best ${fmt(Math.min(...off))}), warm-up on p50 ${fmt(median(on))} (best ${fmt(Math.min(...on))})   target ≤ 15 ms p50`,
  );
  console.log(`    rounds (off → on): ${off.map((x, i) => `${fmt(x)} → ${fmt(on[i]!)}`).join("; ")}`);
}

/** Private resident bytes of a process (Linux `smaps_rollup`; 0 elsewhere). */
function privateBytes(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    let kb = 0;
    for (const m of text.matchAll(/^Private_(?:Clean|Dirty):\s+(\d+) kB/gm)) kb += Number(m[1]);
    return kb * 1024;
  } catch {
    return 0;
  }
}

if (process.execArgv.includes("--no-node-snapshot")) {
  await main();
} else {
  const { spawnSync } = await import("node:child_process");
  const run = spawnSync(
    process.execPath,
    ["--no-node-snapshot", ...process.execArgv, process.argv[1]!, ...process.argv.slice(2)],
    {
      stdio: "inherit",
    },
  );
  process.exitCode = run.status ?? 1;
}
