/**
 * The gateway's overhead: the same `openai` client calls the OpenAI stand-in directly and through the gateway
 * (a real bot with the LLM and gateway modules, in a process of its own), in one run. The stand-in is a third
 * process answering at once (`pong-<n>.`; `chunks:<k>` streams k chunks).
 *
 * - plain: sequential non-streamed requests, p50 and p99 per round, overhead = gateway − direct;
 * - streamed: time to the first content chunk of an 8-chunk stream, same figures;
 * - per chunk: the stand-in spaces an 8-chunk stream's chunks 2 ms apart; the mean gap between content chunks
 *   as the client sees them, gateway − direct, against the noise: how much the direct run's own figure moves
 *   from round to round;
 * - throughput: requests per second with 100 in flight, through the gateway and directly.
 *
 * With `--base`, a third process serves the gateway from the base commit's code (`base-tree.ts`: the merge base
 * with main, or `BENCH_BASE`), measured in the same rounds: before and after from one machine state.
 *
 * Within a round the sequential requests rotate over the sides one by one, and the throughput runs rotate which
 * side goes first; figures are the median over rounds with the best round beside it (with `--base`, the throughput
 * is also given as this tree's over the base's, the median of the rounds' ratios). Targets: ≥ 1,000 requests/s
 * through the gateway, p99 overhead ≤ 5 ms, per-chunk overhead below noise.
 *
 *   npx node test/bench/gateway.ts [--rounds 5] [--requests 300] [--streams 60] [--throughput 3000] [--base]
 */
import { spawn } from "node:child_process";
import { loadavg } from "node:os";
import { createInterface } from "node:readline";
import OpenAI from "openai";
import { ensureBaseTree } from "./base-tree.ts";
import { formatPaired } from "./paired.ts";

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(args[i + 1]);
};

if (args[0] === "--serve") await serve(args[1]!);
else await bench();

/** The gateway process: a bot on a free port with two models on the stand-in; prints `ready <port> <key>`. */
async function serve(standInUrl: string): Promise<void> {
  const { createApp } = await import("../../bot/app/app.ts");
  const { createLogger } = await import("../../bot/logger.ts");
  const { memoryStore } = await import("../../bot/storage/open.ts");
  const { parseConfig } = await import("../../config/index.ts");
  const { createLlmPlugin } = await import("../../llm/index.ts");
  const { createGatewayPlugin } = await import("../../gateway/index.ts");
  type GatewayPlugin = Awaited<ReturnType<typeof createGatewayPlugin>>;
  const config = parseConfig({
    http: { enabled: true, port: 0 },
    log: { level: "warn" },
    adapters: { console: { enabled: false } },
    llm: {
      models: [
        { name: "bench", provider: "openai", model: "stand-bench", baseUrl: standInUrl, stream: false },
        { name: "bench-stream", provider: "openai", model: "stand-bench", baseUrl: standInUrl, stream: true },
      ],
    },
    gateway: { enabled: true },
  });
  let llm: ReturnType<typeof createLlmPlugin> | undefined;
  let gateway: GatewayPlugin | undefined;
  const app = await createApp({
    config,
    log: createLogger({ level: "warn", format: "json", destination: process.stderr }),
    console: false,
    platformAdapters: false,
    store: await memoryStore(),
    plugins: [
      (core) => (llm = createLlmPlugin(core)),
      async (core) => (gateway = await createGatewayPlugin(core, { llm: (await llm!).service })),
    ],
  });
  await app.start();
  const { key } = await gateway!.keys.create({ userKey: "bench:1" }, { actor: "bench", via: "cli" });
  process.stdout.write(`ready ${app.httpAddress()!.port} ${key}\n`);
  process.stdin.resume();
  process.stdin.on("end", () => void app.stop().then(() => process.exit(0)));
}

async function bench(): Promise<void> {
  const ROUNDS = flag("rounds", 5);
  const REQUESTS = flag("requests", 300);
  const STREAMS = flag("streams", 60);
  const THROUGHPUT = flag("throughput", 3_000);
  const CONCURRENCY = 100;
  const GAP_MS = 2;
  const withBase = args.includes("--base");
  const load = loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");
  const self = new URL(import.meta.url).pathname;
  const standIn = spawn(process.execPath, [new URL("../stand-ins/openai/main.ts", import.meta.url).pathname], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const standInUrl = await new Promise<string>((r) => createInterface({ input: standIn.stdout! }).once("line", r));
  // BENCH_CPU_PROF=<dir> writes a V8 CPU profile of the gateway process there.
  const prof =
    process.env.BENCH_CPU_PROF === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`];
  const servers: ReturnType<typeof spawn>[] = [];
  const startGateway = async (script: string, extra: string[]): Promise<OpenAI> => {
    const server = spawn(process.execPath, [...extra, script, "--serve", standInUrl], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    servers.push(server);
    const ready = await new Promise<string>((r) => createInterface({ input: server.stdout! }).once("line", r));
    const [, port, key] = ready.split(" ");
    return new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: key!, maxRetries: 0 });
  };
  const base = withBase ? ensureBaseTree() : undefined;
  const direct = new OpenAI({ baseURL: standInUrl, apiKey: "unused", maxRetries: 0 });
  const targets = {
    direct: { client: direct, plain: "stand-bench", streamed: "stand-bench" },
    gateway: { client: await startGateway(self, prof), plain: "bench", streamed: "bench-stream" },
    ...(base === undefined
      ? {}
      : {
          base: {
            client: await startGateway(`${base.dir}/test/bench/gateway.ts`, []),
            plain: "bench",
            streamed: "bench-stream",
          },
        }),
  };
  type Side = "direct" | "gateway" | "base";
  const sides: Side[] = base === undefined ? ["direct", "gateway"] : ["direct", "base", "gateway"];
  const gateways = sides.filter((s) => s !== "direct");
  const target = (side: Side) => targets[side as keyof typeof targets]!;

  const plain = async (side: Side): Promise<number> => {
    const t = target(side);
    const started = performance.now();
    await t.client.chat.completions.create({ model: t.plain, messages: [{ role: "user", content: "hi" }] });
    return performance.now() - started;
  };
  const firstToken = async (side: Side): Promise<number> => {
    const t = target(side);
    const started = performance.now();
    const stream = await t.client.chat.completions.create({
      model: t.streamed,
      messages: [{ role: "user", content: "chunks:8" }],
      stream: true,
    });
    let ttft = Number.NaN;
    for await (const c of stream)
      if (Number.isNaN(ttft) && c.choices[0]?.delta.content) ttft = performance.now() - started;
    return ttft;
  };
  // The mean gap between one stream's content chunks as they arrive, the stand-in spacing them GAP_MS apart.
  const chunkGap = async (side: Side): Promise<number> => {
    const t = target(side);
    const stream = await t.client.chat.completions.create({
      model: t.streamed,
      messages: [{ role: "user", content: `chunks:8 gap:${GAP_MS}` }],
      stream: true,
    });
    const at: number[] = [];
    for await (const c of stream) if (c.choices[0]?.delta.content) at.push(performance.now());
    return (at.at(-1)! - at[0]!) / (at.length - 1);
  };
  const throughput = async (side: Side): Promise<number> => {
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next++ < THROUGHPUT) await plain(side);
      }),
    );
    return THROUGHPUT / ((performance.now() - started) / 1000);
  };
  const rotated = (i: number): Side[] => sides.map((_, j) => sides[(i + j) % sides.length]!);
  // Requests rotate over the sides one by one (which goes first rotates too), so a burst of load from other work
  // on the machine falls on every series alike.
  const series = async (fn: (s: Side) => Promise<number>, count: number): Promise<Record<Side, number[]>> => {
    const xs: Record<Side, number[]> = { direct: [], gateway: [], base: [] };
    for (let i = 0; i < count; i++) for (const side of rotated(i)) xs[side].push(await fn(side));
    for (const side of sides) xs[side].sort((a, b) => a - b);
    return xs;
  };
  const pct = (xs: number[], p: number): number => xs[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

  // Warm every path (connections, JIT, lazy loads in the gateway).
  for (const side of sides) for (let i = 0; i < 200; i++) await Promise.all([plain(side), firstToken(side)]);

  type Figures = { p50: number[]; p99: number[]; t50: number[]; t99: number[]; gap: number[]; rps: number[] };
  const raw = Object.fromEntries(
    sides.map((s) => [s, { p50: [], p99: [], t50: [], t99: [], gap: [], rps: [] } as Figures]),
  ) as Record<Side, Figures>;
  for (let round = 0; round < ROUNDS; round++) {
    const p = await series(plain, REQUESTS);
    const t = await series(firstToken, REQUESTS);
    const g = await series(chunkGap, STREAMS);
    for (const side of rotated(round)) raw[side].rps.push(await throughput(side));
    for (const side of sides) {
      raw[side].p50.push(pct(p[side], 0.5));
      raw[side].p99.push(pct(p[side], 0.99));
      raw[side].t50.push(pct(t[side], 0.5));
      raw[side].t99.push(pct(t[side], 0.99));
      raw[side].gap.push(pct(g[side], 0.5));
    }
    console.error(`round ${round + 1}/${ROUNDS} done`);
  }
  // Per round, a gateway's figure less the direct one of the same round.
  const over = (side: Side, f: keyof Figures): number[] => raw[side][f].map((x, i) => x - raw.direct[f][i]!);
  const ms = (x: number) => `${x.toFixed(2)} ms`;
  const us = (x: number) => `${(x * 1000).toFixed(0)} µs`;
  const best = (xs: number[], low = true) => (low ? Math.min(...xs) : Math.max(...xs));
  const name = (side: Side) => (side === "base" ? `gateway at ${base!.commit} (base)` : "gateway (this tree)");
  const noise = Math.max(...raw.direct.gap) - Math.min(...raw.direct.gap);
  console.log(
    `Gateway overhead, ${ROUNDS} paired rounds of ${REQUESTS} sequential requests and ${STREAMS} paced streams (median of rounds, best round in brackets):`,
  );
  console.log(
    `  direct: plain p50 ${ms(median(raw.direct.p50))}, p99 ${ms(median(raw.direct.p99))}; first token p50 ${ms(median(raw.direct.t50))}; chunk gap ${ms(median(raw.direct.gap))} (stand-in: ${GAP_MS} ms); throughput ${median(raw.direct.rps).toFixed(0)} req/s (${best(raw.direct.rps, false).toFixed(0)})`,
  );
  for (const side of gateways) {
    const r = raw[side];
    const [p50, p99, t50, t99, gap] = [
      over(side, "p50"),
      over(side, "p99"),
      over(side, "t50"),
      over(side, "t99"),
      over(side, "gap"),
    ];
    console.log(`  ${name(side)}:`);
    console.log(`    plain p50 ${ms(median(r.p50))}, p99 ${ms(median(r.p99))}; first token p50 ${ms(median(r.t50))}`);
    console.log(
      `    plain overhead       p50 ${ms(median(p50))} (${ms(best(p50))}), p99 ${ms(median(p99))} (${ms(best(p99))})   target p99 ≤ 5 ms: ${median(p99) <= 5 ? "met" : "missed"}`,
    );
    console.log(
      `    first-token overhead p50 ${ms(median(t50))} (${ms(best(t50))}), p99 ${ms(median(t99))} (${ms(best(t99))})`,
    );
    console.log(
      `    per-chunk overhead   ${us(median(gap))} (${us(best(gap))}); noise (direct's chunk gap, spread over rounds) ${us(noise)}   target below noise: ${median(gap) <= noise ? "met" : "missed"}${median(gap) < -noise ? " (negative: the gateway adds no delay between chunks; its first chunk comes later, so its mean gap is shorter)" : ""}`,
    );
    console.log(
      `    throughput at concurrency ${CONCURRENCY}: ${median(r.rps).toFixed(0)} req/s (${best(r.rps, false).toFixed(0)})   target ≥ 1,000 req/s: ${median(r.rps) >= 1000 ? "met" : "missed"}`,
    );
  }
  if (base !== undefined) {
    console.log(`  throughput at concurrency ${CONCURRENCY}, this tree against the base, round by round:`);
    for (const line of formatPaired(
      { base: raw.base.rps, ours: raw.gateway.rps },
      { baseLabel: `base ${base.commit}`, oursLabel: "this tree", unit: "req/s", target: 1 },
    ))
      console.log(line);
  }
  console.log(
    `  load average ${load} at the start, ${loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")} at the end`,
  );
  standIn.stdin!.end();
  for (const server of servers) server.stdin!.end();
}
