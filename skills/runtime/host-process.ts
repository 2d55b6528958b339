/**
 * One skill-host child process as the bot sees it: forked on first use (no secrets in its environment, Node's
 * permission model on, a V8 heap cap and a resident-size cap), the calls it has in flight, and a deadline per call.
 * A call ends at its wall-clock budget whatever the host does; a host that stays silent past the budget plus a
 * grace period is killed. When the process dies, its in-flight calls fail with the reason and it restarts with
 * backoff on the next call.
 */
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { setPriority } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { SwitchboardError } from "../../bot/index.ts";
import {
  RESTARTING,
  RSS_CAP_MARK,
  type FromHost,
  type HandlerKind,
  type HostFailure,
  type HostSkillSpec,
  type HostStats,
  type ToHost,
} from "../host/protocol.ts";
import { forkHost, type HostChild, type HostSpawner } from "./host-child.ts";

const HOST_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../host");
// Sources in the repository, built JavaScript in the installed package.
const HOST_ENTRY = join(HOST_DIR, import.meta.url.endsWith(".ts") ? "main.ts" : "main.js");

/** Answers one capability request; resolves with a JSON envelope string and must never reject. */
export type CapHandler = (name: string, args: string) => Promise<string>;

/** A call's raw outcome from the host. */
export type HostResult =
  | { ok: true; value: string; cold: boolean }
  | { ok: false; failure: HostFailure; message: string; cold: boolean };

/** How a host process is run. */
export interface HostProcessOptions {
  /** Use Node's permission model in hosts (no file writes, no child processes). */
  permissionModel: boolean;
  /** Extra wall time after a call's own budget before a silent host is killed. */
  hostGraceMs: number;
  /** The host's resident-size cap (its own watchdog stops it past this), in MB; 0 for none. */
  maxRssMb?: number;
  /**
   * A host of its own: its cap is also at most this many MB over the largest memory limit of the skill versions
   * placed in it (`ownRssBaseMb` + `memoryMb`, and never over `maxRssMb`). One skill's isolate needs room for its
   * heap, not for a shared host's several; a runaway allocation that its isolate's limit does not stop (one
   * builtin call filling a 60 M-slot array) then ends where it would have grown the process for another second.
   */
  ownRssBaseMb?: number;
  /** The host's own V8 heap (`--max-old-space-size`), in MB; 0 for Node's default. */
  heapMb?: number;
  /**
   * Scheduling niceness of the process (0–19), every thread of it: skill code yields the CPU to the bot process
   * (and to hosts at a lower niceness), so a skill that spins on a busy machine slows itself, not every chat's
   * answers. `lowerPriority` raises it later.
   */
  nice?: number;
  /**
   * A call's wall clock includes waiting for this process: its crash backoff and its fork (a host of its own,
   * which its one skill's call starts). Off for the shared hosts, whose start serves every skill placed there and
   * is the bot's own cost, not one call's (`skills.warmOnStart` takes it off the first call's path). Default false.
   */
  startCounts?: boolean;
  /**
   * Forked by this spawner, not by the bot process (the hosts of their own, which start and restart while the bot
   * serves chats: a fork would hold the bot's event loop; host-child.ts).
   */
  spawner?: HostSpawner;
  /** Stop the process after this long without a call (it starts again on the next one), in ms; 0 never. */
  idleMs?: number;
  /**
   * A process that ran this long before it stopped starts its crash backoff over (ms; default 60,000): the backoff
   * grows with crashes in a row, not with every crash since the bot started.
   */
  stableMs?: number;
  onLog?: (level: "info" | "warn" | "error", message: string, details?: Record<string, unknown>) => void;
  /** The process stopped without being asked to. */
  onExit?: (host: HostProcess, reason: string, failure: HostFailure) => void;
}

/** What one call needs besides its spec. */
export interface HostCall {
  chatKey: string;
  kind: HandlerKind;
  name: string;
  input: string;
  onCap: CapHandler;
  /** The host refused this many capability calls itself, over the call's `maxCapCalls`. */
  onRefused?: (count: number) => void;
  /** Aborted when the bot no longer wants the answer (/stop, the router's timeout, shutdown): the host stops it. */
  signal?: AbortSignal;
}

interface PendingCall {
  resolve: (result: HostResult) => void;
  onCap: CapHandler;
  onRefused: ((count: number) => void) | undefined;
  deadline: NodeJS.Timeout;
  watchdog: NodeJS.Timeout;
  /** The deadline passed: the caller has its answer; the host's late answer is dropped. */
  expired: boolean;
}

/**
 * How long past a call's wall-clock budget the bot waits for the host's own answer before ending the call
 * itself. The host stops the call at the budget (counted from when it received it); this covers the IPC.
 */
const DEADLINE_GRACE_MS = 100;

const FINISHED = '{"ok":false,"error":{"code":"E_SKILL_DENIED","message":"the invocation has finished"}}';

/** One child process and the skills placed in it. */
export class HostProcess {
  /** The placement group it serves (`shared:0`, `skill:<name>`). */
  readonly group: string;
  readonly #options: HostProcessOptions;
  readonly #specs = new Map<string, HostSkillSpec>();
  readonly #pending = new Map<number, PendingCall>();
  readonly #statsWaiters = new Map<number, (stats: HostStats) => void>();
  #child: HostChild | undefined;
  #ready: Promise<void> | undefined;
  #stopping = false;
  #idleTimer: NodeJS.Timeout | undefined;
  #restarts = 0;
  /** Crashes in a row (each after less than `stableMs` up): what the backoff grows with. */
  #streak = 0;
  /** When the running child was started. */
  #upSince = 0;
  #notBefore = 0;
  #nice: number;
  /** The running process's watchdog said it is over its resident-size cap. */
  #overCap = false;
  #nextId = 1;
  /** Capability calls that arrived for an invocation already over. */
  late = 0;

  constructor(group: string, options: HostProcessOptions) {
    this.group = group;
    this.#options = options;
    this.#nice = options.nice ?? 0;
  }

  /** The niceness the process runs at. */
  get nice(): number {
    return this.#nice;
  }

  /**
   * Run at niceness `nice` from now on, if that is lower priority than now (the running process too, every
   * thread). Raising a priority back needs privileges a bot does not have, so it is never asked for.
   */
  lowerPriority(nice: number): void {
    if (nice <= this.#nice) return;
    this.#nice = nice;
    const pid = this.#child?.pid;
    if (pid !== undefined) this.#renice(pid);
  }
  /** The child's pid while it runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Times the process stopped without being asked to (crashes, aborts, the memory cap). */
  get crashes(): number {
    return this.#restarts;
  }

  /** How long a call would wait out this host's crash backoff before it starts it again, in ms (0: none). */
  get restartWaitMs(): number {
    return Math.max(0, this.#notBefore - Date.now());
  }

  /** Is a child process up (or starting)? */
  get isRunning(): boolean {
    return this.#ready !== undefined;
  }

  /** Skill versions placed here. */
  get size(): number {
    return this.#specs.size;
  }

  /** Names of the skills placed here. */
  skillNames(): string[] {
    return [...new Set([...this.#specs.values()].map((s) => s.name))];
  }

  /** Start the process (once); resolves when it is ready. */
  start(): Promise<void> {
    this.#stopping = false;
    this.#ready ??= this.#spawn();
    return this.#ready;
  }

  /** Place a skill version here. */
  load(spec: HostSkillSpec): void {
    this.#specs.set(spec.key, spec);
    this.#send({ t: "load", spec });
  }

  /** Start the isolates of the skills placed here (the process must be started). */
  warm(): void {
    this.#send({ t: "warm" });
  }

  /** Remove a skill version. */
  unload(key: string): void {
    this.#specs.delete(key);
    this.#send({ t: "unload", key });
  }

  /**
   * Run a handler; resolves with the host's outcome, a timeout at the deadline, or the crash. With `startCounts`
   * the wall-clock budget counts from here: a backoff waited out and a process forked for the call (a cold host
   * of its own) are spent from it, and the host gets what is left.
   */
  async call(spec: HostSkillSpec, call: HostCall): Promise<HostResult> {
    // A spawner that is not up yet (the first host of its own since the bot started, or since it was idle) is the
    // bot's own start, not this call's: its wall clock starts after it.
    if (this.#child === undefined) await this.#options.spawner?.ready();
    let calledAt = Date.now();
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    const wait = this.#notBefore - calledAt;
    // A host restarting after a crash: the call waits out the backoff only if it fits in its own budget.
    if (wait > spec.timeoutMs) return { ok: false, failure: "crashed", message: RESTARTING, cold: false };
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const started = await this.#startWithin(
      this.#options.startCounts === true ? spec.timeoutMs - (Date.now() - calledAt) : Number.POSITIVE_INFINITY,
    );
    if (started !== true) return started;
    if (this.#options.startCounts !== true) calledAt = Date.now();
    const budgetMs = spec.timeoutMs - (Date.now() - calledAt);
    if (budgetMs <= 0)
      return {
        ok: false,
        failure: "timeout",
        message: "wall-clock time limit reached before the call ran",
        cold: true,
      };
    const id = this.#nextId++;
    return new Promise<HostResult>((resolvePromise) => {
      const deadline = setTimeout(() => {
        const pending = this.#pending.get(id);
        if (pending === undefined || pending.expired) return;
        pending.expired = true;
        resolvePromise({ ok: false, failure: "timeout", message: "wall-clock time limit reached", cold: false });
      }, budgetMs + DEADLINE_GRACE_MS);
      const watchdog = setTimeout(() => {
        // The host did not answer within the budget plus grace: it is stuck. Kill it; the exit handler fails
        // every pending call.
        this.#options.onLog?.("error", "skill host did not answer in time; killing it", {
          group: this.group,
          key: spec.key,
        });
        this.#child?.kill("SIGKILL");
      }, budgetMs + this.#options.hostGraceMs);
      const pending: PendingCall = {
        resolve: resolvePromise,
        onCap: call.onCap,
        onRefused: call.onRefused,
        deadline,
        watchdog,
        expired: false,
      };
      this.#pending.set(id, pending);
      if (call.signal !== undefined) {
        const cancel = (): void => {
          if (pending.expired || this.#pending.get(id) !== pending) return;
          // The caller has its answer now; the host disposes the isolate and its late answer is dropped.
          pending.expired = true;
          this.#send({ t: "cancel", id });
          resolvePromise({ ok: false, failure: "cancelled", message: "stopped by the bot", cold: false });
        };
        if (call.signal.aborted) queueMicrotask(cancel);
        else call.signal.addEventListener("abort", cancel, { once: true });
      }
      this.#send({
        t: "call",
        id,
        key: spec.key,
        chatKey: call.chatKey,
        kind: call.kind,
        name: call.name,
        input: call.input,
        budgetMs,
      });
    });
  }

  /**
   * Start the process for a call that has `leftMs` of its wall clock left: true once it is up, else the call's
   * failure (it did not start, or not within the budget). A start cut short goes on, for the next call.
   */
  async #startWithin(leftMs: number): Promise<true | HostResult> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((r) => {
      if (Number.isFinite(leftMs)) timer = setTimeout(() => r("late"), Math.max(0, leftMs));
    });
    try {
      const starting = this.start();
      // A start cut short goes on; its failure is logged by the call that waits for it next.
      starting.catch(() => undefined);
      if ((await Promise.race([starting, late])) === "late")
        return {
          ok: false,
          failure: "timeout",
          message: "wall-clock time limit reached while the skill host started",
          cold: true,
        };
      return true;
    } catch (error) {
      this.#options.onLog?.("error", "skill host did not start", { group: this.group, error: String(error) });
      return { ok: false, failure: "crashed", message: "the skill host stopped while starting", cold: true };
    } finally {
      clearTimeout(timer);
    }
  }

  /** The host's own report (starts it if needed). */
  async stats(): Promise<HostStats> {
    await this.start();
    const id = this.#nextId++;
    return new Promise<HostStats>((resolvePromise) => {
      this.#statsWaiters.set(id, resolvePromise);
      this.#send({ t: "stats", id });
    });
  }

  /** Stop the process for good (until `start` is called again). */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    const child = this.#child;
    if (child === undefined || child.closed) return;
    const exited = new Promise<void>((r) => child.once("close", () => r()));
    child.disconnect();
    const timer = setTimeout(() => child.kill("SIGKILL"), 2_000);
    await exited;
    clearTimeout(timer);
  }

  /** Send a signal to the child (tests: a crash of the host). */
  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    this.#child?.kill(signal);
  }

  /** The resident-size cap this process starts with, in MB (0: none). */
  get rssCapMb(): number {
    const cap = this.#options.maxRssMb ?? 0;
    const base = this.#options.ownRssBaseMb;
    if (base === undefined || this.#specs.size === 0) return cap;
    const own = base + Math.max(...[...this.#specs.values()].map((s) => s.memoryMb));
    return cap > 0 ? Math.min(cap, own) : own;
  }

  #spawn(): Promise<void> {
    this.#upSince = Date.now();
    this.#overCap = false;
    const request = {
      entry: HOST_ENTRY,
      args: [String(this.rssCapMb)],
      execArgv: hostExecArgv(this.#options.permissionModel, this.#options.heapMb ?? 0),
      // A host starting again after a crash yields the CPU from its first instruction: the skill that crashed it
      // waits for its own restart, the chats of every other skill do not (threads made later inherit it).
      nice: this.#streak > 0 ? this.#nice : 0,
    };
    const spawner = this.#options.spawner;
    const child =
      spawner === undefined
        ? forkHost(request, (error) =>
            this.#options.onLog?.("warn", "could not lower the skill host's priority", {
              group: this.group,
              error: error.message,
            }),
          )
        : spawner.spawn(request);
    this.#child = child;
    // Once it is ready, every thread (threads made later inherit it), not at once: the host's own start runs no
    // skill code, and at niceness 10 on a busy machine it waited seconds for the CPU, a cold call's whole budget.
    const log = (level: "info" | "warn", text: string): void =>
      this.#options.onLog?.(level, `skill host ${level === "info" ? "output" : "stderr"}`, {
        group: this.group,
        text: text.slice(0, 2_000),
      });
    child.on("output", (stream: "stdout" | "stderr", text: string) => {
      // The watchdog's last words before it kills its own process (main.ts): the exit is the memory cap's.
      if (stream === "stderr" && text.includes(RSS_CAP_MARK)) this.#overCap = true;
      log(stream === "stdout" ? "info" : "warn", text);
    });
    const ready = new Promise<void>((resolvePromise, reject) => {
      const onClose = (code: number | null, signal: string | null): void =>
        reject(
          new SwitchboardError(
            "E_SKILL_FAILED",
            `skill host exited before it was ready (code ${code}, signal ${signal})`,
          ),
        );
      child.once("close", onClose);
      child.once("message", (message: FromHost) => {
        child.off("close", onClose);
        if (child.pid !== undefined) this.#renice(child.pid);
        if (message.t === "ready") resolvePromise();
        else reject(new SwitchboardError("E_SKILL_FAILED", "skill host sent an unexpected first message"));
      });
    });
    child.on("message", (message: FromHost) => this.#onMessage(message));
    child.on("error", (error) =>
      this.#options.onLog?.("error", "skill host process error", { group: this.group, error: error.message }),
    );
    // Once the process is gone and its stderr read to its end, so the watchdog's line is seen before the verdict.
    child.once("close", (code: number | null, signal: string | null, lost?: string) =>
      this.#onExit(child, { code, signal, lost }),
    );
    return ready.then(() => {
      for (const spec of this.#specs.values()) this.#send({ t: "load", spec });
    });
  }

  #onMessage(message: FromHost): void {
    switch (message.t) {
      case "result": {
        const pending = this.#pending.get(message.id);
        if (pending === undefined) return;
        this.#settle(message.id, pending);
        if (pending.expired) return;
        pending.resolve(
          message.ok
            ? { ok: true, value: message.value, cold: message.cold }
            : { ok: false, failure: message.failure, message: message.message, cold: message.cold },
        );
        return;
      }
      case "cap": {
        const pending = this.#pending.get(message.id);
        let answer: Promise<string>;
        if (pending === undefined || pending.expired) {
          this.late++;
          answer = Promise.resolve(FINISHED);
        } else {
          answer = pending
            .onCap(message.name, message.args)
            .catch(() => '{"ok":false,"error":{"code":"E_INTERNAL","message":"capability failed"}}');
        }
        void answer.then((result) => this.#send({ t: "cap-result", capId: message.capId, result }));
        return;
      }
      case "refused": {
        this.#pending.get(message.id)?.onRefused?.(message.count);
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

  #settle(id: number, pending: PendingCall): void {
    this.#pending.delete(id);
    clearTimeout(pending.deadline);
    clearTimeout(pending.watchdog);
    if (this.#pending.size === 0) this.#armIdle();
  }

  #armIdle(): void {
    const idleMs = this.#options.idleMs ?? 0;
    if (idleMs <= 0) return;
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      if (this.#pending.size === 0) void this.stop();
    }, idleMs);
    this.#idleTimer.unref();
  }

  #onExit(child: HostChild, end: { code: number | null; signal: string | null; lost?: string | undefined }): void {
    const { code, signal, lost } = end;
    if (this.#child !== child) return;
    this.#child = undefined;
    this.#ready = undefined;
    const overCap = this.#overCap;
    const failure: HostFailure = overCap ? "memory" : "crashed";
    const reason =
      lost ?? (overCap ? "over its memory cap" : signal === null ? `exit code ${code}` : `signal ${signal}`);
    for (const [id, pending] of this.#pending) {
      this.#settle(id, pending);
      if (!pending.expired)
        pending.resolve({ ok: false, failure, message: `the skill host stopped (${reason})`, cold: false });
    }
    for (const [id, waiter] of this.#statsWaiters) {
      this.#statsWaiters.delete(id);
      waiter({ rssBytes: 0, late: 0, crossed: 0, skills: [] });
    }
    if (this.#stopping) return;
    if (lost !== undefined) {
      // Not its skills' doing: no crash to count against them, no backoff; the next call starts it again.
      this.#options.onLog?.("warn", "skill host stopped", { group: this.group, reason });
      return;
    }
    this.#restarts++;
    // The next call starts it again, after a backoff that grows with crashes in a row; a process that had run
    // for `stableMs` starts the row over.
    if (Date.now() - this.#upSince >= (this.#options.stableMs ?? 60_000)) this.#streak = 0;
    this.#streak++;
    this.#notBefore = Date.now() + Math.min(5_000, 50 * 2 ** Math.min(this.#streak - 1, 7));
    this.#options.onLog?.("warn", "skill host stopped", { group: this.group, reason, restarts: this.#restarts });
    this.#options.onExit?.(this, reason, failure);
  }

  /**
   * Set the process's niceness. On Linux a niceness belongs to each thread, and threads inherit their creator's,
   * so this sets it on every thread the process has (read from `/proc`); elsewhere it is the process's.
   */
  #renice(pid: number): void {
    if (this.#nice <= 0) return;
    try {
      let tids: number[] = [pid];
      if (process.platform === "linux") {
        try {
          tids = readdirSync(`/proc/${pid}/task`).map(Number);
        } catch {
          // The process just exited, or /proc is not mounted: its main thread, at least.
        }
      }
      for (const tid of tids) {
        try {
          setPriority(tid, this.#nice);
        } catch (error) {
          // A thread that exited meanwhile: only the main thread's failure is worth a warning.
          if (tid === pid) throw error;
        }
      }
    } catch (error) {
      this.#options.onLog?.("warn", "could not lower the skill host's priority", {
        group: this.group,
        error: (error as Error).message,
      });
    }
  }

  #send(message: ToHost): void {
    const child = this.#child;
    if (child === undefined || !child.connected) return;
    try {
      child.send(message);
    } catch (error) {
      this.#options.onLog?.("warn", "could not write to skill host", {
        group: this.group,
        error: (error as Error).message,
      });
    }
  }
}

/** The node flags of a host process. */
export function hostExecArgv(permissionModel: boolean, heapMb = 0): string[] {
  const args = ["--no-node-snapshot", "--disable-warning=ExperimentalWarning", "--disable-warning=SecurityWarning"];
  if (heapMb > 0) args.push(`--max-old-space-size=${heapMb}`);
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
