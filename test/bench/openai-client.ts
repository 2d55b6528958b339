/**
 * What the HTTP client of an OpenAI-compatible model costs, in one process against the OpenAI stand-in (its own
 * process): undici's `Pool.request` (what `llm/providers/openai.ts` uses), undici's `fetch` on the same kind of
 * pool, and the `openai` SDK with that `fetch` as its `fetch` (one client, `maxRetries: 0`). Non-streamed
 * requests, 100 in flight; per round each client in turn (which goes first rotates): requests per second and this
 * process's CPU per request. Figures: the median of the rounds' ratios against `Pool.request`, best-of beside.
 * Target: the SDK within 15% of `Pool.request`'s throughput (the provider would then use the SDK).
 *
 *   npx node test/bench/openai-client.ts [--rounds 5] [--requests 3000]
 */
import { spawn } from "node:child_process";
import { loadavg } from "node:os";
import { createInterface } from "node:readline";
import OpenAI, { type ClientOptions } from "openai";
import { fetch as undiciFetch, Pool } from "undici";
import { median } from "./base-tree.ts";
import { formatPaired } from "./paired.ts";

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(args[i + 1]);
};
const ROUNDS = flag("rounds", 5);
const REQUESTS = flag("requests", 3_000);
const CONCURRENCY = 100;
const load = loadavg()
  .map((x) => x.toFixed(2))
  .join(" ");

const standIn = spawn(process.execPath, [new URL("../stand-ins/openai/main.ts", import.meta.url).pathname], {
  stdio: ["pipe", "pipe", "inherit"],
});
const baseUrl = await new Promise<string>((r) => createInterface({ input: standIn.stdout! }).once("line", r));
const url = new URL(`${baseUrl}/chat/completions`);
const pool = () => new Pool(url.origin, { keepAliveTimeout: 30_000 });
const headers = {
  authorization: "Bearer unused",
  "content-type": "application/json",
  accept: "application/json",
  "user-agent": "switchboard",
};
const messages = [{ role: "user" as const, content: "hi" }];
const body = () => JSON.stringify({ model: "stand-bench", messages, max_tokens: 100, stream: false });
const [requestPool, fetchPool, sdkPool] = [pool(), pool(), pool()];
const sdkFetch = (input: Parameters<typeof undiciFetch>[0], init?: Parameters<typeof undiciFetch>[1]) =>
  undiciFetch(input, { ...init, dispatcher: sdkPool });
const sdk = new OpenAI({
  baseURL: baseUrl,
  apiKey: "unused",
  maxRetries: 0,
  fetch: sdkFetch as unknown as NonNullable<ClientOptions["fetch"]>,
  defaultHeaders: { "user-agent": "switchboard" },
});

const clients = {
  request: async (): Promise<unknown> => {
    const res = await requestPool.request({ method: "POST", path: url.pathname, headers, body: body() });
    return res.body.json();
  },
  fetch: async (): Promise<unknown> => {
    const res = await undiciFetch(url, { method: "POST", headers, body: body(), dispatcher: fetchPool });
    return res.json();
  },
  sdk: (): Promise<unknown> =>
    sdk.chat.completions.create(
      { model: "stand-bench", messages, max_tokens: 100 },
      { signal: new AbortController().signal },
    ),
};
type Name = keyof typeof clients;
const names: Name[] = ["request", "fetch", "sdk"];

for (const name of names) for (let i = 0; i < 500; i++) await clients[name]();
const rps: Record<Name, number[]> = { request: [], fetch: [], sdk: [] };
const cpu: Record<Name, number[]> = { request: [], fetch: [], sdk: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (let k = 0; k < names.length; k++) {
    const name = names[(round + k) % names.length]!;
    let next = 0;
    const cpu0 = process.cpuUsage();
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next++ < REQUESTS) await clients[name]();
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu0);
    rps[name].push(REQUESTS / seconds);
    cpu[name].push((used.user + used.system) / REQUESTS);
  }
  console.error(`round ${round + 1}/${ROUNDS} done`);
}

console.log(
  `OpenAI-compatible client cost, ${ROUNDS} paired rounds of ${REQUESTS} non-streamed requests at concurrency ${CONCURRENCY}:`,
);
for (const name of names)
  console.log(
    `  ${name}: ${median(rps[name]).toFixed(0)} req/s, this process's CPU ${median(cpu[name]).toFixed(0)} µs per request`,
  );
for (const name of ["fetch", "sdk"] as const) {
  const label = name === "fetch" ? "undici fetch" : "openai SDK on undici fetch";
  console.log(`  throughput, ${label} against Pool.request:`);
  for (const line of formatPaired(
    { base: rps.request, ours: rps[name] },
    { baseLabel: "Pool.request", oursLabel: label, unit: "req/s", target: 0.85 },
  ))
    console.log(line);
}
console.log(
  `  load average ${load} at the start, ${loadavg()
    .map((x) => x.toFixed(2))
    .join(" ")} at the end`,
);
standIn.stdin!.end();
await Promise.all([requestPool.close(), fetchPool.close(), sdkPool.close()]);
