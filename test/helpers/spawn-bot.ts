/** Run `switchboard start` as its own process, as an operator would, and watch its output, memory and exit. */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../..");

/** A running `switchboard start`. */
export interface SpawnedBot {
  child: ChildProcessWithoutNullStreams;
  /** Everything it wrote to stdout and stderr so far. */
  readonly stdout: string;
  readonly stderr: string;
  /** Its exit code once it exited (null while running). */
  readonly exitCode: number | null;
  /** Resident memory now, in bytes (Linux `/proc`). */
  rssBytes(): number;
  /**
   * Resident memory once it has settled (three readings 500 ms apart within 4 MB of each other; at most 30 s,
   * then the lowest of the last three): right after start-up or a burst, RSS swings by hundreds of MB while
   * the heap grows and the embedded database settles, so a single reading says little.
   */
  settledRssBytes(): Promise<number>;
  /** Wait until `predicate` holds, polling every 25 ms. */
  waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void>;
  /** Resolves with the exit code when it exits. */
  exited: Promise<number | null>;
  /** SIGTERM (then SIGKILL after 15 s) and remove its data folder. */
  stop(): Promise<void>;
}

/** Start the bot with these environment variables (besides PATH/HOME and a fresh data folder). */
export function spawnBot(
  env: Record<string, string>,
  options: { args?: string[]; cwd?: string; dataDir?: string } = {},
): SpawnedBot {
  const dir = mkdtempSync(join(tmpdir(), "sb-spawned-"));
  const child = spawn(process.execPath, [join(ROOT, "bin/switchboard.js"), ...(options.args ?? ["start"])], {
    cwd: options.cwd ?? dir,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? dir,
      // A data folder of the caller's outlives this process (a restart on the same data); the default is removed.
      SWITCHBOARD_DATA_DIR: options.dataDir ?? join(dir, "data"),
      SWITCHBOARD_REGISTRY: "http://127.0.0.1:9/",
      ...env,
    },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  const bot: SpawnedBot = {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    get exitCode() {
      return child.exitCode;
    },
    rssBytes() {
      const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
      const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
      if (kb === undefined) throw new Error("no VmRSS for the bot process");
      return Number(kb) * 1024;
    },
    async settledRssBytes() {
      const readings: number[] = [];
      const deadline = Date.now() + 30_000;
      for (;;) {
        readings.push(bot.rssBytes());
        const last = readings.slice(-3);
        if (last.length === 3 && Math.max(...last) - Math.min(...last) < 4 * 1_048_576) return last[2]!;
        if (Date.now() > deadline) return Math.min(...last);
        await new Promise((r) => setTimeout(r, 500));
      }
    },
    async waitFor(predicate, timeoutMs, what) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate()) {
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${what}; exit ${child.exitCode}; stderr:\n${stderr.slice(-3_000)}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return bot;
}

/**
 * Run `switchboard <args>` to completion in `cwd` with `input` on stdin (a console session, when the args say
 * `start`), with only PATH, a HOME in `cwd` and a fixed secret key from the environment.
 */
export function runSwitchboard(
  args: string[],
  input: string,
  cwd: string,
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(ROOT, "bin", "switchboard.js"), ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? "", HOME: cwd, SWITCHBOARD_SECRET_KEY: "console-test" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (err += c.toString("utf8")));
    child.on("error", fail);
    child.on("close", (code) => done({ code, out, err }));
    child.stdin.end(input);
  });
}
