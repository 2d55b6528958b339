/**
 * Listener benchmark: `npx node test/bench/listeners.ts [--rounds 5] [--messages 200]`. Does a skill that hears
 * every message hold up the replies to them? A bot with the listener fixture enabled in one chat answers
 * `/heard deploy x` (its own command, whose line its message listener also matches) one message after another,
 * through the router and the skill host; each round measures the reply latency with the skill runtime subscribed
 * to the event bus (every message also runs the listener, in its own isolate) and unsubscribed (no event is even
 * built), back to back, order alternating. Prints p50 and p99 of each side per round, the median of the rounds'
 * p50 ratios against the target, best-of beside, and how many events the listener ran or dropped (its per-chat
 * queue holds 8; the rest are dropped at once, never queued).
 * No target: no reply waits for a listener (the e2e tests hold that with a listener that hangs); what this shows
 * is the cost of the listener's own invocation, which shares the bot process and the skill host with the replies.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createSkillsPlugin, type SkillsPlugin } from "../../skills/index.ts";
import { startTestBot } from "../helpers/app.ts";
import { median } from "./base-tree.ts";

const arg = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(name);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
};
const ROUNDS = arg("--rounds", 5);
const MESSAGES = arg("--messages", 200);
const FIXTURE = resolve(import.meta.dirname, "../fixtures/skills/listener");

const dataDir = await mkdtemp(join(tmpdir(), "sb-bench-listen-"));
let plugin: SkillsPlugin | undefined;
const bot = await startTestBot({
  set: {
    "bot.dataDir": dataDir,
    "skills.builtins": false,
    "limits.perUser": { burst: 1_000_000, perMinute: 1_000_000 },
    "limits.perChat": { burst: 1_000_000, perMinute: 1_000_000 },
  },
  plugins: [async (core) => (plugin = await createSkillsPlugin(core))],
});
const service = plugin!.service;
await service.load(FIXTURE, { source: "installed" });
await service.enable("test:bench", "listener", "test:admin");
const core = bot.app.core;

async function counts(): Promise<Record<string, number>> {
  const metric = await core.metrics.registry.getSingleMetric("switchboard_skill_events_total")?.get();
  const out: Record<string, number> = {};
  for (const v of metric?.values ?? []) out[String(v.labels.outcome)] = (out[String(v.labels.outcome)] ?? 0) + v.value;
  return out;
}

async function settle(): Promise<void> {
  while (service.listenerQueues > 0) await new Promise((r) => setTimeout(r, 10));
}

/** Reply latencies (ms) of `MESSAGES` commands, one after another. */
async function measure(): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < MESSAGES; i++) {
    const started = performance.now();
    await core.router.process(bot.adapter.inbound(`/heard deploy m${i % 10}`, { chatId: "bench", role: "admin" }));
    times.push(performance.now() - started);
  }
  await settle();
  return times.sort((a, b) => a - b);
}

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
let unsubscribe: (() => void) | undefined;
const listening = async () => {
  unsubscribe?.();
  unsubscribe = undefined;
  // The plugin's own subscription is in place; re-listening leaves it so.
  service.listen(core.events);
  return measure();
};
const quiet = async () => {
  unsubscribe = service.listen(core.events);
  unsubscribe(); // the service forgets the bus: nothing is subscribed, the router builds no event
  return measure();
};

await measure(); // warm: host, both isolates, the chat's contexts
const before = await counts();
const base: number[][] = [];
const ours: number[][] = [];
for (let r = 0; r < ROUNDS; r++) {
  if (r % 2 === 0) {
    base.push(await quiet());
    ours.push(await listening());
  } else {
    ours.push(await listening());
    base.push(await quiet());
  }
}
const after = await counts();
service.listen(core.events);

const f = (n: number) => n.toFixed(2);
const ratios = base.map((b, i) => pct(ours[i]!, 0.5) / pct(b, 0.5));
console.log(`listener in the path: ${ROUNDS} paired rounds of ${MESSAGES} sequential /heard replies each`);
console.log(
  `  p50 with / without a listener: ${median(ratios).toFixed(3)} (median of the rounds' ratios; added: ${f(median(base.map((b, i) => pct(ours[i]!, 0.5) - pct(b, 0.5))))} ms)` +
    `   [best-of beside: ${f(Math.min(...ours.map((o) => pct(o, 0.5))))} ms vs ${f(Math.min(...base.map((b) => pct(b, 0.5))))} ms]`,
);
for (let r = 0; r < ROUNDS; r++) {
  console.log(
    `  round ${r + 1}: without p50 ${f(pct(base[r]!, 0.5))} ms, p99 ${f(pct(base[r]!, 0.99))} ms; with p50 ${f(pct(ours[r]!, 0.5))} ms, p99 ${f(pct(ours[r]!, 0.99))} ms`,
  );
}
const delta = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
console.log(
  `  listener events while listening: ran ${delta("ok")}, dropped at once: queue-full ${delta("queue-full")}, busy ${delta("busy")}, stale ${delta("stale")}, failed ${delta("failed")}`,
);
await bot.stop();
await rm(dataDir, { recursive: true, force: true });
