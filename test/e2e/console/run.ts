/** Run `switchboard <args>` as a user would: the real launcher in a child process, in a folder of its own. */
import { spawn } from "node:child_process";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../../..");
const BIN = join(ROOT, "bin/switchboard.js");

/** What the process printed, and how it ended. */
export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment a run gets: no inherited secrets, any free HTTP port, plus `env`. */
function runEnv(cwd: string, env: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? cwd, SWITCHBOARD_HTTP__PORT: "0", ...env };
}

/** `switchboard <args>` with `input` piped to stdin (then closed). */
export function runPiped(options: {
  args: string[];
  input: string;
  cwd: string;
  env?: Record<string, string>;
}): Promise<RunResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...options.args], {
      cwd: options.cwd,
      env: runEnv(options.cwd, options.env ?? {}),
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
    child.on("error", fail);
    child.on("close", (code) => done({ code, stdout, stderr }));
    child.stdin.end(options.input);
  });
}

/**
 * `switchboard <args>` in a pseudo-terminal (util-linux `script`), as an operator typing: each line is written
 * once the previous answer matched, then Ctrl-D. stdin, stdout and stderr are all the terminal, so `stdout` holds
 * everything the operator would see.
 */
export function runInTerminal(options: {
  args: string[];
  lines: { send: string; until: RegExp }[];
  cwd: string;
  env?: Record<string, string>;
  timeoutMs: number;
}): Promise<RunResult> {
  const command = [process.execPath, BIN, ...options.args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  return new Promise((done, fail) => {
    const child = spawn("script", ["-qec", command, "/dev/null"], {
      cwd: options.cwd,
      env: { ...runEnv(options.cwd, options.env ?? {}), TERM: "xterm" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let next = 0;
    let waitingFor: RegExp | undefined;
    let sentAll = false;
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs);
    const step = () => {
      if (sentAll || (waitingFor !== undefined && !waitingFor.test(stdout))) return;
      const line = options.lines[next++];
      if (line === undefined) {
        sentAll = true;
        child.stdin.write("\u0004");
        return;
      }
      waitingFor = line.until;
      child.stdin.write(`${line.send}\r`);
    };
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      step();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", fail);
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
    step();
  });
}
