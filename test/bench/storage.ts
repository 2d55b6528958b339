/**
 * Storage figures: how long the embedded store takes to open, and per-operation latency of a policy read, a kv
 * write and a kv read, each against a bare `SELECT 1` round trip on the same database (the baseline, measured in
 * the same run). Also the in-memory dedupe (`rememberOnce`) against a bare Map, and Redis when it answers.
 *
 *   npx node test/bench/storage.ts            (ITERATIONS=2000 by default)
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { createEphemeral, emptyPolicy, openStore, rememberOnce, type Keyv, type Store } from "../../bot/index.ts";
import { POSTGRES_URL, REDIS_URL, serviceAvailable } from "../helpers/services.ts";

const ITERATIONS = Number(process.env.ITERATIONS ?? 2_000);

interface Figures {
  opsPerSec: number;
  p50Us: number;
  p99Us: number;
}

async function measure(iterations: number, op: (index: number) => Promise<unknown>): Promise<Figures> {
  for (let index = 0; index < Math.min(200, iterations); index += 1) await op(index); // warm up
  const samples = new Float64Array(iterations);
  const started = performance.now();
  for (let index = 0; index < iterations; index += 1) {
    const t0 = performance.now();
    await op(index);
    samples[index] = performance.now() - t0;
  }
  const totalMs = performance.now() - started;
  samples.sort();
  return {
    opsPerSec: Math.round((iterations / totalMs) * 1_000),
    p50Us: Math.round(samples[Math.floor(iterations * 0.5)]! * 1_000),
    p99Us: Math.round(samples[Math.floor(iterations * 0.99)]! * 1_000),
  };
}

function row(label: string, figures: Figures, baseline?: Figures): string {
  const ratio =
    baseline === undefined ? "" : `  ${(figures.p50Us / Math.max(1, baseline.p50Us)).toFixed(2)}× baseline p50`;
  return `  ${label.padEnd(34)} ${String(figures.opsPerSec).padStart(10)} ops/s   p50 ${String(figures.p50Us).padStart(6)} µs   p99 ${String(figures.p99Us).padStart(6)} µs${ratio}`;
}

async function timeMs(fn: () => Promise<unknown>): Promise<[number, unknown]> {
  const t0 = performance.now();
  const value = await fn();
  return [Math.round(performance.now() - t0), value];
}

async function benchStore(name: string, store: Store): Promise<void> {
  const chatKey = "telegram:-1001";
  await store.chats.setPolicy(chatKey, {
    ...emptyPolicy(),
    commandRoles: { perms: "admin", deploy: "owner" },
    roleOverrides: { "telegram:1": "admin" },
  });
  console.log(`${name}:`);
  const baseline = await measure(ITERATIONS, () => store.sql.query("SELECT 1"));
  console.log(row("baseline: SELECT 1", baseline));
  console.log(row("chats.getPolicy", await measure(ITERATIONS, () => store.chats.getPolicy(chatKey)), baseline));
  console.log(
    row(
      "kv.set (upsert, small JSON)",
      await measure(ITERATIONS, (index) =>
        store.kv.set("bench", chatKey, { key: `k${index % 100}`, value: { n: index, text: "hello" } }),
      ),
      baseline,
    ),
  );
  console.log(
    row("kv.get", await measure(ITERATIONS, (index) => store.kv.get("bench", chatKey, `k${index % 100}`)), baseline),
  );
  console.log(
    row(
      "audit.append",
      await measure(ITERATIONS, (index) =>
        store.audit.append({ at: Date.now(), actor: "system", chatKey, action: "bench", target: String(index) }),
      ),
      baseline,
    ),
  );
}

async function benchDedupe(name: string, kv: Keyv, iterations: number): Promise<void> {
  const map = new Map<string, number>();
  const baseline = await measure(iterations, async (index) => {
    const key = `d:${index}`;
    if (map.get(key) === undefined) map.set(key, Date.now() + 600_000);
  });
  console.log(`${name}:`);
  console.log(row("baseline: Map get+set (awaited)", baseline));
  console.log(
    row(
      "rememberOnce (new key each time)",
      await measure(iterations, (index) => rememberOnce(kv, `d:${index}`, 600_000)),
      baseline,
    ),
  );
  // Throughput without per-call timing overhead.
  const count = iterations * 10;
  const t0 = performance.now();
  for (let index = 0; index < count; index += 1) await rememberOnce(kv, `t:${index}`, 600_000);
  console.log(
    `  rememberOnce sustained                 ${Math.round(count / ((performance.now() - t0) / 1_000))} ops/s (${count} calls)`,
  );
}

async function main(): Promise<void> {
  console.log(`storage bench — Node ${process.version}, ${ITERATIONS} iterations per figure`);
  const dataDir = await mkdtemp(join(tmpdir(), "switchboard-bench-"));
  try {
    const [freshMs, fresh] = await timeMs(() => openStore({ dataDir }));
    await (fresh as Store).close();
    const [reopenMs, store] = await timeMs(() => openStore({ dataDir }));
    const [memoryMs, memory] = await timeMs(() => openStore({ dataDir, inMemory: true }));
    await (memory as Store).close();
    console.log("embedded SQLite open (each includes the core migrations; PGlite against it: store-engines.ts):");
    console.log(`  new data folder                ${freshMs} ms`);
    console.log(`  existing data folder (restart) ${reopenMs} ms`);
    console.log(`  in memory (tests)              ${memoryMs} ms`);
    await benchStore("embedded SQLite (file-backed)", store as Store);
    await (store as Store).close();
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }

  if (await serviceAvailable("postgres")) {
    const schema = `bench_${randomBytes(4).toString("hex")}`;
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    try {
      const url = new URL(POSTGRES_URL);
      url.searchParams.set("options", `-c search_path=${schema}`);
      const [openMs, store] = await timeMs(() => openStore({ dataDir: "unused", databaseUrl: url.toString() }));
      console.log(`PostgreSQL open (pool + core migrations)       ${openMs} ms`);
      await benchStore("PostgreSQL (127.0.0.1)", store as Store);
      await (store as Store).close();
    } finally {
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    }
  }

  const memoryKv = createEphemeral();
  await benchDedupe("dedupe in memory", memoryKv, ITERATIONS * 50);
  if (await serviceAvailable("redis")) {
    const redisKv = createEphemeral({ redisUrl: REDIS_URL, namespace: `bench-${randomBytes(4).toString("hex")}` });
    await benchDedupe("dedupe on Redis", redisKv, ITERATIONS);
    await redisKv.clear();
    await redisKv.disconnect();
  }
}

await main();
