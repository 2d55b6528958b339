/**
 * The embedded store engines side by side, each in a fresh process on a data folder it created before (warm):
 * PGlite (PostgreSQL in WebAssembly, the previous default; a dev dependency kept for this comparison) against
 * `node:sqlite` (built into Node). For each: open time, resident memory after open (idle, after GC) and its peak
 * while opening, and the time of the query a policy read runs (p50 over 2,000 reads). Paired rounds, median
 * with best-of beside it.
 *
 *   npx node test/bench/store-engines.ts [rounds=5]
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROUNDS = Number(process.argv[2] ?? 5);
const READS = 2_000;
const POLICY = JSON.stringify({
  commandRoles: { perms: "admin", deploy: "owner" },
  roleOverrides: { "telegram:1": "admin" },
  allow: [],
  deny: [],
  trustPlatformAdmins: true,
});

type Engine = "pglite" | "sqlite";
interface Figures {
  openMs: number;
  idleRssMb: number;
  peakRssMb: number;
  readUs: number;
}

function kb(field: string): number {
  const status = readFileSync("/proc/self/status", "utf8");
  return Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0);
}

/** Runs in the child: open, read the policy READS times, report. */
async function child(engine: Engine, dir: string, create: boolean): Promise<Figures> {
  await mkdir(dir, { recursive: true });
  const t0 = performance.now();
  let read: () => Promise<unknown> | unknown;
  if (engine === "pglite") {
    const { PGlite } = await import("@electric-sql/pglite");
    const db = new PGlite(join(dir, "db"));
    await db.waitReady;
    if (create) {
      await db.exec("CREATE TABLE chat_policies (chat_key text PRIMARY KEY, policy jsonb NOT NULL, updated_at bigint)");
      await db.query("INSERT INTO chat_policies VALUES ($1, $2::jsonb, 0)", ["telegram:-1001", POLICY]);
    }
    read = () => db.query("SELECT policy FROM chat_policies WHERE chat_key = $1", ["telegram:-1001"]);
  } else {
    const { DatabaseSync } = await import("node:sqlite");
    const db = new DatabaseSync(join(dir, "db.sqlite"));
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL");
    if (create) {
      db.exec("CREATE TABLE chat_policies (chat_key TEXT PRIMARY KEY, policy TEXT NOT NULL, updated_at INTEGER)");
      db.prepare("INSERT INTO chat_policies VALUES (?, ?, 0)").run("telegram:-1001", POLICY);
    }
    const statement = db.prepare("SELECT policy FROM chat_policies WHERE chat_key = ?");
    read = () => JSON.parse((statement.get("telegram:-1001") as { policy: string }).policy);
  }
  await read();
  const openMs = performance.now() - t0;
  const samples: number[] = [];
  for (let i = 0; i < READS; i++) {
    const s = performance.now();
    await read();
    samples.push(performance.now() - s);
  }
  samples.sort((a, b) => a - b);
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((r) => setTimeout(r, 500));
  return {
    openMs,
    idleRssMb: kb("VmRSS") / 1024,
    peakRssMb: kb("VmHWM") / 1024,
    readUs: samples[Math.floor(READS / 2)]! * 1000,
  };
}

function runChild(engine: Engine, dir: string, create: boolean): Figures {
  const out = execFileSync(
    process.execPath,
    ["--expose-gc", "--no-warnings", import.meta.filename, "--child", engine, dir, create ? "create" : "open"],
    { encoding: "utf8" },
  );
  return JSON.parse(out) as Figures;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  if (process.argv[2] === "--child") {
    const figures = await child(process.argv[3] as Engine, process.argv[4]!, process.argv[5] === "create");
    process.stdout.write(JSON.stringify(figures));
    process.exit(0);
  }
  const dir = await mkdtemp(join(tmpdir(), "sb-engines-"));
  const engines: Engine[] = ["pglite", "sqlite"];
  try {
    const bare = JSON.parse(
      execFileSync(
        process.execPath,
        [
          "--expose-gc",
          "-e",
          "gc(); setTimeout(() => { const s = require('fs').readFileSync('/proc/self/status','utf8'); process.stdout.write(String(Number(/VmRSS:\\s+(\\d+)/.exec(s)[1]) / 1024)); }, 500)",
        ],
        { encoding: "utf8" },
      ),
    ) as number;
    const first = Object.fromEntries(engines.map((e) => [e, runChild(e, join(dir, e), true)])) as Record<
      Engine,
      Figures
    >;
    const rounds: Array<Record<Engine, Figures>> = [];
    for (let i = 0; i < ROUNDS; i++) {
      const order = i % 2 === 0 ? engines : [...engines].reverse();
      const round = {} as Record<Engine, Figures>;
      for (const e of order) round[e] = runChild(e, join(dir, e), false);
      rounds.push(round);
    }
    const cell = (e: Engine, k: keyof Figures, digits: number): string => {
      const xs = rounds.map((r) => r[e][k]);
      const bestOf = k === "openMs" || k === "readUs" || k.endsWith("Mb") ? Math.min(...xs) : Math.max(...xs);
      return `${median(xs).toFixed(digits)} (best ${bestOf.toFixed(digits)})`.padStart(22);
    };
    console.log(
      `Embedded store engines (node ${process.versions.node}; ${ROUNDS} paired rounds, median, best-of in brackets; a bare node process idles at ${bare.toFixed(0)} MB)`,
    );
    console.log(`  ${"".padEnd(30)} ${"PGlite".padStart(22)} ${"node:sqlite".padStart(22)}`);
    console.log(
      `  ${"open (existing folder), ms".padEnd(30)} ${cell("pglite", "openMs", 0)} ${cell("sqlite", "openMs", 0)}`,
    );
    console.log(
      `  ${"resident after open, MB".padEnd(30)} ${cell("pglite", "idleRssMb", 0)} ${cell("sqlite", "idleRssMb", 0)}`,
    );
    console.log(
      `  ${"peak resident while opening, MB".padEnd(30)} ${cell("pglite", "peakRssMb", 0)} ${cell("sqlite", "peakRssMb", 0)}`,
    );
    console.log(`  ${"policy read p50, µs".padEnd(30)} ${cell("pglite", "readUs", 1)} ${cell("sqlite", "readUs", 1)}`);
    console.log(
      `  ${"first open (new folder), ms".padEnd(30)} ${first.pglite.openMs.toFixed(0).padStart(22)} ${first.sqlite.openMs.toFixed(0).padStart(22)}`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
