/**
 * Footprint and start-up, as a user sees them: `switchboard start` run as its own process tree, measured from
 * outside. Prints, next to each target and next to the same figure for the previous release (a `git worktree`
 * of BASE_COMMIT under the temp folder, measured in the same run, rounds interleaved):
 * - idle resident memory of every Switchboard process together (bot + skill-host children), IDLE_S seconds after
 *   `/readyz` answered 200: console only (target ≤ 120 MB), and console + Telegram, Discord and Slack on the
 *   loopback stand-ins + 20 enabled skills (target ≤ 150 MB);
 * - start to ready (spawn → `/readyz` 200) for both, warm (second start on the same data folder; target ≤ 1 s
 *   for the three adapters), and the CPU time the bot's process tree had used by then (user + system, from
 *   /proc): on a loaded machine the wall time mostly measures the wait for a core, the CPU time much less so;
 * - `switchboard --version`: wall time and peak RSS.
 * Each figure is the median of the paired rounds, best-of beside it.
 *
 * Four columns: "installed" is this tree as users get it (both packages packed, installed with `--omit=dev` in
 * an empty folder, run from dist/); "installed, no code cache" is the same install with Node's compile cache off
 * (`NODE_DISABLE_COMPILE_CACHE=1`), as the first start after an install or upgrade runs; "clone" is this tree's sources run from the clone (`npm start`, type
 * stripping); "base" is the previous release, run from its clone (it had no installable package).
 *
 *   npx node test/bench/footprint.ts [rounds=3]        IDLE_S=30  BASE_COMMIT=296cc93  BASE_DIR=<tmp>/switchboard-base-296cc93
 *   ONLY=ours npx node test/bench/footprint.ts 1      (this tree alone, installed and clone; no base column)
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type Platforms, startPlatforms } from "../stand-ins/platforms.ts";
import { installPacked } from "./packed.ts";

const ROUNDS = Number(process.argv[2] ?? 3);
const IDLE_MS = Number(process.env.IDLE_S ?? 30) * 1_000;
const SKILLS = 20;
const BASE_COMMIT = process.env.BASE_COMMIT ?? "296cc93";
const ROOT = resolve(import.meta.dirname, "../..");
const BASE_DIR = process.env.BASE_DIR ?? join(tmpdir(), `switchboard-base-${BASE_COMMIT}`);
const MB = 1024 * 1024;

/** One tree under test: the previous release, this checkout's sources, or this checkout packed and installed. */
interface Variant {
  name: VariantName;
  /** The `switchboard` bin to run. */
  bin: string;
  /** The working directory to run it in. */
  cwd: string;
  /** Extra environment for its bots. */
  env?: Record<string, string>;
}
type VariantName = "base" | "clone" | "installed" | "installed-cold";
const COLUMNS: VariantName[] = ["installed", "installed-cold", "clone", "base"];

/** What one measured start gave. */
interface StartFigures {
  readyMs: number;
  /** CPU (user + system) of the bot's process tree when `/readyz` first answered 200, ms. */
  readyCpuMs: number;
  /** Sum of VmRSS over the process tree, bytes. */
  rssBytes: number;
  /** Sum of Pss (proportional: shared pages split between processes), bytes. */
  pssBytes: number;
  processes: Array<{ pid: number; command: string; rssBytes: number }>;
}

// ---------------------------------------------------------------------------------------------- setup

function ensureBaseTree(): void {
  if (!existsSync(join(BASE_DIR, "package.json"))) {
    console.log(`creating a worktree of ${BASE_COMMIT} in ${BASE_DIR} …`);
    execFileSync("git", ["-C", ROOT, "worktree", "add", "--detach", BASE_DIR, BASE_COMMIT], { stdio: "inherit" });
  }
  if (!existsSync(join(BASE_DIR, "node_modules"))) {
    console.log(`installing the base tree's dependencies (npm ci, once) …`);
    execFileSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: BASE_DIR, stdio: ["ignore", "ignore", "inherit"] });
  }
}

/** Twenty skill packages (copies of the built-in dice skill under new names) to link in the full configuration. */
async function makeSkills(dir: string): Promise<string[]> {
  const diceDir = join(ROOT, "skills/builtin/dice");
  const pkg = JSON.parse(await readFile(join(diceDir, "package.json"), "utf8")) as {
    name: string;
    switchboard: { name: string; commands: Array<{ name: string }>; tools: Array<{ name: string }> };
  };
  const dirs: string[] = [];
  for (let i = 1; i <= SKILLS; i++) {
    const skillDir = join(dir, `bench-skill-${i}`);
    await mkdir(join(skillDir, "dist"), { recursive: true });
    await cp(join(diceDir, "dist/index.js"), join(skillDir, "dist/index.js"));
    const copy = structuredClone(pkg);
    copy.name = `@bench/skill-dice${i}`;
    copy.switchboard.name = `dice${i}`;
    copy.switchboard.commands = copy.switchboard.commands.map((c) => ({ ...c, name: `${c.name}${i}` }));
    copy.switchboard.tools = copy.switchboard.tools.map((t) => ({ ...t, name: `${t.name}${i}` }));
    await writeFile(join(skillDir, "package.json"), JSON.stringify(copy, null, 2));
    dirs.push(skillDir);
  }
  return dirs;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const address = server.address();
  await new Promise<void>((r) => server.close(() => r()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

// ---------------------------------------------------------------------------------------------- measuring

/** Pids of `pid` and all its descendants (Linux /proc). */
function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    const taskDir = `/proc/${out[i]}/task`;
    if (!existsSync(taskDir)) continue;
    for (const tid of readdirSync(taskDir)) {
      const children = readFileSync(join(taskDir, tid, "children"), "utf8").trim();
      if (children !== "") out.push(...children.split(/\s+/).map(Number));
    }
  }
  return out;
}

function kbField(text: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
  return match === null ? 0 : Number(match[1]) * 1024;
}

function treeMemory(pid: number): Pick<StartFigures, "rssBytes" | "pssBytes" | "processes"> {
  const processes: StartFigures["processes"] = [];
  let pssBytes = 0;
  for (const p of processTree(pid)) {
    try {
      const status = readFileSync(`/proc/${p}/status`, "utf8");
      const cmdline = readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0").filter(Boolean);
      const script = cmdline.find((a) => a.endsWith(".ts") || a.endsWith(".js")) ?? cmdline[0] ?? "?";
      processes.push({ pid: p, command: script.split("/").slice(-2).join("/"), rssBytes: kbField(status, "VmRSS") });
      pssBytes += kbField(readFileSync(`/proc/${p}/smaps_rollup`, "utf8"), "Pss");
    } catch {
      // gone between listing and reading
    }
  }
  return { rssBytes: processes.reduce((sum, p) => sum + p.rssBytes, 0), pssBytes, processes };
}

async function waitReady(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`bot exited (${child.exitCode}) before ready: ${stderr()}`);
    if (Date.now() > deadline) throw new Error(`/readyz not 200 within 120 s: ${stderr()}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** CPU time (user + system) used so far by `pid` and its descendants, ms (Linux /proc, clock ticks of 10 ms). */
function treeCpuMs(pid: number): number {
  let ticks = 0;
  for (const p of processTree(pid)) {
    try {
      // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
      const fields = readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1]!.split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone between listing and reading
    }
  }
  return ticks * 10;
}

/** A running bot under test. */
interface Running {
  child: ChildProcess;
  readyMs: number;
  readyCpuMs: number;
  stop(): Promise<void>;
}

async function startBot(variant: Variant, env: Record<string, string>): Promise<Running> {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, [variant.bin, "start"], {
    cwd: variant.cwd,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? tmpdir(),
      // The listener is what the bench reads readiness from; a console-only bot opens none by default.
      SWITCHBOARD_HTTP__ENABLED: "true",
      SWITCHBOARD_HTTP__PORT: String(port),
      SWITCHBOARD_HTTP__HOST: "127.0.0.1",
      SWITCHBOARD_REGISTRY: "http://127.0.0.1:9/",
      LOG_LEVEL: "warn",
      // BOT_NODE_OPTIONS tries Node flags on the bots alone (for example heap sizing), never on the bench itself.
      ...(process.env.BOT_NODE_OPTIONS === undefined ? {} : { NODE_OPTIONS: process.env.BOT_NODE_OPTIONS }),
      ...variant.env,
      ...env,
    },
    // stdin stays open (a pipe nobody writes to): the console adapter runs until we stop it.
    stdio: ["pipe", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  try {
    await waitReady(port, child, () => stderr);
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  const readyMs = performance.now() - t0;
  const readyCpuMs = treeCpuMs(child.pid!);
  return {
    child,
    readyMs,
    readyCpuMs,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** `switchboard --version`: wall ms and peak RSS (bytes, from GNU time when present). */
function versionRun(variant: Variant): { wallMs: number; peakRssBytes: number | undefined } {
  const args = [variant.bin, "--version"];
  const hasTime = existsSync("/usr/bin/time");
  const t0 = performance.now();
  const result = hasTime
    ? spawnSync("/usr/bin/time", ["-f", "peak-kb %M", process.execPath, ...args], { encoding: "utf8" })
    : spawnSync(process.execPath, args, { encoding: "utf8" });
  const wallMs = performance.now() - t0;
  if (result.status !== 0 || !/\d+\.\d+\.\d+/.test(result.stdout)) {
    throw new Error(`--version failed for ${variant.bin}: ${result.stderr}`);
  }
  const kb = /peak-kb (\d+)/.exec(result.stderr)?.[1];
  return { wallMs, peakRssBytes: kb === undefined ? undefined : Number(kb) * 1024 };
}

// ---------------------------------------------------------------------------------------------- one round

interface Round {
  version: Partial<Record<VariantName, { wallMs: number; peakRssBytes: number | undefined }>>;
  consoleOnly: Partial<Record<VariantName, StartFigures>>;
  full: Partial<Record<VariantName, StartFigures>>;
}

async function round(
  variants: Variant[],
  options: { dirs: Record<string, string>; skillDirs: string[]; idleMs: number },
): Promise<Round> {
  const { dirs, skillDirs } = options;
  const version = {} as Round["version"];
  for (const v of variants) version[v.name] = versionRun(v);

  // Start every bot one after the other (each start timed alone), then let them all idle together.
  const running: Array<{ key: string; variant: Variant; bot: Running; platforms?: Platforms }> = [];
  try {
    for (const v of variants) {
      const dataDir = dirs[`${v.name}-console`]!;
      running.push({ key: "consoleOnly", variant: v, bot: await startBot(v, { SWITCHBOARD_DATA_DIR: dataDir }) });
    }
    for (const v of variants) {
      const dataDir = dirs[`${v.name}-full`]!;
      // The file `switchboard skills link` writes ({ paths }); a bare array was read as no links at all.
      await writeFile(join(dataDir, "skills-linked.json"), JSON.stringify({ paths: skillDirs }));
      const platforms = await startPlatforms();
      const bot = await startBot(v, { SWITCHBOARD_DATA_DIR: dataDir, ...platforms.env });
      running.push({ key: "full", variant: v, bot, platforms });
    }
    await new Promise((r) => setTimeout(r, options.idleMs));
    const out = { version, consoleOnly: {}, full: {} } as Round;
    for (const r of running) {
      const memory = treeMemory(r.bot.child.pid!);
      (out[r.key as "consoleOnly" | "full"] as Record<string, StartFigures>)[r.variant.name] = {
        readyMs: r.bot.readyMs,
        readyCpuMs: r.bot.readyCpuMs,
        ...memory,
      };
    }
    return out;
  } finally {
    for (const r of running) {
      await r.bot.stop();
      await r.platforms?.close();
    }
  }
}

// ---------------------------------------------------------------------------------------------- report

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const best = (xs: number[]): number => Math.min(...xs);

/** One printed figure: its label, unit, target and how to read it from a round. */
interface Row {
  label: string;
  unit: "MB" | "ms";
  target: string;
  pick: (r: Round, v: VariantName) => number;
}

function line({ label, unit, target, pick }: Row) {
  return (rounds: Round[]): string => {
    const fmt = (n: number) => (unit === "MB" ? `${(n / MB).toFixed(0)} MB` : `${n.toFixed(0)} ms`);
    const column = (v: VariantName) => rounds.map((r) => (r.version[v] === undefined ? Number.NaN : pick(r, v)));
    const cell = (xs: number[]) =>
      xs.some(Number.isNaN) ? "-".padStart(24) : `${fmt(median(xs)).padStart(8)} (best ${fmt(best(xs)).padStart(8)})`;
    return `  ${label.padEnd(44)} ${COLUMNS.map((v) => cell(column(v))).join("   ")}   ${target}`;
  };
}

async function main(): Promise<void> {
  if (process.platform !== "linux") throw new Error("footprint.ts reads /proc: Linux only");
  const onlyOurs = process.env.ONLY === "ours";
  if (!onlyOurs) ensureBaseTree();
  const work = await mkdtemp(join(tmpdir(), "sb-footprint-"));
  const installed: Variant = { name: "installed", ...installPacked(join(work, "packed")) };
  const variants: Variant[] = [
    installed,
    // The same install without Node's compile cache: what a first start after installing or upgrading costs.
    { ...installed, name: "installed-cold", env: { NODE_DISABLE_COMPILE_CACHE: "1" } },
    { name: "clone", bin: join(ROOT, "bin/switchboard.js"), cwd: ROOT },
    ...(onlyOurs ? [] : [{ name: "base" as const, bin: join(BASE_DIR, "bin/switchboard.js"), cwd: BASE_DIR }]),
  ];
  try {
    const skillDirs = await makeSkills(join(work, "skills"));
    const dirs: Record<string, string> = {};
    for (const v of variants) {
      for (const c of ["console", "full"]) {
        dirs[`${v.name}-${c}`] = join(work, `${v.name}-${c}`);
        await mkdir(dirs[`${v.name}-${c}`]!, { recursive: true });
      }
    }
    // Warm-up: first starts create the data folders, apply migrations and fill the OS file cache.
    console.log(`warm-up round (not counted), then ${ROUNDS} rounds of ${IDLE_MS / 1000} s idle …`);
    await round(variants, { dirs, skillDirs, idleMs: 0 });
    const rounds: Round[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      rounds.push(await round(i % 2 === 0 ? variants : [...variants].reverse(), { dirs, skillDirs, idleMs: IDLE_MS }));
      process.stdout.write(`  round ${i + 1}/${ROUNDS} done\n`);
    }
    const rows = [
      line({
        label: "idle RSS, console only",
        unit: "MB",
        target: "target ≤ 120 MB",
        pick: (r, v) => r.consoleOnly[v]!.rssBytes,
      }),
      line({
        label: "idle RSS, console + 3 adapters + 20 skills",
        unit: "MB",
        target: "target ≤ 150 MB",
        pick: (r, v) => r.full[v]!.rssBytes,
      }),
      line({
        label: "idle PSS, console only",
        unit: "MB",
        target: "(shared pages split)",
        pick: (r, v) => r.consoleOnly[v]!.pssBytes,
      }),
      line({
        label: "idle PSS, console + 3 adapters + 20 skills",
        unit: "MB",
        target: "(shared pages split)",
        pick: (r, v) => r.full[v]!.pssBytes,
      }),
      line({
        label: "start to ready, console only",
        unit: "ms",
        target: "",
        pick: (r, v) => r.consoleOnly[v]!.readyMs,
      }),
      line({
        label: "start to ready, console + 3 adapters + 20 skills",
        unit: "ms",
        target: "target ≤ 1000 ms",
        pick: (r, v) => r.full[v]!.readyMs,
      }),
      line({
        label: "start to ready, console only, bot CPU",
        unit: "ms",
        target: "(user + system)",
        pick: (r, v) => r.consoleOnly[v]!.readyCpuMs,
      }),
      line({
        label: "start to ready, 3 adapters + 20 skills, bot CPU",
        unit: "ms",
        target: "(user + system)",
        pick: (r, v) => r.full[v]!.readyCpuMs,
      }),
      line({ label: "switchboard --version, wall", unit: "ms", target: "", pick: (r, v) => r.version[v]!.wallMs }),
      line({
        label: "switchboard --version, peak RSS",
        unit: "MB",
        target: "",
        pick: (r, v) => r.version[v]!.peakRssBytes ?? Number.NaN,
      }),
    ];
    console.log(
      `\nFootprint (node ${process.versions.node}; ${ROUNDS} paired rounds; median, best-of in brackets; base = ${BASE_COMMIT})`,
    );
    console.log(
      `  ${"".padEnd(44)} ${["this tree, installed", "installed, no code cache", "this tree, clone", "base, clone"]
        .map((h) => h.padStart(24))
        .join("   ")}`,
    );
    for (const row of rows) console.log(row(rounds));
    const last = rounds.at(-1)!;
    console.log("\nProcesses in the last round (RSS):");
    for (const key of ["consoleOnly", "full"] as const) {
      for (const v of COLUMNS) {
        const figures = last[key][v];
        if (figures === undefined) continue;
        const list = figures.processes.map((p) => `${p.command} ${(p.rssBytes / MB).toFixed(0)} MB`).join(", ");
        console.log(`  ${`${key} ${v}`.padEnd(18)} ${list}`);
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
