/**
 * Schedules at scale: node-cron 4 (one timer per task) against our engine (one timer over a heap, next times
 * computed lazily), with N schedules (default 100,000) spread over four zones, all due in the same second.
 * Prints memory, time to load, and fire lateness p50/p99/max and missed fires for the burst; plus loading N
 * stored schedules from the embedded store. Each side runs in its own child process (clean heap).
 *
 *   npx node --expose-gc test/bench/schedules.ts [N]
 *
 * Targets: ≤ 100 MB and p99 lateness ≤ 50 ms for 100,000 schedules.
 */
import { execFileSync } from "node:child_process";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

const ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"];
// Wall-clock ms with sub-ms resolution, anchored to Date.now() (timeOrigin alone drifts from it by tens of ms).
const anchor = Date.now() - performance.now();
const nowMs = () => anchor + performance.now();

interface Result {
  mode: string;
  missedWarnings?: number;
  n: number;
  loadMs: number;
  heapMb: number;
  rssMb: number;
  fired: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  recomputeMs?: number;
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Every schedule fires once a minute at the same second `x` (in every zone: offsets are whole minutes), chosen
 * `leadMs` ahead; the burst measured is the first such second after loading has finished.
 */
function burstSecond(leadMs: number): { x: number; expression: string } {
  const x = new Date(Date.now() + leadMs).getUTCSeconds();
  return { x, expression: `${x} * * * * *` };
}

function firstAfter(x: number, afterMs: number): number {
  let t = Math.ceil(afterMs / 1000) * 1000;
  while (new Date(t).getUTCSeconds() !== x) t += 1000;
  return t;
}

async function waitUntil(atMs: number): Promise<void> {
  while (nowMs() < atMs) await new Promise((r) => setTimeout(r, Math.min(100, Math.max(1, atMs - nowMs()))));
}

async function runNodeCron(n: number, leadMs: number): Promise<Result> {
  const cron = (await import("node-cron")).default;
  let missedWarnings = 0;
  cron.setLogger({
    info: () => undefined,
    debug: () => undefined,
    error: () => undefined,
    warn: () => {
      missedWarnings++;
    },
  });
  const { x, expression } = burstSecond(leadMs);
  let due = Number.POSITIVE_INFINITY;
  gc();
  const before = process.memoryUsage();
  const lateness: number[] = [];
  const t0 = nowMs();
  for (let i = 0; i < n; i++) {
    const zone = ZONES[i % ZONES.length]!;
    cron.schedule(
      expression,
      () => {
        const late = nowMs() - due;
        if (late >= 0) lateness.push(late);
      },
      { timezone: zone },
    );
  }
  const loadMs = nowMs() - t0;
  due = firstAfter(x, Date.now() + 500);
  gc();
  const after = process.memoryUsage();
  await waitUntil(due + 5_000);
  await cron.shutdown(1_000).catch(() => undefined);
  const firstBurst = lateness.filter((l) => l < 5_000).sort((a, b) => a - b);
  return {
    mode: `node-cron (timer per task)`,
    missedWarnings,
    n,
    loadMs,
    heapMb: (after.heapUsed - before.heapUsed) / 2 ** 20,
    rssMb: (after.rss - before.rss) / 2 ** 20,
    fired: firstBurst.length,
    p50Ms: percentile(firstBurst, 50),
    p99Ms: percentile(firstBurst, 99),
    maxMs: firstBurst.at(-1) ?? Number.NaN,
  };
}

async function runEngine(n: number, leadMs: number): Promise<Result> {
  const { compileCron } = await import("../../schedules/cron.ts");
  const { nextFireAfter } = await import("../../schedules/next-fire.ts");
  const { timelineOf } = await import("../../schedules/zone.ts");
  const { FireEngine } = await import("../../schedules/engine.ts");
  const { x, expression } = burstSecond(leadMs);
  let due = Number.POSITIVE_INFINITY;
  gc();
  const before = process.memoryUsage();
  const lateness: number[] = [];
  let fired = 0;
  let recomputeStart = 0;
  // The same live view the service keeps: one small entry per schedule, compiled crons and zones shared.
  const live = new Map<
    string,
    { rev: number; cron: ReturnType<typeof compileCron>; zone: ReturnType<typeof timelineOf> }
  >();
  const engine = new FireEngine({
    clock: { now: () => Date.now() },
    // One engine dispatches a burst in order, so lateness only grows along it: reading the clock at every
    // 100th fire (and the last) gives the percentiles without the clock reads themselves slowing the burst.
    onFire: (_id, at) => {
      if (at !== due) return;
      fired++;
      if (fired % 100 === 1 || fired === n) {
        lateness.push(nowMs() - at);
        recomputeStart = nowMs();
      }
    },
    nextAfter: (id, after) => {
      const l = live.get(id)!;
      return nextFireAfter(l.cron, l.zone, after);
    },
  });
  const t0 = nowMs();
  for (let i = 0; i < n; i++) {
    const zone = ZONES[i % ZONES.length]!;
    const id = String(i + 1);
    const entry = { rev: i + 1, cron: compileCron(expression), zone: timelineOf(zone) };
    live.set(id, entry);
    engine.set(id, nextFireAfter(entry.cron, entry.zone, Date.now()));
  }
  engine.start();
  const loadMs = nowMs() - t0;
  due = firstAfter(x, Date.now() + 500);
  gc();
  const after = process.memoryUsage();
  await waitUntil(due);
  while (fired < n && nowMs() < due + 5_000) await new Promise((r) => setTimeout(r, 1));
  await engine.idle();
  const recomputeMs = nowMs() - recomputeStart;
  await waitUntil(due + 2_000);
  await engine.stop();
  const sorted = lateness.sort((a, b) => a - b);
  return {
    mode: "switchboard (one timer + heap)",
    n,
    loadMs,
    heapMb: (after.heapUsed - before.heapUsed) / 2 ** 20,
    rssMb: (after.rss - before.rss) / 2 ** 20,
    fired,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.at(-1) ?? Number.NaN,
    recomputeMs,
  };
}

/** Load N stored schedules from the embedded store into a service's live view (no firing). */
async function runStore(n: number): Promise<Result> {
  const { memoryStore } = await import("../../bot/storage/open.ts");
  const { ScheduleRepo, SCHEDULES_MIGRATIONS } = await import("../../schedules/repo.ts");
  const { compileCron } = await import("../../schedules/cron.ts");
  const { nextFireAfter } = await import("../../schedules/next-fire.ts");
  const { timelineOf } = await import("../../schedules/zone.ts");
  const store = await memoryStore({ migrations: SCHEDULES_MIGRATIONS });
  const now = Date.now();
  await store.sql.query(
    `INSERT INTO schedules (chat_key, platform, chat_id, chat_kind, creator_id, creator_name, created_by, kind, expression,
       time_zone, command_line, missed_policy, state, created_at, updated_at)
     SELECT 'telegram:' || (g % 5000), 'telegram', (g % 5000)::text, 'group', 'u' || g, 'user ' || g, 'user', 'cron',
       (g % 60) || ' ' || (g % 24) || ' * * 1-5', (ARRAY['UTC','Europe/Berlin','America/New_York','Asia/Kolkata'])[1 + g % 4],
       '/dice 1d6', 'skip', 'active', ${now}, ${now}
     FROM generate_series(1, ${n}) AS g`,
  );
  gc();
  const before = process.memoryUsage();
  const t0 = nowMs();
  const rows = await new ScheduleRepo(store.sql).loadActiveTiming();
  const live = new Map<
    string,
    { rev: number; cron: ReturnType<typeof compileCron>; zone: ReturnType<typeof timelineOf>; next: number | undefined }
  >();
  for (const s of rows) {
    const cron = compileCron(s.expression!);
    const zone = timelineOf(s.timeZone);
    live.set(s.id, { rev: s.rev, cron, zone, next: nextFireAfter(cron, zone, now) });
  }
  const loadMs = nowMs() - t0;
  rows.length = 0;
  gc();
  const after = process.memoryUsage();
  await store.close();
  return {
    mode: "switchboard load from embedded store",
    n: live.size,
    loadMs,
    heapMb: (after.heapUsed - before.heapUsed) / 2 ** 20,
    rssMb: (after.rss - before.rss) / 2 ** 20,
    fired: 0,
    p50Ms: Number.NaN,
    p99Ms: Number.NaN,
    maxMs: Number.NaN,
  };
}

const [, , modeArg, nArg] = process.argv;
if (modeArg === "--child-node-cron" || modeArg === "--child-engine" || modeArg === "--child-store") {
  const n = Number(nArg);
  const result =
    modeArg === "--child-node-cron"
      ? await runNodeCron(n, 5_000)
      : modeArg === "--child-engine"
        ? await runEngine(n, 5_000)
        : await runStore(n);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

const n = Number(modeArg ?? 100_000);
const self = fileURLToPath(import.meta.url);
const run = (mode: string): Result => {
  const out = execFileSync(process.execPath, ["--expose-gc", self, mode, String(n)], {
    encoding: "utf8",
    maxBuffer: 1 << 24,
    stdio: ["ignore", "pipe", "inherit"],
  });
  return JSON.parse(out.trim().split("\n").at(-1)!) as Result;
};
console.log(
  `schedules benchmark: ${n.toLocaleString("en")} schedules over ${ZONES.join(", ")}, all due in the same second`,
);
const results = [run("--child-engine"), run("--child-node-cron"), run("--child-store")];
const f = (x: number | null, d = 1) => (x === null || Number.isNaN(x) ? "-" : x.toFixed(d));
console.log("mode                                   | load ms | heap MB | rss MB | fired  | p50 ms | p99 ms | max ms");
for (const r of results) {
  console.log(
    `${r.mode.padEnd(38)} | ${f(r.loadMs, 0).padStart(7)} | ${f(r.heapMb).padStart(7)} | ${f(r.rssMb).padStart(6)} | ${String(r.fired).padStart(6)} | ${f(r.p50Ms).padStart(6)} | ${f(r.p99Ms).padStart(6)} | ${f(r.maxMs).padStart(6)}`,
  );
}
const [ours, theirs] = results as [Result, Result];
console.log(
  `next-time recompute after the burst (ours, off the fire path): ${f(ours.recomputeMs ?? Number.NaN, 0)} ms`,
);
console.log(
  `ratios node-cron/ours: load ${f(theirs.loadMs / ours.loadMs)}x, heap ${f(theirs.heapMb / ours.heapMb)}x, p99 ${f(theirs.p99Ms / ours.p99Ms)}x; missed: node-cron ${n - theirs.fired}, ours ${n - ours.fired}`,
);
console.log(
  `targets (≤ 100 MB, p99 ≤ 50 ms): ${ours.heapMb <= 100 && ours.p99Ms <= 50 && ours.fired === n ? "met" : "NOT met"}`,
);
