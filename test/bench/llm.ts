/**
 * LLM turn benchmark: a cold and warm conversational turn through the console adapter against the stand-in
 * OpenAI-compatible server (its own process) answering at once, and the latency added per streamed chunk.
 *
 * Framework time per turn, two ways:
 * - wall: the turn's wall time (line written → answer printed) minus the model call's own time, as the bot
 *   measured it around the provider call;
 * - CPU (warm turns): this process's CPU time for the turn minus the CPU time of the same request made straight
 *   with the `openai` SDK (less sensitive to a busy machine than wall time). The cold turn has no CPU figure: the
 *   SDK's own first-request cost cannot be told apart from ours in one process; the wall figure subtracts it.
 * Per streamed chunk: a 1000-chunk answer against a 1-chunk one, through the bot and straight through the SDK.
 *
 *   npx node test/bench/llm.ts
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { PassThrough } from "node:stream";
import OpenAI from "openai";
import { createApp } from "../../bot/app.ts";
import { createLlmPlugin, type LlmPlugin } from "../../bot/llm/index.ts";
import { createLogger } from "../../bot/logger.ts";
import { memoryStore } from "../../bot/storage/open.ts";
import { parseConfig } from "../../config/index.ts";
import { TestAdapter } from "../helpers/test-adapter.ts";

const WARM_TURNS = 30;
const CHUNKS = 1000;
const REPEAT = 7;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const p95 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95)]!;
const fmt = (ms: number): string => `${ms.toFixed(2)} ms`;
const cpuMs = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000;

// The stand-in in its own process.
const child = spawn(process.execPath, [new URL("../stand-ins/openai/main.ts", import.meta.url).pathname], {
  stdio: ["pipe", "pipe", "inherit"],
});
const baseUrl = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once("line", resolve));

// The bot: console adapter on pipes, in-memory store, the LLM plugin, and an editing adapter for chunk costs.
const input = new PassThrough();
const output = new PassThrough();
let buffer = "";
let waiter: { marker: RegExp; resolve: () => void } | undefined;
output.on("data", (d: Buffer) => {
  buffer += d.toString("utf8");
  if (waiter?.marker.test(buffer)) {
    buffer = "";
    waiter.resolve();
  }
});
const edits = new TestAdapter("bench");
const config = parseConfig({
  http: { enabled: false },
  log: { level: "silent" },
  // The bench sends far faster than a person: lift the inbound rate limits.
  limits: { perUser: { burst: 100_000, perMinute: 1_000_000 }, perChat: { burst: 100_000, perMinute: 1_000_000 } },
  llm: { editIntervalMs: 0, models: [{ name: "stand", provider: "openai", model: "stand", baseUrl, apiKey: "k" }] },
});
const store = await memoryStore();
let plugin!: LlmPlugin;
const app = await createApp({
  config,
  store,
  console: { input, output, interactive: false },
  platformAdapters: false,
  exitOnConsoleEnd: false,
  extraAdapters: [edits],
  log: createLogger({ level: "silent", format: "json" }),
  plugins: [async (core) => (plugin = await createLlmPlugin(core))],
});
await app.start();

/** One console turn: wall ms and CPU ms until the answer is printed. */
async function consoleTurn(text = "hello there"): Promise<{ wall: number; cpu: number }> {
  const done = new Promise<void>((resolve) => {
    waiter = { marker: /pong-\d+\./, resolve };
  });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  input.write(`${text}\n`);
  await done;
  return { wall: performance.now() - t0, cpu: cpuMs(process.cpuUsage(cpu0)) };
}

async function editTurn(text: string): Promise<{ wall: number; cpu: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await app.core.router.process(edits.inbound(text, { chatId: "bench", chatKind: "dm" }));
  return { wall: performance.now() - t0, cpu: cpuMs(process.cpuUsage(cpu0)) };
}

const cold = await consoleTurn();
const warm: Array<{ wall: number; cpu: number }> = [];
for (let i = 0; i < WARM_TURNS; i++) warm.push(await consoleTurn());
await app.core.router.drain();
await plugin.service.stats.flush();
const calls = (await store.sql.query<{ latency_ms: number }>("SELECT latency_ms FROM llm_calls ORDER BY id")).rows.map(
  (r) => Number(r.latency_ms),
);
const wallFramework = [cold, ...warm].map((t, i) => t.wall - calls[i]!);

// Baseline: the same streamed request straight through the SDK (after the bot's turns, so the bot's cold turn was
// the process's first use of the SDK).
async function direct(client: OpenAI, text = "hi"): Promise<{ wall: number; cpu: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const stream = await client.chat.completions.create({
    model: "stand",
    messages: [
      { role: "system", content: "s" },
      { role: "user", content: text },
    ],
    stream: true,
    stream_options: { include_usage: true },
  });
  for await (const _ of stream) {
    /* drain */
  }
  return { wall: performance.now() - t0, cpu: cpuMs(process.cpuUsage(cpu0)) };
}
const client = new OpenAI({ baseURL: baseUrl, apiKey: "k", maxRetries: 0 });
await direct(client);
const sdk: Array<{ wall: number; cpu: number }> = [];
for (let i = 0; i < WARM_TURNS; i++) sdk.push(await direct(client));
const sdkCpu = median(sdk.map((s) => s.cpu));

// Per-chunk cost: many chunks vs one.
async function perChunk(
  turn: (text: string) => Promise<{ wall: number; cpu: number }>,
): Promise<{ wall: number; cpu: number }> {
  const one: Array<{ wall: number; cpu: number }> = [];
  const many: Array<{ wall: number; cpu: number }> = [];
  for (let r = 0; r < REPEAT; r++) {
    one.push(await turn("chunks:1"));
    many.push(await turn(`chunks:${CHUNKS}`));
  }
  const per = (k: "wall" | "cpu") =>
    ((median(many.map((x) => x[k])) - median(one.map((x) => x[k]))) / (CHUNKS - 1)) * 1000;
  return { wall: per("wall"), cpu: per("cpu") };
}
const sdkChunk = await perChunk((text) => direct(client, text));
const consoleChunk = await perChunk(consoleTurn);
const editChunk = await perChunk(editTurn);

await app.stop();
await store.close();
child.stdin!.end();

const warmWall = wallFramework.slice(1);
const warmCpu = warm.map((w) => w.cpu - sdkCpu);
console.log(
  "LLM conversational turn through the console adapter; stand-in model (own process) answering at once, streamed:",
);
console.log(`  turn wall time:        cold ${fmt(cold.wall)}, warm median ${fmt(median(warm.map((w) => w.wall)))}`);
console.log(
  `  model call inside it:  cold ${fmt(calls[0]!)}, warm median ${fmt(median(calls.slice(1, 1 + WARM_TURNS)))}; SDK alone warm median ${fmt(median(sdk.map((s) => s.wall)))}`,
);
console.log(
  `  framework wall time:   cold ${fmt(wallFramework[0]!)} (target ≤ 50 ms: ${wallFramework[0]! <= 50 ? "met" : "missed"}; wall is only meaningful on an idle machine), warm median ${fmt(median(warmWall))}, p95 ${fmt(p95(warmWall))}`,
);
console.log(
  `  framework CPU time:    warm median ${fmt(median(warmCpu))} (turn CPU minus the SDK-alone request's CPU, ${fmt(sdkCpu)})`,
);
console.log(
  `  ratio turn / SDK call (warm wall): ${(median(warm.map((w) => w.wall)) / median(sdk.map((s) => s.wall))).toFixed(2)}x`,
);
console.log(`Per streamed chunk (${CHUNKS} chunks vs 1, median of ${REPEAT}):`);
console.log(`  SDK alone:                    ${sdkChunk.wall.toFixed(1)} µs wall, ${sdkChunk.cpu.toFixed(1)} µs CPU`);
console.log(
  `  console (one message at end): ${consoleChunk.wall.toFixed(1)} µs wall, ${consoleChunk.cpu.toFixed(1)} µs CPU → added ${(consoleChunk.cpu - sdkChunk.cpu).toFixed(1)} µs CPU`,
);
console.log(
  `  editing adapter (0 ms edits): ${editChunk.wall.toFixed(1)} µs wall, ${editChunk.cpu.toFixed(1)} µs CPU → added ${(editChunk.cpu - sdkChunk.cpu).toFixed(1)} µs CPU`,
);
