/**
 * The Discord adapter: gateway mode (@discordjs/ws) or HTTP interactions mode (Ed25519-verified on the shared
 * listener), one normalisation for both, replies through the interaction responder or the outbox, command
 * registration from the router's registry (re-published, debounced, whenever it changes), platform roles,
 * and health from real traffic.
 */
import type { KeyObject } from "node:crypto";
import {
  ERROR_CATALOG,
  SwitchboardError,
  turnClock,
  resolveCommand,
  type AdapterCapabilities,
  type AdapterHealth,
  type ChannelAdapter,
  type CommandInfo,
  type ConversationTarget,
  type HttpMount,
  type Inbound,
  type InboundSink,
  type PlatformRole,
  type Reply,
  type SendHooks,
  type SentMessage,
} from "../../bot/index.ts";
import type { DiscordServices } from "./needs.ts";
import type { OutboundLimits } from "../shared/outbound-limiter.ts";
import { DeafWatchdog, HealthTracker, ReconnectSupervisor } from "../shared/health.ts";
import { assertFileFits } from "../shared/files.ts";
import { remoteAttachment } from "../shared/attachments.ts";

/** Discord's file hosts: attachment URLs on anything else are not read. */
const DISCORD_FILE_ORIGINS = ["https://cdn.discordapp.com", "https://media.discordapp.net"];
import { DiscordApi, type DiscordApiOptions, type MessageBody } from "./api.ts";
import { toDiscordCommands } from "./commands.ts";
import { DiscordGateway, isFatalGatewayError, type GatewayDispatch } from "./gateway.ts";
import { interactionsRoute } from "./http-interactions.ts";
import {
  MalformedPayloadError,
  parseInteraction,
  parseMessage,
  parseReaction,
  type CommandInteraction,
} from "./normalise.ts";
import { DISCORD_MAX_FILE_BYTES, Outbox } from "./outbox.ts";
import { RecentSet } from "./recent.ts";
import { DISCORD_MAX_TEXT } from "./render.ts";
import {
  DeadlineSweeper,
  InteractionResponder,
  type AnyInteractionAnswer,
  type ResponderContext,
} from "./responder.ts";
import { RoleResolver } from "./roles.ts";

/** Everything the adapter needs, resolved from config by `createDiscordAdapter`. */
export interface DiscordAdapterOptions {
  token: string;
  applicationId: string;
  apiRoot: string;
  mode: "gateway" | "interactions";
  /** Interactions mode: the verified public key. */
  publicKey?: KeyObject;
  interactionsPath: string;
  guildIds: string[];
  /** Defer an interaction when no reply is ready after this long, in ms. Default 1500. */
  deferAfterMs?: number;
  /** Re-publish commands this long after the last registry change, in ms. Default 2000. */
  commandsDebounceMs?: number;
  /** Least time between two edits of one message, in ms. Default 1000. */
  editIntervalMs?: number;
  /** The HTTP layer under the REST client (benchmarks answer in-process through it). */
  makeRequest?: DiscordApiOptions["makeRequest"];
  /** Outbound limits (default: Discord's published ones). */
  outboundLimits?: OutboundLimits;
  /** The watchdog's period and its "deaf" threshold, in ms. Default 30 s / 120 s. */
  watchdogIntervalMs?: number;
  deafAfterMs?: number;
}

const CAPABILITIES: AdapterCapabilities = {
  edit: true,
  buttons: true,
  ephemeral: true,
  typing: true,
  maxTextLength: DISCORD_MAX_TEXT,
  maxFileBytes: DISCORD_MAX_FILE_BYTES,
};
const MAX_SEEN = 5_000;
const DONE: Promise<void> = Promise.resolve();

const noTyping = (): Promise<void> => DONE;

/** The Discord `ChannelAdapter`. */
export class DiscordAdapter implements ChannelAdapter {
  readonly platform = "discord";
  readonly capabilities = CAPABILITIES;
  readonly #core: DiscordServices;
  readonly #o: DiscordAdapterOptions;
  readonly #health: HealthTracker;
  readonly #api: DiscordApi;
  readonly #outbox: Outbox;
  readonly #roles: RoleResolver;
  readonly #gateway: DiscordGateway | undefined;
  readonly #supervisor: ReconnectSupervisor | undefined;
  readonly #watchdog: DeafWatchdog | undefined;
  readonly #seen = new RecentSet<string>(MAX_SEEN);
  /** Responders that deferred and still hold a timer. */
  readonly #responders = new Set<InteractionResponder>();
  /** Acknowledgements of fresh journaled interactions until their first handling takes them (HTTP answers). */
  readonly #freshAcks = new Map<string, (answer: AnyInteractionAnswer) => Promise<void>>();
  readonly #deadlines = new DeadlineSweeper(100);
  readonly #responderContext: ResponderContext;
  #sink: InboundSink | undefined;
  #unsubscribe: (() => void) | undefined;
  #republishTimer: NodeJS.Timeout | undefined;
  #isStopped = false;

  constructor(core: DiscordServices, options: DiscordAdapterOptions) {
    this.#core = core;
    this.#o = options;
    this.#health = new HealthTracker("discord", core.clock);
    this.#health.setMode(options.mode);
    this.#api = new DiscordApi({
      token: options.token,
      applicationId: options.applicationId,
      apiRoot: options.apiRoot,
      health: this.#health,
      ...(options.outboundLimits === undefined ? {} : { limits: options.outboundLimits }),
      ...(options.makeRequest === undefined ? {} : { makeRequest: options.makeRequest }),
      ...(core.config.storage.redisUrl === undefined ? {} : { redisUrl: core.config.storage.redisUrl }),
      onRetry: (info) =>
        core.log.info({ adapter: "discord", ...info }, "rate limited by Discord; retrying after retry_after"),
      onError: (error) => core.log.warn({ adapter: "discord", err: error }, "outbound limiter error"),
    });
    this.#outbox = new Outbox({
      api: this.#api,
      kv: core.kv,
      isShared: core.config.storage.redisUrl !== undefined,
      now: () => core.clock.now(),
      ...(options.editIntervalMs === undefined ? {} : { editIntervalMs: options.editIntervalMs }),
    });
    this.#roles = new RoleResolver({
      lookups: {
        guild: (id) => this.#api.guild(id),
        member: (g, u) => this.#api.member(g, u),
        channel: (id) => this.#api.channel(id),
      },
      clock: core.clock,
      onError: (error, what) => core.log.warn({ adapter: "discord", err: error, what }, "platform role lookup failed"),
    });
    this.#responderContext = {
      api: this.#api,
      outbox: this.#outbox,
      deferAfterMs: options.deferAfterMs ?? 1_500,
      deadlines: this.#deadlines,
      abandonAfterMs: core.config.limits.handlerTimeoutMs + 10_000,
      onError: (error, what, interaction) =>
        core.log.warn({ adapter: "discord", err: error, what, interaction }, "interaction answer failed"),
      onDeferred: (responder) => this.#responders.add(responder),
      onIdle: (responder) => this.#responders.delete(responder),
    };
    if (options.mode === "gateway") {
      const gateway = new DiscordGateway({
        token: options.token,
        apiRoot: options.apiRoot,
        health: this.#health,
        log: core.log,
        onDispatch: (packet) => this.handleDispatch(packet),
      });
      this.#gateway = gateway;
      const supervisor = new ReconnectSupervisor({
        name: "discord gateway",
        health: this.#health,
        runSession: (signal, markUp) => gateway.runSession(signal, markUp),
        isFatal: isFatalGatewayError,
        log: core.log,
      });
      this.#supervisor = supervisor;
      const deafAfterMs = options.deafAfterMs ?? 120_000;
      this.#watchdog = new DeafWatchdog({
        intervalMs: options.watchdogIntervalMs ?? 30_000,
        check: () => gateway.deafReason(deafAfterMs),
        onDeaf: (reason) => supervisor.restart(reason),
        onError: (error) => core.log.warn({ adapter: "discord", err: error }, "gateway watchdog failed"),
      });
    }
  }

  /** The watchdog, for tests that run a check now. */
  get watchdog(): DeafWatchdog | undefined {
    return this.#watchdog;
  }

  async start(sink: InboundSink): Promise<void> {
    this.#sink = sink;
    this.#core.journal?.attach("discord", (entry) => this.#revive(entry.payload as { t: string; d: unknown }));
    this.#unsubscribe = this.#core.commands.onChange(() => this.#scheduleRepublish());
    if (this.#supervisor === undefined) {
      this.#health.setState("up");
      return;
    }
    await this.#supervisor.start();
    const fromReady = this.#gateway?.applicationId;
    if (fromReady !== undefined) this.#api.applicationId = fromReady;
    this.#watchdog?.start();
  }

  recover(reason: string): void {
    if (this.#supervisor === undefined) return; // HTTP interactions hold no connection: each request stands alone
    this.#core.log.warn({ adapter: "discord", reason }, "restarting the gateway session after a fault");
    this.#supervisor.restart(reason);
  }

  async stop(): Promise<void> {
    if (this.#isStopped) return;
    this.#isStopped = true;
    this.#core.journal?.detach("discord");
    this.#unsubscribe?.();
    if (this.#republishTimer !== undefined) clearTimeout(this.#republishTimer);
    this.#watchdog?.stop();
    await this.#supervisor?.stop();
    for (const responder of this.#responders) responder.dispose();
    this.#deadlines.stop();
    this.#outbox.stop();
    await this.#api.stop();
    this.#health.setState("down");
  }

  mount(http: HttpMount): void {
    if (this.#o.mode !== "interactions" || this.#o.publicKey === undefined) return;
    http.route(
      "POST",
      this.#o.interactionsPath,
      interactionsRoute({
        publicKey: this.#o.publicKey,
        answerTimeoutMs: (this.#o.deferAfterMs ?? 1_500) + 1_000,
        handle: (payload, acknowledge) => {
          try {
            if (this.#core.journal !== undefined) return this.#journalInteraction(payload, acknowledge);
            return this.#onInteraction(payload, acknowledge) ?? DONE;
          } catch (error) {
            return Promise.reject(error);
          }
        },
        onError: (error, what) => this.#core.log.warn({ adapter: "discord", err: error, what }, "interaction failed"),
        now: () => this.#core.clock.now(),
      }),
    );
  }

  async send(target: ConversationTarget, reply: Reply, hooks?: SendHooks): Promise<SentMessage> {
    return this.#outbox.sendToChannel(target.threadId ?? target.chatId, reply, { hooks });
  }

  async edit(message: SentMessage, reply: Reply): Promise<void> {
    await this.#outbox.edit(message, reply);
  }

  async registerCommands(commands: CommandInfo[]): Promise<void> {
    const body = toDiscordCommands(commands);
    if (this.#o.guildIds.length === 0) await this.#api.putCommands(body);
    else for (const guildId of this.#o.guildIds) await this.#api.putCommands(body, guildId);
    this.#core.log.info(
      { adapter: "discord", commands: body.length, scope: this.#o.guildIds.length === 0 ? "global" : this.#o.guildIds },
      "application commands registered",
    );
  }

  health(): AdapterHealth {
    return this.#health.snapshot();
  }

  async platformRoleOf(chatId: string, userId: string): Promise<PlatformRole | undefined> {
    return this.#roles.inChannel(chatId, userId);
  }

  #scheduleRepublish(): void {
    if (this.#isStopped) return;
    if (this.#republishTimer !== undefined) clearTimeout(this.#republishTimer);
    this.#republishTimer = setTimeout(() => {
      this.#republishTimer = undefined;
      void this.#core.track(
        this.registerCommands(this.#core.commands.infos()).catch((error: unknown) =>
          this.#core.log.warn({ adapter: "discord", err: error }, "could not re-publish application commands"),
        ),
      );
    }, this.#o.commandsDebounceMs ?? 2_000);
    this.#republishTimer.unref();
  }

  /**
   * True the first time this process sees an interaction or message id (the router dedupes across processes
   * too). Discord snowflakes are unique across both kinds.
   */
  #firstSeen(id: string): boolean {
    return this.#seen.add(id);
  }

  /**
   * Handle one raw gateway dispatch, as the gateway connection does (also for benchmarks and embedders that run
   * their own gateway). Never throws: a malformed payload is logged and skipped.
   */
  handleDispatch(packet: GatewayDispatch): void {
    const log = this.#core.log;
    try {
      switch (packet.t) {
        case "INTERACTION_CREATE": {
          const d = packet.d as { id?: unknown; token?: unknown; channel_id?: unknown } | undefined;
          const acknowledge = (answer: AnyInteractionAnswer) =>
            this.#api.interactionCallback(String(d!.channel_id ?? "interactions"), {
              interactionId: String(d!.id),
              token: String(d!.token),
              body: answer,
            });
          let handed: Promise<void> | undefined;
          try {
            handed =
              this.#core.journal === undefined
                ? this.#onInteraction(d, acknowledge)
                : this.#journalInteraction(d, acknowledge);
          } catch (error) {
            log.warn({ adapter: "discord", err: error }, "interaction skipped");
            return;
          }
          if (handed !== undefined) void this.#core.track(handed.catch(this.#interactionSkipped));
          return;
        }
        case "MESSAGE_CREATE": {
          const journal = this.#core.journal;
          const id = (packet.d as { id?: unknown } | undefined)?.id;
          const handled =
            journal !== undefined && typeof id === "string"
              ? journal.intake("discord", [{ deliveryId: id, payload: { t: packet.t, d: packet.d } }])
              : this.#onMessage(packet.d);
          void this.#core.track(
            handled.catch((error: unknown) => log.warn({ adapter: "discord", err: error }, "message skipped")),
          );
          return;
        }
        case "MESSAGE_REACTION_ADD":
        case "MESSAGE_REACTION_REMOVE": {
          const inbound = this.#reactionInbound(packet);
          if (inbound === undefined) return;
          // Journaled as it arrives, like a MESSAGE_CREATE: the gateway acknowledges nothing, so the journal is
          // what keeps it across a crash from then on. The journal's delivery id is the Inbound's.
          const journal = this.#core.journal;
          const handled =
            journal !== undefined
              ? journal.intake("discord", [
                  { deliveryId: inbound.deliveryId, payload: { t: packet.t, d: packet.d, s: packet.s } },
                ])
              : this.#deliver(inbound);
          void this.#core.track(
            handled.catch((error: unknown) => log.warn({ adapter: "discord", err: error }, "reaction skipped")),
          );
          return;
        }
        case "GUILD_CREATE":
        case "GUILD_UPDATE":
          this.#roles.rememberGuild(packet.d);
          return;
        case "GUILD_ROLE_CREATE":
        case "GUILD_ROLE_UPDATE":
        case "GUILD_ROLE_DELETE": {
          const guildId = (packet.d as { guild_id?: unknown } | undefined)?.guild_id;
          if (typeof guildId === "string") this.#roles.forgetGuild(guildId);
          return;
        }
        default:
          return;
      }
    } catch (error) {
      log.warn({ adapter: "discord", err: error, event: packet.t }, "gateway event skipped");
    }
  }

  readonly #interactionSkipped = (error: unknown): void => {
    this.#core.log.warn({ adapter: "discord", err: error }, "interaction skipped");
  };

  /**
   * Handle one interaction: synchronous up to handing it to the router, so the common case costs no async
   * hops. Throws `MalformedPayloadError` for a malformed payload; returns what is still to settle, if anything.
   */
  /**
   * With the inbound journal: pings and unsupported kinds are answered at once; an interaction is written before
   * it is acknowledged (its answer, or its deferral, waits for the journal), then handled through the journal.
   * Its acknowledgement is kept for that first handling; a replay acknowledges through the callback endpoint.
   */
  #journalInteraction(payload: unknown, acknowledge: (answer: AnyInteractionAnswer) => Promise<void>): Promise<void> {
    const parsed = this.#parseInteraction(payload);
    if (parsed.kind !== "command") return this.#onInteraction(payload, acknowledge) ?? DONE;
    const journal = this.#core.journal!;
    return journal
      .append("discord", [{ deliveryId: parsed.id, payload: { t: "INTERACTION_CREATE", d: payload } }])
      .then(([entry]) => {
        if (entry === undefined) return; // a redelivery of one journaled before
        this.#freshAcks.set(parsed.id, acknowledge);
        return journal.dispatch(entry).finally(() => this.#freshAcks.delete(parsed.id));
      });
  }

  /** A journaled dispatch → its `Inbound` (respond bound), or undefined when there is nothing to route. */
  #revive(payload: { t: string; d: unknown; s?: number | null }): Promise<Inbound | undefined> | Inbound | undefined {
    if (payload.t === "MESSAGE_CREATE") return this.#messageInbound(payload.d);
    if (payload.t === "MESSAGE_REACTION_ADD" || payload.t === "MESSAGE_REACTION_REMOVE") {
      // Replayed before the session is up, the bot's own id is not known (its own reactions, `onBotMessage`): the
      // journal holds it and tries again, as it does a message.
      if (this.#gateway !== undefined && this.#gateway.botUserId === undefined)
        throw new SwitchboardError("E_ADAPTER", "the Discord gateway is not connected yet");
      return this.#reactionInbound({ t: payload.t, d: payload.d, s: payload.s ?? null });
    }
    const d = payload.d as { id?: unknown; token?: unknown; channel_id?: unknown } | undefined;
    const id = String(d?.id);
    const channelId = String(d?.channel_id ?? "interactions");
    const token = String(d?.token);
    const acknowledge =
      this.#freshAcks.get(id) ??
      (async (answer: AnyInteractionAnswer): Promise<void> => {
        try {
          await this.#api.interactionCallback(channelId, { interactionId: id, token, body: answer });
        } catch (error) {
          // The dead process acknowledged it already (it deferred): a deferral is done, an answer fills it in.
          if (!isAlreadyAcknowledged(error)) throw error;
          if (answer.type !== 4) return;
          const { flags: _flags, ...patch } = (answer as { data: MessageBody }).data;
          await this.#api.editInteractionMessage(channelId, { token, messageId: "@original", body: patch });
        }
      });
    return new Promise<Inbound | undefined>((resolve, reject) => {
      const handed = this.#onInteraction(d, acknowledge, resolve);
      if (handed === undefined) resolve(undefined);
      else handed.then(() => resolve(undefined), reject);
    });
  }

  #onInteraction(
    payload: unknown,
    acknowledge: (answer: AnyInteractionAnswer) => Promise<void>,
    capture?: (inbound: Inbound) => void,
  ): Promise<void> | undefined {
    const log = this.#core.log;
    const parsed = this.#parseInteraction(payload);
    if (parsed.kind === "ping") return acknowledge({ type: 1 });
    this.#health.markInbound();
    if (parsed.kind === "unsupported") {
      log.debug({ adapter: "discord", type: parsed.type }, "unsupported interaction type skipped");
      return acknowledge(
        parsed.type === 4
          ? { type: 8, data: { choices: [] } }
          : { type: 4, data: { content: "That is not something I can handle.", flags: 64 } },
      );
    }
    // The outbox's token memory is this process's memory of interactions seen (the router dedupes across
    // processes too): a redelivery must not get a second responder, whose deferral nobody would fill.
    if (this.#outbox.knowsInteraction(parsed.id)) {
      log.debug({ adapter: "discord", interaction: parsed.id }, "redelivered interaction dropped");
      return undefined;
    }
    const remembered = this.#outbox.rememberToken(parsed.id, parsed.token);
    if (remembered !== undefined) return remembered.then(() => this.#answer(parsed, acknowledge, capture));
    return this.#answer(parsed, acknowledge, capture);
  }

  /** A responder for the interaction, then its role, then the router. */
  #answer(
    interaction: CommandInteraction,
    acknowledge: (answer: AnyInteractionAnswer) => Promise<void>,
    capture: ((inbound: Inbound) => void) | undefined,
  ): Promise<void> {
    const responder = new InteractionResponder(this.#responderContext, {
      interactionId: interaction.id,
      token: interaction.token,
      channelId: interaction.chat.id,
      acknowledge,
    });
    if (interaction.text.length > this.#core.config.limits.maxInboundChars) {
      return responder.notice(ERROR_CATALOG.E_MESSAGE_TOO_LONG).then(() => undefined);
    }
    const role =
      interaction.guildId === undefined
        ? undefined
        : this.#roles.fromInteraction(interaction.guildId, interaction.user.id, interaction.permissions);
    const hand = (inbound: Inbound): Promise<void> => {
      if (capture === undefined) return this.#deliver(inbound);
      capture(inbound); // a journaled interaction: the journal hands it to the router
      return DONE;
    };
    if (role instanceof Promise)
      return role.then((platformRole) => hand(this.#interactionInbound(interaction, responder, platformRole)));
    return hand(this.#interactionInbound(interaction, responder, role));
  }

  /** Parse, or throw `MalformedPayloadError` (the gateway logs and skips it; HTTP answers 400). */
  #parseInteraction(payload: unknown): ReturnType<typeof parseInteraction> {
    return parseInteraction(payload, (name, path) => {
      const def = this.#core.commands.get(name);
      return def === undefined ? undefined : resolveCommand(def, [...path], path.join(" ")).node.args;
    });
  }

  #interactionInbound(
    parsed: CommandInteraction,
    responder: InteractionResponder,
    platformRole: PlatformRole | undefined,
  ): Inbound {
    const u = parsed.user;
    const inbound: Inbound = {
      deliveryId: `discord:${parsed.id}`,
      platform: "discord",
      chat: parsed.chat,
      user:
        platformRole === undefined
          ? { id: u.id, displayName: u.displayName, isBot: u.isBot }
          : { id: u.id, displayName: u.displayName, platformRole, isBot: u.isBot },
      text: parsed.text,
      origin: parsed.origin,
      receivedAt: turnClock(this.#core.clock).now(),
      // An interaction's answer is not held by the outbound limiter: marked sent as it is handed to the responder.
      respond: (reply, hooks) => {
        if (reply.file !== undefined) return this.#respondWithFile(parsed.chat.id, responder, { reply, hooks });
        const marked = hooks?.beforeSend?.();
        return marked === undefined ? responder.respond(reply) : marked.then(() => responder.respond(reply));
      },
      typing: noTyping, // the deferred answer already shows "thinking…"
    };
    if (parsed.command !== undefined) inbound.command = parsed.command;
    return inbound;
  }

  /**
   * An interaction's answer with a file: the size is checked before anything is sent, the text answers the
   * interaction, and the file follows as a channel message (an interaction's own answer carries no upload here).
   */
  async #respondWithFile(
    channelId: string,
    responder: InteractionResponder,
    { reply, hooks }: { reply: Reply; hooks: SendHooks | undefined },
  ): Promise<SentMessage> {
    const { file, ...text } = reply;
    assertFileFits(file!, { maxBytes: DISCORD_MAX_FILE_BYTES, platform: "Discord" });
    await hooks?.beforeSend?.();
    const answered = await responder.respond(text.text.trim() === "" ? { ...text, text: "📎" } : text);
    await this.#outbox.sendToChannel(channelId, { text: "", file: file! });
    return answered;
  }

  async #onMessage(payload: unknown): Promise<void> {
    if (this.#gateway?.botUserId === undefined) return;
    const inbound = await this.#messageInbound(payload);
    if (inbound !== undefined) await this.#deliver(inbound);
  }

  /** A gateway message → its `Inbound`, or undefined when it is not for the router (an oversized one is refused here). */
  async #messageInbound(payload: unknown): Promise<Inbound | undefined> {
    const botUserId = this.#gateway?.botUserId;
    if (botUserId === undefined) throw new SwitchboardError("E_ADAPTER", "the Discord gateway is not connected yet");
    let message: ReturnType<typeof parseMessage>;
    try {
      message = parseMessage(payload, botUserId);
    } catch (error) {
      if (error instanceof MalformedPayloadError) {
        this.#core.log.warn({ adapter: "discord", err: error.message }, "malformed message skipped");
        return;
      }
      throw error;
    }
    this.#health.markInbound();
    // The journal dedupes durably; without it, this process's memory of message ids does.
    if (message === undefined || (this.#core.journal === undefined && !this.#firstSeen(message.id))) return undefined;
    const channelId = message.chat.id;
    const respond = (reply: Reply, hooks?: SendHooks) =>
      this.#outbox.sendToChannel(channelId, reply, { replyToMessageId: message.id, hooks });
    if (message.text.length > this.#core.config.limits.maxInboundChars) {
      await respond({ text: ERROR_CATALOG.E_MESSAGE_TOO_LONG, format: "plain" });
      return undefined;
    }
    const platformRole =
      message.guildId === undefined
        ? undefined
        : await this.#roles.fromMemberRoles(message.guildId, message.user.id, message.roleIds);
    return {
      deliveryId: `discord:${message.id}`,
      platform: "discord",
      chat: message.chat,
      user: {
        id: message.user.id,
        displayName: message.user.displayName,
        ...(platformRole === undefined ? {} : { platformRole }),
        isBot: message.user.isBot,
      },
      text: message.text,
      ...(message.command === undefined ? {} : { command: message.command }),
      ...(message.replyTo === undefined ? {} : { replyTo: message.replyTo }),
      mentionsBot: message.mentionsBot,
      messageId: message.id,
      ...(message.attachments.length === 0
        ? {}
        : {
            attachments: message.attachments.map((a) =>
              remoteAttachment({ ...a, allowedOrigins: this.#attachmentOrigins }),
            ),
          }),
      origin: "user",
      receivedAt: turnClock(this.#core.clock).now(),
      respond,
      typing: () => this.#api.typing(channelId),
    };
  }

  /**
   * A reaction dispatch → a reaction Inbound (journaled as it arrives, and revived from the journal). Discord
   * gives a reaction no id of its own: the delivery id is the message, person, emoji and the dispatch's sequence
   * number, so a RESUME replay is dropped as a redelivery while adding the same emoji again later is not.
   */
  #reactionInbound(packet: GatewayDispatch): Inbound | undefined {
    let r: ReturnType<typeof parseReaction>;
    try {
      r = parseReaction(packet.d, packet.t === "MESSAGE_REACTION_ADD");
    } catch (error) {
      if (error instanceof MalformedPayloadError) {
        this.#core.log.warn({ adapter: "discord", err: error.message }, "malformed reaction skipped");
        return undefined;
      }
      throw error;
    }
    this.#health.markInbound();
    const botUserId = this.#gateway?.botUserId;
    const channelId = r.channelId;
    return {
      deliveryId: `discord:reaction:${r.messageId}:${r.userId}:${r.emoji}:${r.added ? "add" : "remove"}:${packet.s ?? ""}`,
      platform: "discord",
      chat: { id: channelId, kind: r.guildId === undefined ? "dm" : "group" },
      user: { id: r.userId, displayName: r.displayName, isBot: r.userId === botUserId },
      text: "",
      messageId: r.messageId,
      reaction: {
        emoji: r.emoji,
        added: r.added,
        messageId: r.messageId,
        ...(r.messageAuthorId === undefined || botUserId === undefined
          ? {}
          : { onBotMessage: r.messageAuthorId === botUserId }),
      },
      origin: "user",
      receivedAt: turnClock(this.#core.clock).now(),
      respond: (reply, hooks) => this.#outbox.sendToChannel(channelId, reply, { hooks }),
      ...(r.guildId === undefined ? {} : { resolvePlatformRole: () => this.platformRoleOf(channelId, r.userId) }),
    };
  }

  /** Where attachment URLs may point: Discord's CDN, and the API root the adapter talks to. */
  get #attachmentOrigins(): string[] {
    return [...DISCORD_FILE_ORIGINS, new URL(this.#o.apiRoot).origin];
  }

  #deliver(inbound: Inbound): Promise<void> {
    const sink = this.#sink;
    if (sink === undefined || this.#isStopped) {
      return Promise.reject(new SwitchboardError("E_ADAPTER", "the Discord adapter is not running"));
    }
    return sink(inbound);
  }
}

/** True when Discord refused an interaction callback because the interaction was acknowledged before (40060). */
function isAlreadyAcknowledged(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
    const { code, message, cause } = e as { code?: unknown; message?: unknown; cause?: unknown };
    if (code === 40060 || (typeof message === "string" && message.includes("already been acknowledged"))) return true;
    e = cause;
  }
  return false;
}
