/**
 * A skill-host child process as `HostProcess` drives it, forked one of two ways:
 * - by the bot itself (`forkHost`): the shared hosts, forked once (by the first skill call, or at start with
 *   `skills.warmOnStart`), their skills' calls then crossing one IPC channel, not two;
 * - by the spawner (`HostSpawner`, entry `skills/host/spawner.ts`): the hosts of their own, which start on a
 *   call, stop when idle and restart after a crash while the bot serves chats. A fork held the bot's event loop
 *   4–12 ms (the spawner's header has the figures); here the spawner waits for it, and the host's messages are
 *   relayed through it.
 * Both look the same: messages, output, `close` once the process is gone and its output read.
 */
import { type ChildProcess, fork } from "node:child_process";
import { EventEmitter } from "node:events";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { forkHostProcess, type HostForkRequest, onGone } from "../host/fork.ts";
import type { FromSpawner, ToHost, ToSpawner } from "../host/protocol.ts";

export type { HostForkRequest } from "../host/fork.ts";

const HOST_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../host");
// Sources in the repository, built JavaScript in the installed package.
const SPAWNER_ENTRY = join(HOST_DIR, import.meta.url.endsWith(".ts") ? "spawner.ts" : "spawner.js");

/**
 * Events of a host child: `message` (FromHost), `output` (stream, text), `error` (Error), and `close` (code,
 * signal, and for a host that went with its spawner the reason: not its skills' crash).
 */
export interface HostChild extends EventEmitter {
  /** The process id, once it is known (at once for a fork of the bot's; after the spawner's answer otherwise). */
  readonly pid: number | undefined;
  /** Can messages still be sent? */
  readonly connected: boolean;
  /** The process is gone and its output read. */
  readonly closed: boolean;
  send(message: ToHost): void;
  kill(signal?: NodeJS.Signals): void;
  /** Close the IPC channel: the host leaves on its own. */
  disconnect(): void;
}

/** A host forked by the bot process itself. */
class ForkedChild extends EventEmitter implements HostChild {
  readonly #child: ChildProcess;
  closed = false;

  constructor(request: HostForkRequest, onReniceError: (error: Error) => void) {
    super();
    this.#child = forkHostProcess(request, {
      message: (m) => this.emit("message", m),
      output: (stream, text) => this.emit("output", stream, text),
      error: (error) => this.emit("error", error),
      close: (code, signal) => {
        this.closed = true;
        this.emit("close", code, signal);
      },
      reniceFailed: onReniceError,
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get connected(): boolean {
    return this.#child.connected;
  }

  send(message: ToHost): void {
    this.#child.send(message);
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    this.#child.kill(signal);
  }

  disconnect(): void {
    if (this.#child.connected) this.#child.disconnect();
  }
}

/** Fork a host from the bot process (the shared hosts). */
export function forkHost(request: HostForkRequest, onReniceError: (error: Error) => void): HostChild {
  return new ForkedChild(request, onReniceError);
}

/** A host forked by the spawner: every message crosses the spawner. */
class RelayedChild extends EventEmitter implements HostChild {
  readonly id: number;
  readonly #owner: HostSpawner;
  pid: number | undefined;
  connected = true;
  closed = false;
  /** The spawner process that forked it. */
  spawner: ChildProcess | undefined;

  constructor(id: number, spawner: HostSpawner) {
    super();
    this.id = id;
    this.#owner = spawner;
  }

  send(message: ToHost): void {
    if (this.connected) this.#owner.postFor(this, { t: "send", id: this.id, m: message });
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    if (!this.closed) this.#owner.postFor(this, { t: "kill", id: this.id, signal });
  }

  disconnect(): void {
    if (!this.connected) return;
    this.connected = false;
    this.#owner.postFor(this, { t: "disconnect", id: this.id });
  }

  /** The process is gone; `lost` says why when it went with its spawner. */
  gone(code: number | null, signal: NodeJS.Signals | null, lost?: string): void {
    if (this.closed) return;
    this.closed = true;
    this.connected = false;
    this.emit("close", code, signal, lost);
  }
}

/** Options of the spawner process. */
export interface HostSpawnerOptions {
  /** Node flags of the spawner itself. */
  execArgv: string[];
  /** With no host left, the spawner stops after this long (ms); it starts again with the next host. 0: never. */
  idleMs: number;
  onLog?: (level: "info" | "warn" | "error", message: string, details?: Record<string, unknown>) => void;
}

/**
 * The bot's side of the spawner: started with the first host it is asked for, stopped when it has had no host for
 * `idleMs` (or with the supervisor). If it dies, each of its hosts closes (they leave on their own when their
 * channel to it closes) and the next host starts it again.
 */
export class HostSpawner {
  readonly #options: HostSpawnerOptions;
  #process: ChildProcess | undefined;
  #ready = false;
  /** Messages for a spawner that is not ready yet. */
  #queue: ToSpawner[] = [];
  /** Resolved when the running spawner is ready. */
  #readyWaiters: Array<() => void> = [];
  readonly #children = new Map<number, RelayedChild>();
  #nextId = 1;
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(options: HostSpawnerOptions) {
    this.#options = options;
  }

  /** The spawner's process id while it runs. */
  get pid(): number | undefined {
    return this.#process?.pid;
  }

  /**
   * Resolves once a spawner process is up (started now if none runs). Its own start is the bot's cost, as the
   * shared hosts' is: a call waits for it before its own wall clock starts.
   */
  ready(): Promise<void> {
    if (this.#process === undefined) this.#start();
    if (this.#ready) return Promise.resolve();
    return new Promise((resolve) => this.#readyWaiters.push(resolve));
  }

  /** Start a host; its pid and messages follow as the spawner reports them. */
  spawn(request: HostForkRequest): HostChild {
    const id = this.#nextId++;
    const child = new RelayedChild(id, this);
    this.#children.set(id, child);
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    this.post({ t: "spawn", id, ...request });
    child.spawner = this.#process;
    return child;
  }

  /** Send a message about one host: dropped when the spawner that forked it is on its way out. */
  postFor(child: RelayedChild, message: ToSpawner): void {
    if (child.spawner !== undefined && child.spawner === this.#process) this.post(message);
  }

  /** Send a message to the spawner (queued until it is ready). */
  post(message: ToSpawner): void {
    if (this.#process === undefined) this.#start();
    if (!this.#ready) {
      this.#queue.push(message);
      return;
    }
    this.#write(message);
  }

  /** Stop the spawner (its hosts leave with it); the next host starts a new one. */
  async stop(): Promise<void> {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    const proc = this.#process;
    if (proc === undefined) return;
    // Detached at once: a host asked for from now on starts a new spawner, not this one on its way out.
    this.#process = undefined;
    this.#ready = false;
    this.#queue = [];
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const closed = new Promise<void>((r) => proc.once("exit", () => r()));
    if (proc.connected) proc.disconnect();
    const timer = setTimeout(() => proc.kill("SIGKILL"), 2_000);
    await closed;
    clearTimeout(timer);
  }

  #write(message: ToSpawner): void {
    const proc = this.#process;
    if (proc === undefined || !proc.connected) return;
    try {
      proc.send(message);
    } catch (error) {
      this.#options.onLog?.("warn", "could not write to the skill host spawner", { error: (error as Error).message });
    }
  }

  #start(): void {
    const proc = fork(SPAWNER_ENTRY, [], {
      execPath: process.execPath,
      execArgv: this.#options.execArgv,
      env: {},
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      serialization: "json",
    });
    this.#process = proc;
    this.#ready = false;
    proc.on("message", (message: FromSpawner) => this.#onMessage(message));
    proc.on("error", (error) =>
      this.#options.onLog?.("error", "skill host spawner process error", { error: error.message }),
    );
    onGone(proc, (code, signal) => {
      if (this.#process === proc) {
        this.#process = undefined;
        this.#ready = false;
        this.#queue = [];
      }
      // Waiters for a spawner that never came up go on: their call's host start fails and says so.
      if (this.#process === undefined) {
        const waiters = this.#readyWaiters;
        this.#readyWaiters = [];
        for (const resolve of waiters) resolve();
      }
      const orphans = [...this.#children.values()].filter((c) => c.spawner === proc);
      if (orphans.length > 0)
        this.#options.onLog?.("warn", "skill host spawner stopped; its hosts stop with it", {
          code,
          signal,
          hosts: orphans.length,
        });
      for (const child of orphans) {
        this.#children.delete(child.id);
        child.gone(null, null, "its spawner process stopped");
      }
    });
  }

  #onMessage(message: FromSpawner): void {
    if (message.t === "ready") {
      this.#ready = true;
      const queued = this.#queue;
      this.#queue = [];
      for (const m of queued) this.#write(m);
      const waiters = this.#readyWaiters;
      this.#readyWaiters = [];
      for (const resolve of waiters) resolve();
      return;
    }
    const child = this.#children.get(message.id);
    if (child === undefined) return;
    switch (message.t) {
      case "spawned":
        child.pid = message.pid;
        return;
      case "msg":
        child.emit("message", message.m);
        return;
      case "out":
        child.emit("output", message.stream, message.text);
        return;
      case "error":
        child.emit("error", new Error(message.message));
        return;
      case "close":
        this.#children.delete(message.id);
        child.gone(message.code, message.signal);
        if (this.#children.size === 0) this.#armIdle();
        return;
      default:
        return;
    }
  }

  #armIdle(): void {
    if (this.#options.idleMs <= 0) return;
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      if (this.#children.size === 0) void this.stop();
    }, this.#options.idleMs);
    this.#idleTimer.unref();
  }
}
