/**
 * The conversation router. It knows nothing of platforms. For each inbound message, on accept: count it,
 * refuse oversized text, drop redeliveries (dedupe by delivery id), apply per-user and per-chat rate limits
 * (saying "slow down" once). Then, serially per conversation: load the chat's policy (cached), check access
 * (bots, deny lists, DM policy), run the middleware chain, and dispatch to a command (permission-checked) or
 * the conversation handler, all inside an error boundary that answers the chat with a short, safe message.
 */
import type { Logger } from "pino";
import type { AdapterHub, Clock, ConversationHandler, Metrics, RouterApi } from "../core.ts";
import { parseCommandLine, type CommandContext, type CommandRegistry } from "../commands.ts";
import { SwitchboardError, toSwitchboardError, type ErrorCode } from "../errors.ts";
import { chatKeyOf, toReply, userKeyOf, type Inbound, type ReplyInput, type SentMessage } from "../model.ts";
import { GLOBAL_POLICY_KEY, checkAccess, checkCommand, type ChatPolicy, type Role } from "../permissions.ts";
import { KeyedQueue } from "./chat-queue.ts";
import type { DeliveryCheck } from "./dedupe.ts";
import type { CachedPermissionService } from "./permission-service.ts";
import { TokenBuckets } from "./rate-limit.ts";

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
  };
  /** Record a chat the first time this process sees it (background, tracked). */
  onNewChat?: (inbound: Inbound) => void;
  /** Aborted at shutdown; in-flight handlers see it through their signal. */
  shutdownSignal: AbortSignal;
}

/** The router. Adapters call `handle`; modules plug in with `use` and `setConversationHandler`. */
export class Router implements RouterApi {
  readonly #o: RouterOptions;
  readonly #queue = new KeyedQueue();
  readonly #userBuckets: TokenBuckets;
  readonly #chatBuckets: TokenBuckets;
  readonly #middleware: Middleware[] = [];
  readonly #seenChats = new Set<string>();
  #conversation: ConversationHandler | undefined;
  readonly #inFlight = new Set<InFlight>();
  #sweeper: NodeJS.Timeout | undefined;
  /** Reply and edit for command contexts, made once. */
  readonly #outbound: Outbound = {
    reply: (inbound, reply) => this.#reply(inbound, reply),
    edit: (inbound, message, reply) => this.#edit(inbound, message, reply),
  };

  constructor(options: RouterOptions) {
    this.#o = options;
    this.#userBuckets = new TokenBuckets({ ...options.limits.perUser, clock: options.clock });
    this.#chatBuckets = new TokenBuckets({ ...options.limits.perChat, clock: options.clock });
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
    return this.#queue.drain();
  }

  /** Settles when the message is queued (or refused), or with `wait`, when its work has settled. */
  #accept(inbound: Inbound, wait: boolean): Promise<void> {
    try {
      this.#o.metrics.messageIn(inbound.platform);
      if (inbound.user.isBot === true) return DONE; // never answer bots: no loops between bots
      const first = this.#o.firstDelivery(inbound);
      if (typeof first === "boolean") return first ? this.#admit(inbound, wait) : this.#redelivered(inbound);
      return first.then((isFirst) => (isFirst ? this.#admit(inbound, wait) : this.#redelivered(inbound)));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #redelivered(inbound: Inbound): Promise<void> {
    this.#o.log.debug({ delivery: inbound.deliveryId, chat: chatKeyOf(inbound.platform, inbound.chat.id) }, "redelivery dropped");
    return DONE;
  }

  /** Rate limits, size check, then the conversation's queue. */
  #admit(inbound: Inbound, wait: boolean): Promise<void> {
    const o = this.#o;
    const chatKey = chatKeyOf(inbound.platform, inbound.chat.id);
    const userKey = userKeyOf(inbound.platform, inbound.user.id);
    if (inbound.origin !== "schedule") {
      const nowMs = o.clock.now();
      const byUser = this.#userBuckets.take(userKey, nowMs);
      const byChat = byUser === "ok" ? this.#chatBuckets.take(chatKey, nowMs) : byUser;
      if (byChat !== "ok") {
        o.metrics.error("E_RATE_LIMITED");
        return byChat === "limited-warn" ? this.#safeRespond(inbound, "E_RATE_LIMITED") : DONE;
      }
    }
    if (inbound.text.length > o.limits.maxInboundChars) {
      o.metrics.error("E_MESSAGE_TOO_LONG");
      return this.#safeRespond(inbound, "E_MESSAGE_TOO_LONG",
        `That message is too long (${inbound.text.length} characters; the limit is ${o.limits.maxInboundChars}).`);
    }
    if (o.onNewChat !== undefined && !this.#seenChats.has(chatKey)) {
      this.#seenChats.add(chatKey);
      o.onNewChat(inbound);
    }
    const queueKey = inbound.threadId === undefined ? chatKey : `${chatKey}:${inbound.threadId}`;
    const task = () => this.#run(inbound, chatKey, userKey);
    if (wait) return this.#queue.run(queueKey, task);
    this.#queue.enqueue(queueKey, task); // #run answers its own errors
    const maxInFlight = o.limits.maxInFlight ?? Number.POSITIVE_INFINITY;
    return this.#queue.pending > maxInFlight ? this.#queue.whenBelow(maxInFlight) : DONE;
  }

  /** One message, inside its conversation's queue and its error boundary. */
  async #run(inbound: Inbound, chatKey: string, userKey: string): Promise<void> {
    const o = this.#o;
    const started = performance.now();
    const flight = this.#begin(started);
    let kind: "command" | "conversation" | "other" = "other";
    try {
      const permissions = o.permissions;
      const nowMs = o.clock.now();
      let policy = permissions.peek(chatKey, nowMs);
      if (policy === null) policy = await permissions.policy(chatKey);
      let globalPolicy = permissions.peek(GLOBAL_POLICY_KEY, nowMs);
      if (globalPolicy === null) globalPolicy = await permissions.policy(GLOBAL_POLICY_KEY);
      const access = checkAccess(permissions.settings, policy, globalPolicy, {
        userKey,
        platformRole: inbound.user.platformRole,
        chatKind: inbound.chat.kind,
        isBot: inbound.user.isBot === true,
      });
      const command = inbound.command ?? parseCommandLine(inbound.text);
      if (!access.allowed) {
        o.log.info({ chat: chatKey, user: userKey, code: access.code }, `access denied: ${access.reason}`);
        // Commands get a clear denial; plain chatter from a denied user is ignored rather than answered.
        if (command !== undefined) throw new SwitchboardError(access.code, access.reason);
        return;
      }
      const ctx = new MessageContext(inbound, chatKey, userKey, access.role, policy, flight);
      kind = command === undefined ? "conversation" : "command";
      const work = this.#middleware.length === 0
        ? this.#dispatch(ctx, command)
        : this.#chain(ctx, () => this.#dispatch(ctx, command));
      await flight.bound(work);
    } catch (error) {
      await this.#fail(inbound, chatKey, error);
    } finally {
      this.#end(flight);
      o.metrics.handlerLatency(inbound.platform, kind, (performance.now() - started) / 1000);
    }
  }

  /** The handler's work; what it resolves to (a sent reply, or nothing) is not used. */
  #dispatch(ctx: RouteContext, command: ParsedCommand | undefined): Promise<unknown> {
    return command !== undefined ? this.#command(ctx, command) : this.#converse(ctx);
  }

  /**
   * Register one message's work. Its abort signal is made only if a handler asks for it; one sweeper timer for
   * all messages enforces the handler timeout and shutdown aborts every signal handed out.
   */
  #begin(startedMs: number): InFlight {
    const flight = new InFlight(startedMs + this.#o.limits.handlerTimeoutMs, this.#o.shutdownSignal);
    this.#inFlight.add(flight);
    this.#sweeper ??= this.#startSweeper();
    return flight;
  }

  #end(flight: InFlight): void {
    this.#inFlight.delete(flight);
  }

  #startSweeper(): NodeJS.Timeout {
    const timeoutMs = this.#o.limits.handlerTimeoutMs;
    const timer = setInterval(() => {
      const now = performance.now();
      for (const flight of this.#inFlight) {
        if (flight.deadlineMs <= now) {
          this.#inFlight.delete(flight);
          flight.abort(new SwitchboardError("E_TIMEOUT", `handler exceeded ${timeoutMs} ms`));
        }
      }
    }, Math.max(10, Math.min(1_000, timeoutMs / 4)));
    timer.unref();
    this.#o.shutdownSignal.addEventListener("abort", () => {
      clearInterval(timer);
      for (const flight of this.#inFlight) flight.abort(this.#o.shutdownSignal.reason);
    }, { once: true });
    return timer;
  }

  /** Not async: a command answered synchronously (most built-ins) goes straight to its reply. Throws are the caller's. */
  #command(ctx: RouteContext, parsed: { name: string; args: string[]; rawArgs: string }): Promise<unknown> {
    const o = this.#o;
    const def = o.commands.get(parsed.name);
    if (def === undefined || (def.availableIn !== undefined && !def.availableIn(ctx.chatKey))) {
      const near = o.commands.suggest(parsed.name, ctx.chatKey);
      const hint = near.length === 0 ? " Try /help." : ` Did you mean ${near.map((n) => `/${n}`).join(", ")}?`;
      throw new SwitchboardError("E_UNKNOWN_COMMAND", `unknown command /${parsed.name}`, {
        chatMessage: `I don't know /${parsed.name}.${hint}`,
      });
    }
    const decision = checkCommand(ctx.role, ctx.policy, {
      name: def.name,
      defaultRole: o.permissions.defaultRoleOf(def.name, def.defaultRole),
      skill: def.skill,
    });
    if (!decision.allowed) {
      throw new SwitchboardError(decision.code, decision.reason, {
        chatMessage: decision.code === "E_NO_POLICY"
          ? `/${def.name} is a privileged command and this chat has no policy yet. A bot owner can set one up with /perms.`
          : `You can't run /${def.name} here: it needs the ${decision.required ?? "a higher"} role and you are ${ctx.role}.`,
      });
    }
    const commandCtx = new CommandCall(this.#outbound, ctx, parsed);
    const result = def.handler(commandCtx);
    if (isPromiseLike(result)) {
      return Promise.resolve(result).then((answer) => (answer === undefined ? undefined : this.#reply(ctx.inbound, answer)));
    }
    return result === undefined ? DONE : this.#reply(ctx.inbound, result);
  }

  async #converse(ctx: RouteContext): Promise<void> {
    const handler = this.#conversation;
    const handled = handler === undefined
      ? false
      : await handler(ctx.inbound, { chatKey: ctx.chatKey, userKey: ctx.userKey, role: ctx.role, signal: ctx.signal });
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
    if (adapter !== undefined && adapter.capabilities.edit) await adapter.edit(message, toReply(reply));
    else await this.#reply(inbound, reply);
  }

  async #fail(inbound: Inbound, chatKey: string, error: unknown): Promise<void> {
    const o = this.#o;
    const err = toSwitchboardError(error);
    o.metrics.error(err.code);
    const fields = { chat: chatKey, delivery: inbound.deliveryId, command: inbound.command?.name, code: err.code };
    if (err.code === "E_INTERNAL") o.log.error({ ...fields, err: err.cause ?? err }, "handler failed");
    else o.log.info(fields, err.message);
    await this.#safeRespond(inbound, err.code, err.chatMessage);
  }

  /** Answer with a catalog message; a failure to answer is logged, never thrown. */
  async #safeRespond(inbound: Inbound, code: ErrorCode, text?: string): Promise<void> {
    try {
      await this.#reply(inbound, { text: text ?? new SwitchboardError(code).chatMessage, format: "plain" });
    } catch (error) {
      this.#o.log.warn({ err: error, chat: chatKeyOf(inbound.platform, inbound.chat.id), code }, "could not send error reply");
    }
  }
}

const DONE: Promise<void> = Promise.resolve();
const noop = (): void => undefined;

type ParsedCommand = { name: string; args: string[]; rawArgs: string };

/** The router's reply and edit, for command contexts. */
interface Outbound {
  reply(inbound: Inbound, reply: ReplyInput): Promise<SentMessage>;
  edit(inbound: Inbound, message: SentMessage, reply: ReplyInput): Promise<void>;
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function";
}

/** One message being handled: its deadline, its (lazy) abort signal, and a way to fail it from outside. */
class InFlight {
  readonly deadlineMs: number;
  readonly #shutdown: AbortSignal;
  #controller: AbortController | undefined;
  #fail: ((error: unknown) => void) | undefined;

  constructor(deadlineMs: number, shutdown: AbortSignal) {
    this.deadlineMs = deadlineMs;
    this.#shutdown = shutdown;
  }

  signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#shutdown.aborted) this.#controller.abort(this.#shutdown.reason);
    }
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    this.#controller?.abort(reason);
    this.#fail?.(reason);
  }

  /** The handler's work, failing early if `abort` is called. */
  bound(work: Promise<unknown>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#fail = reject;
      work.then(resolve as (value: unknown) => void, reject); // what the work resolves to is dropped
    });
  }
}

/** The route context of one message; its signal and state map are made only when asked for. */
class MessageContext implements RouteContext {
  readonly inbound: Inbound;
  readonly chatKey: string;
  readonly userKey: string;
  role: Role;
  policy: ChatPolicy | undefined;
  readonly #flight: InFlight;
  #state: Map<string, unknown> | undefined;

  constructor(inbound: Inbound, chatKey: string, userKey: string, role: Role, policy: ChatPolicy | undefined, flight: InFlight) {
    this.inbound = inbound;
    this.chatKey = chatKey;
    this.userKey = userKey;
    this.role = role;
    this.policy = policy;
    this.#flight = flight;
  }

  get signal(): AbortSignal {
    return this.#flight.signal();
  }

  get state(): Map<string, unknown> {
    return (this.#state ??= new Map());
  }
}

/** What a command handler sees; `reply` and `edit` stay bound when taken off the object. */
class CommandCall implements CommandContext {
  inbound: Inbound;
  chatKey: string;
  userKey: string;
  role: Role;
  policy: ChatPolicy | undefined;
  args: string[];
  rawArgs: string;
  readonly #route: RouteContext;
  readonly reply: (reply: ReplyInput) => Promise<SentMessage>;
  readonly edit: (message: SentMessage, reply: ReplyInput) => Promise<void>;

  constructor(outbound: Outbound, route: RouteContext, parsed: ParsedCommand) {
    const inbound = route.inbound;
    this.inbound = inbound;
    this.chatKey = route.chatKey;
    this.userKey = route.userKey;
    this.role = route.role;
    this.policy = route.policy;
    this.args = parsed.args;
    this.rawArgs = parsed.rawArgs;
    this.#route = route;
    this.reply = (reply) => outbound.reply(inbound, reply);
    this.edit = (message, reply) => outbound.edit(inbound, message, reply);
  }

  get signal(): AbortSignal {
    return this.#route.signal;
  }
}
