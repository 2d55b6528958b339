/**
 * Schedule fires on the real path: claim → permission re-check → router → reply handed to the adapter → finish,
 * through the whole app on the embedded store (SQLite in a temporary folder), for many schedules falling due at
 * once. Lateness is the time from a fire's due instant to its reply reaching the adapter.
 *
 *   npx node test/bench/schedules-path.ts [--rounds N] [--only burst10k|burst100k|steady]
 *   npx node test/bench/schedules-path.ts --pg [--rounds N] [--base]
 *
 * Scenarios (each schedule `/ping` in one of `n / 10` chats, 10 per chat):
 * - burst10k: 10,000 due in the same second — target p99 ≤ 2 s;
 * - burst100k: 100,000 due in the same second — target all answered within 20 s, the first within 100 ms;
 * - steady: 10,000 spread over a minute (second `i mod 60`), measured for a minute — target p99 ≤ 50 ms.
 * Each runs in fresh processes, this tree and the base tree (`base-tree.ts`, the loop it replaced) in turn,
 * rounds interleaved; medians of the rounds, each round's pair printed, best-of beside.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT, ensureBaseTree, median } from "./base-tree.ts";

const argv = process.argv.slice(2);
const flagValue = (name: string): string | undefined => {
  const at = argv.indexOf(name);
  return at === -1 ? undefined : argv[at + 1];
};
// Lateness is read on the wall clock, the clock the engine fires by: a monotonic clock anchored once at start
// drifted from it by 5-15 ms within a run here (first replies read as up to 15 ms early).
const nowMs = () => Date.now();

interface Scenario {
  name: "burst10k" | "burst100k" | "steady";
  n: number;
  steady: boolean;
}
const SCENARIOS: Scenario[] = [
  { name: "burst10k", n: 10_000, steady: false },
  { name: "burst100k", n: 100_000, steady: false },
  { name: "steady", n: 10_000, steady: true },
];

interface Figures {
  answered: number;
  expected: number;
  firstMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  peakRssMb: number;
  /** How late a bare timer set for the due instant woke up: the machine's own share of the lateness. */
  timerLateMs: number;
  /** Epoch ms of the last reply, and the sum of the answered schedules' numbers (a check across processes). */
  lastAtMs: number;
  indexSum: number;
  /** Diagnostics: the pipeline's counters, warnings and errors logged (by message), CPU ms used from the due instant. */
  stats?: Record<string, number>;
}

if (argv[0] === "--pg") {
  await pgMain(Number(flagValue("--rounds") ?? 1));
  process.exit(0);
} else if (argv[0] === "--worker") {
  const figures = await worker(argv[1]!, SCENARIOS.find((s) => s.name === argv[2])!);
  process.stdout.write(`${JSON.stringify(figures)}\n`);
  process.exit(0);
} else {
  const rounds = Number(flagValue("--rounds") ?? 3);
  const only = flagValue("--only");
  const base = ensureBaseTree();
  for (const scenario of SCENARIOS.filter((s) => only === undefined || only.split(",").includes(s.name))) {
    const ours: Figures[] = [];
    const theirs: Figures[] = [];
    const run = (tree: string): Figures =>
      JSON.parse(
        execFileSync(process.execPath, [join(ROOT, "test/bench/schedules-path.ts"), "--worker", tree, scenario.name], {
          encoding: "utf8",
          stdio: ["ignore", "pipe", "inherit"],
          maxBuffer: 1 << 20,
        }).trim(),
      ) as Figures;
    for (let r = 0; r < rounds; r++) {
      if (r % 2 === 0) {
        ours.push(run(ROOT));
        theirs.push(run(base.dir));
      } else {
        theirs.push(run(base.dir));
        ours.push(run(ROOT));
      }
      console.log(`  ${scenario.name} round ${r + 1}: this tree ${line(ours.at(-1)!)}; base ${line(theirs.at(-1)!)}`);
    }
    const summary = (list: Figures[]) => {
      const pick = (f: (x: Figures) => number) => `${fmt(median(list.map(f)))} (best ${fmt(Math.min(...list.map(f)))})`;
      return `first ${pick((x) => x.firstMs)}, p50 ${pick((x) => x.p50Ms)}, p99 ${pick((x) => x.p99Ms)}, last ${pick((x) => x.maxMs)} ms; answered ${median(list.map((x) => x.answered))}/${list[0]!.expected}; peak RSS ${fmt(median(list.map((x) => x.peakRssMb)))} MB; a bare timer woke ${pick((x) => x.timerLateMs)} ms late`;
    };
    console.log(`${scenario.name}: ${scenario.n.toLocaleString("en-US")} schedules, ${rounds} paired rounds, medians`);
    console.log(`  this tree:    ${summary(ours)}`);
    console.log(`  base ${base.commit}: ${summary(theirs)}`);
    console.log(
      `  target: ${scenario.name === "burst10k" ? "p99 ≤ 2,000 ms" : scenario.name === "burst100k" ? "last ≤ 20,000 ms, first ≤ 100 ms" : "p99 ≤ 50 ms"}`,
    );
  }
}

/**
 * `--pg`: 10,000 due in one second on PostgreSQL, one process against two sharing the burst (started together,
 * one inserting the rows first). Throughput is fires answered per second from the due instant to the last answer;
 * target: two processes ≥ 0.8× the sum of two single processes, and no fire answered twice. Each run also reports
 * the CPU time the bot processes and their PostgreSQL backends (read from `/proc`; the server runs here) spent
 * from the due instant to the end of the burst. `--base`: the base tree too, in the same rounds.
 * `BENCH_STATS=1`: each process's pipeline counters and the warnings it logged.
 */
async function pgMain(rounds: number): Promise<void> {
  const pg = (await import("pg")).default;
  const { POSTGRES_URL } = await import("../helpers/services.ts");
  const { spawn } = await import("node:child_process");
  const { createInterface } = await import("node:readline");
  const n = 10_000;
  const admin = async (sqlText: string) => {
    const c = new pg.Client({ connectionString: POSTGRES_URL });
    await c.connect();
    try {
      await c.query(sqlText);
    } finally {
      await c.end();
    }
  };
  // A worker whose start-up overran the lead exits with 3: the run is made again with twice the lead.
  let leadMs = 20_000;
  const runOnPg = async (processes: number, tree: string): Promise<PgRun> => {
    for (;;) {
      try {
        return await runOnPgOnce(processes, tree);
      } catch (error) {
        if (!(error instanceof Error && error.message === "worker exited 3") || leadMs >= 160_000) throw error;
        leadMs *= 2;
        console.log(`  (a worker started too slowly: the run is made again with a lead of ${leadMs / 1_000} s)`);
      }
    }
  };
  interface PgRun {
    answered: number;
    isEachOnce: boolean;
    perSec: number;
    lastMs: number;
    split: number[];
    stats: Array<Record<string, number> | undefined>;
  }
  const runOnPgOnce = async (processes: number, tree: string): Promise<PgRun> => {
    const name = `sb_bench_sched_${process.pid}_${processes}_${Date.now() % 100_000}`;
    await admin(`CREATE DATABASE ${name}`);
    const url = new URL(POSTGRES_URL);
    url.pathname = `/${name}`;
    const dueAt = Math.ceil((Date.now() + leadMs) / 1_000) * 1_000;
    const children: Array<{ exitCode: number | null; kill(): boolean }> = [];
    const start = (insert: boolean) => {
      const child = spawn(
        process.execPath,
        [join(ROOT, "test/bench/schedules-path.ts"), "--worker", tree, "burst10k"],
        {
          env: {
            ...process.env,
            BENCH_PG_URL: url.toString(),
            BENCH_DUE_AT: String(dueAt),
            BENCH_INSERT: insert ? "1" : "0",
          },
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      children.push(child);
      const out = new Promise<Figures>((resolve, reject) => {
        let text = "";
        child.stdout.on("data", (d: Buffer) => (text += d.toString()));
        child.once("exit", (code) =>
          code === 0 ? resolve(JSON.parse(text.trim()) as Figures) : reject(new Error(`worker exited ${code}`)),
        );
      });
      const inserted = new Promise<void>((resolve) => {
        createInterface({ input: child.stderr }).on("line", (line) => {
          if (line === "inserted") resolve();
        });
      });
      return { out, inserted };
    };
    try {
      const first = start(true);
      await first.inserted;
      const others = Array.from({ length: processes - 1 }, () => start(false));
      const figures = await Promise.all([first.out, ...others.map((o) => o.out)]);
      const answered = figures.reduce((sum, f) => sum + f.answered, 0);
      const indexSum = figures.reduce((sum, f) => sum + f.indexSum, 0);
      const lastMs = Math.max(...figures.map((f) => f.lastAtMs)) - dueAt;
      return {
        answered,
        isEachOnce: answered === n && indexSum === (n * (n - 1)) / 2,
        perSec: answered / (lastMs / 1000),
        lastMs,
        split: figures.map((f) => f.answered),
        stats: figures.map((f) => f.stats),
      };
    } finally {
      for (const child of children) if (child.exitCode === null) child.kill();
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    }
  };
  // CPU per fire: the bot processes' and their PostgreSQL backends', from the due instant to the end of the burst.
  const cpuOf = (run: PgRun) => {
    const sum = (key: string) => run.stats.reduce((total, st) => total + (st?.[key] ?? 0), 0);
    return { bot: sum("cpuMs"), server: sum("pgBackendCpuMs") };
  };
  const describe = (run: PgRun) => {
    const cpu = cpuOf(run);
    return `${fmt(run.perSec)} fires/s (all in ${fmt(run.lastMs)} ms${run.split.length > 1 ? `, split ${run.split.join("/")}` : ""}, each once: ${run.isEachOnce}; CPU ${fmt(cpu.bot)} ms bot + ${fmt(cpu.server)} ms server = ${((1_000 * (cpu.bot + cpu.server)) / n).toFixed(0)} µs a fire)`;
  };
  const base = argv.includes("--base") ? ensureBaseTree() : undefined;
  const trees = [
    { name: "this tree", dir: ROOT },
    ...(base === undefined ? [] : [{ name: `base ${base.commit}`, dir: base.dir }]),
  ];
  const results = new Map(
    trees.map((t) => [
      t.name,
      { ratios: [] as number[], ones: [] as number[], twos: [] as number[], cpu: [] as number[] },
    ]),
  );
  let isEachOnce = true;
  for (let r = 0; r < rounds; r++) {
    // Paired: one process and two processes of each tree in each round, the order alternating.
    const order = r % 2 === 0 ? trees : [...trees].reverse();
    for (const tree of order) {
      const counts = r % 2 === 0 ? [1, 2] : [2, 1];
      const runs = new Map<number, PgRun>();
      for (const processes of counts) runs.set(processes, await runOnPg(processes, tree.dir));
      const one = runs.get(1)!;
      const two = runs.get(2)!;
      const into = results.get(tree.name)!;
      into.ratios.push(two.perSec / (2 * one.perSec));
      into.ones.push(one.perSec);
      into.twos.push(two.perSec);
      const cpuOne = cpuOf(one);
      const cpuTwo = cpuOf(two);
      into.cpu.push((cpuTwo.bot + cpuTwo.server) / (cpuOne.bot + cpuOne.server));
      isEachOnce &&= one.isEachOnce && two.isEachOnce;
      if (process.env.BENCH_STATS === "1")
        console.log(`    stats one: ${JSON.stringify(one.stats)}\n    stats two: ${JSON.stringify(two.stats)}`);
      console.log(
        `  pg round ${r + 1}, ${tree.name}: one process ${describe(one)}; two processes ${describe(two)}; two / (2 × one) = ${(two.perSec / (2 * one.perSec)).toFixed(2)}`,
      );
    }
  }
  console.log(`pg: ${n.toLocaleString("en-US")} due in one second, ${rounds} paired rounds, medians (best)`);
  for (const tree of trees) {
    const { ratios, ones, twos, cpu } = results.get(tree.name)!;
    console.log(`  ${tree.name}:`);
    console.log(`    one process:   ${fmt(median(ones))} fires/s (best ${fmt(Math.max(...ones))})`);
    console.log(`    two processes: ${fmt(median(twos))} fires/s (best ${fmt(Math.max(...twos))})`);
    console.log(
      `    two / (2 × one): ${median(ratios).toFixed(2)} (best ${Math.max(...ratios).toFixed(2)}); target ≥ 0.8: ${median(ratios) >= 0.8 ? "met" : "not met"}`,
    );
    console.log(
      `    CPU for the burst, two processes against one: ${median(cpu).toFixed(2)}× (best ${Math.min(...cpu).toFixed(2)}×)`,
    );
  }
  console.log(`  every fire once: ${isEachOnce} (target: true)`);
}

/** The PostgreSQL URL with this worker's connections named, so their server backends can be told apart. */
function pgUrlOfThisProcess(): string {
  const url = new URL(process.env.BENCH_PG_URL!);
  url.searchParams.set("application_name", `bench-worker-${process.pid}`);
  return url.toString();
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

function line(f: Figures): string {
  return `first ${fmt(f.firstMs)} p50 ${fmt(f.p50Ms)} p99 ${fmt(f.p99Ms)} last ${fmt(f.maxMs)} ms, ${f.answered}/${f.expected}, ${fmt(f.peakRssMb)} MB`;
}

async function worker(tree: string, scenario: Scenario): Promise<Figures> {
  const load = (path: string) => import(pathToFileURL(join(tree, path)).href);
  const { createApp } = await load("bot/app/app.ts");
  const { createLogger } = await load("bot/logger.ts");
  const { parseConfig } = await load("config/index.ts");
  const { createSchedulesPlugin } = await load("schedules/index.ts");
  const dir = await mkdtemp(join(tmpdir(), "sb-bench-sched-"));
  const n = scenario.n;
  const replies = new Map<string, number>();
  let dueOf: (chatId: string, text: string, atMs: number) => number = () => 0;
  const lateness: number[] = [];
  let lastAtMs = 0;
  let plugin: { service: { pipeline: Record<string, unknown> } } | undefined;
  const logged: Record<string, number> = {};
  const { Writable } = await import("node:stream");
  const logCounter = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const text of chunk.toString().split("\n")) {
        if (text === "") continue;
        const entry = JSON.parse(text) as { msg?: string; err?: { message?: string } };
        const key = `log: ${entry.msg ?? ""}${entry.err?.message === undefined ? "" : ` / ${entry.err.message.replace(/\d+/g, "N").slice(0, 80)}`}`;
        logged[key] = (logged[key] ?? 0) + 1;
      }
      done();
    },
  });
  const adapter = {
    platform: "bench",
    capabilities: { edit: false, buttons: false, ephemeral: false, typing: false, maxTextLength: 4000 },
    start: async () => undefined,
    stop: async () => undefined,
    registerCommands: async () => undefined,
    edit: async () => undefined,
    health: () => ({ platform: "bench", state: "up", lastInboundAt: null, lastApiOkAt: null }),
    send: async (target: { chatId: string }, reply: { text: string }) => {
      const at = nowMs();
      const due = dueOf(target.chatId, reply.text, at);
      if (due < startAt || due >= startAt + 60_000) return { platform: "bench", chatId: target.chatId, messageId: "m" };
      lateness.push(at - due);
      lastAtMs = Math.max(lastAtMs, Date.now());
      replies.set(reply.text, (replies.get(reply.text) ?? 0) + 1);
      return { platform: "bench", chatId: target.chatId, messageId: "m" };
    },
  };
  const app = await createApp({
    config: parseConfig({
      bot: { dataDir: dir },
      http: { enabled: false },
      log: { level: "silent" },
      schedules: { minIntervalMs: 1_000, defaultTimeZone: "UTC", pollIntervalMs: 3_600_000 },
      ...(process.env.BENCH_PG_URL === undefined ? {} : { storage: { databaseUrl: pgUrlOfThisProcess() } }),
    }),
    console: false,
    platformAdapters: false,
    extraAdapters: [adapter],
    log: createLogger({ level: "warn", format: "json", destination: logCounter }),
    plugins: [
      (core: { commands: { register(def: unknown): void } }) => {
        core.commands.register({
          name: "ping",
          description: "answers",
          defaultRole: "guest",
          source: "builtin",
          handler: (ctx: { rawArgs: string }) => `pong ${ctx.rawArgs}`,
        });
        return { name: "ping" };
      },
      async (core: unknown) => {
        plugin = await createSchedulesPlugin(core, { processId: `bench-${process.pid}` });
        return plugin;
      },
    ],
  });
  // Every schedule fires once a minute at second `second(i)`; the burst (or the steady minute) is measured from
  // the first such time far enough ahead for the start-up to have loaded them all.
  const leadMs = scenario.n >= 100_000 ? 25_000 : 8_000;
  // With PostgreSQL and several processes, the parent names the due instant and which process inserts the rows.
  let startAt = Number(process.env.BENCH_DUE_AT ?? Math.ceil((Date.now() + leadMs) / 1_000) * 1_000);
  const inserts = process.env.BENCH_INSERT !== "0";
  const burstSecond = new Date(startAt).getUTCSeconds();
  const secondOf = (i: number) => (scenario.steady ? i % 60 : burstSecond);
  const now = Date.now();
  const sql = app.core.store.sql;
  if (inserts)
    await sql.transaction(async (tx: { query(text: string, params?: unknown[]): Promise<unknown> }) => {
      for (let from = 0; from < n; from += 500) {
        const rows: string[] = [];
        const params: unknown[] = [];
        for (let i = from; i < Math.min(n, from + 500); i++) {
          const p = params.length;
          rows.push(
            `($${p + 1}, 'bench', $${p + 2}, 'group', NULL, 'u1', 'u1', 'user', 'cron', $${p + 3}, NULL, 'UTC', false, $${p + 4}, 'skip', 'active', $${p + 5}, $${p + 5}, $${p + 6})`,
          );
          const chatId = `c${Math.floor(i / 10)}`;
          params.push(`bench:${chatId}`, chatId, `${secondOf(i)} * * * * *`, `/ping ${i}`, now, i + 1);
        }
        await tx.query(
          `INSERT INTO schedules (chat_key, platform, chat_id, chat_kind, thread_id, creator_id, creator_name, created_by,
           kind, expression, run_at, time_zone, tz_explicit, command_line, missed_policy, state, created_at, updated_at, rev)
         VALUES ${rows.join(", ")}`,
          params,
        );
      }
    });
  // The due instant of a reply "pong <i>" answered at `atMs`: the latest fire of schedule i at or before it (a
  // reply is never a minute late), or one a few ms ahead when the clocks disagree by that much.
  dueOf = (_chatId, text, atMs) => {
    const i = Number(text.slice(5));
    const offset = secondOf(i) * 1_000;
    const late = (((atMs - offset) % 60_000) + 60_000) % 60_000;
    return late > 59_000 ? atMs - late + 60_000 : atMs - late;
  };
  let peakRss = 0;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 100);
  if (process.env.BENCH_DUE_AT !== undefined) process.stderr.write("inserted\n");
  // Set before the engine's own timer, so it runs first at the due instant and measures only the wake-up.
  let timerLateMs = Number.NaN;
  let cpuAtStart = process.cpuUsage();
  // PostgreSQL: the CPU time of this process's server backends (read from /proc; the server runs on this machine).
  const backendTicks = async (): Promise<Map<number, number>> => {
    const ticks = new Map<number, number>();
    if (process.env.BENCH_PG_URL === undefined) return ticks;
    const { readFile } = await import("node:fs/promises");
    const { rows } = (await sql.query(
      "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1",
      [`bench-worker-${process.pid}`],
    )) as { rows: Array<{ pid: unknown }> };
    for (const { pid } of rows) {
      const stat = await readFile(`/proc/${Number(pid)}/stat`, "utf8").catch(() => "");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields.length > 13) ticks.set(Number(pid), Number(fields[11]) + Number(fields[12]));
    }
    return ticks;
  };
  let backendsAtStart: Promise<Map<number, number>> = Promise.resolve(new Map());
  const dueTimer = () => {
    timerLateMs = nowMs() - startAt;
    cpuAtStart = process.cpuUsage();
    backendsAtStart = backendTicks();
  };
  setTimeout(dueTimer, startAt - Date.now());
  await app.start();
  if (Date.now() > startAt - 500) {
    // Start-up took longer than the lead: measure the same second a minute (or more) later, from a clean slate.
    if (scenario.steady) throw new Error("start-up took longer than the lead: raise leadMs");
    // Shared by several processes, all must measure the same instant: the parent tries the round again, later.
    if (process.env.BENCH_DUE_AT !== undefined) process.exit(3);
    startAt += Math.ceil((Date.now() + 1_000 - startAt) / 60_000) * 60_000;
    await new Promise((r) => setTimeout(r, startAt - 300 - Date.now()));
    replies.clear();
    lateness.length = 0;
    timerLateMs = Number.NaN;
    setTimeout(dueTimer, startAt - Date.now());
  }
  const expected = Number(process.env.BENCH_EXPECT ?? n);
  const deadline = startAt + (scenario.steady ? 60_000 : 120_000) + 30_000;
  const isShared = process.env.BENCH_DUE_AT !== undefined;
  const allRecorded = async () => {
    const { rows } = (await sql.query(
      "SELECT count(*) AS n FROM schedule_runs WHERE fire_time = $1 AND outcome <> 'running'",
      [startAt],
    )) as { rows: Array<{ n: unknown }> };
    return Number(rows[0]?.n ?? 0) >= n;
  };
  // Shared by several processes, each answers a part: done when every fire of the burst is recorded somewhere.
  while ((isShared ? !(await allRecorded()) : replies.size < expected) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, isShared ? 200 : 50));
  clearInterval(sampler);
  const cpu = process.cpuUsage(cpuAtStart);
  const counters = plugin?.service.pipeline ?? {};
  const stats: Record<string, number> = { cpuMs: Math.round((cpu.user + cpu.system) / 1_000), ...logged };
  if (process.env.BENCH_PG_URL !== undefined) {
    const before = await backendsAtStart;
    let ticks = 0;
    for (const [pid, t] of await backendTicks()) ticks += t - (before.get(pid) ?? 0);
    stats.pgBackendCpuMs = ticks * 10; // 100 ticks a second
  }
  for (const key of ["claimBatches", "heldRetries", "heldLost", "recordBatches", "recordRetries", "overdueRuns"])
    if (typeof counters[key] === "number") stats[key] = counters[key] as number;
  await app.stop();
  await rm(dir, { recursive: true, force: true });
  lateness.sort((a, b) => a - b);
  const q = (p: number) => lateness[Math.min(lateness.length - 1, Math.floor(p * lateness.length))] ?? Number.NaN;
  return {
    answered: replies.size,
    expected,
    firstMs: lateness[0] ?? Number.NaN,
    p50Ms: q(0.5),
    p99Ms: q(0.99),
    maxMs: lateness.at(-1) ?? Number.NaN,
    peakRssMb: peakRss / 2 ** 20,
    timerLateMs,
    lastAtMs,
    indexSum: [...replies.keys()].reduce((sum, text) => sum + Number(text.slice(5)), 0),
    stats,
  };
}
