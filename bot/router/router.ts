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
  /** True the first time a delivery id is seen within the dedupe window. */
  firstDelivery: (deliveryId: string) => Promise<boolean> | boolean;
  limits: {
    perUser: { burst: number; perMinute: number };
    perChat: { burst: number; perMinute: number };
    maxInboundChars: number;
    handlerTimeoutMs: number;
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

  /** Accept a message: resolves once it is queued (or refused), not when it is answered. */
  async handle(inbound: Inbound): Promise<void> {
    await this.#accept(inbound);
  }

  /** Accept a message and wait until it has been answered. */
  async process(inbound: Inbound): Promise<void> {
    const accepted = await this.#accept(inbound);
    await accepted.work;
  }

  drain(): Promise<void> {
    return this.#queue.drain();
  }

  /** Returns the queued work, boxed so awaiting acceptance does not wait for it (settled when refused). */
  async #accept(inbound: Inbound): Promise<{ work: Promise<void> }> {
    const o = this.#o;
    o.metrics.messageIn(inbound.platform);
    const chatKey = chatKeyOf(inbound.platform, inbound.chat.id);
    const userKey = userKeyOf(inbound.platform, inbound.user.id);
    if (inbound.user.isBot === true) return { work: DONE }; // never answer bots: no loops between bots
    if (!(await o.firstDelivery(inbound.deliveryId))) {
      o.log.debug({ delivery: inbound.deliveryId, chat: chatKey }, "redelivery dropped");
      return { work: DONE };
    }
    if (inbound.origin !== "schedule") {
      const byUser = this.#userBuckets.take(userKey);
      const byChat = byUser === "ok" ? this.#chatBuckets.take(chatKey) : byUser;
      if (byChat !== "ok") {
        o.metrics.error("E_RATE_LIMITED");
        if (byChat === "limited-warn") await this.#safeRespond(inbound, "E_RATE_LIMITED");
        return { work: DONE };
      }
    }
    if (inbound.text.length > o.limits.maxInboundChars) {
      o.metrics.error("E_MESSAGE_TOO_LONG");
      await this.#safeRespond(inbound, "E_MESSAGE_TOO_LONG",
        `That message is too long (${inbound.text.length} characters; the limit is ${o.limits.maxInboundChars}).`);
      return { work: DONE };
    }
    if (o.onNewChat !== undefined && !this.#seenChats.has(chatKey)) {
      this.#seenChats.add(chatKey);
      o.onNewChat(inbound);
    }
    const queueKey = inbound.threadId === undefined ? chatKey : `${chatKey}:${inbound.threadId}`;
    return { work: this.#queue.run(queueKey, () => this.#run(inbound, chatKey, userKey)) };
  }

  /** One message, inside its conversation's queue and its error boundary. */
  async #run(inbound: Inbound, chatKey: string, userKey: string): Promise<void> {
    const o = this.#o;
    const started = performance.now();
    const flight = this.#begin(started);
    let kind: "command" | "conversation" | "other" = "other";
    try {
      const policy = o.permissions.peek(chatKey) ?? (await o.permissions.policy(chatKey));
      const globalPolicy = o.permissions.peek(GLOBAL_POLICY_KEY) ?? (await o.permissions.policy(GLOBAL_POLICY_KEY));
      const access = checkAccess(o.permissions.settings, policy, globalPolicy, {
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
      let state: Map<string, unknown> | undefined;
      const ctx: RouteContext = {
        inbound, chatKey, userKey, role: access.role, policy,
        get signal() { return flight.signal(); },
        get state() { return (state ??= new Map()); },
      };
      kind = command === undefined ? "conversation" : "command";
      const dispatch = async () => {
        if (command !== undefined) await this.#command(ctx, command);
        else await this.#converse(ctx);
      };
      await flight.bound(this.#middleware.length === 0 ? dispatch() : this.#chain(ctx, dispatch));
    } catch (error) {
      await this.#fail(inbound, chatKey, error);
    } finally {
      this.#inFlight.delete(flight);
      o.metrics.handlerLatency(inbound.platform, kind, (performance.now() - started) / 1000);
    }
  }

  /**
   * Register one message's work. Its abort signal is made only if a handler asks for it; one sweeper timer for
   * all messages enforces the handler timeout and shutdown aborts every signal handed out.
   */
  #begin(startedMs: number): InFlight {
    let controller: AbortController | undefined;
    let fail: ((error: unknown) => void) | undefined;
    const shutdown = this.#o.shutdownSignal;
    const flight: InFlight = {
      deadlineMs: startedMs + this.#o.limits.handlerTimeoutMs,
      signal: () => {
        if (controller === undefined) {
          controller = new AbortController();
          if (shutdown.aborted) controller.abort(shutdown.reason);
        }
        return controller.signal;
      },
      abort: (reason) => {
        controller?.abort(reason);
        fail?.(reason);
      },
      bound: (work) => new Promise<void>((resolve, reject) => {
        fail = reject;
        work.then(resolve, reject);
      }),
    };
    this.#inFlight.add(flight);
    this.#sweeper ??= this.#startSweeper();
    return flight;
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

  async #command(ctx: RouteContext, parsed: { name: string; args: string[]; rawArgs: string }): Promise<void> {
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
    const commandCtx: CommandContext = {
      inbound: ctx.inbound,
      chatKey: ctx.chatKey,
      userKey: ctx.userKey,
      role: ctx.role,
      policy: ctx.policy,
      args: parsed.args,
      rawArgs: parsed.rawArgs,
      get signal() { return ctx.signal; },
      reply: (reply) => this.#reply(ctx.inbound, reply),
      edit: (message, reply) => this.#edit(ctx.inbound, message, reply),
    };
    const result = await def.handler(commandCtx);
    if (result !== undefined) await commandCtx.reply(result);
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

  #chain(ctx: RouteContext, last: () => Promise<void>): Promise<void> {
    const stack = this.#middleware;
    const step = (i: number): Promise<void> => {
      if (i === stack.length) return last();
      let called = false;
      return stack[i]!(ctx, () => {
        if (called) return Promise.reject(new Error("next() called twice in router middleware"));
        called = true;
        return step(i + 1);
      });
    };
    return step(0);
  }

  async #reply(inbound: Inbound, reply: ReplyInput): Promise<SentMessage> {
    const sent = await inbound.respond(toReply(reply));
    this.#o.metrics.messageOut(inbound.platform);
    return sent;
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

/** One message being handled: its deadline, its (lazy) abort signal, and a way to fail it from outside. */
interface InFlight {
  deadlineMs: number;
  signal(): AbortSignal;
  abort(reason: unknown): void;
  /** The handler's work, failing early if `abort` is called. */
  bound(work: Promise<void>): Promise<void>;
}
