/**
 * The gateway's overhead: the same `openai` client calls the OpenAI stand-in directly and through the gateway
 * (a real bot with the LLM and gateway modules, in a process of its own), in one run. The stand-in is a third
 * process answering at once (`pong-<n>.`; `chunks:<k>` streams k chunks).
 *
 * - plain: sequential non-streamed requests, p50 and p99 per round, overhead = gateway − direct;
 * - streamed: time to the first content chunk of an 8-chunk stream, same figures;
 * - throughput: requests per second with 100 in flight, through the gateway and directly.
 *
 * Within a round the sequential requests alternate direct and gateway one by one, and the throughput runs
 * alternate which side goes first; figures are the median over rounds with the best round beside it. Targets: ≥ 1,000 requests/s through the gateway, p99 overhead ≤ 5 ms.
 *
 *   npx node test/bench/gateway.ts [--rounds 5] [--requests 300] [--throughput 3000]
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import OpenAI from "openai";

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
  const THROUGHPUT = flag("throughput", 3_000);
  const CONCURRENCY = 100;
  const self = new URL(import.meta.url).pathname;
  const standIn = spawn(process.execPath, [new URL("../stand-ins/openai/main.ts", import.meta.url).pathname], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const standInUrl = await new Promise<string>((r) => createInterface({ input: standIn.stdout! }).once("line", r));
  // BENCH_CPU_PROF=<dir> writes a V8 CPU profile of the gateway process there.
  const prof =
    process.env.BENCH_CPU_PROF === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`];
  const server = spawn(process.execPath, [...prof, self, "--serve", standInUrl], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const ready = await new Promise<string>((r) => createInterface({ input: server.stdout! }).once("line", r));
  const [, port, key] = ready.split(" ");
  const direct = new OpenAI({ baseURL: standInUrl, apiKey: "unused", maxRetries: 0 });
  const gateway = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: key!, maxRetries: 0 });
  const targets = {
    direct: { client: direct, plain: "stand-bench", streamed: "stand-bench" },
    gateway: { client: gateway, plain: "bench", streamed: "bench-stream" },
  };
  type Side = keyof typeof targets;

  const plain = async (side: Side): Promise<number> => {
    const t = targets[side];
    const started = performance.now();
    await t.client.chat.completions.create({ model: t.plain, messages: [{ role: "user", content: "hi" }] });
    return performance.now() - started;
  };
  const firstToken = async (side: Side): Promise<number> => {
    const t = targets[side];
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
  // Requests alternate between the two sides one by one (which goes first alternates too), so a burst of load
  // from other work on the machine falls on both series alike.
  const series = async (fn: (s: Side) => Promise<number>): Promise<Record<Side, number[]>> => {
    const xs: Record<Side, number[]> = { direct: [], gateway: [] };
    for (let i = 0; i < REQUESTS; i++)
      for (const side of i % 2 === 0 ? (["direct", "gateway"] as const) : (["gateway", "direct"] as const))
        xs[side].push(await fn(side));
    for (const side of ["direct", "gateway"] as const) xs[side].sort((a, b) => a - b);
    return xs;
  };
  const pct = (xs: number[], p: number): number => xs[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

  // Warm both paths (connections, JIT, the SDK's lazy load in the gateway).
  for (const side of ["direct", "gateway"] as const)
    for (let i = 0; i < 200; i++) await Promise.all([plain(side), firstToken(side)]);

  const rows = {
    plainP50: [] as number[],
    plainP99: [] as number[],
    ttftP50: [] as number[],
    ttftP99: [] as number[],
    rps: [] as number[],
    rpsDirect: [] as number[],
  };
  const raw = {
    direct: { p50: [] as number[], p99: [] as number[], t50: [] as number[] },
    gateway: { p50: [] as number[], p99: [] as number[], t50: [] as number[] },
  };
  for (let round = 0; round < ROUNDS; round++) {
    const order: Side[] = round % 2 === 0 ? ["direct", "gateway"] : ["gateway", "direct"];
    const p = await series(plain);
    const t = await series(firstToken);
    const r: Record<Side, number> = { direct: 0, gateway: 0 };
    for (const side of order) r[side] = await throughput(side);
    rows.plainP50.push(pct(p.gateway, 0.5) - pct(p.direct, 0.5));
    rows.plainP99.push(pct(p.gateway, 0.99) - pct(p.direct, 0.99));
    rows.ttftP50.push(pct(t.gateway, 0.5) - pct(t.direct, 0.5));
    rows.ttftP99.push(pct(t.gateway, 0.99) - pct(t.direct, 0.99));
    rows.rps.push(r.gateway);
    rows.rpsDirect.push(r.direct);
    for (const side of ["direct", "gateway"] as const) {
      raw[side].p50.push(pct(p[side], 0.5));
      raw[side].p99.push(pct(p[side], 0.99));
      raw[side].t50.push(pct(t[side], 0.5));
    }
    console.error(`round ${round + 1}/${ROUNDS} done`);
  }
  const ms = (x: number) => `${x.toFixed(2)} ms`;
  const best = (xs: number[], low = true) => (low ? Math.min(...xs) : Math.max(...xs));
  console.log(
    `Gateway overhead, ${ROUNDS} paired rounds of ${REQUESTS} sequential requests (median of rounds, best round in brackets):`,
  );
  console.log(
    `  direct plain        p50 ${ms(median(raw.direct.p50))}, p99 ${ms(median(raw.direct.p99))}; gateway p50 ${ms(median(raw.gateway.p50))}, p99 ${ms(median(raw.gateway.p99))}`,
  );
  console.log(
    `  plain overhead      p50 ${ms(median(rows.plainP50))} (${ms(best(rows.plainP50))}), p99 ${ms(median(rows.plainP99))} (${ms(best(rows.plainP99))})   target p99 ≤ 5 ms: ${median(rows.plainP99) <= 5 ? "met" : "missed"}`,
  );
  console.log(`  direct first token  p50 ${ms(median(raw.direct.t50))}; gateway p50 ${ms(median(raw.gateway.t50))}`);
  console.log(
    `  first-token overhead p50 ${ms(median(rows.ttftP50))} (${ms(best(rows.ttftP50))}), p99 ${ms(median(rows.ttftP99))} (${ms(best(rows.ttftP99))})`,
  );
  console.log(
    `  throughput at concurrency ${CONCURRENCY}: gateway ${median(rows.rps).toFixed(0)} req/s (${best(rows.rps, false).toFixed(0)}), direct ${median(rows.rpsDirect).toFixed(0)} req/s (${best(rows.rpsDirect, false).toFixed(0)})   target ≥ 1,000 req/s: ${median(rows.rps) >= 1000 ? "met" : "missed"}`,
  );
  standIn.stdin!.end();
  server.stdin!.end();
}
