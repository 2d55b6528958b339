/**
 * The router scaled out: the embedded store with in-process state against PostgreSQL + Redis (dedupe, rate
 * limits and policy changes shared), in one process and in two, one message at a time and 1,000 in flight,
 * printed side by side. Each message is a `/whoami` with a fresh delivery id from one of 1,000 chats and 5,000
 * users, through the whole router (dedupe, rate limits on but never tripped, policy, permission check, reply).
 *
 *   npx node test/bench/router-scaled.ts [--rounds N] [--messages M] [--base]
 *
 * Every configuration runs in fresh processes (two at once for "two processes", started together), rounds
 * interleaved; the figures are medians of the rounds with every round's figure and the best beside. `--base`
 * adds the base tree (`base-tree.ts`) on PostgreSQL + Redis as the before figure. Needs PostgreSQL on
 * 127.0.0.1:5432 (db `test`) and Redis on 127.0.0.1:6379 (`TEST_DATABASE_URL`, `TEST_REDIS_URL`).
 * One at a time also times 2,000 messages each from a chat never seen before (its policy read from the store).
 * Targets: PostgreSQL + Redis in flight ≥ 0.5× embedded; a new chat's first message ≤ 1 ms p99 embedded.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { POSTGRES_URL, REDIS_URL } from "../helpers/services.ts";
import { ROOT, ensureBaseTree, median } from "./base-tree.ts";

const argv = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const at = argv.indexOf(name);
  return at === -1 ? fallback : Number(argv[at + 1]);
};
const CHATS = 1_000;
const USERS = 5_000;
const IN_FLIGHT = 1_000;

/** One process's figures for one phase. */
interface PhaseFigures {
  messages: number;
  ms: number;
  p50Us?: number;
  p99Us?: number;
  /** A brand-new chat's first message, one at a time (policy read from the store, chat recorded). */
  newChatP50Us?: number;
  newChatP99Us?: number;
}

if (argv[0] === "--worker") await worker(JSON.parse(argv[1]!) as WorkerOptions);
else await main();

interface WorkerOptions {
  tree: string;
  shared: boolean;
  phase: "one" | "flight";
  messages: number;
  id: string;
}

async function worker(o: WorkerOptions): Promise<void> {
  const load = (path: string) => import(pathToFileURL(join(o.tree, path)).href);
  const { createApp } = await load("bot/app/app.ts");
  const { createLogger } = await load("bot/logger.ts");
  const { parseConfig } = await load("config/index.ts");
  const { TestAdapter } = await load("test/helpers/test-adapter.ts");
  const dir = await mkdtemp(join(tmpdir(), "sb-bench-scaled-"));
  const config = parseConfig({
    bot: { dataDir: dir },
    http: { enabled: false },
    log: { level: "silent" },
    storage: o.shared ? { databaseUrl: POSTGRES_URL, redisUrl: REDIS_URL } : {},
    limits: {
      perUser: { burst: 1_000_000, perMinute: 1_000_000 },
      perChat: { burst: 1_000_000, perMinute: 1_000_000 },
    },
  });
  const app = await createApp({
    config,
    console: false,
    platformAdapters: false,
    plugins: false,
    extraAdapters: [new TestAdapter("bench")],
    log: createLogger({ level: "silent", format: "json" }),
  });
  await app.start();
  const router = app.core.router;
  let replies = 0;
  const sent = { platform: "bench", chatId: "c", messageId: "m" };
  const respond = async () => {
    replies++;
    return sent;
  };
  let seq = 0;
  const message = (i: number) => ({
    deliveryId: `bench:${o.id}:${++seq}`,
    platform: "bench",
    chat: { id: `c${i % CHATS}`, kind: "group", title: "bench" },
    user: { id: `u${i % USERS}`, displayName: "bench", platformRole: "member" },
    text: "/whoami",
    command: { name: "whoami", args: [], rawArgs: "" },
    receivedAt: Date.now(),
    respond,
  });
  // Warm: every chat's policy cached, the JIT warm.
  for (let i = 0; i < CHATS * 2; i++) await router.process(message(i));
  process.stdout.write("ready\n");
  const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  await lines.next(); // "go": both processes start together
  replies = 0;
  const figures: PhaseFigures = { messages: o.messages, ms: 0 };
  const t0 = performance.now();
  if (o.phase === "one") {
    const lat = new Float64Array(o.messages);
    for (let i = 0; i < o.messages; i++) {
      const s = performance.now();
      await router.process(message(i));
      lat[i] = performance.now() - s;
    }
    figures.ms = performance.now() - t0;
    lat.sort();
    figures.p50Us = lat[Math.floor(lat.length * 0.5)]! * 1000;
    figures.p99Us = lat[Math.floor(lat.length * 0.99)]! * 1000;
  } else {
    const batch: Promise<void>[] = [];
    for (let i = 0; i < o.messages; i += IN_FLIGHT) {
      batch.length = 0;
      for (let j = i; j < Math.min(o.messages, i + IN_FLIGHT); j++) batch.push(router.handle(message(j)));
      await Promise.all(batch);
      await router.drain();
    }
    figures.ms = performance.now() - t0;
  }
  if (replies !== o.messages) throw new Error(`expected ${o.messages} replies, saw ${replies}`);
  if (o.phase === "one") {
    const NEW_CHATS = 2_000;
    const lat = new Float64Array(NEW_CHATS);
    for (let i = 0; i < NEW_CHATS; i++) {
      const m = message(i);
      m.chat = { id: `new-${o.id}-${i}`, kind: "group", title: "bench" };
      const s = performance.now();
      await router.process(m);
      lat[i] = performance.now() - s;
    }
    lat.sort();
    figures.newChatP50Us = lat[Math.floor(NEW_CHATS * 0.5)]! * 1000;
    figures.newChatP99Us = lat[Math.floor(NEW_CHATS * 0.99)]! * 1000;
  }
  process.stdout.write(`${JSON.stringify(figures)}\n`);
  await app.stop();
  await rm(dir, { recursive: true, force: true });
  process.exit(0);
}

/** Run `count` workers together; the rate is all their messages over the slowest one's time. */
async function runTogether(
  options: Omit<WorkerOptions, "id">,
  count: number,
): Promise<{ rate: number; p50Us?: number; p99Us?: number; newChatP50Us?: number; newChatP99Us?: number }> {
  const children = Array.from({ length: count }, () => {
    const child = spawn(
      process.execPath,
      [join(ROOT, "test/bench/router-scaled.ts"), "--worker", JSON.stringify({ ...options, id: randomUUID() })],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    const exited = new Promise((resolve) => child.once("exit", resolve));
    return { child, exited, lines: createInterface({ input: child.stdout })[Symbol.asyncIterator]() };
  });
  const nextLine = async (lines: AsyncIterator<string>) => {
    const { value, done } = await lines.next();
    if (done) throw new Error("a benchmark process ended early");
    return value as string;
  };
  await Promise.all(children.map((c) => nextLine(c.lines)));
  for (const c of children) c.child.stdin.write("go\n");
  const figures = await Promise.all(children.map(async (c) => JSON.parse(await nextLine(c.lines)) as PhaseFigures));
  await Promise.all(children.map((c) => c.exited));
  const total = figures.reduce((n, f) => n + f.messages, 0);
  const slowestMs = Math.max(...figures.map((f) => f.ms));
  return {
    rate: total / (slowestMs / 1000),
    ...(figures[0]!.p50Us === undefined
      ? {}
      : {
          p50Us: median(figures.map((f) => f.p50Us!)),
          p99Us: median(figures.map((f) => f.p99Us!)),
          newChatP50Us: median(figures.map((f) => f.newChatP50Us!)),
          newChatP99Us: median(figures.map((f) => f.newChatP99Us!)),
        }),
  };
}

async function main(): Promise<void> {
  const rounds = flag("--rounds", 3);
  const messages = flag("--messages", 100_000);
  const withBase = argv.includes("--base");
  const base = withBase ? ensureBaseTree() : undefined;
  type Key = string;
  const cells = new Map<
    Key,
    Array<{ rate: number; p50Us?: number; p99Us?: number; newChatP50Us?: number; newChatP99Us?: number }>
  >();
  const plan: Array<{ key: Key; tree: string; shared: boolean; phase: "one" | "flight"; processes: number }> = [];
  for (const phase of ["one", "flight"] as const) {
    plan.push({ key: `embedded/1/${phase}`, tree: ROOT, shared: false, phase, processes: 1 });
    plan.push({ key: `shared/1/${phase}`, tree: ROOT, shared: true, phase, processes: 1 });
    plan.push({ key: `shared/2/${phase}`, tree: ROOT, shared: true, phase, processes: 2 });
    if (base !== undefined) {
      plan.push({ key: `base/1/${phase}`, tree: base.dir, shared: true, phase, processes: 1 });
      plan.push({ key: `base/2/${phase}`, tree: base.dir, shared: true, phase, processes: 2 });
    }
  }
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? plan : [...plan].reverse();
    for (const step of order) {
      // One at a time is slower: fewer messages keep the rounds short.
      const perProcess = Math.floor((step.phase === "one" ? messages / 5 : messages) / step.processes);
      const result = await runTogether(
        { tree: step.tree, shared: step.shared, phase: step.phase, messages: perProcess },
        step.processes,
      );
      cells.set(step.key, [...(cells.get(step.key) ?? []), result]);
      process.stderr.write(`  round ${r + 1} ${step.key}: ${fmt(result.rate)} msg/s\n`);
    }
  }
  const cell = (key: Key): string => {
    const list = cells.get(key);
    if (list === undefined) return "n/a";
    const rates = list.map((x) => x.rate);
    const lat =
      list[0]!.p50Us === undefined
        ? ""
        : ` p50 ${median(list.map((x) => x.p50Us!)).toFixed(0)} µs p99 ${median(list.map((x) => x.p99Us!)).toFixed(0)} µs; a new chat's first message p50 ${median(list.map((x) => x.newChatP50Us!)).toFixed(0)} µs p99 ${median(list.map((x) => x.newChatP99Us!)).toFixed(0)} µs`;
    return `${fmt(median(rates))} msg/s (best ${fmt(Math.max(...rates))}; rounds ${rates.map(fmt).join(", ")})${lat}`;
  };
  console.log(
    `router scaled out: /whoami with fresh delivery ids, ${CHATS} chats, ${USERS} users; ${rounds} rounds, medians; Node ${process.versions.node}`,
  );
  for (const phase of ["one", "flight"] as const) {
    const label = phase === "one" ? "one at a time" : `${IN_FLIGHT} in flight per process`;
    console.log(`  ${label}:`);
    console.log(`    embedded, 1 process:            ${cell(`embedded/1/${phase}`)}`);
    console.log(`    embedded, 2 processes:          n/a (one process per data folder)`);
    console.log(`    PostgreSQL + Redis, 1 process:  ${cell(`shared/1/${phase}`)}`);
    console.log(`    PostgreSQL + Redis, 2 processes: ${cell(`shared/2/${phase}`)}`);
    if (base !== undefined) {
      console.log(`    base ${base.commit} PG + Redis, 1 process:  ${cell(`base/1/${phase}`)}`);
      console.log(`    base ${base.commit} PG + Redis, 2 processes: ${cell(`base/2/${phase}`)}`);
    }
  }
  const ratio = (a: Key, b: Key) => median(cells.get(a)!.map((x) => x.rate)) / median(cells.get(b)!.map((x) => x.rate));
  console.log(
    `  PostgreSQL + Redis in flight / embedded in flight: 1 process ${ratio("shared/1/flight", "embedded/1/flight").toFixed(2)}×, 2 processes ${ratio("shared/2/flight", "embedded/1/flight").toFixed(2)}× (target ≥ 0.5×)`,
  );
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}
