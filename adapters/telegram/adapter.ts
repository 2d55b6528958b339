/**
 * The Telegram adapter: grammY's Bot as the API client and update dispatcher, long polling (our own loop, so the
 * offset survives reconnects and a deaf poller is restarted) or a webhook on the shared HTTP listener, replies
 * rendered as Telegram HTML, split at 4096 and sent through the outbound limiter, edits throttled per message.
 */
import { timingSafeEqual } from "node:crypto";
import { Api, Bot, HttpError, InputFile, webhookCallback } from "grammy";
import type { Update, UserFromGetMe } from "grammy/types";
import {
  turnClock,
  type AdapterCapabilities,
  type AdapterHealth,
  type Attachment,
  type Clock,
  type ChannelAdapter,
  type CommandInfo,
  type ConversationTarget,
  type Core,
  type HttpMount,
  type HttpRequest,
  type HttpResponse,
  type Inbound,
  type InboundSink,
  type PlatformRole,
  type Reply,
  type SendHooks,
  type SentMessage,
} from "../../bot/index.ts";
import {
  assertFileFits,
  mimeTypeOf,
  remoteAttachment,
  DeafWatchdog,
  EditThrottles,
  HealthTracker,
  OutboundLimiter,
  ReconnectSupervisor,
  type BackoffOptions,
  type OutboundKey,
  type OutboundLimits,
} from "../shared/index.ts";
import { menusFor } from "./commands.ts";
import { isFatalTelegramError, isNotModified, retryAfterMsOf, toTelegramError } from "./errors.ts";
import { normaliseUpdate, type BotIdentity, type NormalisedUpdate, type TelegramFileRef } from "./normalise.ts";
import { keyboardOf, renderTelegram, TELEGRAM_MAX_TEXT } from "./render.ts";
import { RoleCache } from "./roles.ts";

/** Everything the adapter is configured with. */
export interface TelegramAdapterOptions {
  token: string;
  apiRoot: string;
  mode: "polling" | "webhook";
  webhookSecret?: string;
  webhookPath: string;
  webhookUrl?: string;
  pollTimeoutSeconds: number;
  outbound: OutboundLimits;
  editIntervalMs: number;
  roleCacheTtlMs: number;
  maxInboundChars: number;
  /** Share outbound budgets across processes through this Redis. */
  redisUrl?: string;
  /** Known bot identity: skips getMe (benchmarks, tests). */
  botInfo?: UserFromGetMe;
  backoff?: BackoffOptions;
  /** A poll that has not come back after this long means a deaf connection, in ms. Default poll timeout + 15 s. */
  deafAfterMs?: number;
  /** How often the deaf-connection watchdog looks, in ms. Default 5 s (polling), 60 s (webhook). */
  watchdogIntervalMs?: number;
  /** Command menu changes are published after this quiet period, in ms. Default 1 s. */
  commandsDebounceMs?: number;
  /** `getMe` at start (and at each reconnect) is abandoned after this, in ms. Default 10 s. */
  initTimeoutMs?: number;
  /** A `getUpdates` answer whose body has not fully arrived this long after its headers is a stall, in ms. Default 5 s. */
  pollBodyTimeoutMs?: number;
  /** A `getChatMember` look-up is abandoned after this (the speaker then has no platform role), in ms. Default 3 s. */
  roleLookupTimeoutMs?: number;
}

/** The core services the adapter uses. */
export type TelegramDeps = Pick<Core, "log" | "kv" | "commands" | "clock" | "journal">;

/** grammY types its signals with the abort-controller polyfill; the native one works at run time. */
type GrammySignal = NonNullable<Parameters<Bot["init"]>[0]>;
const sig = (signal: AbortSignal): GrammySignal => signal as unknown as GrammySignal;

/** The Bot API's upload limit for `sendDocument` (50 MB), and for `sendPhoto` (10 MB; larger images go as documents). */
const TELEGRAM_MAX_FILE_BYTES = 50 * 1024 * 1024;
const TELEGRAM_MAX_PHOTO_BYTES = 10 * 1024 * 1024;
const PHOTO_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

const ALLOWED_UPDATES = ["message", "channel_post", "callback_query", "message_reaction"] as const;

type SendPayload = Parameters<Bot["api"]["raw"]["sendMessage"]>[0];

/** Where a message goes in its chat, what it answers, and its buttons. */
interface SendOptions {
  threadId: string | undefined;
  replyToMessageId: number | undefined;
  keyboard: ReturnType<typeof keyboardOf>;
}

/** A failed send as the adapter reports it. */
const sendError = (error: unknown): unknown => toTelegramError(error, "send");

/** Replies never unfurl links; one frozen object shared by every payload. */
const NO_LINK_PREVIEW = Object.freeze({ is_disabled: true });

function sentMessage(chatId: string, threadId: string | undefined, messageId: number): SentMessage {
  return threadId === undefined
    ? { platform: "telegram", chatId, messageId: String(messageId) }
    : { platform: "telegram", chatId, messageId: String(messageId), threadId };
}

/** The Telegram `ChannelAdapter`. */
export class TelegramAdapter implements ChannelAdapter {
  readonly platform = "telegram";
  readonly capabilities: AdapterCapabilities = {
    edit: true,
    buttons: true,
    ephemeral: false,
    typing: true,
    maxTextLength: TELEGRAM_MAX_TEXT,
    maxFileBytes: TELEGRAM_MAX_FILE_BYTES,
  };
  /** The grammY bot (its `api` is the Bot API client; transformers may be added to it). */
  readonly bot: Bot;
  /** The client for `getUpdates` alone: the same API, on a fetch that times out a stalled answer body. */
  readonly #pollApi: Api;

  readonly #options: TelegramAdapterOptions;
  readonly #deps: TelegramDeps;
  /** For receipt stamps: read once per event-loop turn. */
  readonly #clock: Clock;
  readonly #health: HealthTracker;
  readonly #limiter: OutboundLimiter;
  readonly #edits: EditThrottles;
  readonly #roles: RoleCache;
  readonly #supervisor: ReconnectSupervisor | undefined;
  readonly #watchdog: DeafWatchdog;
  /** Extra messages a split reply produced, by its first message: edits reuse them. */
  readonly #overflow = new Map<string, number[]>();
  readonly #background = new Set<Promise<unknown>>();
  #sink: InboundSink | undefined;
  #offset = 0;
  #lastPollAt = 0;
  #unsubscribe: (() => void) | undefined;
  #publishTimer: NodeJS.Timeout | undefined;
  #lastPublished = "";
  #webhookHandler: ((req: HttpRequest) => Promise<HttpResponse>) | undefined;
  #me: BotIdentity | undefined;

  constructor(options: TelegramAdapterOptions, deps: TelegramDeps) {
    this.#options = options;
    this.#deps = deps;
    this.#clock = turnClock(deps.clock);
    this.bot = new Bot(options.token, {
      // Every Bot API call times out (long polls get their own, longer signal).
      client: {
        apiRoot: options.apiRoot.replace(/\/+$/, ""),
        timeoutSeconds: Math.max(30, options.pollTimeoutSeconds + 20),
      },
      ...(options.botInfo === undefined ? {} : { botInfo: options.botInfo }),
    });
    this.bot.use((ctx) => this.#onUpdate(ctx.update));
    this.#health = new HealthTracker("telegram", deps.clock);
    this.#health.setMode(options.mode);
    // Every Bot API call tells health whether the API can be reached at all (replies can go out).
    this.bot.api.config.use(async (prev, method, ...rest) => {
      try {
        return await prev(method, ...rest);
      } catch (error) {
        if (error instanceof HttpError) this.#health.markApiUnreachable(`${method}: ${error.message}`);
        throw error;
      }
    });
    this.#pollApi = new Api(options.token, {
      apiRoot: options.apiRoot.replace(/\/+$/, ""),
      timeoutSeconds: options.pollTimeoutSeconds + 15,
      fetch: stallAwareFetch(options.pollBodyTimeoutMs ?? 5_000) as never,
    });
    this.#limiter = new OutboundLimiter({
      id: `switchboard:telegram:${options.token.split(":")[0] ?? "bot"}`,
      limits: options.outbound,
      ...(options.redisUrl === undefined ? {} : { redisUrl: options.redisUrl }),
      retryAfterMsOf,
      onRetry: (info) =>
        deps.log.warn(
          { platform: "telegram", chat: info.key, attempt: info.attempt, retryAfterMs: info.retryAfterMs },
          "telegram asked to retry later",
        ),
      onError: (error) => deps.log.warn({ err: error, platform: "telegram" }, "outbound limiter error"),
    });
    this.#edits = new EditThrottles(options.editIntervalMs);
    this.#roles = new RoleCache({
      ttlMs: options.roleCacheTtlMs,
      kv: deps.kv,
      now: () => deps.clock.now(),
      fetchStatus: async (chatId, userId) => {
        const member = await this.bot.api.getChatMember(
          chatId,
          Number(userId),
          sig(AbortSignal.timeout(options.roleLookupTimeoutMs ?? 3_000)),
        );
        this.#health.markApiOk();
        return member.status;
      },
      onError: (error, chatId, userId) =>
        deps.log.debug({ err: error, chat: chatId, user: userId }, "getChatMember failed; no platform role"),
    });
    if (options.mode === "polling") {
      this.#supervisor = new ReconnectSupervisor({
        name: "telegram polling",
        health: this.#health,
        runSession: (signal, markUp) => this.#pollSession(signal, markUp),
        isFatal: isFatalTelegramError,
        ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
        log: deps.log,
      });
    }
    const deafAfterMs = options.deafAfterMs ?? (options.pollTimeoutSeconds + 15) * 1000;
    this.#watchdog = new DeafWatchdog({
      intervalMs: options.watchdogIntervalMs ?? (options.mode === "polling" ? 5_000 : 15_000),
      check: () => (options.mode === "polling" ? this.#pollerDeaf(deafAfterMs) : this.#webhookDeaf()),
      onDeaf: (reason) => {
        this.#deps.log.warn({ platform: "telegram", reason }, "deaf connection detected");
        if (this.#supervisor !== undefined) this.#supervisor.restart(reason);
        else
          this.#track(
            this.#registerWebhook().catch((error: unknown) =>
              this.#deps.log.warn({ err: error }, "webhook re-registration failed"),
            ),
          );
      },
      onError: (error) => deps.log.debug({ err: error }, "telegram watchdog check failed"),
    });
  }

  /** Restart the polling connection now (what the watchdog does for a deaf poller). */
  restartPolling(reason: string): void {
    this.#supervisor?.restart(reason);
  }

  recover(reason: string): void {
    this.#deps.log.warn({ platform: "telegram", reason }, "restarting the telegram connection after a fault");
    this.#supervisor?.restart(reason);
  }

  /**
   * Who the bot is (`getMe`), with our own timeout: grammY's `init` retries network failures forever by itself,
   * which would hide an unreachable API from the supervisor and from the log.
   */
  async #init(signal: AbortSignal | undefined): Promise<void> {
    if (this.#options.botInfo !== undefined) {
      this.bot.botInfo = this.#options.botInfo;
      return;
    }
    const timeoutMs = this.#options.initTimeoutMs ?? 10_000;
    const timeout = AbortSignal.timeout(timeoutMs);
    const me = await this.bot.api.getMe(sig(signal === undefined ? timeout : AbortSignal.any([signal, timeout])));
    this.bot.botInfo = me;
    this.#health.markApiOk();
  }

  /** The watchdog, so callers (and tests) can run a check at once. */
  get watchdog(): DeafWatchdog {
    return this.#watchdog;
  }

  async start(sink: InboundSink): Promise<void> {
    this.#sink = sink;
    this.#deps.journal?.attach("telegram", (entry) => this.#revive(entry.payload as Update));
    this.#unsubscribe = this.#deps.commands.onChange(() => this.#schedulePublish());
    if (this.#supervisor !== undefined) {
      await this.#supervisor.start();
    } else {
      if (this.#options.webhookSecret === undefined) {
        this.#health.setState("down", "webhook mode needs adapters.telegram.webhookSecret");
        throw toTelegramError(new Error("webhook mode needs adapters.telegram.webhookSecret"), "start");
      }
      try {
        await this.#init(undefined);
        await this.#registerWebhook();
      } catch (error) {
        this.#health.setState("down", error instanceof Error ? error.message : String(error));
        throw toTelegramError(error, "start");
      }
      this.#health.setState("up");
    }
    this.#watchdog.start();
  }

  async stop(): Promise<void> {
    this.#watchdog.stop();
    this.#unsubscribe?.();
    if (this.#publishTimer !== undefined) clearTimeout(this.#publishTimer);
    await this.#supervisor?.stop();
    await Promise.allSettled([...this.#background]);
    await this.#limiter.stop();
    this.#edits.cancelAll();
    this.#health.setState("down");
    this.#deps.journal?.detach("telegram");
    this.#sink = undefined;
  }

  health(): AdapterHealth {
    return this.#health.snapshot();
  }

  async send(target: ConversationTarget, reply: Reply, hooks?: SendHooks): Promise<SentMessage> {
    return this.#send(target.chatId, reply, { threadId: target.threadId, hooks });
  }

  async edit(message: SentMessage, reply: Reply): Promise<void> {
    const key = `${message.chatId}:${message.messageId}`;
    try {
      await this.#edits.edit(key, JSON.stringify([reply.text, reply.format ?? "markdown", reply.buttons ?? null]), () =>
        this.#applyEdit(message, reply),
      );
    } catch (error) {
      throw toTelegramError(error, "edit");
    }
  }

  async registerCommands(commands: CommandInfo[]): Promise<void> {
    const menus = menusFor(commands, this.#deps.commands);
    const fingerprint = JSON.stringify(menus);
    if (fingerprint === this.#lastPublished) return;
    try {
      for (const menu of menus) {
        await this.bot.api.setMyCommands(menu.commands, { scope: menu.scope });
      }
      this.#health.markApiOk();
      this.#lastPublished = fingerprint;
    } catch (error) {
      throw toTelegramError(error, "setMyCommands");
    }
  }

  platformRoleOf(chatId: string, userId: string): Promise<PlatformRole | undefined> {
    return this.#roles.roleOf(chatId, userId);
  }

  mount(http: HttpMount): void {
    if (this.#options.mode !== "webhook") return;
    http.route("POST", this.#options.webhookPath, (req) => this.#onWebhook(req));
  }

  // --- inbound ---------------------------------------------------------------------------------------------

  /** One update from grammY's middleware. Not async: the usual update goes to the router without extra hops. */
  #onUpdate(update: Update): Promise<void> | undefined {
    this.#health.markInbound();
    if (this.#sink === undefined) return undefined;
    const inbound = this.#revive(update);
    return inbound === undefined ? undefined : this.#deliver(inbound);
  }

  /**
   * Updates as `getUpdates` or the webhook gave them: written to the inbound journal first (when there is one),
   * then to the router. Resolves when they are journaled and the router accepted them.
   */
  intakeUpdates(updates: Update[]): Promise<void> {
    const journal = this.#deps.journal;
    if (journal === undefined) return this.#dispatchAll(updates);
    this.#health.markInbound();
    return journal.intake(
      "telegram",
      updates.map((update) => ({ deliveryId: String(update.update_id), payload: update, sequence: update.update_id })),
    );
  }

  async #dispatchAll(updates: Update[]): Promise<void> {
    for (const update of updates) await this.#dispatch(update);
  }

  /** An update → its `Inbound` with `respond` bound, or undefined when the router has nothing to see in it. */
  #revive(update: Update): Inbound | undefined {
    const nowMs = this.#clock.now();
    const normalised = normaliseUpdate(update, this.#identity(), nowMs);
    if ("skip" in normalised) {
      this.#deps.log.debug(
        { platform: "telegram", updateId: (update as { update_id?: unknown })?.update_id, reason: normalised.skip },
        "update skipped",
      );
      return undefined;
    }
    if (normalised.callbackQueryId !== undefined) {
      this.#track(
        this.#limiter
          .run({ chatId: normalised.inbound.chat.id, isEdit: true }, (signal) =>
            this.bot.api.answerCallbackQuery(normalised.callbackQueryId!, undefined, sig(signal)),
          )
          .catch(() => undefined),
      );
    }
    const inbound = this.#complete(normalised, undefined);
    if (normalised.files !== undefined) inbound.attachments = normalised.files.map((f) => this.#attachment(f));
    if (normalised.needsRole) {
      // Looked up in the conversation's turn (the router calls it), never here: the poll loop does not wait.
      const { chat, user } = inbound;
      inbound.resolvePlatformRole = () => this.#roles.roleOf(chat.id, user.id);
    }
    return inbound;
  }

  /** A file on a message, read through `getFile` and the Bot API's file download URL (only ever on its origin). */
  #attachment(ref: TelegramFileRef): Attachment {
    const root = this.#options.apiRoot.replace(/\/+$/, "");
    return remoteAttachment({
      name: ref.name,
      mimeType: ref.mimeType,
      size: ref.size,
      allowedOrigins: [new URL(root).origin],
      url: async () => {
        const file = await this.bot.api.getFile(ref.fileId);
        if (typeof file.file_path !== "string") throw new Error("getFile gave no file_path");
        return `${root}/file/bot${this.#options.token}/${file.file_path.replace(/^\/+/, "")}`;
      },
    });
  }

  #identity(): BotIdentity {
    const me = this.bot.botInfo;
    if (this.#me?.id !== me.id || this.#me.username !== me.username) this.#me = { id: me.id, username: me.username };
    return this.#me;
  }

  #deliver(inbound: Inbound): Promise<void> | undefined {
    const sink = this.#sink;
    // Oversized messages go to the router too: it refuses them after the inbound rate limit, without waiting.
    return sink === undefined ? undefined : sink(inbound);
  }

  #complete(normalised: NormalisedUpdate, platformRole: PlatformRole | undefined): Inbound {
    const inbound = normalised.inbound as Inbound;
    if (platformRole !== undefined) inbound.user.platformRole = platformRole;
    const chatId = inbound.chat.id;
    const threadId = inbound.threadId;
    const replyTo = inbound.chat.kind === "group" ? normalised.messageId : undefined;
    inbound.respond = (reply, hooks) => this.#send(chatId, reply, { threadId, replyToMessageId: replyTo, hooks });
    inbound.typing = async () => {
      await this.#limiter.run({ chatId, isEdit: true }, (signal) =>
        this.bot.api.sendChatAction(
          chatId,
          "typing",
          threadId === undefined ? {} : { message_thread_id: Number(threadId) },
          sig(signal),
        ),
      );
    };
    return inbound;
  }

  async #pollSession(signal: AbortSignal, markUp: () => void): Promise<void> {
    await this.#init(signal);
    await this.bot.api.deleteWebhook({ drop_pending_updates: false }, sig(signal));
    this.#health.markApiOk();
    this.#lastPollAt = this.#deps.clock.now();
    markUp();
    const timeout = this.#options.pollTimeoutSeconds;
    while (!signal.aborted) {
      const pollSignal = AbortSignal.any([signal, AbortSignal.timeout((timeout + 15) * 1000)]);
      const updates = await this.#pollApi.getUpdates(
        { offset: this.#offset, timeout, limit: 100, allowed_updates: [...ALLOWED_UPDATES] },
        sig(pollSignal),
      );
      this.#lastPollAt = this.#deps.clock.now();
      this.#health.markApiOk();
      if (this.#deps.journal !== undefined) {
        const fresh = updates.filter((u) => typeof u?.update_id === "number" && u.update_id >= this.#offset);
        if (fresh.length === 0 || signal.aborted) continue;
        // The offset (which confirms them to Telegram at the next poll) moves only past journaled updates.
        await this.intakeUpdates(fresh);
        this.#offset = fresh[fresh.length - 1]!.update_id + 1;
        continue;
      }
      for (const update of updates) {
        if (signal.aborted) return; // a newer session re-reads from the same offset
        if (typeof update?.update_id !== "number") continue;
        if (update.update_id < this.#offset) continue; // already handled
        await this.#dispatch(update);
        this.#offset = update.update_id + 1;
      }
    }
  }

  async #dispatch(update: Update): Promise<void> {
    try {
      await this.bot.handleUpdate(update);
    } catch (error) {
      // One bad update must not stop the others: log it and move on.
      this.#deps.log.warn({ err: error, platform: "telegram", updateId: update.update_id }, "update handling failed");
    }
  }

  #pollerDeaf(deafAfterMs: number): string | undefined {
    if (this.#health.state !== "up") return undefined;
    const silentMs = this.#deps.clock.now() - this.#lastPollAt;
    return silentMs > deafAfterMs ? `no getUpdates answer for ${silentMs} ms` : undefined;
  }

  async #webhookDeaf(): Promise<string | undefined> {
    if (this.#health.state !== "up") return undefined;
    // Also the periodic sign that the API can be reached (replies can go out) while no update arrives.
    const info = await this.bot.api.getWebhookInfo();
    this.#health.markApiOk();
    if (this.#options.webhookUrl === undefined) return undefined;
    const lastInboundAt = this.#health.lastInboundAt ?? this.#deps.clock.now() - 120_000;
    if (info.pending_update_count > 0 && this.#deps.clock.now() - lastInboundAt > 60_000) {
      return `webhook has ${info.pending_update_count} pending updates but nothing arrived for a minute${info.last_error_message === undefined ? "" : ` (${info.last_error_message})`}`;
    }
    return undefined;
  }

  async #registerWebhook(): Promise<void> {
    if (this.#options.webhookUrl === undefined) return;
    await this.bot.api.setWebhook(this.#options.webhookUrl, {
      secret_token: this.#options.webhookSecret!,
      allowed_updates: [...ALLOWED_UPDATES],
    });
    this.#health.markApiOk();
  }

  async #onWebhook(req: HttpRequest): Promise<HttpResponse> {
    if (this.#sink === undefined) return { status: 503, body: "not started" };
    if (this.#deps.journal !== undefined) return this.#onJournaledWebhook(req);
    this.#webhookHandler ??= webhookCallback(
      this.bot,
      (request: HttpRequest) => {
        let response: HttpResponse = { status: 200 };
        const header = request.headers["x-telegram-bot-api-secret-token"];
        return {
          get update(): Update {
            return JSON.parse(request.rawBody.toString("utf8")) as Update;
          },
          header: Array.isArray(header) ? header[0] : header,
          end: () => {
            response = { status: 200 };
          },
          respond: (json: string) => {
            response = { status: 200, headers: { "content-type": "application/json" }, body: json };
          },
          unauthorized: () => {
            response = { status: 401, body: "unauthorized" };
          },
          get handlerReturn(): Promise<HttpResponse> {
            return Promise.resolve(response);
          },
        };
      },
      { secretToken: this.#options.webhookSecret!, timeoutMilliseconds: 9_000, onTimeout: "return" },
    ) as (req: HttpRequest) => Promise<HttpResponse>;
    try {
      return await this.#webhookHandler(req);
    } catch (error) {
      if (error instanceof SyntaxError) return { status: 400, body: "malformed update" };
      this.#deps.log.warn({ err: error, platform: "telegram" }, "webhook update failed");
      return { status: 200 }; // a redelivery would fail the same way
    }
  }

  /** A webhook update, journaled before Telegram gets its 200 (a store that cannot write gets a 503: it retries). */
  async #onJournaledWebhook(req: HttpRequest): Promise<HttpResponse> {
    const header = req.headers["x-telegram-bot-api-secret-token"];
    const given = Buffer.from(String(Array.isArray(header) ? header[0] : (header ?? "")));
    const secret = Buffer.from(this.#options.webhookSecret!);
    if (given.length !== secret.length || !timingSafeEqual(given, secret)) return { status: 401, body: "unauthorized" };
    let update: Update;
    try {
      update = JSON.parse(req.rawBody.toString("utf8")) as Update;
    } catch {
      return { status: 400, body: "malformed update" };
    }
    if (typeof update?.update_id !== "number") return { status: 200 }; // not an update: nothing to redeliver
    try {
      await this.intakeUpdates([update]);
    } catch (error) {
      this.#deps.log.warn({ err: error, platform: "telegram" }, "could not journal a webhook update; Telegram retries");
      return { status: 503, body: "try again" };
    }
    return { status: 200 };
  }

  // --- outbound --------------------------------------------------------------------------------------------

  /** Render and send a reply. Not async: a reply that fits one message (most) is one limiter call and one `then`. */
  #send(
    chatId: string,
    reply: Reply,
    {
      threadId,
      replyToMessageId,
      hooks,
    }: { threadId: string | undefined; replyToMessageId?: number | undefined; hooks?: SendHooks | undefined },
  ): Promise<SentMessage> {
    if (reply.file !== undefined) return this.#sendWithFile(chatId, reply, { threadId, replyToMessageId, hooks });
    let pieces: string[];
    let keyboard: ReturnType<typeof keyboardOf>;
    try {
      pieces = renderTelegram(reply);
      keyboard = keyboardOf(reply);
    } catch (error) {
      return Promise.reject(toTelegramError(error, "render"));
    }
    const key = { chatId, isGroup: chatId.startsWith("-") };
    if (pieces.length > 1) return this.#sendPieces(key, pieces, { threadId, keyboard, replyToMessageId, hooks });
    const text = pieces[0]!;
    const payload = this.#sendPayload(chatId, text, { threadId, replyToMessageId, keyboard });
    const beforeSend = hooks?.beforeSend;
    const call =
      beforeSend === undefined
        ? (signal: AbortSignal) => this.bot.api.raw.sendMessage(payload, sig(signal))
        : (signal: AbortSignal) => afterHook(beforeSend, () => this.bot.api.raw.sendMessage(payload, sig(signal)));
    return this.#limiter.run(key, call, {
      onValue: (message) => {
        this.#health.markApiOk();
        return sentMessage(chatId, threadId, message.message_id);
      },
      onError: sendError,
    });
  }

  /**
   * A reply with a file: checked against the upload limit before anything is sent, then its text (if any) as
   * usual, then the file (`sendPhoto` for a common image within 10 MB, else `sendDocument`). The reply is marked
   * sent before its first call; the text's message is the one returned, or the file's when there is no text.
   */
  async #sendWithFile(
    chatId: string,
    reply: Reply,
    {
      threadId,
      replyToMessageId,
      hooks,
    }: { threadId: string | undefined; replyToMessageId?: number | undefined; hooks?: SendHooks | undefined },
  ): Promise<SentMessage> {
    const { file, ...text } = reply;
    assertFileFits(file!, { maxBytes: TELEGRAM_MAX_FILE_BYTES, platform: "Telegram" });
    const first =
      text.text.trim() === "" ? undefined : await this.#send(chatId, text, { threadId, replyToMessageId, hooks });
    const mimeType = mimeTypeOf(file!);
    const isPhoto = PHOTO_TYPES.has(mimeType) && file!.data.byteLength <= TELEGRAM_MAX_PHOTO_BYTES;
    const other = {
      ...(threadId === undefined ? {} : { message_thread_id: Number(threadId) }),
      ...(first !== undefined || replyToMessageId === undefined
        ? {}
        : { reply_parameters: { message_id: replyToMessageId, allow_sending_without_reply: true } }),
    };
    const beforeSend = first === undefined ? hooks?.beforeSend : undefined;
    const key = { chatId, isGroup: chatId.startsWith("-") };
    try {
      const message = await this.#limiter.run(key, (signal) => {
        const upload = new InputFile(file!.data, file!.name);
        const call = (): Promise<{ message_id: number }> =>
          isPhoto
            ? this.bot.api.sendPhoto(chatId, upload, other, sig(signal))
            : this.bot.api.sendDocument(chatId, upload, other, sig(signal));
        return beforeSend === undefined ? call() : afterHook(beforeSend, call);
      });
      this.#health.markApiOk();
      return first ?? sentMessage(chatId, threadId, message.message_id);
    } catch (error) {
      throw toTelegramError(error, "send");
    }
  }

  /** A reply split into several messages, sent in order; edits reuse the extra messages. */
  async #sendPieces(
    key: OutboundKey,
    pieces: string[],
    { threadId, keyboard, replyToMessageId, hooks }: SendOptions & { hooks: SendHooks | undefined },
  ): Promise<SentMessage> {
    const chatId = key.chatId;
    let first = 0;
    const extras: number[] = [];
    try {
      for (let i = 0; i < pieces.length; i++) {
        const text = pieces[i]!;
        const payload = this.#sendPayload(chatId, text, {
          threadId,
          replyToMessageId: i === 0 ? replyToMessageId : undefined,
          keyboard: i === pieces.length - 1 ? keyboard : undefined,
        });
        // The reply is marked sent once, before its first piece: a crash mid-way loses the rest, never repeats it.
        const beforeSend = i === 0 ? hooks?.beforeSend : undefined;
        const message = await this.#limiter.run(key, (signal) =>
          beforeSend === undefined
            ? this.bot.api.raw.sendMessage(payload, sig(signal))
            : afterHook(beforeSend, () => this.bot.api.raw.sendMessage(payload, sig(signal))),
        );
        this.#health.markApiOk();
        if (i === 0) first = message.message_id;
        else extras.push(message.message_id);
      }
    } catch (error) {
      throw toTelegramError(error, "send");
    }
    this.#remember(`${chatId}:${first}`, extras);
    return sentMessage(chatId, threadId, first);
  }

  /** The `sendMessage` payload, built whole (the raw API call takes it as it is). */
  #sendPayload(chatId: string, text: string, { threadId, replyToMessageId, keyboard }: SendOptions): SendPayload {
    const payload: SendPayload = { chat_id: chatId, text, parse_mode: "HTML", link_preview_options: NO_LINK_PREVIEW };
    if (threadId !== undefined) payload.message_thread_id = Number(threadId);
    if (replyToMessageId !== undefined)
      payload.reply_parameters = { message_id: replyToMessageId, allow_sending_without_reply: true };
    if (keyboard !== undefined) payload.reply_markup = keyboard;
    return payload;
  }

  async #applyEdit(message: SentMessage, reply: Reply): Promise<void> {
    const pieces = renderTelegram(reply);
    const keyboard = keyboardOf(reply);
    const key = `${message.chatId}:${message.messageId}`;
    const extras = this.#overflow.get(key) ?? [];
    const ids = [Number(message.messageId), ...extras];
    for (const [i, text] of pieces.entries()) {
      const isLast = i === pieces.length - 1;
      const markup = isLast && keyboard !== undefined ? { reply_markup: keyboard } : {};
      if (i < ids.length) {
        try {
          await this.#limiter.run({ chatId: message.chatId, isEdit: true }, (signal) =>
            this.bot.api.editMessageText(
              message.chatId,
              ids[i]!,
              text,
              { parse_mode: "HTML", link_preview_options: { is_disabled: true }, ...markup },
              sig(signal),
            ),
          );
          this.#health.markApiOk();
        } catch (error) {
          if (!isNotModified(error)) throw error;
        }
      } else {
        const sent = await this.#limiter.run(
          { chatId: message.chatId, isGroup: message.chatId.startsWith("-") },
          (signal) =>
            this.bot.api.sendMessage(
              message.chatId,
              text,
              {
                parse_mode: "HTML",
                link_preview_options: { is_disabled: true },
                ...markup,
                ...(message.threadId === undefined ? {} : { message_thread_id: Number(message.threadId) }),
              },
              sig(signal),
            ),
        );
        this.#health.markApiOk();
        extras.push(sent.message_id);
        this.#remember(key, extras);
      }
    }
  }

  #remember(key: string, extras: number[]): void {
    this.#overflow.delete(key);
    this.#overflow.set(key, extras);
    if (this.#overflow.size > 1_000) this.#overflow.delete(this.#overflow.keys().next().value!);
  }

  #schedulePublish(): void {
    if (this.#publishTimer !== undefined) clearTimeout(this.#publishTimer);
    this.#publishTimer = setTimeout(() => {
      this.#publishTimer = undefined;
      this.#track(
        this.registerCommands(this.#deps.commands.infos()).catch((error: unknown) =>
          this.#deps.log.warn({ err: error, platform: "telegram" }, "could not re-publish commands"),
        ),
      );
    }, this.#options.commandsDebounceMs ?? 1_000);
    this.#publishTimer.unref();
  }

  #track(promise: Promise<unknown>): void {
    const settled = promise.then(
      () => undefined,
      (error: unknown) => {
        this.#deps.log.warn({ err: error, platform: "telegram" }, "background work failed");
      },
    );
    this.#background.add(settled);
    void settled.then(() => this.#background.delete(settled));
  }
}

/** Run `hook`, then `call`: at once when the hook is synchronous, after it when it returns a promise. */
function afterHook<T>(hook: () => void | Promise<void>, call: () => Promise<T>): Promise<T> {
  const done = hook();
  return done === undefined ? call() : done.then(call);
}

/**
 * A fetch for `getUpdates` whose answer body must arrive within `bodyTimeoutMs` of its headers. A long poll
 * waits before its headers, never after them, so a body that stops halfway (a cut connection with a
 * `Content-Length` still owed) is a stall, detected in seconds instead of at the poll's whole timeout.
 */
function stallAwareFetch(bodyTimeoutMs: number): typeof fetch {
  return async (url, init) => {
    // grammY hands in its polyfilled signal, which native fetch does not take: follow it with a native one.
    const controller = new AbortController();
    const outer = init?.signal as { aborted: boolean; addEventListener(type: "abort", fn: () => void): void } | null;
    if (outer?.aborted === true) controller.abort(new Error("aborted"));
    else outer?.addEventListener("abort", () => controller.abort(new Error("aborted")));
    const {
      agent: _agent,
      compress: _compress,
      signal: _signal,
      ...rest
    } = (init ?? {}) as RequestInit & {
      agent?: unknown;
      compress?: unknown;
    };
    const headers = new Headers(rest.headers);
    headers.delete("connection");
    const res = await fetch(url, { ...rest, headers, signal: controller.signal });
    const readJson = res.json.bind(res);
    Object.defineProperty(res, "json", {
      value: () => {
        const timer = setTimeout(
          () =>
            controller.abort(
              new Error(`getUpdates answer stalled: body not complete ${bodyTimeoutMs} ms after its headers`),
            ),
          bodyTimeoutMs,
        );
        return readJson().finally(() => clearTimeout(timer));
      },
    });
    return res;
  };
}
