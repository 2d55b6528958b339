/**
 * Runs the benchmarks one after another, each in a process of its own, with progress and a summary at the end.
 * Every script prints its own figures next to its targets; this only runs them and says which failed to run.
 *
 *   npm run bench                    # the list: every benchmark and what it measures
 *   npm run bench -- router slack    # the named ones, in that order
 *   npm run bench -- --all           # every one (long: the footprint and schedule ones take minutes each)
 *
 * `test/bench/README.md`'s table is kept in step with the `BENCHES` list below by `test/unit/bench-index.test.ts`.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

/** One benchmark script: its file name without `.ts` and what it measures. */
export interface Bench {
  readonly name: string;
  readonly measures: string;
}

export const BENCHES: readonly Bench[] = [
  { name: "router", measures: "router throughput and p99 with the command tree" },
  { name: "adapters", measures: "Telegram, Slack, Discord whole path vs raw SDK" },
  { name: "slack", measures: "Slack slash commands vs raw Bolt" },
  { name: "discord", measures: "Discord interactions vs raw discord.js" },
  { name: "journal", measures: "what the inbound journal costs on the Telegram path" },
  { name: "http", measures: "webhook throughput, Fastify vs the old listener" },
  { name: "storage", measures: "embedded store open and per-operation latency" },
  { name: "store-engines", measures: "node:sqlite vs PGlite: open, memory, policy read" },
  { name: "router-heap", measures: "router heap over 1 M and 2 M messages in 100k chats" },
  { name: "router-scaled", measures: "embedded vs PostgreSQL + Redis, one and two processes" },
  { name: "schedules", measures: "schedule engine: 100k due in one second" },
  { name: "schedules-path", measures: "schedule fires through the router to the reply" },
  { name: "skills", measures: "skill cold start and warm call overhead" },
  { name: "sandbox", measures: "hostile skills vs an observer chat's latency" },
  { name: "listeners", measures: "reply latency with a skill hearing every message" },
  { name: "llm", measures: "framework time per LLM turn and per streamed chunk" },
  { name: "hooks", measures: "hook intake to the message handed to the adapter, dedupe and queue in the path" },
  { name: "hooks-paired", measures: "the hooks bench in the base tree and this one, process by process" },
  { name: "gateway", measures: "model gateway overhead, per-chunk delay and throughput vs direct" },
  { name: "openai-client", measures: "undici request vs undici fetch vs the openai SDK on it" },
  { name: "marketplace", measures: "skill install and search vs a plain fetch" },
  { name: "cli-install", measures: "`switchboard skills install` as a process vs npm install" },
  { name: "install", measures: "production install size and package count" },
  { name: "footprint", measures: "idle memory and start to ready, installed" },
  { name: "console", measures: "web console bundle, first render, usage API" },
];

function usage(): string {
  const width = Math.max(...BENCHES.map((b) => b.name.length));
  const rows = BENCHES.map((b) => `  ${b.name.padEnd(width)}  ${b.measures}`);
  return [
    "usage: npm run bench -- <name> …   or   npm run bench -- --all",
    "",
    ...rows,
    "",
    "Each prints its figures next to its targets. Details and the rules: test/bench/README.md.",
  ].join("\n");
}

function runOne(bench: Bench, root: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, `${bench.name}.ts`)], {
      stdio: "inherit",
    });
    child.on("error", () => resolve(1));
    child.on("exit", (code, signal) => resolve(code ?? (signal === null ? 1 : 128)));
  });
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv.length === 0 || argv.includes("--list") || argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  const names = argv.filter((a) => !a.startsWith("--"));
  const unknown = names.filter((n) => !BENCHES.some((b) => b.name === n));
  if (unknown.length > 0) {
    process.stderr.write(`unknown benchmark: ${unknown.join(", ")}\n\n${usage()}\n`);
    return 2;
  }
  const chosen = names.length > 0 ? names.map((n) => BENCHES.find((b) => b.name === n)!) : BENCHES;
  const root = dirname(fileURLToPath(import.meta.url));
  process.stderr.write(`running ${chosen.length} benchmark(s), one process each\n`);
  const results: { name: string; code: number; seconds: number }[] = [];
  for (const [i, bench] of chosen.entries()) {
    process.stderr.write(`\n── [${i + 1}/${chosen.length}] ${bench.name}: ${bench.measures}\n`);
    const started = performance.now();
    const code = await runOne(bench, root);
    results.push({ name: bench.name, code, seconds: (performance.now() - started) / 1000 });
  }
  process.stderr.write("\n── summary\n");
  for (const r of results) {
    process.stderr.write(
      `  ${r.code === 0 ? "ran   " : `FAILED (exit ${r.code})`}  ${r.name}  ${r.seconds.toFixed(0)} s\n`,
    );
  }
  return results.some((r) => r.code !== 0) ? 1 : 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
