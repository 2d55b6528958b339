/**
 * The bot-side supervisor of the skill-host child processes: forks them (no secrets in their environment, Node's
 * permission model on), sends each the skills it serves, routes calls and capability requests over IPC, fails
 * in-flight calls with a clear error when a host dies, and restarts it with backoff.
 */
import { fork, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { SwitchboardError } from "../../bot/index.ts";
import type { FromHost, HandlerKind, HostFailure, HostSkillSpec, HostStats, ToHost } from "../host/protocol.ts";

const HOST_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../host");
// Sources in the repository, built JavaScript in the installed package.
const HOST_ENTRY = join(HOST_DIR, import.meta.url.endsWith(".ts") ? "main.ts" : "main.js");

/** Answers one capability request; resolves with a JSON envelope string and must never reject. */
export type CapHandler = (name: string, args: string) => Promise<string>;

/** One handler call: which handler, its JSON input, and who answers its capability calls. */
export interface HandlerCall {
  kind: HandlerKind;
  name: string;
  input: string;
  onCap: CapHandler;
}

/** A call's raw outcome from the host. */
export type HostResult =
  | { ok: true; value: string; cold: boolean }
  | { ok: false; failure: HostFailure; message: string; cold: boolean };

/** Options for the supervisor. */
export interface SupervisorOptions {
  /** Host processes; a skill always runs in the same one (by name). */
  poolSize: number;
  /** Use Node's permission model in hosts (no file writes, no child processes). */
  permissionModel: boolean;
  /** Extra wall time after a skill's own budget before a silent host is killed. */
  hostGraceMs: number;
  onLog?: (level: "info" | "warn" | "error", message: string, details?: Record<string, unknown>) => void;
  onRestart?: (index: number, reason: string) => void;
}

interface PendingCall {
  resolve: (result: HostResult) => void;
  onCap: CapHandler;
  watchdog: NodeJS.Timeout;
}

/** One child process and what it serves. */
class HostProcess {
  readonly index: number;
  readonly #options: SupervisorOptions;
  readonly #specs = new Map<string, HostSkillSpec>();
  readonly #pending = new Map<number, PendingCall>();
  readonly #statsWaiters = new Map<number, (stats: HostStats) => void>();
  #child: ChildProcess | undefined;
  #ready: Promise<void> | undefined;
  #stopping = false;
  #restarts = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  #nextId = 1;

  constructor(index: number, options: SupervisorOptions) {
    this.index = index;
    this.#options = options;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  start(): Promise<void> {
    this.#ready ??= this.#spawn();
    return this.#ready;
  }

  load(spec: HostSkillSpec): void {
    this.#specs.set(spec.key, spec);
    this.#send({ t: "load", spec });
  }

  unload(key: string): void {
    this.#specs.delete(key);
    this.#send({ t: "unload", key });
  }

  async call(
    key: string,
    chatKey: string,
    { kind, name, input, onCap, budgetMs }: HandlerCall & { budgetMs: number },
  ): Promise<HostResult> {
    await this.start();
    const id = this.#nextId++;
    return new Promise<HostResult>((resolvePromise) => {
      const watchdog = setTimeout(() => {
        // The host did not answer within the skill's budget plus grace: it is stuck. Kill it; the exit
        // handler fails every pending call and the supervisor restarts it.
        this.#options.onLog?.("error", "skill host did not answer in time; restarting it", { index: this.index, key });
        this.#child?.kill("SIGKILL");
      }, budgetMs + this.#options.hostGraceMs);
      this.#pending.set(id, { resolve: resolvePromise, onCap, watchdog });
      this.#send({ t: "call", id, key, chatKey, kind, name, input });
    });
  }

  async stats(): Promise<HostStats> {
    await this.start();
    const id = this.#nextId++;
    return new Promise<HostStats>((resolvePromise) => {
      this.#statsWaiters.set(id, resolvePromise);
      this.#send({ t: "stats", id });
    });
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#restartTimer !== undefined) clearTimeout(this.#restartTimer);
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    child.disconnect();
    const timer = setTimeout(() => child.kill("SIGKILL"), 2_000);
    await exited;
    clearTimeout(timer);
  }

  /** Kill the child (tests: a crash of the host). */
  kill(): void {
    this.#child?.kill("SIGKILL");
  }

  #spawn(): Promise<void> {
    const child = fork(HOST_ENTRY, [], {
      execPath: process.execPath,
      execArgv: hostExecArgv(this.#options.permissionModel),
      // No secrets: the host gets an empty environment.
      env: {},
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      serialization: "json",
    });
    this.#child = child;
    child.stdout?.on("data", (chunk: Buffer) =>
      this.#options.onLog?.("info", "skill host output", {
        index: this.index,
        text: chunk.toString("utf8").slice(0, 2_000),
      }),
    );
    child.stderr?.on("data", (chunk: Buffer) =>
      this.#options.onLog?.("warn", "skill host stderr", {
        index: this.index,
        text: chunk.toString("utf8").slice(0, 2_000),
      }),
    );
    const ready = new Promise<void>((resolvePromise, reject) => {
      const onExit = (code: number | null, signal: string | null): void =>
        reject(
          new SwitchboardError(
            "E_SKILL_FAILED",
            `skill host exited before it was ready (code ${code}, signal ${signal})`,
          ),
        );
      child.once("exit", onExit);
      child.once("message", (message: FromHost) => {
        child.off("exit", onExit);
        if (message.t === "ready") resolvePromise();
        else reject(new SwitchboardError("E_SKILL_FAILED", "skill host sent an unexpected first message"));
      });
    });
    child.on("message", (message: FromHost) => this.#onMessage(message));
    child.on("error", (error) =>
      this.#options.onLog?.("error", "skill host process error", { index: this.index, error: error.message }),
    );
    child.once("exit", (code, signal) => this.#onExit(child, code, signal));
    return ready.then(() => {
      for (const spec of this.#specs.values()) this.#send({ t: "load", spec });
    });
  }

  #onMessage(message: FromHost): void {
    switch (message.t) {
      case "result": {
        const pending = this.#pending.get(message.id);
        if (pending === undefined) return;
        this.#pending.delete(message.id);
        clearTimeout(pending.watchdog);
        pending.resolve(
          message.ok
            ? { ok: true, value: message.value, cold: message.cold }
            : { ok: false, failure: message.failure, message: message.message, cold: message.cold },
        );
        return;
      }
      case "cap": {
        const pending = this.#pending.get(message.id);
        const answer =
          pending === undefined
            ? Promise.resolve('{"ok":false,"error":{"code":"E_SKILL_DENIED","message":"the invocation has finished"}}')
            : pending
                .onCap(message.name, message.args)
                .catch(() => '{"ok":false,"error":{"code":"E_INTERNAL","message":"capability failed"}}');
        void answer.then((result) => this.#send({ t: "cap-result", capId: message.capId, result }));
        return;
      }
      case "stats": {
        const waiter = this.#statsWaiters.get(message.id);
        this.#statsWaiters.delete(message.id);
        waiter?.(message.value);
        return;
      }
      default:
        return;
    }
  }

  #onExit(child: ChildProcess, code: number | null, signal: string | null): void {
    if (this.#child !== child) return;
    this.#child = undefined;
    this.#ready = undefined;
    const reason = signal === null ? `exit code ${code}` : `signal ${signal}`;
    for (const [id, pending] of this.#pending) {
      this.#pending.delete(id);
      clearTimeout(pending.watchdog);
      pending.resolve({ ok: false, failure: "crashed", message: `the skill host stopped (${reason})`, cold: false });
    }
    if (this.#stopping) return;
    this.#restarts++;
    this.#options.onRestart?.(this.index, reason);
    this.#options.onLog?.("warn", "skill host stopped; restarting", {
      index: this.index,
      reason,
      restarts: this.#restarts,
    });
    const delayMs = Math.min(5_000, 50 * 2 ** Math.min(this.#restarts - 1, 7));
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (!this.#stopping)
        this.start().catch((error: unknown) =>
          this.#options.onLog?.("error", "skill host restart failed", { error: String(error) }),
        );
    }, delayMs);
    this.#restartTimer.unref();
  }

  #send(message: ToHost): void {
    const child = this.#child;
    if (child === undefined || !child.connected) return;
    try {
      child.send(message);
    } catch (error) {
      this.#options.onLog?.("warn", "could not write to skill host", {
        index: this.index,
        error: (error as Error).message,
      });
    }
  }
}

/** The node flags of a host process. */
function hostExecArgv(permissionModel: boolean): string[] {
  const args = ["--no-node-snapshot", "--disable-warning=ExperimentalWarning", "--disable-warning=SecurityWarning"];
  // Node before 22.13 names the flag --experimental-permission; there the host runs without it.
  if (!permissionModel || !process.allowedNodeEnvironmentFlags.has("--permission")) return args;
  const require = createRequire(import.meta.url);
  const ivmDir = dirname(require.resolve("isolated-vm/package.json"));
  const modulesDir = dirname(ivmDir);
  const packageRoot = dirname(modulesDir);
  return [
    ...args,
    "--permission",
    "--allow-addons",
    `--allow-fs-read=${HOST_DIR}`,
    `--allow-fs-read=${ivmDir}`,
    `--allow-fs-read=${join(modulesDir, "node-gyp-build")}`,
    `--allow-fs-read=${join(packageRoot, "package.json")}`,
    // Node looks for the nearest package.json above the host's code: skills/, the package root (or dist/ and the
    // package root when installed).
    `--allow-fs-read=${join(HOST_DIR, "..", "package.json")}`,
    `--allow-fs-read=${join(HOST_DIR, "..", "..", "package.json")}`,
    `--allow-fs-read=${join(HOST_DIR, "..", "..", "..", "package.json")}`,
    "--allow-fs-read=/etc/alpine-release",
  ];
}

/** A pool of host processes; each skill is pinned to one by its name. */
export class SkillHostSupervisor {
  readonly #hosts: HostProcess[];

  constructor(options: SupervisorOptions) {
    this.#hosts = Array.from({ length: Math.max(1, options.poolSize) }, (_, i) => new HostProcess(i, options));
  }

  /** Start every host; resolves when all are ready. */
  async start(): Promise<void> {
    await Promise.all(this.#hosts.map((h) => h.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.#hosts.map((h) => h.stop()));
  }

  load(spec: HostSkillSpec): void {
    this.hostFor(spec.name).load(spec);
  }

  unload(spec: HostSkillSpec): void {
    this.hostFor(spec.name).unload(spec.key);
  }

  /** Run a handler; resolves with the host's outcome (failures included), never rejects for skill faults. */
  call(spec: HostSkillSpec, chatKey: string, call: HandlerCall): Promise<HostResult> {
    return this.hostFor(spec.name).call(spec.key, chatKey, { ...call, budgetMs: spec.timeoutMs });
  }

  async stats(): Promise<HostStats[]> {
    return Promise.all(this.#hosts.map((h) => h.stats()));
  }

  /** Process ids of the hosts (tests, /status). */
  pids(): Array<number | undefined> {
    return this.#hosts.map((h) => h.pid);
  }

  /** Kill a host process (tests simulate a crash with it). */
  killHost(index: number): void {
    this.#hosts[index]?.kill();
  }

  hostFor(name: string): HostProcess {
    let hash = 0;
    for (let i = 0; i < name.length; i++) hash = (hash * 31 + name.charCodeAt(i)) >>> 0;
    return this.#hosts[hash % this.#hosts.length]!;
  }
}
