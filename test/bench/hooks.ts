/**
 * Hook intake to the message handed to the adapter, on one process: real HTTP POSTs from a load generator in a
 * process of its own (`hooks-load.ts`: an undici `Pool`, keep-alive, 64 in flight, every request built before the
 * round starts) to `POST /hooks/<id>` with the hook's bearer secret and an idempotency key of its own per event, so
 * every event goes through verification, the rate check, dedupe and the group-committed durable queue, then the
 * worker, the template and the adapter hub, timed from its request's start (in the generator) until the
 * adapter's `send` is called (after `beforeSend`, the sent mark), both on the machine's monotonic clock. Two arms
 * interleaved round by round, the same generator for both: a raw route on the same listener that hands each body
 * straight to the adapter (the floor: HTTP and the hub only), and the hook path. Two stores: the embedded one in a
 * file (as `switchboard start` opens it), and PostgreSQL with Redis when they answer. Reports events/s (messages
 * handed to the adapter over the time from the first request's start to the last hand-over) and p99 latency,
 * medians of paired rounds with best-of beside, against the targets (≥ 2,000/s embedded, ≥ 5,000/s PostgreSQL +
 * Redis), and CPU time per event of the bot's process for each arm (listener and bot, no client) and of the
 * generator. The per-hook rate is set out of the way (`hooks.ratePerMinute: 10000000`; the default 120 would answer
 * 429, which fails the round).
 *
 *   npx node test/bench/hooks.ts [events=4000] [rounds=5] [stores=embedded,postgres]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { createApp, type App } from "../../bot/app/app.ts";
import type {
  AdapterCapabilities,
  AdapterHealth,
  ChannelAdapter,
  ConversationTarget,
  Reply,
  SendHooks,
  SentMessage,
} from "../../bot/index.ts";
import { pickServices } from "../../bot/index.ts";
import { createLogger } from "../../bot/logger.ts";
import { openStore } from "../../bot/storage/open.ts";
import type { Store } from "../../bot/storage/types.ts";
import { parseConfig } from "../../config/index.ts";
import { createHooksPlugin, HOOKS_NEEDS, type HooksPlugin } from "../../hooks/index.ts";
import { POSTGRES_URL, REDIS_URL, serviceAvailable } from "../helpers/services.ts";
import { median } from "./base-tree.ts";
import { eventText, type LoadGenerator, monotonicMs, startLoad } from "./hooks-load.ts";

const EVENTS = Number(process.argv[2] ?? 4_000);
const ROUNDS = Number(process.argv[3] ?? 5);
const STORES = new Set((process.argv[4] ?? "embedded,postgres").split(","));
const IN_FLIGHT = 64;
const WARM_UP = 3;

/** An adapter that records when each event's message was handed to it. */
class CountingAdapter implements ChannelAdapter {
  readonly platform = "bench";
  readonly capabilities: AdapterCapabilities = {
    edit: false,
    buttons: false,
    ephemeral: false,
    typing: false,
    maxTextLength: 4_000,
  };
  readonly handedAt = new Map<string, number>();
  #id = 0;
  #waiter: { n: number; resolve(): void } | undefined;
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  async send(target: ConversationTarget, reply: Reply, hooks?: SendHooks): Promise<SentMessage> {
    await hooks?.beforeSend?.();
    this.handedAt.set(reply.text, monotonicMs());
    if (this.#waiter !== undefined && this.handedAt.size >= this.#waiter.n) this.#waiter.resolve();
    return { platform: "bench", chatId: target.chatId, messageId: String(++this.#id) };
  }
  async edit(): Promise<void> {}
  async registerCommands(): Promise<void> {}
  health(): AdapterHealth {
    return { platform: "bench", state: "up", lastInboundAt: null, lastApiOkAt: null } as AdapterHealth;
  }
  wait(n: number): Promise<void> {
    if (this.handedAt.size >= n) return Promise.resolve();
    return new Promise((resolve) => {
      this.#waiter = { n, resolve };
    });
  }
}

interface Rig {
  app: App;
  adapter: CountingAdapter;
  load: LoadGenerator;
  hook: { id: string; secret: string };
  close(): Promise<void>;
}

async function rig(o: { store: Store; redisUrl?: string; cleanup(): Promise<void> }): Promise<Rig> {
  const config = parseConfig({
    http: { enabled: true, port: 0 },
    log: { level: "warn" },
    adapters: { console: { enabled: false } },
    hooks: { secretKey: "cd".repeat(32), ratePerMinute: 10_000_000, maxMessageChars: 4_000 },
    ...(o.redisUrl === undefined ? {} : { storage: { redisUrl: o.redisUrl } }),
  });
  const adapter = new CountingAdapter();
  let hooks: HooksPlugin | undefined;
  const app = await createApp({
    config,
    console: false,
    platformAdapters: false,
    store: o.store,
    log: createLogger({ level: "warn", format: "json" }),
    extraAdapters: [adapter],
    plugins: [
      async (core) => {
        hooks = await createHooksPlugin(pickServices(core, HOOKS_NEEDS));
        // The floor: the same listener and hub, nothing of the hook path.
        core.http.route("POST", "/bench/direct", async (req) => {
          const { text } = JSON.parse(req.rawBody.toString("utf8")) as { text: string };
          void core.adapters.send({ platform: "bench", chatId: "c" }, { text, format: "plain" });
          return { status: 202, body: "" };
        });
        return hooks;
      },
    ],
  });
  await app.start();
  const hook = await hooks!.registry.create({
    chatKey: "bench:c",
    name: "bench",
    template: "generic",
    options: { format: "{{text}}" },
    target: { platform: "bench", chatId: "c" },
    actor: "bench:1",
  });
  const address = app.httpAddress()!;
  const load = await startLoad({ origin: `http://${address.host}:${address.port}`, inFlight: IN_FLIGHT });
  return {
    app,
    adapter,
    load,
    hook: { id: hook.id, secret: hook.secret },
    async close() {
      await load.close();
      await app.stop();
      await o.store.close();
      await o.cleanup();
    },
  };
}

let roundNo = 0;

interface RoundResult {
  rate: number;
  p99: number;
  /** CPU time per event of this process (the listener and the bot; the client is in the generator). */
  cpuUs: number;
  /** The generator's CPU time per event. */
  loadCpuUs: number;
}

/** One round: `EVENTS` posts from the generator, 64 in flight; events/s until the last was handed over, p99 in ms. */
async function round(r: Rig, arm: "direct" | "hook"): Promise<RoundResult> {
  const tag = `r${++roundNo}`;
  const before = r.adapter.handedAt.size;
  await r.load.prepare({
    path: arm === "hook" ? `/hooks/${r.hook.id}` : "/bench/direct",
    authorization: `Bearer ${r.hook.secret}`,
    tag,
    events: EVENTS,
  });
  const cpu = process.cpuUsage();
  const sent = await r.load.go();
  await r.adapter.wait(before + EVENTS);
  const used = process.cpuUsage(cpu);
  const latencies: number[] = [];
  let last = 0;
  for (const [i, at] of sent.starts.entries()) {
    const handed = r.adapter.handedAt.get(eventText(tag, i))!;
    latencies.push(handed - at);
    last = Math.max(last, handed);
  }
  latencies.sort((a, b) => a - b);
  return {
    rate: EVENTS / ((last - Math.min(...sent.starts)) / 1000),
    p99: latencies[Math.floor(latencies.length * 0.99)]!,
    cpuUs: (used.user + used.system) / EVENTS,
    loadCpuUs: sent.cpuUs,
  };
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

async function measure(label: string, r: Rig, target: number): Promise<void> {
  // Warm-up, both processes: JIT, connections, the store's first pages. With one pair the floor was still
  // climbing in the measured rounds (7,570 → 19,868 events/s over five rounds at load 7).
  for (let i = 0; i < WARM_UP; i++) {
    await round(r, "hook");
    await round(r, "direct");
  }
  const direct: RoundResult[] = [];
  const hook: RoundResult[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    if (i % 2 === 0) {
      direct.push(await round(r, "direct"));
      hook.push(await round(r, "hook"));
    } else {
      hook.push(await round(r, "hook"));
      direct.push(await round(r, "direct"));
    }
  }
  const ratio = median(hook.map((h, i) => h.rate / direct[i]!.rate));
  console.log(
    `${label}: ${EVENTS} events per round, ${IN_FLIGHT} in flight from a generator process, ${ROUNDS} paired rounds`,
  );
  console.log(
    `  hook path: ${fmt(median(hook.map((h) => h.rate)))} events/s (target ≥ ${fmt(target)}), p99 ${median(hook.map((h) => h.p99)).toFixed(1)} ms` +
      `   [best-of beside: ${fmt(Math.max(...hook.map((h) => h.rate)))} events/s, p99 ${Math.min(...hook.map((h) => h.p99)).toFixed(1)} ms]`,
  );
  console.log(
    `  floor (raw route → adapter): ${fmt(median(direct.map((h) => h.rate)))} events/s, p99 ${median(direct.map((h) => h.p99)).toFixed(1)} ms; hook / floor ${ratio.toFixed(3)} (median of paired ratios)`,
  );
  const cpuHook = median(hook.map((h) => h.cpuUs));
  const cpuFloor = median(direct.map((h) => h.cpuUs));
  console.log(
    `  CPU per event (the bot's process): hook path ${cpuHook.toFixed(0)} µs, floor ${cpuFloor.toFixed(0)} µs; the hook path's own ${(cpuHook - cpuFloor).toFixed(0)} µs (medians); the generator ${median(hook.map((h) => h.loadCpuUs)).toFixed(0)} µs`,
  );
  if (process.env.BENCH_JSON === "1")
    console.log(
      `RESULT ${JSON.stringify({ label, rate: median(hook.map((h) => h.rate)), floor: median(direct.map((h) => h.rate)), ratio, p99: median(hook.map((h) => h.p99)), cpuHook, cpuFloor })}`,
    );
  console.log(`  rounds (floor → hook): ${direct.map((d, i) => `${fmt(d.rate)} → ${fmt(hook[i]!.rate)}`).join("; ")}`);
}

console.log(
  `load average ${loadavg()
    .map((n) => n.toFixed(1))
    .join(" ")} at start`,
);
if (STORES.has("embedded")) {
  const dir = mkdtempSync(join(tmpdir(), "sb-bench-hooks-"));
  const embedded = await rig({
    store: await openStore({ dataDir: dir }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  });
  try {
    await measure("embedded store (SQLite file)", embedded, 2_000);
  } finally {
    await embedded.close();
  }
}

if (!STORES.has("postgres")) {
  // Not asked for.
} else if ((await serviceAvailable("postgres")) && (await serviceAvailable("redis"))) {
  const name = `sb_bench_hooks_${process.pid}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  const pgDir = mkdtempSync(join(tmpdir(), "sb-bench-hooks-pg-"));
  const scaled = await rig({
    store: await openStore({ dataDir: pgDir, databaseUrl: url.toString() }),
    redisUrl: REDIS_URL,
    async cleanup() {
      rmSync(pgDir, { recursive: true, force: true });
      const drop = new pg.Client({ connectionString: POSTGRES_URL });
      await drop.connect();
      await drop.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await drop.end();
    },
  });
  try {
    await measure("PostgreSQL + Redis", scaled, 5_000);
  } finally {
    await scaled.close();
  }
} else console.log("PostgreSQL + Redis: not measured (they do not answer)");
console.log(
  `load average ${loadavg()
    .map((n) => n.toFixed(1))
    .join(" ")} at the end`,
);
