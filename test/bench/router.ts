/**
 * Router benchmark: command messages per second and p50/p99 latency through the whole router (dedupe, rate
 * limits, policy lookup, permission check, dispatch, reply) on the embedded store with warm caches, against
 * calling the same built-in handler directly, in one run.
 *
 *   npx node test/bench/router.ts [messages]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../../bot/app.ts";
import { createLogger } from "../../bot/logger.ts";
import { parseConfig } from "../../config/index.ts";
import type { CommandContext, Inbound, Reply, SentMessage } from "../../bot/index.ts";
import { TestAdapter } from "../helpers/test-adapter.ts";

const N = Number(process.argv[2] ?? 200_000);
const CHATS = 1_000;
const USERS = 5_000;

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
const app = await createApp({ config, console: false, platformAdapters: false, plugins: false, extraAdapters: [adapter], log: createLogger({ level: "silent", format: "json" }) });
await app.start();
const router = app.core.router;
const whoami = app.core.commands.get("whoami")!;

let replies = 0;
const sent: SentMessage = { platform: "bench", chatId: "c", messageId: "m" };
const respond = async (_reply: Reply): Promise<SentMessage> => { replies++; return sent; };
let seq = 0;
function message(i: number): Inbound {
  return {
    deliveryId: `bench:${++seq}`,
    platform: "bench",
    chat: { id: `c${i % CHATS}`, kind: "group", title: "bench" },
    user: { id: `u${i % USERS}`, displayName: "bench", platformRole: "member" },
    text: "/whoami",
    command: { name: "whoami", args: [], rawArgs: "" },
    receivedAt: 0,
    respond,
  };
}

// Warm: every chat's policy cached, JIT warm.
for (let i = 0; i < CHATS * 2; i++) await router.process(message(i));

// Baseline: the same handler called directly with a ready context.
const ctx: CommandContext = {
  inbound: message(0), chatKey: "bench:c0", userKey: "bench:u0", role: "member", policy: undefined, args: [], rawArgs: "",
  signal: new AbortController().signal, reply: (r) => respond(typeof r === "string" ? { text: r } : r), edit: async () => {},
};
const base = new Float64Array(N);
let t0 = performance.now();
for (let i = 0; i < N; i++) {
  const s = performance.now();
  const out = await whoami.handler(ctx);
  if (out !== undefined) await ctx.reply(out);
  base[i] = performance.now() - s;
}
const baseSecs = (performance.now() - t0) / 1000;

// Through the router, one message at a time (latency).
const lat = new Float64Array(N);
t0 = performance.now();
for (let i = 0; i < N; i++) {
  const s = performance.now();
  await router.process(message(i));
  lat[i] = performance.now() - s;
}
const seqSecs = (performance.now() - t0) / 1000;

// Through the router, many chats in flight at once (throughput).
replies = 0;
const BATCH = 1_000;
t0 = performance.now();
for (let i = 0; i < N; i += BATCH) {
  const batch: Promise<void>[] = [];
  for (let j = i; j < i + BATCH && j < N; j++) batch.push(router.handle(message(j)));
  await Promise.all(batch);
}
await router.drain();
const parSecs = (performance.now() - t0) / 1000;
if (replies !== N) throw new Error(`expected ${N} replies, saw ${replies}`);

base.sort();
lat.sort();
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const ms = (n: number) => `${(n * 1000).toFixed(1)} µs`;
console.log(`router benchmark: ${fmt(N)} /whoami messages, ${CHATS} chats, ${USERS} users, embedded store, warm caches, Node ${process.versions.node}`);
console.log(`  direct handler call:        ${fmt(N / baseSecs)} msg/s   p50 ${ms(quantile(base, 0.5))}  p99 ${ms(quantile(base, 0.99))}`);
console.log(`  router, one at a time:      ${fmt(N / seqSecs)} msg/s   p50 ${ms(quantile(lat, 0.5))}  p99 ${ms(quantile(lat, 0.99))}`);
console.log(`  router, ${BATCH} in flight:    ${fmt(N / parSecs)} msg/s`);
console.log(`  ratio router/direct (one at a time): ${(baseSecs / seqSecs).toFixed(3)}; target ≥ 100,000 msg/s and p99 ≤ 1 ms through the router`);
await app.stop();
await rm(dir, { recursive: true, force: true });
