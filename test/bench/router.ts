/**
 * Router benchmark: command messages per second and p50/p99 latency through the whole router (dedupe, rate
 * limits, policy lookup, permission check, dispatch, reply, metrics) on the embedded store with warm caches,
 * against calling the same built-in handler directly, in one run. Every message has a fresh delivery id, so the
 * dedupe check inserts a mark each time; the limits are on, set high enough never to trip.
 *
 *   npx node test/bench/router.ts [messages] [--rounds N] [--profile] [--tree]
 *
 * `--tree` sends `/deploy prod api --dry` instead of `/whoami`: a command with a subcommand and typed arguments
 * (a choice and a flag), so the router resolves the path, parses the arguments and authorises both nodes.
 *
 * The phases run in alternating rounds (drift on a noisy machine hits them alike); the best round of each is
 * reported with every round's rate. Rates are given per wall-clock second and per CPU second of this process
 * (user + system, all threads: GC included) — on a shared machine the second is what one core does.
 * `--profile` writes a V8 CPU profile of the router phases and prints the functions with the most self time.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../../bot/app/app.ts";
import { createLogger } from "../../bot/logger.ts";
import { parseConfig } from "../../config/index.ts";
import type { CommandContext, Inbound, Reply, SentMessage } from "../../bot/index.ts";
import { TestAdapter } from "../helpers/test-adapter.ts";

const argv = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const at = argv.indexOf(name);
  return at === -1 ? undefined : argv[at + 1];
};
const N = Number(argv.find((a) => /^\d+$/.test(a) && argv[argv.indexOf(a) - 1] !== "--rounds") ?? 200_000);
const ROUNDS = Number(flag("--rounds") ?? 3);
const PROFILE = argv.includes("--profile");
const TREE = argv.includes("--tree");
const CHATS = 1_000;
const USERS = 5_000;
const BATCH = 1_000;

function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const dir = await mkdtemp(join(tmpdir(), "sb-bench-router-"));
const config = parseConfig({
  bot: { dataDir: dir },
  http: { enabled: false },
  log: { level: "silent" },
  storage: { policyCacheTtlMs: 600_000 },
  // Limits stay in the path but high enough that the benchmark's spread of users never trips them.
  limits: { perUser: { burst: 1_000_000, perMinute: 1_000_000 }, perChat: { burst: 1_000_000, perMinute: 1_000_000 } },
});
const adapter = new TestAdapter("bench");
const app = await createApp({
  config,
  console: false,
  platformAdapters: false,
  plugins: false,
  extraAdapters: [adapter],
  log: createLogger({ level: "silent", format: "json" }),
});
await app.start();
const router = app.core.router;
// The command under test: the built-in /whoami, or with --tree a two-level tree with typed arguments.
const deployProd = {
  name: "prod",
  description: "Deploy to production",
  args: [
    { name: "service", description: "Which service", type: "string" as const, required: true, choices: ["api", "web"] },
    { name: "dry", description: "Only say what would change", type: "boolean" as const, flag: true },
  ],
  handler: (c: CommandContext) => `deploying ${String(c.options.service)}${c.options.dry === true ? " (dry run)" : ""}`,
};
if (TREE) {
  app.core.commands.register({
    name: "deploy",
    description: "Deploy a service",
    defaultRole: "member",
    source: "builtin",
    subcommands: [{ name: "staging", description: "Deploy to staging", handler: () => "staging" }, deployProd],
  });
}
const whoami = TREE ? { handler: deployProd.handler } : { handler: app.core.commands.get("whoami")!.handler! };
const TEXT = TREE ? "/deploy prod api --dry" : "/whoami";
const COMMAND = TREE
  ? { name: "deploy", args: ["prod", "api", "--dry"], rawArgs: "prod api --dry" }
  : { name: "whoami", args: [], rawArgs: "" };

let replies = 0;
let lastText = "";
const sent: SentMessage = { platform: "bench", chatId: "c", messageId: "m" };
const respond = async (reply: Reply): Promise<SentMessage> => {
  replies++;
  lastText = reply.text;
  return sent;
};
let seq = 0;
function message(i: number): Inbound {
  return {
    deliveryId: `bench:${++seq}`,
    platform: "bench",
    chat: { id: `c${i % CHATS}`, kind: "group", title: "bench" },
    user: { id: `u${i % USERS}`, displayName: "bench", platformRole: "member" },
    text: TEXT,
    command: COMMAND,
    receivedAt: 0,
    respond,
  };
}

// Warm: every chat's policy cached, JIT warm.
for (let i = 0; i < CHATS * 2; i++) await router.process(message(i));
replies = 0;
await router.process(message(0));
if (replies !== 1) throw new Error(`the warm-up ${TEXT} was not answered`);
// The router ran the command itself, not a refusal or a usage message.
if (!(TREE ? lastText === "deploying api (dry run)" : lastText.startsWith("Platform: bench"))) {
  throw new Error(`the warm-up ${TEXT} was answered with ${JSON.stringify(lastText)}`);
}

// Baseline: the same handler called directly with a ready context.
const ctx: CommandContext = {
  inbound: message(0),
  chatKey: "bench:c0",
  userKey: "bench:u0",
  role: "member",
  policy: undefined,
  args: [],
  rawArgs: "",
  path: TREE ? ["prod"] : [],
  options: TREE ? { service: "api", dry: true } : {},
  signal: new AbortController().signal,
  reply: (r) => respond(typeof r === "string" ? { text: r } : r),
  edit: async () => {},
};

/** One phase's measurement. */
interface Run {
  wallPerSec: number;
  cpuPerSec: number;
  p50Ms?: number;
  p99Ms?: number;
}

async function timed(body: (lat: Float64Array | undefined) => Promise<void>, latency: boolean): Promise<Run> {
  const lat = latency ? new Float64Array(N) : undefined;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await body(lat);
  const wallSecs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const run: Run = { wallPerSec: N / wallSecs, cpuPerSec: N / ((cpu.user + cpu.system) / 1e6) };
  if (lat !== undefined) {
    lat.sort();
    run.p50Ms = quantile(lat, 0.5);
    run.p99Ms = quantile(lat, 0.99);
  }
  return run;
}

const direct = (): Promise<Run> =>
  timed(async (lat) => {
    for (let i = 0; i < N; i++) {
      const s = performance.now();
      const out = await whoami.handler(ctx);
      if (out !== undefined) await ctx.reply(out);
      lat![i] = performance.now() - s;
    }
  }, true);

// Through the router, one message at a time (latency).
const oneAtATime = (): Promise<Run> =>
  timed(async (lat) => {
    for (let i = 0; i < N; i++) {
      const s = performance.now();
      await router.process(message(i));
      lat![i] = performance.now() - s;
    }
  }, true);

// Through the router, many chats in flight at once (throughput).
const inFlight = async (): Promise<Run> => {
  replies = 0;
  const run = await timed(async () => {
    const batch: Promise<void>[] = new Array<Promise<void>>(BATCH);
    for (let i = 0; i < N; i += BATCH) {
      const end = Math.min(N, i + BATCH);
      batch.length = end - i;
      for (let j = i; j < end; j++) batch[j - i] = router.handle(message(j));
      await Promise.all(batch);
      await router.drain();
    }
  }, false);
  if (replies !== N) throw new Error(`expected ${N} replies, saw ${replies}`);
  return run;
};

const session = PROFILE ? new Session() : undefined;
if (session !== undefined) {
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 100 });
}
const runs: Record<"direct" | "seq" | "par", Run[]> = { direct: [], seq: [], par: [] };
for (let r = 0; r < ROUNDS; r++) {
  runs.direct.push(await direct());
  if (session !== undefined && r === ROUNDS - 1) await session.post("Profiler.start");
  runs.seq.push(await oneAtATime());
  runs.par.push(await inFlight());
}
let profileOut: string | undefined;
let hot: string[] = [];
if (session !== undefined) {
  const { profile } = await session.post("Profiler.stop");
  profileOut = join(tmpdir(), `router-bench-${process.pid}.cpuprofile`);
  await writeFile(profileOut, JSON.stringify(profile));
  hot = topSelf(profile, 25);
  session.disconnect();
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const us = (n: number | undefined) => `${((n ?? 0) * 1000).toFixed(1)} µs`;
const best = (list: Run[]) => list.reduce((a, b) => (b.wallPerSec > a.wallPerSec ? b : a));
const line = (label: string, list: Run[]) => {
  const b = best(list);
  const lat = b.p50Ms === undefined ? "" : `   p50 ${us(b.p50Ms)}  p99 ${us(b.p99Ms)}`;
  return `  ${label.padEnd(26)} ${fmt(b.wallPerSec).padStart(9)} msg/s  ${fmt(b.cpuPerSec).padStart(9)} msg/CPU-s${lat}   (rounds: ${list.map((x) => fmt(x.wallPerSec)).join(", ")})`;
};
const bd = best(runs.direct);
const bs = best(runs.seq);
const bp = best(runs.par);
console.log(
  `router benchmark: ${fmt(N)} ${TEXT} messages × ${ROUNDS} rounds, ${CHATS} chats, ${USERS} users, embedded store, warm caches, Node ${process.versions.node}${PROFILE ? ", PROFILING (slower)" : ""}`,
);
console.log(line("direct handler call:", runs.direct));
console.log(line("router, one at a time:", runs.seq));
console.log(line(`router, ${BATCH} in flight:`, runs.par));
console.log(
  `  ratio router/direct: one at a time ${(bs.wallPerSec / bd.wallPerSec).toFixed(3)}, ${BATCH} in flight ${(bp.wallPerSec / bd.wallPerSec).toFixed(3)}`,
);
console.log(`  target: ≥ 100,000 msg/s and p99 ≤ 1 ms through the router`);
if (profileOut !== undefined) {
  console.log(`profile of the last round's router phases: ${profileOut}\n  self time, top functions:`);
  for (const row of hot) console.log(`  ${row}`);
}
await app.stop();
await rm(dir, { recursive: true, force: true });

/** The functions with the most self time in a V8 CPU profile, as "share  name file:line" rows. */
function topSelf(
  profile: {
    nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
    samples?: number[];
    timeDeltas?: number[];
  },
  count: number,
): string[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const frame = byId.get(samples[i]!)!.callFrame;
    const key = `${frame.functionName || "(anonymous)"} ${frame.url.split("/").slice(-2).join("/")}:${frame.lineNumber + 1}`;
    const dt = deltas[i] ?? 0;
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  }
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([k, t]) => `${((100 * t) / total).toFixed(1).padStart(5)}%  ${k}`);
}
