/**
 * The schedule service: validation and creation, the in-memory view the engine fires from, start-up with the
 * missed-run policy, polling for other processes' changes, and the fire itself (claim → permission re-check →
 * the router, as the creator → record the outcome).
 */
import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import {
  SwitchboardError,
  chatKeyOf,
  userKeyOf,
  parseCommandLine,
  toSwitchboardError,
  type ChatKind,
  type Clock,
  type Inbound,
  type PlatformRole,
} from "../bot/index.ts";
import type { SchedulesServices } from "./needs.ts";
import { compileCron, minGapMs, type CompiledCron } from "./cron.ts";
import { FireEngine, globalTimers, type Timers } from "./engine.ts";
import { nextFireAfter } from "./next-fire.ts";
import { MAX_ONE_SHOT_MS } from "./parse-time.ts";
import { FirePipeline, type ClaimResult, type DueFire } from "./pipeline.ts";
import {
  ScheduleRepo,
  type Claim,
  type MissedPolicy,
  type RunKind,
  type ScheduleRecord,
  type TimingRecord,
} from "./repo.ts";
import { canonicalTimeZone, hostTimeZone, timelineOf, type ZoneTimeline } from "./zone.ts";

/** The module's settings (config `schedules`). */
export interface SchedulesSettings {
  enabled: boolean;
  defaultTimeZone?: string | undefined;
  minIntervalMs: number;
  maxPerChat: number;
  maxPerChatPerSkill: number;
  missedRunDefault: MissedPolicy;
  pollIntervalMs: number;
}

/** Where a schedule lives. */
export interface ScheduleChat {
  platform: string;
  chatId: string;
  chatKind: ChatKind;
  threadId?: string | undefined;
}

/** What to create. */
export interface CreateScheduleInput {
  chat: ScheduleChat;
  creator: { id: string; name: string };
  /** `user`, `cli` or `skill:<name>`. */
  createdBy: string;
  when: { kind: "cron"; expression: string } | { kind: "once"; runAt: number };
  commandLine: string;
  /** Set on the schedule itself; otherwise the chat's zone. */
  timeZone?: string | undefined;
  missedPolicy?: MissedPolicy | undefined;
  /** Only commands of this skill may be scheduled (the `schedule` capability). */
  onlySkill?: string | undefined;
  /** The creator's platform role in the chat, when known (a typed `/schedule`): used by the check at creation. */
  platformRole?: PlatformRole | undefined;
  /**
   * Spread the fires (`--spread`, cron only): every fire comes a fixed offset after its cron time, derived from
   * the schedule, up to a minute and at most a quarter of its shortest gap. For "on the hour" jobs in many chats.
   */
  spread?: boolean | undefined;
}

interface Live {
  rev: number;
  spreadMs: number;
  cron: CompiledCron | undefined;
  runAt: number | undefined;
  zone: ZoneTimeline;
}

/** Fires closer than this to "now" at start-up are not missed, just due. */
const START_GRACE_MS = 1_000;
const KV_NAMESPACE = "schedules";
const MAX_COMMAND_LINE = 1_000;

/** Options beyond the core. */
export interface ScheduleServiceOptions {
  settings: SchedulesSettings;
  clock?: Clock;
  timers?: Timers;
  /** Names this process in run rows. */
  processId?: string;
  /** Longest single engine timer wait (default 30 s). */
  maxWaitMs?: number;
  /** Most fires claimed by one statement (default 256). */
  claimBatchSize?: number;
  /** Most chats whose fires run at once (default 64). */
  fireConcurrency?: number;
  /**
   * Longest a fire may run before its outcome is recorded as an error and its chat's next fire goes on
   * (default: the router's handler timeout plus 30 s, the most a fire waits for its adapter at start).
   */
  fireDeadlineMs?: number;
  /**
   * A run still `running` this long after its start is closed as an error by the sweeper of any process
   * (default: the fire deadline plus a minute).
   */
  runLeaseMs?: number;
  /** How often the sweeper looks for such runs (default 60 s; it runs after a poll). */
  sweepIntervalMs?: number;
}

/** How a run ended, as recorded. */
interface RunResult {
  runId: string;
  scheduleId: string;
  outcome: "ok" | "error" | "skipped";
  detail?: string;
  at: number;
}

/** Schedules for every chat, fired by one engine. */
export class ScheduleService {
  readonly repo: ScheduleRepo;
  readonly settings: SchedulesSettings;
  readonly processId: string;
  readonly #core: SchedulesServices;
  readonly #clock: Clock;
  readonly #timers: Timers | undefined;
  readonly #engine: FireEngine;
  /** Claims, runs and records due fires (see `pipeline.ts`). */
  readonly pipeline: FirePipeline<Claim, RunResult>;
  readonly #live = new Map<string, Live>();
  readonly #inflight = new Set<Promise<void>>();
  #defaultZone: string | undefined;
  #pollTimer: unknown;
  #revMarks: number[] = [0, 0];
  #isStarted = false;
  #polling: Promise<void> = Promise.resolve();
  readonly #runLeaseMs: number;
  readonly #sweepIntervalMs: number;
  #lastSweepAt = 0;

  constructor(core: SchedulesServices, options: ScheduleServiceOptions) {
    this.#core = core;
    this.settings = options.settings;
    this.#clock = options.clock ?? core.clock;
    this.#timers = options.timers;
    this.processId = options.processId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.repo = new ScheduleRepo(core.store.sql);
    this.#engine = new FireEngine({
      clock: this.#clock,
      ...(options.timers === undefined ? {} : { timers: options.timers }),
      ...(options.maxWaitMs === undefined ? {} : { maxWaitMs: options.maxWaitMs }),
      onFire: (id, atMs) => this.pipeline.push({ id, fireTime: atMs, kind: "scheduled" }),
      nextAfter: (id, afterMs) => this.#nextAfter(id, afterMs),
      onError: (error, id) => core.log.error({ err: error, scheduleId: id }, "schedule engine error"),
    });
    const fireDeadlineMs = options.fireDeadlineMs ?? core.config.limits.handlerTimeoutMs + 30_000;
    this.#runLeaseMs = options.runLeaseMs ?? fireDeadlineMs + 60_000;
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
    this.pipeline = new FirePipeline<Claim, RunResult>({
      claim: (fires) => this.#claim(fires),
      run: ({ claim, fire }) => this.#execute(claim, fire.fireTime, fire.kind),
      record: (results) => this.repo.finishMany(results),
      onError: (error, stage) =>
        core.log.error(
          { err: error, stage },
          stage === "record" ? "schedule outcomes not written (tried again)" : "schedule fires failed",
        ),
      deadlineMs: fireDeadlineMs,
      failedOutcome: ({ claim }, why) => ({
        runId: claim.runId,
        scheduleId: claim.schedule.id,
        outcome: "error",
        detail: why,
        at: this.#clock.now(),
      }),
      lateOutcome: (result) => ({
        ...result,
        detail: `${result.detail === undefined ? "" : `${result.detail}; `}settled after its deadline`,
      }),
      ...(options.claimBatchSize === undefined ? {} : { batchSize: options.claimBatchSize }),
      ...(options.fireConcurrency === undefined ? {} : { concurrency: options.fireConcurrency }),
    });
  }

  /** The service's clock. */
  now(): number {
    return this.#clock.now();
  }

  /** Schedules the engine holds in this process. */
  get liveCount(): number {
    return this.#engine.size;
  }

  // ---- reading -------------------------------------------------------------------------------------------

  /**
   * The configured zone (checked by the config schema) or the host's, spelled canonically. Resolved on first use:
   * `Intl` time zones load ICU's zone data, several MB resident that a bot with no schedules never needs.
   */
  #defaultTimeZone(): string {
    this.#defaultZone ??= canonicalTimeZone(this.settings.defaultTimeZone ?? hostTimeZone());
    return this.#defaultZone;
  }

  /** The chat's zone (`/schedule tz`), or the configured default. */
  async chatTimeZone(chatKey: string): Promise<string> {
    const tz = await this.#core.store.kv.get<string>(KV_NAMESPACE, chatKey, "timeZone");
    return typeof tz === "string" ? tz : this.#defaultTimeZone();
  }

  /** The next fire of a stored schedule after now (computed, whether or not this process holds it). */
  nextRun(s: ScheduleRecord): number | undefined {
    if (s.state !== "active") return undefined;
    const now = this.#clock.now();
    if (s.kind === "once") return s.runAt !== null && s.runAt > now - START_GRACE_MS ? s.runAt : undefined;
    if (s.expression === null) return undefined;
    const next = nextFireAfter(compileCron(s.expression), timelineOf(s.timeZone), now - s.spreadMs);
    return next === undefined ? undefined : next + s.spreadMs;
  }

  /** A schedule of this chat (or of any chat when `chatKey` is omitted); `E_NOT_FOUND` otherwise. */
  async get(id: string, chatKey?: string): Promise<ScheduleRecord> {
    const s = await this.repo.get(id.replace(/^#/, ""));
    if (s === undefined || s.state === "deleted" || (chatKey !== undefined && s.chatKey !== chatKey)) {
      throw new SwitchboardError("E_NOT_FOUND", `no schedule ${id}`, {
        chatMessage: `There is no schedule #${id.replace(/^#/, "").slice(0, 20)} in this chat.`,
      });
    }
    return s;
  }

  // ---- changing ------------------------------------------------------------------------------------------

  /** Validate and store a new schedule; it fires from the next matching time. */
  async create(input: CreateScheduleInput): Promise<ScheduleRecord> {
    const now = this.#clock.now();
    const chatKey = chatKeyOf(input.chat.platform, input.chat.chatId);
    const commandLine = this.#checkCommandLine(input.commandLine, input.onlySkill);
    if (input.createdBy !== "cli") await this.#checkCreator(input, commandLine);
    const timeZone =
      input.timeZone === undefined ? await this.chatTimeZone(chatKey) : canonicalTimeZone(input.timeZone);
    let expression: string | null = null;
    let runAt: number | null = null;
    let spreadMs = 0;
    if (input.spread === true && input.when.kind !== "cron") {
      throw new SwitchboardError("E_SCHEDULE_INVALID", "--spread on a one-shot", {
        chatMessage: "--spread is for repeating (cron) schedules.",
      });
    }
    if (input.when.kind === "cron") {
      const cron = compileCron(input.when.expression);
      const gap = minGapMs(cron);
      if (gap < this.settings.minIntervalMs) {
        throw new SwitchboardError("E_SCHEDULE_INVALID", `schedule too frequent: every ${gap} ms`, {
          chatMessage: `"${cron.expression}" would run every ${formatDuration(gap)}; the minimum here is every ${formatDuration(this.settings.minIntervalMs)}.`,
        });
      }
      if (nextFireAfter(cron, timelineOf(timeZone), now) === undefined) {
        throw new SwitchboardError("E_SCHEDULE_INVALID", "cron expression never fires", {
          chatMessage: `"${cron.expression}" never fires.`,
        });
      }
      expression = cron.expression;
      if (input.spread === true) {
        spreadMs = spreadOffsetMs(
          `${chatKey}\n${input.creator.id}\n${expression}\n${commandLine}\n${now}`,
          Math.min(MAX_SPREAD_MS, Math.floor(gap / 4)),
        );
      }
    } else {
      runAt = input.when.runAt;
      if (!Number.isSafeInteger(runAt) || runAt <= now) {
        throw new SwitchboardError("E_SCHEDULE_INVALID", "one-shot time in the past", {
          chatMessage: "That time is in the past.",
        });
      }
      if (runAt - now > MAX_ONE_SHOT_MS) {
        throw new SwitchboardError("E_SCHEDULE_INVALID", "one-shot too far ahead", {
          chatMessage: "That time is more than 5 years away.",
        });
      }
    }
    const count = await this.repo.count(chatKey);
    if (count >= this.settings.maxPerChat) {
      throw new SwitchboardError("E_QUOTA_EXCEEDED", `chat ${chatKey} has ${count} schedules`, {
        chatMessage: `This chat already has ${count} schedules (the limit is ${this.settings.maxPerChat}). Delete one first.`,
      });
    }
    if (input.onlySkill !== undefined) {
      const mine = await this.repo.count(chatKey, input.createdBy);
      if (mine >= this.settings.maxPerChatPerSkill) {
        throw new SwitchboardError("E_QUOTA_EXCEEDED", `skill ${input.onlySkill} has ${mine} schedules in ${chatKey}`, {
          chatMessage: `The skill ${input.onlySkill} already has ${mine} schedules here (the limit is ${this.settings.maxPerChatPerSkill}).`,
        });
      }
    }
    const record = await this.repo.insert({
      chatKey,
      platform: input.chat.platform,
      chatId: input.chat.chatId,
      chatKind: input.chat.chatKind,
      threadId: input.chat.threadId ?? null,
      creatorId: input.creator.id,
      creatorName: input.creator.name.slice(0, 100),
      createdBy: input.createdBy,
      kind: input.when.kind,
      expression,
      runAt,
      timeZone,
      isTzExplicit: input.timeZone !== undefined,
      commandLine,
      missedPolicy: input.missedPolicy ?? this.settings.missedRunDefault,
      createdAt: now,
      spreadMs,
    });
    this.#apply(record, now);
    await this.#core.audit({
      actor:
        input.createdBy === "user" || input.createdBy === "cli"
          ? userKeyOf(input.chat.platform, input.creator.id)
          : input.createdBy,
      chatKey,
      action: "schedule.add",
      target: record.id,
      before: null,
      after: auditView(record),
    });
    return record;
  }

  /** Pause an active schedule. Audited with `actor` (a user key; `cli` when absent). */
  async pause(id: string, chatKey?: string, actor?: string): Promise<ScheduleRecord> {
    return this.#transition(id, chatKey, { state: "paused", from: ["active"], what: "is not active", actor });
  }

  /** Resume a paused schedule (from its next time; paused fires are not caught up). Audited. */
  async resume(id: string, chatKey?: string, actor?: string): Promise<ScheduleRecord> {
    return this.#transition(id, chatKey, { state: "active", from: ["paused"], what: "is not paused", actor });
  }

  /** Delete a schedule (its runs stay on record). Audited. */
  async delete(id: string, chatKey?: string, actor?: string): Promise<ScheduleRecord> {
    return this.#transition(id, chatKey, {
      state: "deleted",
      from: ["active", "paused", "done"],
      what: "is already deleted",
      actor,
    });
  }

  /** Set a chat's zone; its schedules without their own zone follow. Returns the canonical zone. Audited. */
  async setChatTimeZone(chatKey: string, timeZone: string, actor = "cli"): Promise<string> {
    const tz = canonicalTimeZone(timeZone);
    const before = await this.chatTimeZone(chatKey);
    await this.#core.store.kv.set(KV_NAMESPACE, chatKey, { key: "timeZone", value: tz });
    await this.repo.setChatTimeZone(chatKey, tz, this.#clock.now());
    await this.#core.audit({
      actor,
      chatKey,
      action: "schedule.tz",
      target: null,
      before: { timeZone: before },
      after: { timeZone: tz },
    });
    await this.poll();
    return tz;
  }

  /**
   * The creator must be allowed to run the scheduled command now, by the same check a typed command gets (every
   * node of its tree); it is checked again at every fire.
   */
  async #checkCreator(input: CreateScheduleInput, commandLine: string): Promise<void> {
    let platformRole = input.platformRole;
    if (platformRole === undefined) {
      try {
        platformRole = await this.#core.adapters
          .get(input.chat.platform)
          ?.platformRoleOf?.(input.chat.chatId, input.creator.id);
      } catch {
        platformRole = undefined; // fail closed: an unknown platform role counts as none
      }
    }
    const decision = await this.#core.permissions.canRun(
      {
        platform: input.chat.platform,
        chatId: input.chat.chatId,
        chatKind: input.chat.chatKind,
        userId: input.creator.id,
        platformRole,
      },
      commandLine,
    );
    if (!decision.allowed) {
      throw new SwitchboardError(decision.code, `schedule refused: ${decision.reason}`, {
        chatMessage: `You can't schedule ${commandLine.split(/\s/, 1)[0]}: you may not run it here (${decision.reason}).`,
      });
    }
  }

  /**
   * Run a schedule now, as its creator, recorded as a manual run. Resolves once the run is recorded as started;
   * `done` resolves when it has finished (do not await it from a command handler of the same chat: the run
   * waits for that chat's queue).
   */
  async runNow(id: string, chatKey?: string): Promise<{ runId: string; done: Promise<void> }> {
    const s = await this.get(id, chatKey);
    const now = this.#clock.now();
    const claim = await this.repo.claim({ id: s.id, fireTime: now, kind: "manual", process: this.processId, at: now });
    if (claim === undefined) throw new SwitchboardError("E_CONFLICT", `schedule ${id} could not be claimed`);
    const done = this.#execute(claim, now, "manual").then((result) => this.repo.finish(result));
    return { runId: claim.runId, done: this.#track(done) };
  }

  async #transition(
    id: string,
    chatKey: string | undefined,
    {
      state,
      from,
      what,
      actor,
    }: { state: ScheduleRecord["state"]; from: ScheduleRecord["state"][]; what: string; actor: string | undefined },
  ): Promise<ScheduleRecord> {
    const s = await this.get(id, chatKey);
    const now = this.#clock.now();
    const updated = await this.repo.setState(s.id, state, { from, at: now });
    if (updated === undefined) {
      throw new SwitchboardError("E_CONFLICT", `schedule ${s.id} ${what}`, {
        chatMessage: `Schedule #${s.id} ${what}.`,
      });
    }
    this.#apply(updated, now);
    const action = state === "paused" ? "pause" : state === "active" ? "resume" : "delete";
    await this.#core.audit({
      actor: actor ?? "cli",
      chatKey: s.chatKey,
      action: `schedule.${action}`,
      target: s.id,
      before: auditView(s),
      after: auditView(updated),
    });
    return updated;
  }

  #checkCommandLine(raw: string, onlySkill: string | undefined): string {
    const text = raw.trim();
    const line = text.startsWith("/") ? text : `/${text}`;
    if (line.length > MAX_COMMAND_LINE) {
      throw new SwitchboardError("E_SCHEDULE_INVALID", "command line too long", {
        chatMessage: `The command line is too long (at most ${MAX_COMMAND_LINE} characters).`,
      });
    }
    const parsed = parseCommandLine(line);
    if (parsed === undefined) {
      throw new SwitchboardError("E_SCHEDULE_INVALID", "not a command line", {
        chatMessage: 'A schedule runs a command, e.g. "/dice 1d6".',
      });
    }
    if (parsed.name === "schedule") {
      throw new SwitchboardError("E_SCHEDULE_INVALID", "schedule of /schedule", {
        chatMessage: "A schedule cannot run /schedule.",
      });
    }
    const def = this.#core.commands.get(parsed.name);
    if (def === undefined) {
      const hint = this.#core.commands.suggest(parsed.name);
      throw new SwitchboardError("E_UNKNOWN_COMMAND", `unknown command /${parsed.name}`, {
        chatMessage: `There is no command /${parsed.name.slice(0, 32)}.${hint.length > 0 ? ` Did you mean ${hint.map((h) => `/${h}`).join(", ")}?` : ""}`,
      });
    }
    if (onlySkill !== undefined && def.skill !== onlySkill) {
      throw new SwitchboardError("E_SKILL_DENIED", `skill ${onlySkill} tried to schedule /${parsed.name}`, {
        chatMessage: `A skill may only schedule its own commands; /${parsed.name} is not one of ${onlySkill}'s.`,
      });
    }
    return `/${parsed.name}${parsed.rawArgs === "" ? "" : ` ${parsed.rawArgs}`}`;
  }

  // ---- the live view ---------------------------------------------------------------------------------------

  #nextAfter(id: string, afterMs: number): number | undefined {
    const live = this.#live.get(id);
    if (live === undefined) return undefined;
    if (live.cron === undefined) return live.runAt !== undefined && live.runAt > afterMs ? live.runAt : undefined;
    if (live.spreadMs === 0) return nextFireAfter(live.cron, live.zone, afterMs);
    const next = nextFireAfter(live.cron, live.zone, afterMs - live.spreadMs);
    return next === undefined ? undefined : next + live.spreadMs;
  }

  /** Bring the live view in line with a stored record (new, changed, paused, deleted, done). */
  #apply(s: ScheduleRecord, now: number): void {
    const known = this.#live.get(s.id);
    if (known !== undefined && known.rev >= s.rev) return;
    if (s.state !== "active") {
      this.#live.delete(s.id);
      this.#engine.remove(s.id);
      return;
    }
    this.#live.set(s.id, {
      rev: s.rev,
      spreadMs: s.spreadMs,
      cron: s.expression === null ? undefined : compileCron(s.expression),
      runAt: s.runAt ?? undefined,
      zone: timelineOf(s.timeZone),
    });
    this.#engine.set(s.id, this.#nextAfter(s.id, now));
  }

  // ---- lifecycle -----------------------------------------------------------------------------------------

  /** Load active schedules, apply the missed-run policy, start firing and polling. */
  async start(): Promise<void> {
    const marks = await this.#core.store.sql.query<{ rev: unknown }>(
      "SELECT COALESCE(MAX(rev), 0) AS rev FROM schedules",
    );
    const startRev = Number(marks.rows[0]?.rev ?? 0);
    this.#revMarks = [startRev, startRev];
    const now = this.#clock.now();
    await this.sweep(ABANDONED_AT_START);
    for (const s of await this.repo.loadActiveTiming()) {
      try {
        this.#load(s, now);
      } catch (error) {
        this.#core.log.error({ err: error, scheduleId: s.id }, "schedule could not be loaded");
      }
    }
    this.#isStarted = true;
    if (this.settings.enabled) this.#engine.start();
    this.#schedulePoll();
  }

  #load(s: TimingRecord, now: number): void {
    this.#live.set(s.id, {
      rev: s.rev,
      spreadMs: s.spreadMs,
      cron: s.expression === null ? undefined : compileCron(s.expression),
      runAt: s.runAt ?? undefined,
      zone: timelineOf(s.timeZone),
    });
    const base = s.lastFireAt ?? s.createdAt;
    const first = this.#nextAfter(s.id, base);
    if (first === undefined || first >= now - START_GRACE_MS) {
      this.#engine.set(s.id, first);
      return;
    }
    // Missed while no process ran: find the latest missed fire time.
    let latest = first;
    let count = 1;
    for (
      let t = this.#nextAfter(s.id, first);
      t !== undefined && t < now - START_GRACE_MS && count < 100_000;
      t = this.#nextAfter(s.id, t)
    ) {
      latest = t;
      count++;
    }
    if (this.settings.enabled) {
      if (s.missedPolicy === "once") this.pipeline.push({ id: s.id, fireTime: latest, kind: "catchup" });
      else
        void this.#track(this.repo.recordMissed({ id: s.id, fireTime: latest, count, at: now }).then(() => undefined));
    }
    this.#engine.set(s.id, this.#nextAfter(s.id, Math.max(latest, now - START_GRACE_MS)));
  }

  /** Look for schedules changed by other processes (also runs every `pollIntervalMs`). */
  async poll(): Promise<void> {
    const run = this.#polling.then(async () => {
      const from = this.#revMarks[0]!;
      const changed = await this.repo.changedSince(from);
      const now = this.#clock.now();
      let max = this.#revMarks[1]!;
      for (const s of changed) {
        max = Math.max(max, s.rev);
        try {
          this.#apply(s, now);
        } catch (error) {
          this.#core.log.error({ err: error, scheduleId: s.id }, "changed schedule could not be applied");
        }
      }
      // Re-read from two polls back: a change whose rev was taken earlier but committed later is still seen.
      this.#revMarks = [this.#revMarks[1]!, max];
    });
    this.#polling = run.catch(() => undefined);
    return run;
  }

  /**
   * Close runs still `running` past their lease (`runLeaseMs` after their start) as errors: their process ended
   * during the run, or never got the outcome written. Runs at start and, in every process, at most every
   * `sweepIntervalMs` after a poll; on PostgreSQL rows another process is closing or finishing are skipped.
   * Returns how many were closed.
   */
  async sweep(detail = SWEPT): Promise<number> {
    const now = this.#clock.now();
    this.#lastSweepAt = now;
    const closed = await this.repo.closeAbandoned({ beforeMs: now - this.#runLeaseMs, at: now, detail });
    if (closed > 0)
      this.#core.log.warn({ runs: closed }, "schedule runs left unfinished past their lease were closed as errors");
    return closed;
  }

  #schedulePoll(): void {
    if (!this.#isStarted) return;
    const timers = this.#timers ?? globalTimers;
    this.#pollTimer = timers.setTimeout(() => {
      this.#pollTimer = undefined;
      const due = this.#clock.now() - this.#lastSweepAt >= this.#sweepIntervalMs;
      void this.#track(
        this.poll()
          .then(() => (due ? this.sweep() : 0))
          .then(
            () => undefined,
            (error: unknown) => {
              this.#core.log.warn({ err: error }, "schedule poll failed");
            },
          ),
      ).finally(() => this.#schedulePoll());
    }, this.settings.pollIntervalMs);
  }

  /** Stop firing and polling; wait for runs in progress. */
  async stop(): Promise<void> {
    this.#isStarted = false;
    if (this.#pollTimer !== undefined) {
      (this.#timers ?? globalTimers).clearTimeout(this.#pollTimer);
      this.#pollTimer = undefined;
    }
    await this.#engine.stop();
    this.pipeline.close(); // a record failing now is tried a few times more, not until the store answers
    await this.idle();
  }

  /** Resolves when no fire is being dispatched or run (tests, shutdown). */
  async idle(): Promise<void> {
    await this.#engine.idle();
    await this.pipeline.idle();
    while (this.#inflight.size > 0) {
      await Promise.allSettled([...this.#inflight]);
      await this.#engine.idle();
      await this.pipeline.idle();
    }
  }

  // ---- firing --------------------------------------------------------------------------------------------

  #track(work: Promise<void>): Promise<void> {
    const p = work.catch((error: unknown) => {
      this.#core.log.error({ err: error }, "schedule work failed");
    });
    this.#inflight.add(p);
    void p.finally(() => this.#inflight.delete(p));
    void this.#core.track(p);
    return p;
  }

  /** Claim a batch of due fires; the claimed ones come back in the order they fell due (each chat's order). */
  async #claim(fires: readonly DueFire[]): Promise<ClaimResult<Claim>> {
    const { claimed: won } = await this.repo.claimMany(fires, { process: this.processId, at: this.#clock.now() });
    const position = new Map(fires.map((f, i) => [`${f.id}:${f.fireTime}`, i]));
    const at = (c: { schedule: { id: string }; fireTime: number }) =>
      position.get(`${c.schedule.id}:${c.fireTime}`) ?? 0;
    won.sort((a, b) => at(a) - at(b));
    const claimed = won.map((claim) => ({ fire: fires[at(claim)]!, chatKey: claim.schedule.chatKey, claim }));
    // Nothing is handed back as held: a claim no longer passes by a locked schedule (see `claimMany`).
    return { claimed };
  }

  /**
   * A fire due right at start-up (a catch-up) may come before the chat's adapter has connected: wait for it
   * while it says `starting` or `reconnecting`, up to 30 s, then go on (a failed send is recorded as an error).
   */
  async #adapterReady(platform: string): Promise<void> {
    const adapter = this.#core.adapters.get(platform);
    const until = Date.now() + 30_000;
    while (adapter !== undefined && Date.now() < until && !this.#core.shutdownSignal.aborted) {
      const state = adapter.health().state;
      if (state !== "starting" && state !== "reconnecting") return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** Run a claimed fire; resolves to its outcome (never rejects), which the caller records. */
  async #execute(claim: Claim, fireTime: number, kind: Exclude<RunKind, "missed">): Promise<RunResult> {
    const s = claim.schedule;
    const core = this.#core;
    const target = { platform: s.platform, chatId: s.chatId, ...(s.threadId === null ? {} : { threadId: s.threadId }) };
    const tell = async (text: string) => {
      try {
        await core.adapters.send(target, { text });
      } catch (error) {
        core.log.warn({ err: error, scheduleId: s.id }, "could not tell the chat about a schedule");
      }
    };
    let outcome: "ok" | "error" | "skipped" = "ok";
    let detail: string | undefined;
    try {
      await this.#adapterReady(s.platform);
      const parsed = parseCommandLine(s.commandLine);
      const def = parsed === undefined ? undefined : core.commands.get(parsed.name);
      if (parsed === undefined || def === undefined) {
        outcome = "skipped";
        detail = `unknown command ${s.commandLine.split(/\s/, 1)[0]}`;
        await tell(`Schedule #${s.id} skipped: ${detail} (it may have been removed).`);
      } else {
        let platformRole: PlatformRole | undefined;
        try {
          platformRole = await core.adapters.get(s.platform)?.platformRoleOf?.(s.chatId, s.creatorId);
        } catch {
          platformRole = undefined; // fail closed: an unknown platform role counts as none
        }
        const query = {
          platform: s.platform,
          chatId: s.chatId,
          chatKind: s.chatKind,
          userId: s.creatorId,
          platformRole,
        };
        const decision = await core.permissions.canRun(query, s.commandLine);
        if (!decision.allowed) {
          outcome = "skipped";
          detail = `permission: ${decision.reason}`;
          await tell(
            `Schedule #${s.id} skipped: ${s.creatorName} may no longer run /${def.name} here (${decision.reason}).`,
          );
        } else {
          const inbound: Inbound = {
            deliveryId: kind === "manual" ? `schedule:${s.id}:manual:${claim.runId}` : `schedule:${s.id}:${fireTime}`,
            platform: s.platform,
            chat: { id: s.chatId, kind: s.chatKind },
            user: {
              id: s.creatorId,
              displayName: s.creatorName,
              ...(platformRole === undefined ? {} : { platformRole }),
            },
            text: s.commandLine,
            command: parsed,
            ...(s.threadId === null ? {} : { threadId: s.threadId }),
            origin: "schedule",
            receivedAt: this.#clock.now(),
            respond: (reply) => core.adapters.send(target, reply),
          };
          const processing = core.router.process(inbound);
          // Listeners (skills subscribed to schedule fires) hear it once the command is handed over.
          if (core.events.size > 0)
            core.events.publish({
              type: "schedule",
              chatKey: s.chatKey,
              target,
              scheduleId: s.id,
              commandLine: s.commandLine,
            });
          await processing;
        }
      }
    } catch (error) {
      const e = toSwitchboardError(error);
      outcome = "error";
      detail = e.message;
      core.log.error({ err: error, scheduleId: s.id, chatKey: s.chatKey, fireTime }, "schedule run failed");
    }
    return {
      runId: claim.runId,
      scheduleId: s.id,
      outcome,
      ...(detail === undefined ? {} : { detail }),
      at: this.#clock.now(),
    };
  }
}

/** Why a run left `running` was closed: found at start, or by the sweeper. */
const ABANDONED_AT_START = "the process running it ended during the run";
const SWEPT = "no outcome was written within its lease: its process ended during the run or could not write it";

/** What the audit log keeps of a schedule, before and after a change. */
function auditView(s: ScheduleRecord): Record<string, unknown> {
  return {
    state: s.state,
    kind: s.kind,
    ...(s.expression === null ? {} : { expression: s.expression }),
    ...(s.runAt === null ? {} : { runAt: new Date(s.runAt).toISOString() }),
    timeZone: s.timeZone,
    commandLine: s.commandLine,
    creator: `${s.platform}:${s.creatorId}`,
  };
}

/** The most a `--spread` schedule's fires are moved. */
const MAX_SPREAD_MS = 60_000;

/**
 * A spread schedule's offset: a hash of what defines it (chat, creator, expression, command, creation time) into
 * [0, maxMs), in whole seconds when the range allows, so it is the same for every process and every fire.
 */
export function spreadOffsetMs(key: string, maxMs: number): number {
  if (maxMs < 1) return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  const unit = maxMs >= 2_000 ? 1_000 : 1;
  return ((h >>> 0) % Math.floor(maxMs / unit)) * unit;
}

/** 90000 → "1m30s". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  let s = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [
    ["d", 86_400],
    ["h", 3_600],
    ["m", 60],
    ["s", 1],
  ] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  return parts.join("");
}
