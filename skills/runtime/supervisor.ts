/**
 * The bot-side supervisor of the skill-host child processes: places each skill in a host, routes calls and
 * capability requests, and reports a host that stopped on its own. Placement bounds the blast radius: a skill
 * placed `isolated` gets a host of its own (started on its first call, stopped when idle), so its crash or
 * out-of-memory abort fails only its own calls; the others (the built-ins) share `poolSize` hosts.
 *
 * The bot process forks the shared hosts itself, once (a built-in that crashes one is rare). The hosts of their
 * own start, stop when idle and restart after each crash while the bot serves chats, so a spawner process forks
 * them (host-child.ts): the bot's event loop never waits for their forks.
 */
import type { HostFailure, HostSkillSpec, HostStats } from "../host/protocol.ts";
import { HostSpawner } from "./host-child.ts";
import { type HostCall, HostProcess, type HostProcessOptions, type HostResult, hostExecArgv } from "./host-process.ts";

export type { CapHandler, HostCall, HostResult } from "./host-process.ts";

/** Options for the supervisor. */
export interface SupervisorOptions extends Omit<HostProcessOptions, "onExit" | "spawner"> {
  /**
   * Niceness of the shared hosts while they hold only built-in skills (default 0, the bot's own). A host that
   * takes a skill from outside runs at `nice` from then on, as every host of its own does.
   */
  builtinNice?: number;
  /** Shared host processes (the built-ins, and every skill when none is isolated). */
  poolSize: number;
  /** Host processes at most, shared ones included; past it, isolated skills are placed in the shared hosts. */
  maxHosts?: number;
  /** A host stopped without being asked to; `skills` are the skills placed in it. */
  onCrash?: (crash: { group: string; skills: string[]; reason: string; failure: HostFailure }) => void;
}

/** Where a skill goes. */
export interface Placement {
  /** A host of its own (skills from a registry or a linked folder). */
  isolated: boolean;
  /**
   * The name the spec is placed under; default the skill's name. A skill's event handlers are placed under
   * `<name>+events`, so an isolated skill's listeners get a host of their own beside its commands' host: a
   * listener that aborts its process fails no command.
   */
  slot?: string;
  /**
   * Shipped with the bot (a built-in): it may share a host that runs at the bot's own priority. Any other skill
   * makes the host it is placed in yield the CPU (`nice`). Default: false.
   */
  builtin?: boolean;
}

/**
 * A host of its own is capped at this many MB over its skill's memory limit (`skills.hostMaxRssMb` still bounds
 * it). Measured on Node 24: a host with isolated-vm loaded and one skill's isolate and context made is 85–90 MB
 * resident; the isolate's heap may then grow by its `memoryMb`.
 */
export const OWN_HOST_RSS_BASE_MB = 112;

/** The pool of host processes. */
export class SkillHostSupervisor {
  readonly #options: SupervisorOptions;
  readonly #shared: HostProcess[];
  readonly #own = new Map<string, HostProcess>();
  /** Slot (a skill's name, or `<name>+events`) → its host. */
  readonly #placed = new Map<string, HostProcess>();
  /** Spec key → its slot, for specs placed under another slot than their skill's name. */
  readonly #slotOfKey = new Map<string, string>();
  /** Forks the hosts of their own; its process starts with the first of them. */
  readonly #spawner: HostSpawner;

  constructor(options: SupervisorOptions) {
    this.#options = options;
    this.#spawner = new HostSpawner({
      execArgv: spawnerExecArgv(options.permissionModel),
      idleMs: options.idleMs ?? 0,
      ...(options.onLog === undefined ? {} : { onLog: options.onLog }),
    });
    this.#shared = Array.from({ length: Math.max(1, options.poolSize) }, (_, i) =>
      this.#newHost(`shared:${i}`, { idleMs: 0, nice: options.builtinNice ?? 0 }),
    );
  }

  /** Start the shared hosts; resolves when they are ready. Isolated hosts start on their first call. */
  async start(): Promise<void> {
    await Promise.all(this.#shared.map((h) => h.start()));
  }

  /** Start the shared hosts and their skills' isolates (isolated hosts still start on their first call). */
  async warm(): Promise<void> {
    await this.start();
    for (const host of this.#shared) host.warm();
  }

  /** Stop every host. */
  async stop(): Promise<void> {
    await Promise.all(this.#hosts().map((h) => h.stop()));
    await this.#spawner.stop();
  }

  /** Place a skill version (by default in a shared host). */
  load(spec: HostSkillSpec, placement: Placement = { isolated: false }): void {
    const slot = placement.slot ?? spec.name;
    if (slot !== spec.name) this.#slotOfKey.set(spec.key, slot);
    const current = this.#placed.get(slot);
    const host = current ?? this.#place(slot, placement);
    this.#placed.set(slot, host);
    if (placement.builtin !== true) host.lowerPriority(this.#options.nice ?? 0);
    host.load(spec);
  }

  /** Remove a skill version; an isolated host left empty is stopped. */
  unload(spec: HostSkillSpec): void {
    const slot = this.#slotOf(spec);
    this.#slotOfKey.delete(spec.key);
    const host = this.#placed.get(slot);
    if (host === undefined) return;
    host.unload(spec.key);
    if (host.size > 0) return;
    this.#placed.delete(slot);
    if (this.#own.get(slot) === host) {
      this.#own.delete(slot);
      void host.stop();
    }
  }

  #slotOf(spec: HostSkillSpec): string {
    return this.#slotOfKey.get(spec.key) ?? spec.name;
  }

  /** Run a handler; resolves with the host's outcome (failures included), never rejects for skill faults. */
  call(spec: HostSkillSpec, chatKey: string, handler: Omit<HostCall, "chatKey">): Promise<HostResult> {
    return this.callWith(spec, { ...handler, chatKey });
  }

  /** Run a handler, with every option of the call. */
  callWith(spec: HostSkillSpec, call: HostCall): Promise<HostResult> {
    return this.hostFor(this.#slotOf(spec)).call(spec, call);
  }

  /** Stats of every running host (shared ones first). */
  async stats(): Promise<HostStats[]> {
    return Promise.all(
      this.#hosts()
        .filter((h, i) => i < this.#shared.length || h.isRunning)
        .map((h) => h.stats()),
    );
  }

  /** Process ids of the hosts, shared ones first (tests, /status). */
  pids(): Array<number | undefined> {
    return this.#hosts().map((h) => h.pid);
  }

  /** The spawner's process id while it runs (it forks the hosts of their own). */
  get spawnerPid(): number | undefined {
    return this.#spawner.pid;
  }

  /** Kill a host process by its index in `pids()` (tests simulate a crash with it). */
  killHost(index: number, signal: NodeJS.Signals = "SIGKILL"): void {
    this.#hosts()[index]?.kill(signal);
  }

  /** The host a slot (a skill's name, or `<name>+events`) is placed in (a shared one when it was never loaded). */
  hostFor(name: string): HostProcess {
    return this.#placed.get(name) ?? this.#shared[hashOf(name) % this.#shared.length]!;
  }

  /** Capability calls refused in the bot because their invocation had ended, over all hosts. */
  get late(): number {
    return this.#hosts().reduce((n, h) => n + h.late, 0);
  }

  #place(name: string, placement: Placement): HostProcess {
    const maxHosts = this.#options.maxHosts ?? Number.POSITIVE_INFINITY;
    if (placement.isolated && this.#shared.length + this.#own.size < maxHosts) {
      const host = this.#newHost(`skill:${name}`, {
        idleMs: this.#options.idleMs ?? 0,
        nice: this.#options.nice ?? 0,
        startCounts: true,
        ownRssBaseMb: this.#options.ownRssBaseMb ?? OWN_HOST_RSS_BASE_MB,
        spawner: this.#spawner,
      });
      this.#own.set(name, host);
      return host;
    }
    if (placement.isolated)
      this.#options.onLog?.("warn", "skill host limit reached; placing the skill in a shared host", {
        skill: name,
        maxHosts,
      });
    return this.#shared[hashOf(name) % this.#shared.length]!;
  }

  #newHost(
    group: string,
    own: { idleMs: number; nice: number; startCounts?: boolean; ownRssBaseMb?: number; spawner?: HostSpawner },
  ): HostProcess {
    // The own-host cap applies to hosts of their own only, never to a shared host.
    const { ownRssBaseMb: _ownOnly, ...options } = this.#options;
    return new HostProcess(group, {
      ...options,
      ...own,
      onExit: (host, reason, failure) =>
        this.#options.onCrash?.({ group: host.group, skills: host.skillNames(), reason, failure }),
    });
  }

  #hosts(): HostProcess[] {
    return [...this.#shared, ...this.#own.values()];
  }
}

/**
 * The spawner's node flags: a host's (its permission model, with only what the hosts may read), and leave to
 * start child processes, which is what it is for.
 */
function spawnerExecArgv(permissionModel: boolean): string[] {
  const args = hostExecArgv(permissionModel);
  return args.includes("--permission") ? [...args, "--allow-child-process"] : args;
}

function hashOf(name: string): number {
  let hash = 0;
  for (let i = 0; i < name.length; i++) hash = (hash * 31 + name.charCodeAt(i)) >>> 0;
  return hash;
}
