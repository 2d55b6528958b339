/**
 * Isolate management inside the skill-host process: one isolate per loaded skill version (started on first use,
 * disposed when idle or after a failure), one context per chat inside it (so no chat sees state another chat
 * left behind), a CPU budget per call (isolated-vm `timeout`) and a wall-clock budget enforced here by disposing
 * the isolate, because `timeout` does not cover time spent awaiting.
 */
import ivm from "isolated-vm";
import { BOOTSTRAP_SOURCE } from "./bootstrap.ts";
import type { HandlerKind, HostFailure, HostSkillSpec, HostStats } from "./protocol.ts";

/** Asks the bot for a capability; resolves with a JSON envelope string and never rejects. */
export type CapForwarder = (callId: number, name: string, args: string) => Promise<string>;

/** One call's outcome. */
export type CallOutcome =
  | { ok: true; value: string; cold: boolean }
  | { ok: false; failure: HostFailure; message: string; cold: boolean };

/** What one call runs: `budgetMs` is what the bot left of its wall clock (default the spec's `timeoutMs`). */
interface CallWhat {
  chatKey: string;
  kind: HandlerKind;
  name: string;
  input: string;
  budgetMs?: number;
}

interface ContextState {
  context: ivm.Context;
  /** The bootstrap's `entry(op, ...)`. */
  run: ivm.Reference<(op: string, a: unknown, b: unknown, c?: unknown, d?: unknown) => Promise<string> | undefined>;
  inFlight: number;
  lastUsedAt: number;
}

interface IsolateState {
  isolate: ivm.Isolate;
  bootstrap: ivm.Script;
  script: ivm.Script;
  contexts: Map<string, Promise<ContextState>>;
  /** Call id → chat key, for capability checks. */
  calls: Map<number, string>;
  /** Call id → capability calls it made. */
  capCounts: Map<number, number>;
  /** Call id → calls per capability group (`spec.capGroups`), and calls the host refused over a group's budget. */
  groupCounts: Map<number, { byGroup: number[]; refused: number }>;
  /** Call id → calls the bootstrap refused inside the isolate, as it last reported (see `REFUSED_TALLY`). */
  isolateRefused: Map<number, number>;
  retired: boolean;
  /** Why it was disposed early (a failure of one call), so its other in-flight calls report the same. */
  disposedFor: HostFailure | undefined;
  idleTimer: NodeJS.Timeout | undefined;
}

interface Slot {
  spec: HostSkillSpec;
  live: Promise<IsolateState> | undefined;
}

const CPU_TIMEOUT = /timed out/i;
const MEMORY = /memory limit/i;

/** Every skill the host holds, by key. */
export class IsolatePool {
  readonly #slots = new Map<string, Slot>();
  /** Calls arrived and not yet answered, and those of them cancelled: both bounded by the calls in flight. */
  readonly #arrived = new Set<number>();
  readonly #cancelled = new Set<number>();
  readonly #forward: CapForwarder;
  /** Capability calls and answers dropped because their invocation had ended. */
  late = 0;
  /** Capability calls that crossed from an isolate to this thread (the bootstrap's tallies not counted). */
  crossed = 0;
  /** Told, before the call's result, how many capability calls the host refused over a call's budget. */
  onRefused: ((callId: number, count: number) => void) | undefined;

  constructor(forward: CapForwarder) {
    this.#forward = forward;
  }

  /** Register (or replace) a skill version; its isolate starts on first call. */
  load(spec: HostSkillSpec): void {
    const existing = this.#slots.get(spec.key);
    if (existing !== undefined && existing.spec.code === spec.code) {
      existing.spec = spec;
      return;
    }
    if (existing !== undefined) this.#retireSlot(existing, "disposed", true);
    this.#slots.set(spec.key, { spec, live: undefined });
  }

  /** Start the isolate of every loaded skill that has none (a warm-up before the first calls). */
  warm(): void {
    for (const slot of this.#slots.values()) {
      if (slot.live !== undefined) continue;
      const started = this.#startIsolate(slot.spec);
      slot.live = started;
      started.catch(() => {
        if (slot.live === started) slot.live = undefined;
      });
    }
  }

  /** Forget a skill version and dispose its isolate. */
  unload(key: string): void {
    const slot = this.#slots.get(key);
    if (slot === undefined) return;
    this.#slots.delete(key);
    this.#retireSlot(slot, "disposed", true);
  }

  /** Run one handler in the chat's context. Never rejects. */
  async call(id: number, key: string, what: CallWhat): Promise<CallOutcome> {
    this.#arrived.add(id);
    try {
      return await this.#call(id, key, what);
    } finally {
      this.#arrived.delete(id);
      this.#cancelled.delete(id);
    }
  }

  async #call(id: number, key: string, { chatKey, kind, name, input, budgetMs }: CallWhat): Promise<CallOutcome> {
    const slot = this.#slots.get(key);
    if (slot === undefined)
      return { ok: false, failure: "not-loaded", message: `skill ${key} is not loaded in the host`, cold: false };
    const spec = slot.spec;
    // The wall clock starts when the call arrives: a cold start counts against it, so the host always stops a
    // call before the bot's own deadline for it passes.
    const arrivedAt = Date.now();
    let cold = false;
    let state: IsolateState;
    let ctx: ContextState;
    try {
      const previous = slot.live;
      if (previous !== undefined) {
        const current = await previous.catch(() => undefined);
        if ((current === undefined || current.retired || current.isolate.isDisposed) && slot.live === previous)
          slot.live = undefined;
      }
      if (slot.live === undefined) {
        cold = true;
        const started = this.#startIsolate(spec);
        slot.live = started;
        started.catch(() => {
          if (slot.live === started) slot.live = undefined;
        });
      }
      const live = slot.live;
      state = await live;
      const existing = state.contexts.get(chatKey);
      if (existing === undefined) cold = true;
      ctx = await this.#contextFor(state, spec, chatKey);
    } catch (error) {
      return { ok: false, ...classify(error, undefined), cold: true };
    }
    if (state.idleTimer !== undefined) clearTimeout(state.idleTimer);
    state.calls.set(id, chatKey);
    // Cancelled while its isolate or context was being made: stop it before it runs.
    if (this.#cancelled.has(id)) this.#dispose(state, "cancelled");
    ctx.inFlight++;
    ctx.lastUsedAt = Date.now();
    let timedOut = false;
    const wall = setTimeout(
      () => {
        timedOut = true;
        this.#dispose(state, "timeout");
      },
      Math.max(0, Math.min(spec.timeoutMs, budgetMs ?? spec.timeoutMs) - (Date.now() - arrivedAt)),
    );
    try {
      const out: unknown = await ctx.run.apply(
        undefined,
        ["run", id, kind, name, input],
        callOptions(spec.cpuMs, true),
      );
      if (typeof out !== "string" || out.length > spec.maxResultChars + 64) {
        this.#retire(state);
        return { ok: false, failure: "too-large", message: "the skill result was not a bounded string", cold };
      }
      if (out.startsWith('{"ok":false')) {
        this.#retire(state);
        return { ok: false, failure: out.includes('"tooLarge":true') ? "too-large" : "threw", message: out, cold };
      }
      return { ok: true, value: out, cold };
    } catch (error) {
      let outcome = classify(error, timedOut ? "timeout" : state.disposedFor);
      if (outcome.failure === "threw") {
        // A promise the skill left behind rejected unhandled, reported at the end of the task it rejected in:
        // after the handler returned, or while it still runs. The handler's own result is the answer, so the
        // host takes it, waiting for it (within the call's wall clock) when the handler has not settled yet.
        const returned = await this.#take(ctx, spec, id);
        if (returned?.startsWith('{"ok":true') === true) return { ok: true, value: returned, cold };
        if (returned !== undefined) {
          this.#retire(state);
          const tooLarge = returned.includes('"tooLarge":true');
          return { ok: false, failure: tooLarge ? "too-large" : "threw", message: returned, cold };
        }
        // Nothing to take: the isolate was stopped while the host waited (its wall clock, a limit, a cancel).
        if (timedOut || state.disposedFor !== undefined)
          outcome = classify(error, timedOut ? "timeout" : state.disposedFor);
      }
      this.#dispose(state, outcome.failure);
      return { ok: false, ...outcome, cold };
    } finally {
      clearTimeout(wall);
      state.calls.delete(id);
      const made = state.capCounts.get(id) ?? 0;
      state.capCounts.delete(id);
      const byGroup = state.groupCounts.get(id)?.refused ?? 0;
      state.groupCounts.delete(id);
      const inIsolate = state.isolateRefused.get(id) ?? 0;
      state.isolateRefused.delete(id);
      const refused = Math.max(0, made - spec.maxCapCalls - 1) + byGroup + inIsolate;
      if (refused > 0) this.onRefused?.(id, refused);
      ctx.inFlight--;
      if (state.retired && state.calls.size === 0) this.#dispose(state, "disposed");
      else if (!state.isolate.isDisposed && state.calls.size === 0) this.#armIdle(slot, state);
    }
  }

  /**
   * Stop call `id`: its isolate is disposed, as a wall-clock overrun does (isolated-vm cannot interrupt one call
   * alone); other calls in that isolate fail as disposed. Unknown ids are ignored (the call already ended).
   */
  cancel(id: number): void {
    if (!this.#arrived.has(id)) return; // already answered
    this.#cancelled.add(id);
    for (const slot of this.#slots.values()) {
      void slot.live?.then(
        (state) => {
          if (state.calls.has(id)) this.#dispose(state, "cancelled");
        },
        () => undefined,
      );
    }
  }

  /**
   * The result the handler of `id` settled with, awaited while it still runs; undefined when the isolate is stopped
   * first (the call's wall-clock timer still runs) or the result is not a bounded string.
   */
  async #take(ctx: ContextState, spec: HostSkillSpec, id: number): Promise<string | undefined> {
    try {
      const out: unknown = await ctx.run.apply(undefined, ["take", id, undefined], callOptions(spec.cpuMs, true));
      return typeof out === "string" && out.length <= spec.maxResultChars + 64 ? out : undefined;
    } catch {
      return undefined;
    }
  }

  /** Memory and liveness per skill. */
  stats(): HostStats {
    const skills: HostStats["skills"] = [];
    for (const [key, slot] of this.#slots) {
      skills.push({ key, live: slot.live !== undefined, contexts: 0, heapBytes: 0, externalBytes: 0 });
    }
    return { rssBytes: process.memoryUsage().rss, late: this.late, crossed: this.crossed, skills };
  }

  /** Detailed stats, awaiting live isolates. */
  async statsAsync(): Promise<HostStats> {
    const skills: HostStats["skills"] = [];
    for (const [key, slot] of this.#slots) {
      const state = slot.live === undefined ? undefined : await slot.live.catch(() => undefined);
      if (state === undefined || state.isolate.isDisposed) {
        skills.push({ key, live: false, contexts: 0, heapBytes: 0, externalBytes: 0 });
        continue;
      }
      const heap = state.isolate.getHeapStatisticsSync();
      skills.push({
        key,
        live: true,
        contexts: state.contexts.size,
        heapBytes: heap.total_heap_size,
        externalBytes: heap.externally_allocated_size,
      });
    }
    return { rssBytes: process.memoryUsage().rss, late: this.late, crossed: this.crossed, skills };
  }

  async #startIsolate(spec: HostSkillSpec): Promise<IsolateState> {
    const isolate = new ivm.Isolate({
      memoryLimit: spec.memoryMb,
      onCatastrophicError: (message: string) => {
        process.stderr.write(`catastrophic isolate error in ${spec.key}: ${message}\n`);
        process.abort();
      },
    });
    try {
      const [bootstrap, script] = await Promise.all([
        isolate.compileScript(BOOTSTRAP_SOURCE, { filename: "switchboard:bootstrap.js" }),
        isolate.compileScript(spec.code, { filename: `skill:${spec.name}/entry.js` }),
      ]);
      return {
        isolate,
        bootstrap,
        script,
        contexts: new Map(),
        calls: new Map(),
        capCounts: new Map(),
        groupCounts: new Map(),
        isolateRefused: new Map(),
        retired: false,
        disposedFor: undefined,
        idleTimer: undefined,
      };
    } catch (error) {
      if (!isolate.isDisposed) isolate.dispose();
      throw error;
    }
  }

  #contextFor(state: IsolateState, spec: HostSkillSpec, chatKey: string): Promise<ContextState> {
    const existing = state.contexts.get(chatKey);
    if (existing !== undefined) {
      // Map order is recency order for eviction.
      state.contexts.delete(chatKey);
      state.contexts.set(chatKey, existing);
      return existing;
    }
    const created = this.#createContext(state, spec, chatKey);
    state.contexts.set(chatKey, created);
    created.catch(() => {
      if (state.contexts.get(chatKey) === created) state.contexts.delete(chatKey);
    });
    void this.#evict(state, spec.maxContexts);
    return created;
  }

  async #createContext(state: IsolateState, spec: HostSkillSpec, chatKey: string): Promise<ContextState> {
    const context = await state.isolate.createContext();
    try {
      const install = await state.bootstrap.run(
        context,
        bare({ reference: true, timeout: spec.cpuMs } as ivm.ScriptRunOptions),
      );
      const forward = this.#forward;
      const calls = state.calls;
      let run: ContextState["run"] | undefined;
      const capRaw = new ivm.Callback(
        // biome-ignore lint/complexity/useMaxParams: bootstrap.ts calls capRaw(inv, capId, name, json) from inside the isolate; only primitives cross the boundary
        (inv: unknown, capId: unknown, name: unknown, args: unknown): void => {
          if (
            typeof inv !== "number" ||
            typeof capId !== "number" ||
            typeof name !== "string" ||
            typeof args !== "string"
          )
            return;
          if (capId === REFUSED_TALLY) {
            // The bootstrap's count of the calls it refused itself: no answer goes back.
            const n = Number(args);
            if (calls.get(inv) === chatKey && Number.isSafeInteger(n) && n > (state.isolateRefused.get(inv) ?? 0))
              state.isolateRefused.set(inv, n);
            return;
          }
          this.crossed++;
          if (calls.get(inv) !== chatKey) {
            // The invocation is over (or belongs to another chat): the call is refused without asking the bot.
            this.late++;
            void Promise.resolve(
              '{"ok":false,"error":{"code":"E_SKILL_DENIED","message":"capability used outside its invocation"}}',
            ).then((result) => this.#deliver({ state, spec, run, inv: undefined }, capId, result));
            return;
          }
          const group = spec.capGroups?.findIndex((g) => g.names.includes(name)) ?? -1;
          if (group !== -1) {
            let counts = state.groupCounts.get(inv);
            if (counts === undefined) {
              counts = { byGroup: [], refused: 0 };
              state.groupCounts.set(inv, counts);
            }
            const n = (counts.byGroup[group] ?? 0) + 1;
            counts.byGroup[group] = n;
            const { max, label } = spec.capGroups![group]!;
            if (n > max + 1) {
              // Past the group's budget the bot already refused one: refuse the rest here, as below.
              counts.refused++;
              void Promise.resolve(overGroupBudget(max, label)).then((result) =>
                this.#deliver({ state, spec, run, inv }, capId, result),
              );
              return;
            }
          }
          // The bootstrap refuses calls past these budgets inside the isolate; these counts are the host's own check
          // of what reaches it.
          const made = (state.capCounts.get(inv) ?? 0) + 1;
          state.capCounts.set(inv, made);
          if (made > spec.maxCapCalls + 1) {
            // Past the budget the bot already refused one: refuse the rest here, without crossing the IPC channel.
            void Promise.resolve(overBudget(spec.maxCapCalls)).then((result) =>
              this.#deliver({ state, spec, run, inv }, capId, result),
            );
            return;
          }
          void forward(inv, name, args).then((result) => this.#deliver({ state, spec, run, inv }, capId, result));
        },
        { ignored: true },
      );
      const groups = spec.capGroups ?? [];
      const config = JSON.stringify({
        maxCapArgChars: spec.maxCapArgChars,
        maxResultChars: spec.maxResultChars,
        maxCapCalls: spec.maxCapCalls,
        groupOf: Object.fromEntries(groups.flatMap((g, i) => g.names.map((n) => [n, i]))),
        groupMax: groups.map((g) => g.max),
        groupLabel: groups.map((g) => g.label),
      });
      run = (await install.apply(
        undefined,
        [capRaw, config],
        bare({ result: bare({ reference: true }), timeout: spec.cpuMs } as ivm.ReferenceApplyOptions),
      )) as ContextState["run"];
      install.release();
      await state.script.run(context, bare({ timeout: spec.cpuMs }));
      return { context, run, inFlight: 0, lastUsedAt: Date.now() };
    } catch (error) {
      context.release();
      throw error;
    }
  }

  /**
   * Settle a capability call inside the isolate; the skill's continuation runs now, under the CPU budget. An
   * answer for an invocation that has ended is dropped: nothing the skill left behind runs after its promise
   * settled, so it cannot spend CPU on the chat's behalf once the chat has its answer.
   */
  async #deliver(
    to: { state: IsolateState; spec: HostSkillSpec; run: ContextState["run"] | undefined; inv: number | undefined },
    capId: number,
    result: string,
  ): Promise<void> {
    const { state, spec, run, inv } = to;
    if (run === undefined || state.isolate.isDisposed) return;
    if (inv !== undefined && !state.calls.has(inv)) {
      this.late++;
      return;
    }
    try {
      const outcome: unknown = await run.apply(undefined, ["deliver", capId, result], callOptions(spec.cpuMs, false));
      // The isolate saw the invocation over before this answer arrived: dropped there, counted here.
      if (outcome === "late") this.late++;
    } catch (error) {
      const failure = classify(error, undefined).failure;
      // A promise the skill left behind rejected unhandled while this answer ran (a denial it never awaited):
      // that is the skill's own loose end, not a fault of the isolate, and the invocation still has its answer.
      if (failure === "threw") return;
      this.#dispose(state, failure === "memory" ? "memory" : failure === "disposed" ? "disposed" : "cpu");
    }
  }

  async #evict(state: IsolateState, max: number): Promise<void> {
    if (state.contexts.size <= max) return;
    for (const [chatKey, pending] of state.contexts) {
      if (state.contexts.size <= max) break;
      const ctx = await pending.catch(() => undefined);
      if (ctx !== undefined && ctx.inFlight > 0) continue;
      if (state.contexts.get(chatKey) !== pending) continue;
      state.contexts.delete(chatKey);
      if (ctx !== undefined && !state.isolate.isDisposed) {
        ctx.run.release();
        ctx.context.release();
      }
    }
  }

  #armIdle(slot: Slot, state: IsolateState): void {
    if (state.idleTimer !== undefined) clearTimeout(state.idleTimer);
    state.idleTimer = setTimeout(() => {
      if (state.calls.size === 0) this.#dispose(state, "disposed");
    }, slot.spec.idleMs);
    state.idleTimer.unref();
  }

  /** No new calls; disposed once its in-flight calls finish. */
  #retire(state: IsolateState): void {
    state.retired = true;
    if (state.calls.size === 0) this.#dispose(state, "disposed");
  }

  #dispose(state: IsolateState, reason: HostFailure): void {
    state.retired = true;
    if (state.idleTimer !== undefined) clearTimeout(state.idleTimer);
    if (state.isolate.isDisposed) return;
    state.disposedFor ??= reason;
    try {
      state.isolate.dispose();
    } catch {
      // already gone
    }
  }

  #retireSlot(slot: Slot, reason: HostFailure, now: boolean): void {
    const live = slot.live;
    slot.live = undefined;
    if (live === undefined) return;
    live.then(
      (state) => (now ? this.#dispose(state, reason) : this.#retire(state)),
      () => undefined,
    );
  }
}

/**
 * The capability id with which the bootstrap reports how many calls of an invocation it refused inside the
 * isolate (its first refusal, every hundredth, and the total when the handler settles).
 */
const REFUSED_TALLY = 0;

function overGroupBudget(max: number, label: string): string {
  return JSON.stringify({
    ok: false,
    error: { code: "E_SKILL_BUDGET", message: `over its budget: at most ${max} ${label} per invocation` },
  });
}

function overBudget(maxCapCalls: number): string {
  return `{"ok":false,"error":{"code":"E_SKILL_BUDGET","message":"over its budget: at most ${maxCapCalls} capability calls per invocation"}}`;
}

/**
 * Transfer options built here with no prototype (a polluted `Object.prototype` in this process cannot switch on
 * `reference` or turn off `copy`), copying arguments in and results out.
 */
function bare<T extends object>(options: T): T {
  return Object.assign(Object.create(null) as T, options);
}

function callOptions(cpuMs: number, awaitResult: boolean): ivm.ReferenceApplyOptions {
  return bare<object>({
    arguments: bare({ copy: true }),
    result: bare(awaitResult ? { promise: true, copy: true } : { copy: true }),
    timeout: cpuMs,
  }) as ivm.ReferenceApplyOptions;
}

/** Map an isolated-vm failure to a reason and a message that names no host path. */
function classify(error: unknown, known: HostFailure | undefined): { failure: HostFailure; message: string } {
  const message = error instanceof Error ? error.message : "unknown failure";
  const failure: HostFailure | undefined =
    known === "timeout" || known === "cpu" || known === "memory"
      ? known
      : MEMORY.test(message)
        ? "memory"
        : CPU_TIMEOUT.test(message)
          ? "cpu"
          : known;
  switch (failure) {
    case "timeout":
      return { failure, message: "wall-clock time limit reached" };
    case "cpu":
      return { failure, message: "CPU time limit reached" };
    case "memory":
      return { failure, message: "memory limit reached" };
    default:
      break;
  }
  if (/disposed/i.test(message)) return { failure: "disposed", message: "the skill's isolate was stopped" };
  if (error instanceof Error) return { failure: "threw", message: `${error.name}: ${message.slice(0, 300)}` };
  return { failure: "crashed", message: "unknown failure" };
}
