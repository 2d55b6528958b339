/**
 * The Discord REST layer: @discordjs/rest for the HTTP calls, our `OutboundLimiter` in front of it. The REST
 * client is told to *reject* on rate limits (`rejectOnRateLimit`) instead of sleeping and retrying itself, so
 * exactly one layer retries: the limiter, which honours the 429's `Retry-After` while holding the channel's
 * slot (and, with Redis, shares budgets across processes). Every platform error maps to a `SwitchboardError`
 * in `toDiscordError`, the one place that reads Discord's error shapes.
 */
import { createHash } from "node:crypto";
import { DiscordAPIError, HTTPError, RateLimitError, REST, type RESTOptions } from "@discordjs/rest";
import { Routes } from "discord-api-types/v10";
import { SwitchboardError, isSwitchboardError } from "../../bot/index.ts";
import { OutboundLimiter, type OutboundKey, type OutboundLimits } from "../shared/outbound-limiter.ts";
import type { HealthTracker } from "../shared/health.ts";

/** Discord's published limits: 50 requests/s globally; messages to one channel are further limited per route. */
export const DISCORD_LIMITS = { globalPerSecond: 50, perChatIntervalMs: 250 } as const;

/** A message body as the channel and webhook routes take it. */
export interface MessageBody {
  content: string;
  flags?: number;
  allowed_mentions?: { parse: string[]; replied_user?: boolean };
  message_reference?: { message_id: string; fail_if_not_exists: boolean };
  components?: unknown[];
  /** With `enforce_nonce`, Discord answers a second create with the same nonce (within minutes) with the first. */
  nonce?: string;
  enforce_nonce?: boolean;
}

/** A file uploaded with a message. */
export interface UploadFile {
  name: string;
  data: Uint8Array;
  contentType: string;
}

/** What came back from a message create or edit (the fields we read). */
export interface ApiMessage {
  id: string;
  channel_id: string;
}

/** Options for `DiscordApi`. */
export interface DiscordApiOptions {
  token: string;
  applicationId: string;
  /** REST root without the version (`https://discord.com/api`). */
  apiRoot: string;
  health: HealthTracker;
  /** Redis URL to share the outbound budget with other processes. */
  redisUrl?: string;
  /** The HTTP layer under the REST client (default: undici). Benchmarks answer in-process through it. */
  makeRequest?: RESTOptions["makeRequest"];
  /** Outbound limits; default `DISCORD_LIMITS`. */
  limits?: OutboundLimits;
  /** Each attempt's timeout, in ms. Default 15 s. */
  requestTimeoutMs?: number;
  /** How long `stop()` waits for queued calls before aborting them, in ms. Default 5 s. */
  drainTimeoutMs?: number;
  onRetry?(info: { key: string; attempt: number; retryAfterMs: number }): void;
  onError?(error: unknown): void;
}

/** Map anything the REST client throws to a `SwitchboardError` (E_ADAPTER, E_TIMEOUT). */
export function toDiscordError(error: unknown, what: string): SwitchboardError {
  if (isSwitchboardError(error)) return error;
  if (error instanceof DiscordAPIError) {
    return new SwitchboardError(
      "E_ADAPTER",
      `Discord refused ${what}: ${error.status} ${error.code} ${error.message}`,
      {
        cause: error,
        details: { status: error.status, code: error.code, method: error.method, url: error.url },
      },
    );
  }
  if (error instanceof RateLimitError) {
    return new SwitchboardError(
      "E_ADAPTER",
      `Discord rate limit on ${what} outlasted the retries (retry after ${error.retryAfter} ms)`,
      {
        cause: error,
        details: { route: error.route, retryAfterMs: error.retryAfter, global: error.global },
      },
    );
  }
  if (error instanceof HTTPError) {
    return new SwitchboardError("E_ADAPTER", `Discord failed ${what}: HTTP ${error.status}`, {
      cause: error,
      details: { status: error.status },
    });
  }
  if (error instanceof Error && (error.name === "AbortError" || error.name === "TimeoutError")) {
    return new SwitchboardError("E_TIMEOUT", `Discord call ${what} timed out or was aborted`, { cause: error });
  }
  return new SwitchboardError(
    "E_ADAPTER",
    `Discord call ${what} failed: ${error instanceof Error ? error.message : String(error)}`,
    { cause: error },
  );
}

/** The 429 delay a failure asks for, in ms, or undefined when it is not a rate limit. */
export function retryAfterMsOf(error: unknown): number | undefined {
  return error instanceof RateLimitError ? Math.max(0, error.retryAfter) : undefined;
}

/** The REST calls the adapter makes, each through the outbound limiter. */
export class DiscordApi {
  /** Bot-authenticated routes, under Discord's global 50/s. */
  readonly rest: REST;
  /** Interaction callbacks and webhook routes: Discord exempts them from the global limit (token-scoped buckets). */
  readonly interactionRest: REST;
  /** The application id (from config or the token; READY corrects it in gateway mode). */
  applicationId: string;
  readonly limiter: OutboundLimiter;
  readonly interactionLimiter: OutboundLimiter;
  readonly #o: DiscordApiOptions;

  constructor(options: DiscordApiOptions) {
    this.#o = options;
    this.applicationId = options.applicationId;
    const restOptions = {
      api: options.apiRoot,
      version: "10",
      rejectOnRateLimit: () => true,
      retries: 1,
      timeout: options.requestTimeoutMs ?? 15_000,
      ...(options.makeRequest === undefined ? {} : { makeRequest: options.makeRequest }),
    };
    this.rest = new REST(restOptions).setToken(options.token);
    this.interactionRest = new REST({ ...restOptions, globalRequestsPerSecond: 1_000_000 });
    const id = `discord:${createHash("sha256").update(options.token).digest("hex").slice(0, 16)}`;
    const common = {
      ...(options.redisUrl === undefined ? {} : { redisUrl: options.redisUrl }),
      retryAfterMsOf,
      ...(options.drainTimeoutMs === undefined ? {} : { drainTimeoutMs: options.drainTimeoutMs }),
      // No attempt timeout here: the REST client times each request out itself (`timeout`), and a per-call
      // timer signal would cost more than the call on the hot path.
      ...(options.onRetry === undefined ? {} : { onRetry: options.onRetry }),
      ...(options.onError === undefined ? {} : { onError: options.onError }),
    };
    this.limiter = new OutboundLimiter({ id, limits: options.limits ?? DISCORD_LIMITS, ...common });
    // Interaction answers must beat the 3-second window: no global budget, only 429 handling (and per-channel
    // spacing for follow-ups, which are real messages).
    this.interactionLimiter = new OutboundLimiter({
      id: `${id}:interactions`,
      limits: { globalPerSecond: 0, perChatIntervalMs: (options.limits ?? DISCORD_LIMITS).perChatIntervalMs ?? 0 },
      ...common,
    });
  }

  /** Run one REST call inside the limits for `key`, mapping errors and marking health on success. */
  call<T>(what: string, key: OutboundKey, run: (signal: AbortSignal) => Promise<unknown>): Promise<T> {
    return this.#mapped<T>(what, () => this.limiter.run(key, run));
  }

  /** As `call`, inside the interaction limits (interaction endpoints have no global limit). */
  interactionCall<T>(what: string, key: OutboundKey, run: (signal: AbortSignal) => Promise<unknown>): Promise<T> {
    return this.#mapped<T>(what, () => this.interactionLimiter.run(key, run));
  }

  #mapped<T>(what: string, start: () => Promise<unknown>): Promise<T> {
    let running: Promise<unknown>;
    try {
      // The limiter gives each attempt a signal of its own (the REST client never removes the abort listener it
      // adds), aborted at stop.
      running = start();
    } catch (error) {
      return Promise.reject(toDiscordError(error, what));
    }
    return running.then(this.#succeeded, (error: unknown) => {
      throw toDiscordError(error, what);
    }) as Promise<T>;
  }

  readonly #succeeded = (result: unknown): unknown => {
    this.#o.health.markApiOk();
    return result;
  };

  /** POST /channels/{id}/messages; with `files`, a multipart upload (`payload_json` and `files[n]`). */
  createMessage(channelId: string, body: MessageBody, files?: readonly UploadFile[]): Promise<ApiMessage> {
    return this.call("createMessage", { chatId: channelId, isGroup: true }, (signal) =>
      this.rest.post(Routes.channelMessages(channelId), {
        body,
        signal,
        ...(files === undefined ? {} : { files: files.map((f) => ({ ...f })) }),
      }),
    );
  }

  /** PATCH /channels/{id}/messages/{id}. */
  editMessage(channelId: string, messageId: string, body: Partial<MessageBody>): Promise<ApiMessage> {
    return this.call("editMessage", { chatId: channelId, isEdit: true }, (signal) =>
      this.rest.patch(Routes.channelMessage(channelId, messageId), { body, signal }),
    );
  }

  /** DELETE /channels/{id}/messages/{id}. */
  async deleteMessage(channelId: string, messageId: string): Promise<void> {
    await this.call("deleteMessage", { chatId: channelId, isEdit: true }, (signal) =>
      this.rest.delete(Routes.channelMessage(channelId, messageId), { signal }),
    );
  }

  /** POST /channels/{id}/typing. */
  async typing(channelId: string): Promise<void> {
    await this.call("typing", { chatId: channelId, isEdit: true }, (signal) =>
      this.rest.post(Routes.channelTyping(channelId), { signal }),
    );
  }

  /** POST /interactions/{id}/{token}/callback: 4 (reply) or 5 (deferred). Answered 204. */
  interactionCallback(
    channelId: string,
    { interactionId, token, body }: { interactionId: string; token: string; body: { type: number; data?: unknown } },
  ): Promise<void> {
    return this.interactionCall<void>("interactionCallback", { chatId: channelId, isEdit: true }, (signal) =>
      this.interactionRest.post(Routes.interactionCallback(interactionId, token), { body, auth: false, signal }),
    );
  }

  /** PATCH /webhooks/{app}/{token}/messages/{id or @original}. */
  editInteractionMessage(
    channelId: string,
    { token, messageId, body }: { token: string; messageId: string; body: Partial<MessageBody> },
  ): Promise<ApiMessage> {
    return this.interactionCall("editInteractionMessage", { chatId: channelId, isEdit: true }, (signal) =>
      this.interactionRest.patch(Routes.webhookMessage(this.applicationId, token, messageId), {
        body,
        auth: false,
        signal,
      }),
    );
  }

  /** DELETE /webhooks/{app}/{token}/messages/{id or @original}. */
  async deleteInteractionMessage(channelId: string, token: string, messageId: string): Promise<void> {
    await this.interactionCall("deleteInteractionMessage", { chatId: channelId, isEdit: true }, (signal) =>
      this.interactionRest.delete(Routes.webhookMessage(this.applicationId, token, messageId), {
        auth: false,
        signal,
      }),
    );
  }

  /** POST /webhooks/{app}/{token}: a follow-up message to an interaction. */
  createFollowup(channelId: string, token: string, body: MessageBody): Promise<ApiMessage> {
    return this.interactionCall("createFollowup", { chatId: channelId, isGroup: true }, (signal) =>
      this.interactionRest.post(Routes.webhook(this.applicationId, token), { body, auth: false, signal }),
    );
  }

  /** PUT the command list, globally or for one guild. */
  async putCommands(commands: unknown[], guildId?: string): Promise<unknown[]> {
    const route =
      guildId === undefined
        ? Routes.applicationCommands(this.applicationId)
        : Routes.applicationGuildCommands(this.applicationId, guildId);
    return this.call("putCommands", { chatId: `commands:${guildId ?? "global"}`, isEdit: true }, (signal) =>
      this.rest.put(route, { body: commands, signal }),
    );
  }

  /** GET /guilds/{id}. */
  guild(guildId: string): Promise<unknown> {
    return this.call("getGuild", { chatId: `guild:${guildId}`, isEdit: true }, (signal) =>
      this.rest.get(Routes.guild(guildId), { signal }),
    );
  }

  /** GET /guilds/{id}/members/{user}. */
  member(guildId: string, userId: string): Promise<unknown> {
    return this.call("getMember", { chatId: `guild:${guildId}`, isEdit: true }, (signal) =>
      this.rest.get(Routes.guildMember(guildId, userId), { signal }),
    );
  }

  /** GET /channels/{id}. */
  channel(channelId: string): Promise<unknown> {
    return this.call("getChannel", { chatId: channelId, isEdit: true }, (signal) =>
      this.rest.get(Routes.channel(channelId), { signal }),
    );
  }

  /** Finish queued calls and release the limiter. */
  async stop(): Promise<void> {
    await Promise.all([this.limiter.stop(), this.interactionLimiter.stop()]);
    for (const rest of [this.rest, this.interactionRest]) {
      rest.clearHashSweeper();
      rest.clearHandlerSweeper();
    }
  }
}
