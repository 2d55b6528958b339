/**
 * The Slack adapter: Bolt (`@slack/bolt`) receives over HTTP (on the shared listener) or Socket Mode; slash
 * commands, mentions, DMs and button clicks become `Inbound`s; replies are rendered as mrkdwn, split, sent
 * through the outbound limiter (per channel and global, 429 Retry-After honoured) and edited with throttling.
 */
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import type { App, LogLevel, Logger as BoltLogger } from "@slack/bolt";
import * as webApi from "@slack/web-api";
import type { Logger } from "pino";
import { isSwitchboardError, turnClock } from "../../bot/index.ts";
import type {
  AdapterCapabilities,
  AdapterHealth,
  ChannelAdapter,
  CommandInfo,
  ConversationTarget,
  HttpMount,
  Inbound,
  InboundSink,
  PlatformRole,
  Reply,
  SendHooks,
  SentMessage,
} from "../../bot/index.ts";
import type { SlackServices } from "./needs.ts";
import {
  EditThrottles,
  HealthTracker,
  OutboundLimiter,
  backoffDelayMs,
  parseRetryAfterMs,
  sleep,
  type BackoffOptions,
  type OutboundKey,
  type OutboundLimits,
} from "../shared/index.ts";
import { ResponseUrlError, isNotPostable, mapSlackError, retryAfterMsOf, slackErrorCode } from "./errors.ts";
import { SlackHttpReceiver } from "./http-receiver.ts";
import {
  fromButton,
  fromEvent,
  fromReaction,
  fromSlashCommand,
  type NormalisedInbound,
  type NormaliseOptions,
  type ReplyContext,
} from "./normalise.ts";
import { renderReply, SLACK_TEXT_LIMIT, type SlackMessage } from "./render.ts";
import { assertFileFits } from "../shared/files.ts";
import { remoteAttachment } from "../shared/attachments.ts";

/**
 * The largest file a reply may carry. Slack takes up to 1 GB, but a reply's file is held in memory whole: the
 * adapter stops at 50 MB, like Telegram's upload limit.
 */
const SLACK_MAX_FILE_BYTES = 50 * 1024 * 1024;
import { SlackRoleCache } from "./roles.ts";
import { SlackSocketConnection } from "./socket.ts";

// Bolt's App from its own module, not the package index: the index also loads the Express and Lambda receivers
// (express, body-parser, send and some 60 more packages, about 2 MB resident) that this adapter never uses.
const bolt = createRequire(import.meta.url)("@slack/bolt/dist/App.js") as typeof import("@slack/bolt/dist/App.js");

type WebClient = webApi.WebClient;
type WebClientOptions = webApi.WebClientOptions;

/** Everything the adapter is configured with (from `adapters.slack`, plus knobs tests and benchmarks set). */
export interface SlackAdapterOptions {
  token: string;
  mode: "http" | "socket";
  signingSecret?: string;
  appToken?: string;
  /** Web API root, ending in `/api/`. */
  apiUrl: string;
  eventsPath: string;
  /** Prefix of every slash command (`sb-` → `/sb-help`). */
  commandPrefix: string;
  /** The umbrella slash command name, without `/` (`switchboard` → `/switchboard help`). */
  umbrellaCommand: string;
  /** Socket Mode: recycle a connection silent for this long, in ms. */
  socketIdleRecycleMs: number;
  socketServerPingTimeoutMs?: number;
  socketClientPingTimeoutMs?: number;
  reconnectBackoff?: BackoffOptions;
  /** Least time between two edits of one message, in ms. */
  editIntervalMs: number;
  outboundLimits: OutboundLimits;
  /** Cluster the outbound limits through Redis. */
  redisUrl?: string;
  /** Extra Web API client options (a custom `fetch` in benchmarks, retry policy in tests). */
  clientOptions?: Partial<WebClientOptions>;
  /** Each Web API call is abandoned after this, in ms. */
  apiTimeoutMs: number;
}

/** Slack's published limits: about one message per second per channel; we keep well under the workspace cap. */
export const SLACK_DEFAULT_LIMITS: OutboundLimits = { globalPerSecond: 20, perChatIntervalMs: 1_000 };

interface SentMeta {
  responseUrl?: string;
  userId?: string;
  ephemeral?: boolean;
  /** Further messages a long reply was split into (channel ts), for edits. */
  continuations?: string[];
  /** The text each piece shows now, so an edit skips pieces that did not change. */
  texts?: string[];
}

const MAX_SENT_META = 5_000;

/** The adapter. Create it with `createSlackAdapter(core)`. */
export class SlackAdapter implements ChannelAdapter {
  readonly platform = "slack";
  readonly capabilities: AdapterCapabilities = {
    edit: true,
    buttons: true,
    ephemeral: true,
    typing: false,
    maxTextLength: SLACK_TEXT_LIMIT,
    maxFileBytes: SLACK_MAX_FILE_BYTES,
  };
  readonly #core: SlackServices;
  readonly #o: SlackAdapterOptions;
  readonly #log: Logger;
  readonly #health: HealthTracker;
  readonly #client: WebClient;
  readonly #clientOptions: WebClientOptions;
  readonly #limiter: OutboundLimiter;
  readonly #edits: EditThrottles;
  readonly #roles: SlackRoleCache;
  readonly #sentMeta = new Map<string, SentMeta>();
  readonly #http: SlackHttpReceiver | undefined;
  readonly #socket: SlackSocketConnection | undefined;
  #app: App | undefined;
  #sink: InboundSink | undefined;
  /** Bolt's own `processEvent`, once connected with the journal on (replays go through it). */
  #reprocess: ((body: Record<string, unknown>) => Promise<void>) | undefined;
  /** Journaled bodies being run through Bolt again, and who waits for the `Inbound` a listener makes. */
  readonly #reviving = new WeakMap<object, (inbound: Inbound) => void>();
  #botUserId = "";
  #ephemeralCount = 0;
  #commands: CommandInfo[] = [];
  readonly #stopping = new AbortController();

  constructor(core: SlackServices, options: SlackAdapterOptions) {
    this.#core = core;
    this.#o = options;
    this.#log = core.log.child({ adapter: "slack" });
    this.#health = new HealthTracker("slack", core.clock);
    this.#health.setMode(options.mode === "socket" ? "socket mode" : "http");
    this.#clientOptions = {
      slackApiUrl: options.apiUrl,
      rejectRateLimitedCalls: true,
      retryConfig: { retries: 2, factor: 2, minTimeout: 200, maxTimeout: 2_000 },
      timeout: options.apiTimeoutMs,
      logger: boltLogger(this.#log),
      ...options.clientOptions,
    };
    this.#client = new webApi.WebClient(options.token, this.#clientOptions);
    this.#limiter = new OutboundLimiter({
      // Processes with the same bot token share budgets; the key holds a digest, never the token.
      id: `slack:${createHash("sha256").update(options.token).digest("hex").slice(0, 16)}`,
      limits: options.outboundLimits,
      ...(options.redisUrl === undefined ? {} : { redisUrl: options.redisUrl }),
      // No per-attempt timer here: the Web API client has its own timeout, response_url posts set theirs.
      retryAfterMsOf,
      onRetry: (info) => this.#log.warn(info, "slack rate limited; retrying after the platform's delay"),
      onError: (error) => this.#log.warn({ err: error }, "slack outbound limiter clustering failed"),
    });
    this.#edits = new EditThrottles(options.editIntervalMs);
    this.#roles = new SlackRoleCache({
      fetchUser: async (user) => (await this.#api("users.info", () => this.#client.users.info({ user }))).user ?? {},
      now: () => core.clock.now(),
    });
    if (options.mode === "http") {
      this.#http = new SlackHttpReceiver({
        signingSecret: options.signingSecret!,
        log: this.#log,
        now: () => core.clock.now(),
        track: (p) => core.track(p),
      });
    } else {
      const { logger: _logger, ...socketClientOptions } = this.#clientOptions;
      this.#socket = new SlackSocketConnection({
        appToken: options.appToken!,
        // apps.connections.open: one quick retry here; the reconnect supervisor backs off beyond that.
        clientOptions: { ...socketClientOptions, retryConfig: { retries: 1, minTimeout: 200, maxTimeout: 1_000 } },
        health: this.#health,
        log: this.#log,
        boltLogger: boltLogger(this.#log),
        logLevel: bolt.LogLevel.WARN,
        now: () => core.clock.now(),
        idleRecycleMs: options.socketIdleRecycleMs,
        ...(options.socketServerPingTimeoutMs === undefined
          ? {}
          : { serverPingTimeoutMs: options.socketServerPingTimeoutMs }),
        ...(options.socketClientPingTimeoutMs === undefined
          ? {}
          : { clientPingTimeoutMs: options.socketClientPingTimeoutMs }),
        ...(options.reconnectBackoff === undefined ? {} : { backoff: options.reconnectBackoff }),
      });
    }
  }

  /** The bot's own user id, once started. */
  get botUserId(): string {
    return this.#botUserId;
  }

  /** The Bolt app, once started (for benchmarks that feed `processEvent` directly). */
  get app(): App | undefined {
    return this.#app;
  }

  mount(http: HttpMount): void {
    const receiver = this.#http;
    if (receiver === undefined) return;
    http.route("POST", this.#o.eventsPath, (req) => receiver.handle(req));
  }

  /**
   * Check the token (auth.test) and connect. A token Slack refuses fails at once; anything else (Slack or the
   * network unreachable) leaves the adapter `reconnecting` and retries in the background with backoff and jitter.
   */
  async start(sink: InboundSink): Promise<void> {
    this.#sink = sink;
    this.#health.setState("starting");
    try {
      await this.#connect();
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (isFatalAuthError(error)) {
        this.#health.setState("down", reason);
        throw error;
      }
      this.#health.setState("reconnecting", reason);
      this.#log.warn({ err: reason }, "slack unreachable at start; retrying in the background");
      void this.#core.track(this.#retryConnect());
    }
  }

  async #retryConnect(): Promise<void> {
    const signal = this.#stopping.signal;
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        await sleep(backoffDelayMs(attempt, this.#o.reconnectBackoff), signal);
        await this.#connect();
        this.#log.info({ attempt }, "slack connected after retrying");
        return;
      } catch (error) {
        if (signal.aborted) return;
        const reason = error instanceof Error ? error.message : String(error);
        if (isFatalAuthError(error)) {
          this.#health.setState("down", reason);
          this.#log.error({ err: reason }, "slack refused the token; giving up");
          return;
        }
        this.#health.setState("reconnecting", reason);
      }
    }
  }

  async #connect(): Promise<void> {
    const auth = await this.#api("auth.test", () => this.#client.auth.test());
    this.#botUserId = auth.user_id ?? "";
    const receiver = this.#http ?? this.#socket!.receiver;
    const app = new bolt.default({
      token: this.#o.token,
      ...(auth.bot_id === undefined ? {} : { botId: auth.bot_id }),
      ...(auth.user_id === undefined ? {} : { botUserId: auth.user_id }),
      receiver,
      logger: boltLogger(this.#log),
      logLevel: bolt.LogLevel.WARN,
      clientOptions: { ...this.#clientOptions },
      tokenVerificationEnabled: false,
      // Conversation state lives in the router and store; Bolt's in-memory conversation store is not used.
      convoStore: false,
    });
    this.#listen(app);
    this.#journalIntake(app);
    this.#app = app;
    if (this.#socket !== undefined) await this.#socket.start();
    else this.#health.setState("up");
  }

  recover(reason: string): void {
    if (this.#socket === undefined) return; // HTTP mode holds no connection: each request stands alone
    this.#log.warn({ reason }, "restarting the socket mode connection after a fault");
    this.#socket.restart(reason);
  }

  async stop(): Promise<void> {
    this.#stopping.abort();
    if (this.#socket !== undefined && this.#app !== undefined) await this.#socket.stop();
    await this.#http?.stop();
    this.#edits.cancelAll();
    await this.#limiter.stop();
    this.#health.setState("down");
    this.#app = undefined;
  }

  health(): AdapterHealth {
    return this.#health.snapshot();
  }

  /** Slack has no API for slash commands: they live in the app manifest (`switchboard slack manifest`). */
  async registerCommands(commands: CommandInfo[]): Promise<void> {
    this.#commands = commands.map((c) => ({ ...c }));
    this.#log.debug(
      { commands: commands.length },
      "slack slash commands come from the app manifest (switchboard slack manifest)",
    );
  }

  /** The commands last handed to `registerCommands`. */
  registeredCommands(): CommandInfo[] {
    return this.#commands.map((c) => ({ ...c }));
  }

  async platformRoleOf(_chatId: string, userId: string): Promise<PlatformRole | undefined> {
    return (await this.#roles.lookup(userId)).role;
  }

  async send(target: ConversationTarget, reply: Reply, hooks?: SendHooks): Promise<SentMessage> {
    return this.#respond(
      { channel: target.chatId, userId: "", ...(target.threadId === undefined ? {} : { threadTs: target.threadId }) },
      reply,
      hooks,
    );
  }

  async edit(message: SentMessage, reply: Reply): Promise<void> {
    await this.#edits.edit(
      `${message.chatId}:${message.messageId}`,
      `${reply.format ?? "markdown"}\u0000${reply.text}`,
      () => this.#applyEdit(message, reply),
    );
  }

  // ---- inbound ----

  #listen(app: App): void {
    app.use(async ({ next }) => {
      this.#health.markInbound();
      this.#socket?.noteTraffic();
      await next();
    });
    app.command(/.*/, async ({ ack, body }) => {
      await ack();
      await this.#deliver(fromSlashCommand(body, this.#normaliseOptions()), { body, kind: "slash command" });
    });
    app.event("app_mention", async ({ body }) => {
      await this.#deliver(fromEvent(body, this.#normaliseOptions()), { body, kind: "app_mention" });
    });
    app.message(async ({ body, message }) => {
      // Only DMs reach the router; other channel messages are not addressed to the bot.
      if ((message as { channel_type?: string }).channel_type !== "im") return;
      await this.#deliver(fromEvent(body, this.#normaliseOptions()), { body, kind: "message.im", isQuietSkip: true });
    });
    for (const type of ["reaction_added", "reaction_removed"] as const) {
      app.event(type, async ({ body }) => {
        await this.#deliver(fromReaction(body, this.#normaliseOptions()), { body, kind: type, isQuietSkip: true });
      });
    }
    app.action(/^sb:/, async ({ ack, body }) => {
      await ack();
      await this.#deliver(fromButton(body as never, this.#normaliseOptions()), { body, kind: "button" });
    });
    app.error(async (error) => {
      this.#log.error({ err: error }, "slack listener failed");
    });
  }

  /**
   * With the inbound journal, every event both receivers hand Bolt (HTTP and Socket Mode call `processEvent`) is
   * written first and acknowledged after: the HTTP answer or the envelope ack waits for the journal, and Bolt
   * then runs it with an ack that does nothing. A replay runs the journaled body through Bolt the same way, and
   * the `Inbound` it produces is handed back to the journal instead of the router.
   */
  #journalIntake(app: App): void {
    const journal = this.#core.journal;
    if (journal === undefined) return;
    const process = app.processEvent.bind(app);
    const noAck = async (): Promise<void> => undefined;
    this.#reprocess = (body) => process({ body, ack: noAck });
    app.processEvent = async (event) => {
      const body = event.body as Record<string, unknown>;
      const [entry] = await journal.append("slack", [{ deliveryId: slackDeliveryKey(body), payload: body }]);
      await event.ack();
      if (entry !== undefined) await journal.dispatch(entry);
    };
    journal.attach("slack", (entry) => this.#revive(entry.payload as Record<string, unknown>));
  }

  /** A journaled body through Bolt again; resolves with the `Inbound` a listener made of it, if any. */
  #revive(body: Record<string, unknown>): Promise<Inbound | undefined> {
    const reprocess = this.#reprocess;
    if (reprocess === undefined) return Promise.reject(new Error("slack is not connected yet"));
    return new Promise((resolve, reject) => {
      this.#reviving.set(body, resolve);
      reprocess(body).then(
        () => {
          this.#reviving.delete(body);
          resolve(undefined);
        },
        (error: unknown) => {
          this.#reviving.delete(body);
          reject(error);
        },
      );
    });
  }

  #normaliseOptions(): NormaliseOptions {
    return {
      botUserId: this.#botUserId,
      commandPrefix: this.#o.commandPrefix,
      umbrellaCommand: this.#o.umbrellaCommand,
      nowMs: turnClock(this.#core.clock).now(), // receipt stamp: one clock read per event-loop turn
    };
  }

  async #deliver(
    normalised: NormalisedInbound | undefined,
    { body, kind, isQuietSkip = false }: { body: object; kind: string; isQuietSkip?: boolean },
  ): Promise<void> {
    const sink = this.#sink;
    if (normalised === undefined) {
      if (isQuietSkip) this.#log.debug({ kind }, "slack message skipped (edit, bot or system message)");
      else this.#log.warn({ kind }, "slack payload malformed or not for the bot; skipped");
      return;
    }
    if (sink === undefined) return;
    const { reply } = normalised;
    const who = await this.#roles.lookup(normalised.inbound.user.id);
    const user = { ...normalised.inbound.user };
    if (who.role !== undefined) user.platformRole = who.role;
    if (who.displayName !== undefined) user.displayName = who.displayName;
    if (who.isBot) user.isBot = true;
    const inbound: Inbound = {
      ...normalised.inbound,
      user,
      respond: (r, hooks) => this.#respond(reply, r, hooks),
    };
    if (normalised.files !== undefined && normalised.files.length > 0) {
      // Private file URLs are read with the bot token, sent only to Slack's file host (or the configured API's).
      const allowedOrigins = ["https://files.slack.com", new URL(this.#o.apiUrl).origin];
      const headers = { authorization: `Bearer ${this.#o.token}` };
      inbound.attachments = normalised.files.map((f) => remoteAttachment({ ...f, allowedOrigins, headers }));
    }
    const revived = this.#reviving.get(body);
    if (revived !== undefined) {
      this.#reviving.delete(body);
      revived(inbound); // the journal hands it to the router
      return;
    }
    try {
      await sink(inbound);
    } catch (error) {
      this.#log.error({ err: error, delivery: inbound.deliveryId }, "router refused a slack message");
    }
  }

  // ---- outbound ----

  async #respond(ctx: ReplyContext, reply: Reply, hooks?: SendHooks): Promise<SentMessage> {
    if (reply.file !== undefined) return this.#respondWithFile(ctx, reply, hooks);
    const pieces = renderReply(reply);
    if (reply.ephemeral === true && (ctx.responseUrl !== undefined || ctx.userId !== ""))
      return this.#sendEphemeral(ctx, pieces, hooks);
    try {
      return await this.#post(ctx, pieces, hooks);
    } catch (error) {
      if (ctx.responseUrl === undefined || !isNotPostable(error)) throw error;
      // A slash command in a channel the bot is not in: answer through the command's response_url instead.
      this.#log.info({ channel: ctx.channel }, "bot cannot post in the channel; answering via response_url");
      return this.#sendViaResponseUrl(ctx, pieces, { type: "in_channel", hooks });
    }
  }

  /**
   * A reply with a file: the size is checked before anything is sent, the text goes as usual, then the file is
   * uploaded into the conversation (`files.uploadV2`: getUploadURLExternal, the upload, completeUploadExternal).
   * Files are never ephemeral: Slack shares an upload with the whole conversation.
   */
  async #respondWithFile(ctx: ReplyContext, reply: Reply, hooks?: SendHooks): Promise<SentMessage> {
    const { file, ...text } = reply;
    assertFileFits(file!, { maxBytes: SLACK_MAX_FILE_BYTES, platform: "Slack" });
    const first = text.text.trim() === "" ? undefined : await this.#respond(ctx, text, hooks);
    const uploaded = await this.#run(
      { chatId: ctx.channel, isGroup: !ctx.channel.startsWith("D") },
      { method: "files.uploadV2", hooks: first === undefined ? hooks : undefined },
      () => {
        const upload = {
          file: Buffer.from(file!.data.buffer, file!.data.byteOffset, file!.data.byteLength),
          filename: file!.name,
        };
        return ctx.threadTs === undefined
          ? this.#client.filesUploadV2({ ...upload, channel_id: ctx.channel })
          : this.#client.filesUploadV2({ ...upload, channel_id: ctx.channel, thread_ts: ctx.threadTs });
      },
    );
    if (first !== undefined) return first;
    const id = shareTsOf(uploaded, ctx.channel) ?? "";
    return {
      platform: "slack",
      chatId: ctx.channel,
      messageId: id,
      ...(ctx.threadTs === undefined ? {} : { threadId: ctx.threadTs }),
    };
  }

  async #post(ctx: ReplyContext, pieces: SlackMessage[], hooks?: SendHooks): Promise<SentMessage> {
    const isGroup = !ctx.channel.startsWith("D");
    const stamps: string[] = [];
    for (const [i, piece] of pieces.entries()) {
      // The reply is marked sent once, before its first piece: a crash mid-way loses the rest, never repeats it.
      const res = await this.#run(
        { chatId: ctx.channel, isGroup },
        { method: "chat.postMessage", hooks: i === 0 ? hooks : undefined },
        () =>
          this.#client.chat.postMessage({
            channel: ctx.channel,
            text: piece.text,
            ...(piece.blocks === undefined ? {} : { blocks: piece.blocks as never }),
            ...(ctx.threadTs === undefined ? {} : { thread_ts: ctx.threadTs }),
            mrkdwn: piece.mrkdwn,
            unfurl_links: false,
          }),
      );
      stamps.push(String(res.ts));
    }
    const sent: SentMessage = {
      platform: "slack",
      chatId: ctx.channel,
      messageId: stamps[0]!,
      ...(ctx.threadTs === undefined ? {} : { threadId: ctx.threadTs }),
    };
    if (stamps.length > 1) this.#remember(sent, { continuations: stamps.slice(1), texts: pieces.map((p) => p.text) });
    return sent;
  }

  async #sendEphemeral(ctx: ReplyContext, pieces: SlackMessage[], hooks?: SendHooks): Promise<SentMessage> {
    if (ctx.responseUrl !== undefined) return this.#sendViaResponseUrl(ctx, pieces, { type: "ephemeral", hooks });
    let messageTs = "";
    for (const [i, piece] of pieces.entries()) {
      const res = await this.#run(
        { chatId: ctx.channel },
        { method: "chat.postEphemeral", hooks: i === 0 ? hooks : undefined },
        () =>
          this.#client.chat.postEphemeral({
            channel: ctx.channel,
            user: ctx.userId,
            text: piece.text,
            ...(piece.blocks === undefined ? {} : { blocks: piece.blocks as never }),
            ...(ctx.threadTs === undefined ? {} : { thread_ts: ctx.threadTs }),
          }),
      );
      messageTs ||= String(res.message_ts ?? "");
    }
    const sent: SentMessage = {
      platform: "slack",
      chatId: ctx.channel,
      messageId: `eph:${messageTs || ++this.#ephemeralCount}`,
      ...(ctx.threadTs === undefined ? {} : { threadId: ctx.threadTs }),
    };
    this.#remember(sent, { ephemeral: true, userId: ctx.userId });
    return sent;
  }

  async #sendViaResponseUrl(
    ctx: ReplyContext,
    pieces: SlackMessage[],
    { type, hooks }: { type: "ephemeral" | "in_channel"; hooks?: SendHooks | undefined },
  ): Promise<SentMessage> {
    const url = ctx.responseUrl!;
    for (const [i, piece] of pieces.entries())
      await this.#postResponseUrl(
        { channel: ctx.channel, url, hooks: i === 0 ? hooks : undefined },
        { response_type: type, ...responsePayload(piece) },
      );
    this.#ephemeralCount += 1;
    const sent: SentMessage = { platform: "slack", chatId: ctx.channel, messageId: `ru:${this.#ephemeralCount}` };
    this.#remember(sent, { responseUrl: url, ephemeral: type === "ephemeral", userId: ctx.userId });
    return sent;
  }

  #postResponseUrl(
    { channel, url, hooks }: { channel: string; url: string; hooks?: SendHooks | undefined },
    payload: Record<string, unknown>,
  ): Promise<void> {
    return this.#limiter
      .run({ chatId: channel }, async (signal) => {
        await hooks?.beforeSend?.();
        const res = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(payload),
          signal: AbortSignal.any([signal, AbortSignal.timeout(this.#o.apiTimeoutMs)]),
        });
        const text = await res.text();
        if (!res.ok) throw new ResponseUrlError(res.status, parseRetryAfterMs(res.headers.get("retry-after")), text);
      })
      .catch((error: unknown) => {
        throw mapSlackError(error, "response_url");
      });
  }

  async #applyEdit(message: SentMessage, reply: Reply): Promise<void> {
    const meta = this.#sentMeta.get(message.messageId);
    const pieces = renderReply(reply);
    if (meta?.responseUrl !== undefined) {
      await this.#postResponseUrl(
        { channel: message.chatId, url: meta.responseUrl },
        {
          replace_original: true,
          response_type: meta.ephemeral === true ? "ephemeral" : "in_channel",
          ...responsePayload(pieces[0]!),
        },
      );
      return;
    }
    if (meta?.ephemeral === true || message.messageId.startsWith("eph:")) {
      // Ephemeral messages cannot be edited through the Web API: the new text goes out as a fresh one.
      await this.#sendEphemeral(
        {
          channel: message.chatId,
          userId: meta?.userId ?? "",
          ...(message.threadId === undefined ? {} : { threadTs: message.threadId }),
        },
        pieces,
      );
      return;
    }
    const stamps = [message.messageId, ...(meta?.continuations ?? [])];
    const isGroup = !message.chatId.startsWith("D");
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!;
      const ts = stamps[i];
      if (ts !== undefined) {
        if (i > 0 && meta?.texts?.[i] === piece.text && piece.blocks === undefined) continue;
        await this.#run({ chatId: message.chatId, isEdit: true }, { method: "chat.update" }, () =>
          this.#client.chat.update({
            channel: message.chatId,
            ts,
            text: piece.text,
            blocks: (piece.blocks ?? []) as never,
          }),
        );
        continue;
      }
      const res = await this.#run({ chatId: message.chatId, isGroup }, { method: "chat.postMessage" }, () =>
        this.#client.chat.postMessage({
          channel: message.chatId,
          text: piece.text,
          ...(piece.blocks === undefined ? {} : { blocks: piece.blocks as never }),
          ...(message.threadId === undefined ? {} : { thread_ts: message.threadId }),
          mrkdwn: piece.mrkdwn,
          unfurl_links: false,
        }),
      );
      stamps.push(String(res.ts));
    }
    // A reply that got shorter: delete the messages it no longer needs.
    for (const ts of stamps.slice(pieces.length)) {
      await this.#run({ chatId: message.chatId, isEdit: true }, { method: "chat.delete" }, () =>
        this.#client.chat.delete({ channel: message.chatId, ts }),
      );
    }
    this.#remember(message, {
      ...meta,
      continuations: stamps.slice(1, pieces.length),
      texts: pieces.map((p) => p.text),
    });
  }

  #remember(message: SentMessage, meta: SentMeta): void {
    this.#sentMeta.delete(message.messageId);
    this.#sentMeta.set(message.messageId, meta);
    if (this.#sentMeta.size > MAX_SENT_META) this.#sentMeta.delete(this.#sentMeta.keys().next().value!);
  }

  /** A Web API call through the outbound limiter; failures (rate limits once retries are spent) are mapped. */
  async #run<T>(
    key: OutboundKey,
    { method, hooks }: { method: string; hooks?: SendHooks | undefined },
    call: () => Promise<T>,
  ): Promise<T> {
    const beforeSend = hooks?.beforeSend;
    try {
      return await this.#limiter.run(key, async () => {
        if (beforeSend !== undefined) await beforeSend();
        return this.#api(method, call);
      });
    } catch (error) {
      throw mapSlackError(error, method);
    }
  }

  /** One Web API call: health on success, one error mapping on failure (rate limits pass through for retry). */
  async #api<T>(method: string, call: () => Promise<T>): Promise<T> {
    try {
      const result = await call();
      this.#health.markApiOk();
      return result;
    } catch (error) {
      // No answer at all (not a refusal): replies cannot go out; /readyz says so until a call succeeds.
      if ((error as { code?: unknown }).code === "slack_webapi_request_error")
        this.#health.markApiUnreachable(`${method}: ${error instanceof Error ? error.message : String(error)}`);
      if (retryAfterMsOf(error) !== undefined) throw error;
      throw mapSlackError(error, method);
    }
  }
}

/** Slack refused the token itself: retrying cannot help. */
function isFatalAuthError(error: unknown): boolean {
  const code = isSwitchboardError(error) ? error.details.slackError : slackErrorCode(error);
  return (
    typeof code === "string" &&
    [
      "invalid_auth",
      "not_authed",
      "account_inactive",
      "token_revoked",
      "token_expired",
      "not_allowed_token_type",
    ].includes(code)
  );
}

/** A message as a `response_url` body (no Web API-only fields). */
function responsePayload(piece: SlackMessage): Record<string, unknown> {
  return {
    text: piece.text,
    ...(piece.blocks === undefined ? {} : { blocks: piece.blocks }),
    ...(piece.mrkdwn ? {} : { mrkdwn: false }),
  };
}

/** Bolt's logger interface on top of pino (Bolt's own chatter goes to debug). */
export function boltLogger(log: Logger): BoltLogger {
  let level = bolt.LogLevel.WARN;
  const text = (msg: unknown[]) =>
    msg.map((m) => (m instanceof Error ? m.message : typeof m === "string" ? m : JSON.stringify(m))).join(" ");
  return {
    debug: (...msg: unknown[]) => log.debug(text(msg)),
    info: (...msg: unknown[]) => log.debug(text(msg)),
    warn: (...msg: unknown[]) => log.warn(text(msg)),
    error: (...msg: unknown[]) => log.error(text(msg)),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}

/** The journal's dedupe key of a Slack body: the event id, else the trigger id, else a fresh one (taken as unique). */
export function slackDeliveryKey(body: Record<string, unknown>): string {
  const id = body.event_id ?? body.trigger_id;
  if (typeof id === "string" && id !== "") return id;
  return `once:${Date.now()}:${Math.random().toString(36).slice(2)}`;
}

/** The ts of the message an upload was shared as in `channel`, or the file id when Slack does not say yet. */
function shareTsOf(result: unknown, channel: string): string | undefined {
  const completions = (result as { files?: Array<{ files?: Array<Record<string, unknown>> }> }).files ?? [];
  const file = completions[0]?.files?.[0];
  if (file === undefined) return undefined;
  const shares = file.shares as Record<string, Record<string, Array<{ ts?: string }>>> | undefined;
  const ts = shares?.public?.[channel]?.[0]?.ts ?? shares?.private?.[channel]?.[0]?.ts;
  return ts ?? (typeof file.id === "string" ? file.id : undefined);
}
