/**
 * The IPC protocol between the bot process and the skill-host child. Every payload a skill produced travels as a
 * JSON string and is parsed (as hostile data) on the bot side. Nothing here imports anything: the host process
 * loads only `skills/host/*` and isolated-vm.
 */

/** What the host needs to run one skill version. */
export interface HostSkillSpec {
  /** `name@version`: one isolate per key. */
  key: string;
  name: string;
  /** The bundled entry script. */
  code: string;
  memoryMb: number;
  /** CPU budget for the synchronous part of one call (isolated-vm `timeout`). */
  cpuMs: number;
  /** Wall-clock budget for one invocation, awaited capabilities included. */
  timeoutMs: number;
  /** Largest serialized result a call may return, in characters. */
  maxResultChars: number;
  /** Largest serialized capability arguments, in characters. */
  maxCapArgChars: number;
  /**
   * Capability calls one invocation may make (its budget's `capCalls`). The bot enforces every budget; the host
   * forwards one call past this (so the bot records the refusal) and refuses the rest itself, so a flood never
   * crosses the IPC channel.
   */
  maxCapCalls: number;
  /**
   * Budgets that count calls of some capabilities (LLM calls, fetch requests, storage writes): the host forwards
   * one call of a group past its `max` (the bot records the refusal) and refuses the rest itself, as for
   * `maxCapCalls`, so a burst of one kind of call (500 `ctx.llm` at once) crosses the IPC channel a few times, not
   * `maxCapCalls` times. `label` names what is counted in the refusal ("LLM calls").
   */
  capGroups?: Array<{ names: string[]; max: number; label: string }>;
  /** Contexts (one per chat) kept warm in one isolate. */
  maxContexts: number;
  /** An isolate unused this long is disposed. */
  idleMs: number;
}

/** Which handler table a call targets: `events` handlers are named by event type (`message`, `hook`, …). */
export type HandlerKind = "command" | "tool" | "event";

/** Bot → host. */
export type ToHost =
  | { t: "load"; spec: HostSkillSpec }
  | { t: "unload"; key: string }
  /** Start the isolates of every loaded skill now (compile included), before their first call. */
  | { t: "warm" }
  /**
   * Run a handler. `budgetMs` is what is left of the call's wall clock when the bot sends it (a backoff or the
   * fork of a cold host spent the rest); the host stops the call at the lower of it and the spec's `timeoutMs`.
   */
  | {
      t: "call";
      id: number;
      key: string;
      chatKey: string;
      kind: HandlerKind;
      name: string;
      input: string;
      budgetMs?: number;
    }
  | { t: "cap-result"; capId: number; result: string }
  | { t: "stats"; id: number }
  /** The bot no longer wants call `id` (stopped, timed out, shut down): stop it. */
  | { t: "cancel"; id: number };

/** A call's failure message when its host is waiting out its crash backoff and the call was never run. */
export const RESTARTING = "the skill host is restarting after a crash";
/** What the resident-size watchdog writes to stderr before it kills its own process. */
export const RSS_CAP_MARK = "is over its resident-size cap";

/** Why a call failed in the host. */
export type HostFailure =
  | "timeout"
  | "cpu"
  | "memory"
  | "threw"
  | "too-large"
  | "disposed"
  | "not-loaded"
  | "crashed"
  | "cancelled";

/** Host → bot. */
export type FromHost =
  | { t: "ready"; pid: number }
  | { t: "result"; id: number; ok: true; value: string; cold: boolean }
  | { t: "result"; id: number; ok: false; failure: HostFailure; message: string; cold: boolean }
  /** Capability calls of an ended invocation that the host refused itself, over its `maxCapCalls`. */
  | { t: "refused"; id: number; count: number }
  | { t: "cap"; id: number; capId: number; name: string; args: string }
  | { t: "stats"; id: number; value: HostStats };

/** What the host reports about itself. */
export interface HostStats {
  rssBytes: number;
  /** Capability calls and answers dropped because their invocation had ended. */
  late: number;
  /** Capability calls that crossed from an isolate to the host's thread (those refused inside the isolate never do). */
  crossed: number;
  skills: Array<{ key: string; live: boolean; contexts: number; heapBytes: number; externalBytes: number }>;
}

/**
 * Bot → spawner (`spawner.ts`): the process that forks the hosts of their own, so the bot process never forks
 * while it serves chats. Each host is named by the bot's `id`; its messages are relayed both ways.
 */
export type ToSpawner =
  | {
      t: "spawn";
      id: number;
      entry: string;
      args: string[];
      execArgv: string[];
      /** Niceness for the host's main thread right after its fork (0: the spawner's own). */
      nice: number;
    }
  | { t: "send"; id: number; m: ToHost }
  | { t: "kill"; id: number; signal: NodeJS.Signals }
  | { t: "disconnect"; id: number };

/** Spawner → bot. */
export type FromSpawner =
  | { t: "ready" }
  | { t: "spawned"; id: number; pid: number }
  | { t: "msg"; id: number; m: FromHost }
  | { t: "out"; id: number; stream: "stdout" | "stderr"; text: string }
  | { t: "error"; id: number; message: string }
  /** The host is gone and its output read to its end. */
  | { t: "close"; id: number; code: number | null; signal: NodeJS.Signals | null };
