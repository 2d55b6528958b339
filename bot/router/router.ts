/**
 * The conversation router. It knows nothing of platforms. For each inbound message, on accept: count it,
 * refuse oversized text, drop redeliveries (dedupe by delivery id), apply per-user and per-chat rate limits
 * (saying "slow down" once). Then, serially per conversation: load the chat's policy (cached), check access
 * (bots, deny lists, DM policy), run the middleware chain, and dispatch to a command (permission-checked) or
 * the conversation handler, all inside an error boundary that answers the chat with a short, safe message.
 */
import type { Logger } from "pino";
import type { AdapterHub, Clock, ConversationHandler, Metrics, RouterApi } from "../core.ts";
import {
  parseCommandLine,
  parseOptions,
  resolveCommand,
  usageOf,
  type CommandContext,
  type CommandDef,
  type CommandNode,
  type CommandRegistry,
  type ResolvedCommand,
} from "../commands.ts";
import { SwitchboardError, toSwitchboardError, type ErrorCode } from "../errors.ts";
import type { EventBus } from "../events.ts";
import { chatKeyOf, toReply, userKeyOf, type Inbound, type ReplyInput, type SentMessage } from "../model.ts";
import { GLOBAL_POLICY_KEY, checkAccess, checkCommand, type ChatPolicy, type Role } from "../permissions.ts";
import { authorizePath, minimumRoleOf, refusal, type AuthorizeOptions } from "./authorize.ts";
import { requirementOf, type Confirmations } from "./confirmations.ts";
import { AgedMap } from "./aged-map.ts";
import { KeyedQueue, type QueuedJob } from "./chat-queue.ts";
import type { DeliveryCheck } from "./dedupe.ts";
import type { CachedPermissionService } from "./permission-service.ts";
import { type InboundLimits, localInboundLimits } from "./inbound-limits.ts";
import type { RateVerdict } from "./rate-limit.ts";

/** The state of one message as it passes through the middleware chain. */
export interface RouteContext {
  readonly inbound: Inbound;
  readonly chatKey: string;
  readonly userKey: string;
  role: Role;
  policy: ChatPolicy | undefined;
  /** Aborted when the handler times out or the bot shuts down. */
  readonly signal: AbortSignal;
  /** Free-form state middleware may share. */
  readonly state: Map<string, unknown>;
}

/** Router middleware: do something, then `await next()` (at most once) to go on. */
export type Middleware = (ctx: RouteContext, next: () => Promise<void>) => Promise<void>;

/** What the router needs. */
export interface RouterOptions {
  commands: CommandRegistry;
  permissions: CachedPermissionService;
  adapters: AdapterHub;
  metrics: Metrics;
  log: Logger;
  clock: Clock;
  /** True the first time a delivery is seen within the dedupe window (see `deliveryDedupe`). */
  firstDelivery: DeliveryCheck;
  limits: {
    perUser: { burst: number; perMinute: number };
    perChat: { burst: number; perMinute: number };
    maxInboundChars: number;
    handlerTimeoutMs: number;
    /** Messages queued or running before `handle` waits for the backlog to shrink (backpressure). */
    maxInFlight?: number;
    /** Messages waiting behind an earlier one of their conversation before `handle` waits (backpressure). */
    maxQueued?: number;
    /** Most users, and most chats, tracked at once by the rate limits and the chats-seen record. Default 100,000. */
    maxTrackedKeys?: number;
  };
  /** Inbound rate limits shared by every process (Redis); default: per-process buckets from `limits`. */
  inboundLimits?: InboundLimits;
  /** Record a chat the first time this process sees it (background, tracked). */
  onNewChat?: (inbound: Inbound) => void;
  /** Aborted at shutdown; in-flight handlers see it through their signal. */
  shutdownSignal: AbortSignal;
  /** Pending confirmations and approvals: where a node marked `confirm` or `approvals` waits. */
  confirmations: Confirmations;
  /**
   * Where messages (once their handling has started) and reactions are published for listeners (LLM feedback,
   * skills that listen); reactions are dropped without it.
   */
  events?: EventBus;
}

/** The router. Adapters call `handle`; modules plug in with `use` and `setConversationHandler`. */
export class Router implements RouterApi {
  readonly #o: RouterOptions;
  readonly #queue = new KeyedQueue();
  readonly #limits: InboundLimits;
  readonly #middleware: Middleware[] = [];
  /** Chats recorded by `onNewChat` lately: bounded, and a chat is recorded again after a day. */
  readonly #seenChats: AgedMap<true>;
  /** Refusals being sent; bounded by the inbound rate limits that come before them. */
  readonly #refusals = new Set<Promise<void>>();
  #conversation: ConversationHandler | undefined;
  readonly #inFlight = new InFlightList();
  #sweeper: NodeJS.Timeout | undefined;
  /** What every job calls back into, made once. */
  readonly #host: JobHost;
  readonly #defaultRoleOf: (key: string, fallback: Role) => Role;

  constructor(options: RouterOptions) {
    this.#o = options;
    this.#defaultRoleOf = (key, fallback) => options.permissions.defaultRoleOf(key, fallback);
    this.#host = {
      shutdown: options.shutdownSignal,
      start: (job) => this.#start(job),
      finish: (job) => this.#finish(job),
      fail: (job, error) => this.#failJob(job, error),
      reply: (inbound, reply) => this.#reply(inbound, reply),
      edit: (inbound, message, reply) => this.#edit(inbound, message, reply),
    };
    const maxKeys = options.limits.maxTrackedKeys ?? 100_000;
    this.#limits =
      options.inboundLimits ??
      localInboundLimits({
        perUser: options.limits.perUser,
        perChat: options.limits.perChat,
        clock: options.clock,
        maxKeys,
      });
    this.#seenChats = new AgedMap({ maxEntries: maxKeys, maxAgeMs: SEEN_CHAT_MAX_AGE_MS });
  }

  /** Add middleware that runs for every accepted message, after the access check, before dispatch. */
  use(middleware: Middleware): void {
    this.#middleware.push(middleware);
  }

  setConversationHandler(handler: ConversationHandler | undefined): void {
    this.#conversation = handler;
  }

  /**
   * Accept a message: resolves once it is queued (or refused), not when it is answered — later when the
   * router is saturated (`limits.maxInFlight` messages queued or running), so adapters feeding it slow down.
   */
  handle(inbound: Inbound): Promise<void> {
    return this.#accept(inbound, false);
  }

  /** Accept a message and wait until it has been answered. */
  process(inbound: Inbound): Promise<void> {
    return this.#accept(inbound, true);
  }

  drain(): Promise<void> {
    return Promise.all([this.#queue.drain(), ...this.#refusals]).then(() => undefined);
  }

  stop(conversationKey: string): "command" | "conversation" | undefined {
    // Found among the messages in flight (bounded): /stop is rare, so nothing is indexed for it per message.
    const job = this.#inFlight.find(
      (j) => j.queueKey === conversationKey && (j.command === undefined || !this.#isUrgent(j.command)),
    );
    if (job === undefined) return undefined;
    const stopped = new SwitchboardError("E_STOPPED", `stopped in ${conversationKey}`);
    const kind = job.command === undefined ? "conversation" : "command";
    job.abortSignal(stopped);
    this.#failJob(job, stopped);
    return kind;
  }

  #authorizeOptions(ctx: Job): AuthorizeOptions {
    return { role: ctx.role, policy: ctx.policy, chatKind: ctx.inbound.chat.kind, defaultRoleOf: this.#defaultRoleOf };
  }

  /** Whether a command is served on the priority lane: its node (or the command) is marked urgent. */
  #isUrgent(parsed: ParsedCommand): boolean {
    return this.#urgencyOf(parsed) !== undefined;
  }

  #urgencyOf(parsed: ParsedCommand): CommandNode["urgent"] {
    const def = this.#o.commands.get(parsed.name);
    if (def === undefined) return undefined;
    const urgent =
      def.urgent ??
      (def.subcommands === undefined ? undefined : resolveCommand(def, parsed.args, parsed.rawArgs).node.urgent);
    return urgent === false ? undefined : urgent;
  }

  /**
   * Whether a message takes the busy conversation's priority lane: an urgent command does; one urgent
   * `"after-own"` (`/confirm`, `/approve`) only while none of the sender's own earlier commands runs or waits in
   * the ordinary lane, so a piped `/skills uninstall x --purge` then `/confirm` keeps its order (the sender's
   * own long LLM turn does not hold it back).
   */
  #takesPriorityLane(
    parsed: ParsedCommand,
    { conversationKey, userKey }: { conversationKey: string; userKey: string },
  ): boolean {
    const urgent = this.#urgencyOf(parsed);
    if (urgent !== "after-own") return urgent === true;
    // Only the sender's commands can be asking for a confirmation; their conversation turn does not hold it up.
    const own = (job: Job) =>
      job.queueKey === conversationKey &&
      job.userKey === userKey &&
      job.command !== undefined &&
      this.#urgencyOf(job.command) === undefined;
    return this.#inFlight.find(own) === undefined && !this.#queue.someWaiting(conversationKey, (j) => own(j as Job));
  }

  /** Settles when the message is queued (or refused), or with `wait`, when its work has settled. */
  #accept(inbound: Inbound, wait: boolean): Promise<void> {
    try {
      this.#o.metrics.messageIn(inbound.platform);
      if (inbound.user.isBot === true) {
        inbound.journal?.settle();
        return DONE; // never answer bots: no loops between bots
      }
      // A journaled event was deduped by the journal's unique key, durably: no second check.
      if (inbound.journal !== undefined) return this.#admit(inbound, wait);
      const first = this.#o.firstDelivery(inbound);
      if (typeof first === "boolean") return first ? this.#admit(inbound, wait) : this.#redelivered(inbound);
      return first.then((isFirst) => (isFirst ? this.#admit(inbound, wait) : this.#redelivered(inbound)));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #redelivered(inbound: Inbound): Promise<void> {
    this.#o.log.debug(
      { delivery: inbound.deliveryId, chat: chatKeyOf(inbound.platform, inbound.chat.id) },
      "redelivery dropped",
    );
    return DONE;
  }

  /** Rate limits, then `#enter`. */
  #admit(inbound: Inbound, wait: boolean): Promise<void> {
    const o = this.#o;
    const chatKey = chatKeyOf(inbound.platform, inbound.chat.id);
    const userKey = userKeyOf(inbound.platform, inbound.user.id);
    if (inbound.reaction !== undefined) return this.#reacted(inbound, { chatKey, userKey });
    if (inbound.origin !== "schedule" && inbound.origin !== "operator") {
      // A person named in config has one budget on every platform.
      const verdict = this.#limits.take(o.permissions.personOf(userKey), chatKey, o.clock.now());
      if (typeof verdict !== "string") {
        return verdict.then((shared) =>
          shared === "ok" ? this.#enter(inbound, wait, chatKey) : this.#limited(inbound, wait, shared),
        );
      }
      if (verdict !== "ok") return this.#limited(inbound, wait, verdict);
    }
    return this.#enter(inbound, wait, chatKey);
  }

  /**
   * A reaction is never answered as a message: within the speaker's and the chat's rate limits (over them it is
   * dropped without a word) and past the same access check as a message (deny lists, the DM policy: a refused one
   * is dropped without a word and counted), it is published as a `reaction` event, where feedback and listeners
   * take it.
   */
  #reacted(inbound: Inbound, { chatKey, userKey }: { chatKey: string; userKey: string }): Promise<void> {
    const o = this.#o;
    const settle = (): void => inbound.journal?.settle();
    const admitted = (verdict: RateVerdict | "ok"): Promise<void> => {
      if (verdict !== "ok") {
        o.metrics.error("E_RATE_LIMITED");
        settle();
        return DONE;
      }
      const nowMs = o.clock.now();
      const policy = o.permissions.peek(chatKey, nowMs);
      const globalPolicy = o.permissions.peek(GLOBAL_POLICY_KEY, nowMs);
      if (policy !== null && globalPolicy !== null) {
        this.#publishReaction(inbound, { chatKey, userKey, policy, globalPolicy });
        settle();
        return DONE;
      }
      return Promise.all([
        policy === null ? o.permissions.policy(chatKey) : policy,
        globalPolicy === null ? o.permissions.policy(GLOBAL_POLICY_KEY) : globalPolicy,
      ]).then(
        ([loaded, loadedGlobal]) => {
          this.#publishReaction(inbound, { chatKey, userKey, policy: loaded, globalPolicy: loadedGlobal });
          settle();
        },
        (error: unknown) => {
          o.log.warn({ err: error, chat: chatKey }, "reaction dropped: its chat's policy could not be read");
          settle();
        },
      );
    };
    const verdict = this.#limits.take(o.permissions.personOf(userKey), chatKey, o.clock.now());
    if (typeof verdict === "string") return admitted(verdict);
    return verdict.then(admitted);
  }

  /** Publish a reaction whose speaker may talk to the bot in its chat; a refused one is counted by its code. */
  #publishReaction(
    inbound: Inbound,
    {
      chatKey,
      userKey,
      policy,
      globalPolicy,
    }: { chatKey: string; userKey: string; policy: ChatPolicy | undefined; globalPolicy: ChatPolicy | undefined },
  ): void {
    const o = this.#o;
    const access = checkAccess(
      o.permissions.settings,
      { policy, globalPolicy },
      { userKey, platformRole: inbound.user.platformRole, chatKind: inbound.chat.kind, isBot: false },
    );
    if (!access.allowed) {
      o.metrics.error(access.code);
      o.log.info({ chat: chatKey, user: userKey, code: access.code }, `reaction dropped: ${access.reason}`);
      return;
    }
    o.events?.publish({ type: "reaction", chatKey, inbound });
  }

  #limited(inbound: Inbound, wait: boolean, verdict: RateVerdict): Promise<void> {
    this.#o.metrics.error("E_RATE_LIMITED");
    if (verdict === "limited-warn") return this.#refuse(inbound, wait, { code: "E_RATE_LIMITED" });
    inbound.journal?.settle();
    return DONE;
  }

  /** Size check, then the conversation's queue. */
  #enter(inbound: Inbound, wait: boolean, chatKey: string): Promise<void> {
    const o = this.#o;
    const userKey = userKeyOf(inbound.platform, inbound.user.id); // interned: a lookup, no new string
    if (inbound.text.length > o.limits.maxInboundChars) {
      o.metrics.error("E_MESSAGE_TOO_LONG");
      return this.#refuse(inbound, wait, {
        code: "E_MESSAGE_TOO_LONG",
        text: `That message is too long (${inbound.text.length} characters; the limit is ${o.limits.maxInboundChars}).`,
      });
    }
    if (o.onNewChat !== undefined) {
      const nowMs = o.clock.now();
      if (!this.#seenChats.has(chatKey, nowMs)) {
        this.#seenChats.set(chatKey, true, nowMs);
        o.onNewChat(inbound);
      }
    }
    const conversationKey = inbound.threadId === undefined ? chatKey : `${chatKey}:${inbound.threadId}`;
    const command = inbound.command ?? parseCommandLine(inbound.text);
    // Control commands (/status, /stop, /help, /confirm, urgent admin commands) take the conversation's priority
    // lane while something runs in its ordinary lane: served at once even while a long turn holds the queue; they
    // keep their order among themselves, and with everything else when the conversation is idle.
    const queueKey =
      command !== undefined &&
      this.#queue.isBusy(conversationKey) &&
      this.#takesPriorityLane(command, { conversationKey, userKey })
        ? `${conversationKey}${URGENT_LANE}`
        : conversationKey;
    const job = new Job(this.#host, inbound, { chatKey, userKey, queueKey });
    job.command = command;
    if (wait) {
      return new Promise<void>((resolve) => {
        job.onSettled = resolve;
        this.#queue.admit(queueKey, job);
      });
    }
    this.#queue.admit(queueKey, job); // the job answers its own errors
    const maxInFlight = o.limits.maxInFlight ?? Number.POSITIVE_INFINITY;
    const maxQueued = o.limits.maxQueued ?? Number.POSITIVE_INFINITY;
    return this.#queue.pending > maxInFlight || this.#queue.waiting > maxQueued
      ? this.#queue.whenBelow(maxInFlight, maxQueued)
      : DONE;
  }

  /**
   * A refusal (rate limited, too long) is sent in the background: accepting the next message never waits for
   * it, so one flooder's refusals cannot hold up anyone's intake. `process` (wait) still waits for it.
   */
  #refuse(inbound: Inbound, wait: boolean, refusal: { code: ErrorCode; text?: string }): Promise<void> {
    const respond = this.#safeRespond(inbound, refusal.code, refusal.text);
    const sent = inbound.journal === undefined ? respond : respond.then(() => inbound.journal?.settle());
    if (wait) return sent;
    this.#refusals.add(sent);
    void sent.then(() => this.#refusals.delete(sent));
    return DONE;
  }

  /**
   * A job's turn in its conversation's queue: the speaker's platform role when the adapter left it to look up
   * (so a slow look-up holds only this conversation), then `#load`. Nothing here throws: every way out ends in
   * `#finish` or `#failJob`, which release the queue.
   */
  #start(job: Job): void {
    job.startedMs = performance.now();
    job.deadlineMs = job.startedMs + this.#o.limits.handlerTimeoutMs;
    this.#inFlight.add(job);
    this.#sweeper ??= this.#startSweeper();
    const inbound = job.inbound;
    if (inbound.resolvePlatformRole !== undefined && inbound.user.platformRole === undefined) {
      let lookUp: Promise<Inbound["user"]["platformRole"]>;
      try {
        lookUp = inbound.resolvePlatformRole();
      } catch {
        lookUp = Promise.resolve(undefined);
      }
      lookUp.then(
        (role) => {
          if (role !== undefined) inbound.user.platformRole = role;
          this.#load(job);
        },
        () => this.#load(job),
      );
      return;
    }
    this.#load(job);
  }

  /** Policies (cached, or loaded first), then `#route`. */
  #load(job: Job): void {
    if (job.isFinished) return; // timed out or shut down while the role was looked up
    const permissions = this.#o.permissions;
    try {
      const nowMs = this.#o.clock.now();
      const policy = permissions.peek(job.chatKey, nowMs);
      const globalPolicy = permissions.peek(GLOBAL_POLICY_KEY, nowMs);
      if (policy !== null && globalPolicy !== null) {
        this.#route(job, policy, globalPolicy);
        return;
      }
      Promise.all([
        policy === null ? permissions.policy(job.chatKey) : policy,
        globalPolicy === null ? permissions.policy(GLOBAL_POLICY_KEY) : globalPolicy,
      ]).then(
        ([loaded, loadedGlobal]) => this.#route(job, loaded, loadedGlobal),
        (error: unknown) => this.#failJob(job, error),
      );
    } catch (error) {
      this.#failJob(job, error);
    }
  }

  /** Access check, then the middleware chain and dispatch; the work's settlement finishes the job. */
  #route(job: Job, policy: ChatPolicy | undefined, globalPolicy: ChatPolicy | undefined): void {
    if (job.isFinished) return; // timed out or shut down while its policies loaded
    const o = this.#o;
    const inbound = job.inbound;
    try {
      const access = checkAccess(
        o.permissions.settings,
        { policy, globalPolicy },
        {
          userKey: job.userKey,
          platformRole: inbound.user.platformRole,
          chatKind: inbound.chat.kind,
          isBot: inbound.user.isBot === true,
        },
      );
      const command = job.command;
      if (!access.allowed) {
        o.log.info({ chat: job.chatKey, user: job.userKey, code: access.code }, `access denied: ${access.reason}`);
        // Commands get a clear denial; plain chatter from a denied user is ignored rather than answered.
        if (command !== undefined) throw new SwitchboardError(access.code, access.reason);
        this.#finish(job);
        return;
      }
      job.role = access.role;
      job.policy = policy;
      job.kind = command === undefined ? "conversation" : "command";
      const work =
        this.#middleware.length === 0
          ? this.#dispatch(job, command)
          : this.#chain(job, () => this.#dispatch(job, command));
      work.then(job.done, job.failed);
      this.#heard(job);
    } catch (error) {
      this.#failJob(job, error);
    }
  }

  /**
   * A message whose handling has started is published for listeners (skills that hear messages). After the
   * hand-off, never before: publishing never waits for them. Nothing is built when nobody listens.
   */
  #heard(job: Job): void {
    const events = this.#o.events;
    if (events === undefined || events.size === 0) return;
    events.publish({ type: "message", chatKey: job.chatKey, inbound: job.inbound });
  }

  /** The job's work has settled: count a reply it sent for the handler, release its queue. */
  #finish(job: Job): void {
    if (!this.#settle(job)) return;
    if (job.countsReply) this.#o.metrics.messageOut(job.inbound.platform);
    this.#release(job);
  }

  /** The job failed (or timed out): answer the chat with a safe message, then release its queue. */
  #failJob(job: Job, error: unknown): void {
    if (!this.#settle(job)) return;
    const release = (): void => this.#release(job);
    void this.#fail(job.inbound, job.chatKey, error).then(release, release);
  }

  /** Mark a job finished once (a late settlement after a timeout is ignored) and record its latency. */
  #settle(job: Job): boolean {
    if (job.isFinished) return false;
    job.isFinished = true;
    this.#inFlight.delete(job);
    this.#o.metrics.handlerLatency(job.inbound.platform, job.kind, (performance.now() - job.startedMs) / 1000);
    return true;
  }

  #release(job: Job): void {
    this.#queue.release(job.queueKey);
    job.inbound.journal?.settle();
    job.onSettled?.();
  }

  /** The handler's work; what it resolves to (a sent reply, or nothing) is not used. */
  #dispatch(job: Job, command: ParsedCommand | undefined): Promise<unknown> {
    return command !== undefined ? this.#command(job, command) : this.#converse(job);
  }

  #startSweeper(): NodeJS.Timeout {
    const timeoutMs = this.#o.limits.handlerTimeoutMs;
    const timer = setInterval(
      () => {
        const now = performance.now();
        for (const job of this.#inFlight.overdue(now)) {
          const timedOut = new SwitchboardError("E_TIMEOUT", `handler exceeded ${timeoutMs} ms`);
          job.abortSignal(timedOut);
          this.#failJob(job, timedOut);
        }
      },
      Math.max(10, Math.min(1_000, timeoutMs / 4)),
    );
    timer.unref();
    this.#o.shutdownSignal.addEventListener(
      "abort",
      () => {
        clearInterval(timer);
        const reason: unknown = this.#o.shutdownSignal.reason;
        for (const job of this.#inFlight.overdue(Number.POSITIVE_INFINITY)) {
          job.abortSignal(reason);
          this.#failJob(job, reason);
        }
      },
      { once: true },
    );
    return timer;
  }

  /** Not async: a command answered synchronously (most built-ins) goes straight to its reply. Throws are the caller's. */
  #command(ctx: Job, parsed: { name: string; args: string[]; rawArgs: string }): Promise<unknown> {
    const o = this.#o;
    const def = o.commands.get(parsed.name);
    if (def === undefined || (def.availableIn !== undefined && !def.availableIn(ctx.chatKey))) {
      const near = o.commands.suggest(parsed.name, ctx.chatKey);
      const hint = near.length === 0 ? " Try /help." : ` Did you mean ${near.map((n) => `/${n}`).join(", ")}?`;
      throw new SwitchboardError("E_UNKNOWN_COMMAND", `unknown command /${parsed.name}`, {
        chatMessage: `I don't know /${parsed.name}.${hint}`,
      });
    }
    let node: CommandNode = def;
    let resolved: ResolvedCommand | undefined;
    if (def.subcommands === undefined) {
      // The usual case, kept as cheap as before the tree: one check, no allocation beyond the check's.
      const chatKind = ctx.inbound.chat.kind;
      const decision = checkCommand(ctx.role, ctx.policy, {
        name: def.name,
        defaultRole: o.permissions.defaultRoleOf(
          def.name,
          chatKind === "dm" && def.dmRole !== undefined ? def.dmRole : def.defaultRole,
        ),
        skill: def.skill,
      });
      if (!decision.allowed) throw refusal(decision, `/${def.name}`);
      ctx.args = parsed.args;
      ctx.rawArgs = parsed.rawArgs;
    } else {
      resolved = resolveCommand(def, parsed.args, parsed.rawArgs);
      const decision = authorizePath(resolved, this.#authorizeOptions(ctx));
      if (!decision.allowed) throw refusal(decision, `/${def.name}`);
      node = resolved.node;
      ctx.path = resolved.path;
      ctx.args = resolved.args;
      ctx.rawArgs = resolved.rawArgs;
    }
    if (node.args !== undefined) {
      const parsedNode = node;
      ctx.options = parseOptions(node, {
        rawArgs: ctx.rawArgs,
        usage: () => usageOf(parsedNode, pathLabel(def, ctx.path)),
      });
    }
    if (mayNeedGate(node, ctx.policy) && !o.confirmations.takeApproved(ctx.inbound)) {
      const step = resolved?.steps.at(-1) ?? { key: def.name, node, defaultRole: def.defaultRole };
      const minimum = minimumRoleOf(step, { ...this.#authorizeOptions(ctx), skill: def.skill });
      const confirm = typeof node.confirm === "function" ? node.confirm(ctx.options) : node.confirm;
      const requirement = requirementOf(
        { confirm, approvals: node.approvals, dangerous: node.dangerous },
        { key: step.key, policy: ctx.policy, role: ctx.role, minimum },
      );
      if (requirement !== undefined) {
        const label = pathLabel(def, ctx.path);
        const describe = node.describe;
        return (describe === undefined ? Promise.resolve(undefined) : Promise.resolve().then(() => describe(ctx)))
          .then((what) => o.confirmations.ask(ctx, { label, requirement, ...(what === undefined ? {} : { what }) }))
          .then((reply) => this.#reply(ctx.inbound, reply));
      }
    }
    const handler = node.handler;
    if (handler === undefined || (node.subcommands !== undefined && node.args === undefined && ctx.args.length > 0))
      return this.#reply(ctx.inbound, subcommandUsage(def, { node, path: ctx.path, args: ctx.args }));
    const result = handler(ctx);
    if (isPromiseLike(result)) {
      // A message stopped or timed out meanwhile has been answered for: its late answer is dropped.
      return Promise.resolve(result).then((answer) =>
        answer === undefined || ctx.isFinished ? undefined : this.#reply(ctx.inbound, answer),
      );
    }
    if (result === undefined) return DONE;
    // The usual case: a synchronous answer. The job counts the reply when it finishes (no second `then`).
    ctx.countsReply = true;
    return ctx.inbound.respond(toReply(result));
  }

  async #converse(ctx: Job): Promise<void> {
    const handler = this.#conversation;
    const handled =
      handler === undefined
        ? false
        : await handler(ctx.inbound, {
            chatKey: ctx.chatKey,
            userKey: ctx.userKey,
            role: ctx.role,
            signal: ctx.signal,
          });
    if (!handled && ctx.inbound.chat.kind === "dm" && ctx.inbound.origin !== "schedule") {
      await this.#reply(ctx.inbound, "I answer commands here. Try /help to see what I can do.");
    }
  }

  #chain(ctx: RouteContext, last: () => Promise<unknown>): Promise<void> {
    const stack = this.#middleware;
    const step = (i: number): Promise<void> => {
      if (i === stack.length) return last().then(noop);
      let called = false;
      return stack[i]!(ctx, () => {
        if (called) return Promise.reject(new Error("next() called twice in router middleware"));
        called = true;
        return step(i + 1);
      });
    };
    return step(0);
  }

  /** Send a reply and count it. Not async: one `then` per reply on the hot path. */
  #reply(inbound: Inbound, reply: ReplyInput): Promise<SentMessage> {
    return inbound.respond(toReply(reply)).then((sent) => {
      this.#o.metrics.messageOut(inbound.platform);
      return sent;
    });
  }

  async #edit(inbound: Inbound, message: SentMessage, reply: ReplyInput): Promise<void> {
    const adapter = this.#o.adapters.get(message.platform);
    if (adapter?.capabilities.edit) await adapter.edit(message, toReply(reply));
    else await this.#reply(inbound, reply);
  }

  async #fail(inbound: Inbound, chatKey: string, error: unknown): Promise<void> {
    const o = this.#o;
    const err = toSwitchboardError(error);
    o.metrics.error(err.code);
    const fields = { chat: chatKey, delivery: inbound.deliveryId, command: inbound.command?.name, code: err.code };
    if (err.code === "E_INTERNAL") o.log.error({ ...fields, err: err.cause ?? err }, "handler failed");
    else o.log.info(fields, err.message);
    // A stopped message is answered by /stop itself (and the LLM marks its partial answer).
    if (err.code === "E_STOPPED") return;
    await this.#safeRespond(inbound, err.code, err.chatMessage);
  }

  /** Answer with a catalog message; a failure to answer is logged, never thrown. */
  async #safeRespond(inbound: Inbound, code: ErrorCode, text?: string): Promise<void> {
    try {
      await this.#reply(inbound, { text: text ?? new SwitchboardError(code).chatMessage, format: "plain" });
    } catch (error) {
      this.#o.log.warn(
        { err: error, chat: chatKeyOf(inbound.platform, inbound.chat.id), code },
        "could not send error reply",
      );
    }
  }
}

const DONE: Promise<void> = Promise.resolve();
/** Appended to a conversation's queue key for its priority lane. */
const URGENT_LANE = "\u0000urgent";
const NO_OPTIONS: Readonly<Record<string, string | number | boolean>> = Object.freeze({});
const NO_PATH: readonly string[] = Object.freeze([]);

/** Whether a node or the chat's policy could ask for confirmation or approval (cheap: most commands do not). */
function mayNeedGate(node: CommandNode, policy: ChatPolicy | undefined): boolean {
  return (
    (node.confirm !== undefined && node.confirm !== false) ||
    node.dangerous === true ||
    node.approvals !== undefined ||
    policy?.confirm !== undefined ||
    policy?.approvals !== undefined
  );
}

/** `/skills install`, for usage lines. */
function pathLabel(def: CommandDef, path: readonly string[]): string {
  return path.length === 0 ? `/${def.name}` : `/${def.name} ${path.join(" ")}`;
}

/** What a node with subcommands and no handler answers: an unknown subcommand, or its usage. */
function subcommandUsage(
  def: CommandDef,
  { node, path, args }: { node: CommandNode; path: readonly string[]; args: string[] },
): ReplyInput {
  const label = pathLabel(def, path);
  const lines = (node.subcommands ?? []).map(
    (sub) => `- \`${usageOf(sub, `${label} ${sub.name}`)}\` — ${sub.description}`,
  );
  if (args.length > 0) {
    throw new SwitchboardError("E_BAD_ARGS", `unknown subcommand ${label} ${args[0]!.slice(0, 20)}`, {
      chatMessage: [`${label} has no subcommand "${args[0]!.slice(0, 20)}". It has:`, ...lines].join("\n"),
    });
  }
  return [`**${label}** — ${node.description}`, ...lines].join("\n");
}
/** A chat seen this long ago is recorded again (its last-seen time refreshed) when it next speaks. */
const SEEN_CHAT_MAX_AGE_MS = 24 * 60 * 60_000;
const noop = (): void => undefined;

type ParsedCommand = { name: string; args: string[]; rawArgs: string };

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function";
}

/** What a job calls back into: the router's private steps, bound once per router. */
interface JobHost {
  /** The bot's shutdown: a signal asked for after it has its reason at once. */
  readonly shutdown: AbortSignal;
  start(job: Job): void;
  finish(job: Job): void;
  fail(job: Job, error: unknown): void;
  reply(inbound: Inbound, reply: ReplyInput): Promise<SentMessage>;
  edit(inbound: Inbound, message: SentMessage, reply: ReplyInput): Promise<void>;
}

const NO_ARGS: string[] = [];

/**
 * One message in the router, from its place in the queue to its answer: the queue's job, the in-flight record
 * (deadline, abort signal), the middleware's route context and a command handler's context, all in one object.
 * Its abort signal, state map and bound `reply`/`edit` are made only when asked for.
 */
class Job implements QueuedJob, RouteContext, CommandContext {
  readonly inbound: Inbound;
  readonly chatKey: string;
  readonly userKey: string;
  readonly queueKey: string;
  role: Role = "guest";
  policy: ChatPolicy | undefined;
  args: string[] = NO_ARGS;
  rawArgs = "";
  /** The command line, parsed once at intake (undefined for conversation). */
  command: ParsedCommand | undefined;
  path: readonly string[] = NO_PATH;
  options: Readonly<Record<string, string | number | boolean>> = NO_OPTIONS;
  kind: "command" | "conversation" | "other" = "other";
  /** Set when the handler's answer was sent for it: counted as a reply when the job finishes. */
  countsReply = false;
  isFinished = false;
  startedMs = 0;
  deadlineMs = Number.POSITIVE_INFINITY;
  /** Called once the job has released its queue (`Router.process` waits for it). */
  onSettled: (() => void) | undefined;
  /** Neighbours in the router's in-flight list. */
  prevLive: Job | undefined;
  nextLive: Job | undefined;
  /** The work settled: made per job, as promise callbacks must be functions. */
  readonly done: () => void;
  readonly failed: (error: unknown) => void;
  readonly #host: JobHost;
  #controller: AbortController | undefined;
  #abortReason: unknown;
  #isAborted = false;
  #state: Map<string, unknown> | undefined;
  #reply: ((reply: ReplyInput) => Promise<SentMessage>) | undefined;
  #edit: ((message: SentMessage, reply: ReplyInput) => Promise<void>) | undefined;

  constructor(
    host: JobHost,
    inbound: Inbound,
    { chatKey, userKey, queueKey }: { chatKey: string; userKey: string; queueKey: string },
  ) {
    this.#host = host;
    this.inbound = inbound;
    this.chatKey = chatKey;
    this.userKey = userKey;
    this.queueKey = queueKey;
    this.done = () => host.finish(this);
    this.failed = (error) => host.fail(this, error);
  }

  start(): void {
    this.#host.start(this);
  }

  /** Aborted when the handler times out or the bot shuts down. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#isAborted) this.#controller.abort(this.#abortReason);
      else if (this.#host.shutdown.aborted) this.#controller.abort(this.#host.shutdown.reason);
    }
    return this.#controller.signal;
  }

  abortSignal(reason: unknown): void {
    this.#isAborted = true;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
  }

  get state(): Map<string, unknown> {
    return (this.#state ??= new Map());
  }

  /** Send a reply where the message came from (stays bound when taken off the object). */
  get reply(): (reply: ReplyInput) => Promise<SentMessage> {
    return (this.#reply ??= (reply) => this.#host.reply(this.inbound, reply));
  }

  get edit(): (message: SentMessage, reply: ReplyInput) => Promise<void> {
    return (this.#edit ??= (message, reply) => this.#host.edit(this.inbound, message, reply));
  }
}

/** The jobs being handled, as a list threaded through them (no set, no allocation per job). */
class InFlightList {
  #head: Job | undefined;

  add(job: Job): void {
    job.prevLive = undefined;
    job.nextLive = this.#head;
    if (this.#head !== undefined) this.#head.prevLive = job;
    this.#head = job;
  }

  delete(job: Job): void {
    if (job.prevLive !== undefined) job.prevLive.nextLive = job.nextLive;
    else if (this.#head === job) this.#head = job.nextLive;
    else return; // not in the list
    if (job.nextLive !== undefined) job.nextLive.prevLive = job.prevLive;
    job.prevLive = undefined;
    job.nextLive = undefined;
  }

  /** The first job in flight that matches (newest first). */
  find(matches: (job: Job) => boolean): Job | undefined {
    for (let job = this.#head; job !== undefined; job = job.nextLive) if (matches(job)) return job;
    return undefined;
  }

  /** The jobs whose deadline is at or before `nowMs`, collected first so the caller may remove them. */
  overdue(nowMs: number): Job[] {
    const out: Job[] = [];
    for (let job = this.#head; job !== undefined; job = job.nextLive) if (job.deadlineMs <= nowMs) out.push(job);
    return out;
  }
}
