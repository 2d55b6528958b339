/**
 * A stateful stand-in for Discord on 127.0.0.1:0: the REST API (v10) the adapter and discord.js call, and the
 * gateway (see gateway.ts) on the same port. It records every request, keeps channels' messages, registered
 * commands and interaction responses, and has knobs: dispatch interactions and messages, drop or deafen the
 * gateway, and answer the next matching request with a 429.
 *
 * ```ts
 * const discord = await startDiscordStandIn();
 * const adapter = ...({ token: discord.token, applicationId: discord.applicationId, apiRoot: discord.apiRoot });
 * discord.dispatchInteraction({ name: "help", user: discord.users.alice, guildId: discord.guild.id, channelId: discord.channelId });
 * await discord.waitForRequest((r) => r.path.endsWith("/callback"));
 * ```
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { EventEmitter } from "node:events";
import { StandInGateway } from "./gateway.ts";
import {
  guildCreatePayload,
  interactionPayload,
  messagePayload,
  PERMISSION,
  snowflake,
  wireMember,
  wireUser,
  type InteractionSpec,
  type MessageSpec,
  type WireGuild,
  type WireMember,
  type WireUser,
} from "./payloads.ts";
import { handleRest } from "./rest.ts";

/** One request the stand-in received. */
export interface RecordedRequest {
  method: string;
  /** Decoded path, e.g. `/api/v10/webhooks/1/tok/messages/@original`. */
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage["headers"];
  /** Parsed JSON body, or undefined. */
  body: unknown;
  status: number;
  at: number;
}

/** A message the stand-in holds. */
/** A file uploaded with a message. */
export interface UploadedFile {
  name: string;
  contentType: string;
  bytes: Uint8Array;
}

export interface StoredMessage {
  id: string;
  channel_id: string;
  content: string;
  flags: number;
  author: WireUser;
  webhook_id?: string;
  interactionId?: string;
  edits: number;
  [key: string]: unknown;
}

/** What the stand-in knows of an interaction it handed out. */
export interface StoredInteraction {
  id: string;
  token: string;
  channelId: string;
  /** Callback types received, in order (4 reply, 5 deferred). */
  callbacks: Array<{ type: number; data: unknown }>;
  originalId?: string;
  followupIds: string[];
}

/** A queued 429. */
export interface RateLimitRule {
  method?: string;
  path: RegExp;
  retryAfterSec: number;
  global?: boolean;
  remaining: number;
}

/** A queued refusal (any status and Discord error body). */
export interface RefusalRule {
  method?: string;
  path: RegExp;
  status: number;
  code: number;
  message: string;
  remaining: number;
}

/** Options for the stand-in. */
export interface DiscordStandInOptions {
  heartbeatIntervalMs?: number;
}

/** The running stand-in. */
export class DiscordStandIn extends EventEmitter {
  readonly token = "stand-in-bot-token";
  readonly applicationId = snowflake();
  readonly bot: WireUser = wireUser(this.applicationId, "switchboard", true);
  readonly users = {
    owner: wireUser(snowflake(), "olive"),
    admin: wireUser(snowflake(), "ada"),
    alice: wireUser(snowflake(), "alice"),
  };
  readonly adminRoleId = snowflake();
  readonly guild: WireGuild;
  readonly channelId = snowflake();
  readonly dmChannelId = snowflake();
  readonly members = new Map<string, WireMember>();
  readonly requests: RecordedRequest[] = [];
  /** Messages created with `enforce_nonce`, by `channel:nonce` (Discord keeps them a few minutes). */
  readonly nonces = new Map<string, StoredMessage>();
  readonly messages = new Map<string, StoredMessage[]>();
  /** Files uploaded with messages, oldest first. */
  readonly uploads: Array<{ channelId: string; messageId: string; file: UploadedFile }> = [];
  readonly interactions = new Map<string, StoredInteraction>();
  /** Registered commands: `global` or a guild id → the last PUT body (with ids). */
  readonly commands = new Map<string, Array<Record<string, unknown>>>();
  readonly rateLimits: RateLimitRule[] = [];
  readonly refusals: RefusalRule[] = [];
  readonly gateway: StandInGateway;
  readonly #server: Server;
  #port = 0;

  constructor(options: DiscordStandInOptions = {}) {
    super();
    const guildId = snowflake();
    this.guild = {
      id: guildId,
      name: "Stand-in Guild",
      owner_id: this.users.owner.id,
      roles: [
        {
          id: guildId,
          name: "@everyone",
          permissions: (PERMISSION.viewChannel | PERMISSION.sendMessages).toString(),
          position: 0,
        },
        { id: this.adminRoleId, name: "mods", permissions: PERMISSION.manageGuild.toString(), position: 1 },
      ],
    };
    this.members.set(this.users.owner.id, wireMember(this.users.owner));
    this.members.set(this.users.admin.id, wireMember(this.users.admin, [this.adminRoleId]));
    this.members.set(this.users.alice.id, wireMember(this.users.alice));
    this.gateway = new StandInGateway({
      token: this.token,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 1_000,
      readyData: () => ({
        v: 10,
        user: { ...this.bot, verified: true, mfa_enabled: false, flags: 0 },
        guilds: [{ id: this.guild.id, unavailable: true }],
        application: { id: this.applicationId, flags: 0 },
        private_channels: [],
        relationships: [],
        user_settings: {},
        presences: [],
        guild_join_requests: [],
        geo_ordered_rtc_regions: [],
      }),
      guildCreates: () => [guildCreatePayload(this.guild, [this.channelId], [...this.members.values()])],
      resumeUrl: () => `ws://127.0.0.1:${this.#port}/gateway-resume`,
    });
    this.#server = createServer((req, res) => {
      this.#onRequest(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ message: String(error), code: 0 }));
      });
    });
    this.#server.on("upgrade", (req, socket, head) => {
      const path = new URL(req.url ?? "/", "http://stand-in").pathname;
      if (path === "/gateway" || path === "/gateway-resume") this.gateway.upgrade(req, socket, head);
      else socket.destroy();
    });
  }

  /** `http://127.0.0.1:PORT`. */
  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** The REST root to configure (`apiRoot`; the client appends /v10). */
  get apiRoot(): string {
    return `${this.url}/api`;
  }

  /** Start listening on 127.0.0.1 with a free port. */
  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", () => resolve()));
    this.#port = (this.#server.address() as AddressInfo).port;
    return this;
  }

  /** Stop everything. */
  async close(): Promise<void> {
    await this.gateway.close();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Build an interaction the stand-in will accept callbacks for (without dispatching it). */
  makeInteraction(spec: Omit<InteractionSpec, "applicationId">): Record<string, unknown> {
    const payload = interactionPayload({ ...spec, applicationId: this.applicationId });
    this.interactions.set(payload.id as string, {
      id: payload.id as string,
      token: payload.token as string,
      channelId: spec.channelId,
      callbacks: [],
      followupIds: [],
    });
    return payload;
  }

  /** Send an INTERACTION_CREATE on the gateway. Returns the payload (dispatch it again to redeliver). */
  dispatchInteraction(spec: Omit<InteractionSpec, "applicationId">): Record<string, unknown> {
    const payload = this.makeInteraction(spec);
    this.gateway.dispatch("INTERACTION_CREATE", payload);
    return payload;
  }

  /** Send a MESSAGE_CREATE on the gateway. */
  dispatchMessage(spec: MessageSpec): Record<string, unknown> {
    const payload = messagePayload(spec);
    this.gateway.dispatch("MESSAGE_CREATE", payload);
    return payload;
  }

  /**
   * Send MESSAGE_REACTION_ADD or MESSAGE_REACTION_REMOVE on the gateway. Returns the sequence number, or -1 when
   * the client did not identify with the reaction intent (Discord then sends nothing).
   */
  dispatchReaction(spec: {
    user: WireUser;
    channelId: string;
    messageId: string;
    emoji: string;
    added: boolean;
    guildId?: string;
  }): number {
    const authorId = this.allMessages().find((m) => m.id === spec.messageId)?.author?.id;
    const payload: Record<string, unknown> = {
      user_id: spec.user.id,
      channel_id: spec.channelId,
      message_id: spec.messageId,
      emoji: { id: null, name: spec.emoji },
      burst: false,
      type: 0,
    };
    if (spec.guildId !== undefined) payload.guild_id = spec.guildId;
    if (spec.added) {
      if (authorId !== undefined) payload.message_author_id = authorId;
      if (spec.guildId !== undefined)
        payload.member = { user: spec.user, roles: [], joined_at: new Date(0).toISOString(), deaf: false, mute: false };
    }
    return this.gateway.dispatch(spec.added ? "MESSAGE_REACTION_ADD" : "MESSAGE_REACTION_REMOVE", payload);
  }

  /** Answer the next `times` requests matching with a 429 and this retry-after. */
  rateLimitNext(rule: {
    method?: string;
    path: RegExp;
    retryAfterSec: number;
    global?: boolean;
    times?: number;
  }): void {
    this.rateLimits.push({ ...rule, remaining: rule.times ?? 1 });
  }

  /** Refuse the next `times` requests matching with this status and Discord error (403 50013 "Missing Permissions"…). */
  refuseNext(rule: {
    method?: string;
    path: RegExp;
    status: number;
    code: number;
    message: string;
    times?: number;
  }): void {
    this.refusals.push({ ...rule, remaining: rule.times ?? 1 });
  }

  /** Every message the bot has in any channel, oldest first. */
  allMessages(): StoredMessage[] {
    return [...this.messages.values()].flat().sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
  }

  /** Record the answer Discord got over HTTP (interactions mode), as if it came to the callback route. */
  acceptHttpAnswer(interactionId: string, answer: { type: number; data?: { content?: string; flags?: number } }): void {
    const interaction = this.interactions.get(interactionId);
    if (interaction === undefined || (answer.type !== 4 && answer.type !== 5) || interaction.callbacks.length > 0)
      return;
    interaction.callbacks.push({ type: answer.type, data: answer.data });
    const message = this.addMessage(interaction.channelId, {
      content: answer.type === 4 ? (answer.data?.content ?? "") : "",
      flags: (answer.data?.flags ?? 0) | (answer.type === 5 ? 128 : 0),
      webhook_id: this.applicationId,
      interactionId,
    });
    interaction.originalId = message.id;
  }

  /** The messages now in a channel (interaction replies included), oldest first. */
  channelMessages(channelId: string): StoredMessage[] {
    return this.messages.get(channelId) ?? [];
  }

  /** Resolve with the first recorded request matching (already seen, or arriving within the timeout). */
  async waitForRequest(match: (r: RecordedRequest) => boolean, timeoutMs = 10_000): Promise<RecordedRequest> {
    const seen = this.requests.find(match);
    if (seen !== undefined) return seen;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off("request", listener);
        reject(new Error(`no matching request to the Discord stand-in within ${timeoutMs} ms`));
      }, timeoutMs);
      const listener = (r: RecordedRequest) => {
        if (!match(r)) return;
        clearTimeout(timer);
        this.off("request", listener);
        resolve(r);
      };
      this.on("request", listener);
    });
  }

  /** Resolve once `check()` is true, re-checking after every request, gateway frame and timer tick (or fail). */
  async until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
    if (check()) return;
    await new Promise<void>((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        clearInterval(poll);
        this.off("request", listener);
        this.gateway.off("frame", listener);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`stand-in condition not met within ${timeoutMs} ms`));
      }, timeoutMs);
      // State that changes without traffic (an adapter's health) is seen by the slow poll.
      const poll = setInterval(() => listener(), 50);
      const listener = () => {
        if (!check()) return;
        cleanup();
        resolve();
      };
      this.on("request", listener);
      this.gateway.on("frame", listener);
    });
  }

  /** Store a message the bot sent. */
  addMessage(channelId: string, fields: Partial<StoredMessage> & { content: string }): StoredMessage {
    const message: StoredMessage = {
      id: snowflake(),
      channel_id: channelId,
      author: this.bot,
      flags: 0,
      edits: 0,
      type: 0,
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: [],
      embeds: [],
      pinned: false,
      components: [],
      ...fields,
    };
    const list = this.messages.get(channelId) ?? [];
    list.push(message);
    this.messages.set(channelId, list);
    return message;
  }

  /** Find a stored message by id. */
  findMessage(messageId: string): StoredMessage | undefined {
    for (const list of this.messages.values()) {
      const found = list.find((m) => m.id === messageId);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  /** Files served at `/attachments/...`, as Discord's CDN serves message attachments. */
  readonly hostedFiles = new Map<string, Uint8Array>();

  /** Serve bytes as an attachment; returns its URL (on the stand-in, standing for the CDN). */
  hostFile(name: string, bytes: Uint8Array): string {
    const path = `/attachments/${this.channelId}/${snowflake()}/${encodeURIComponent(name)}`;
    this.hostedFiles.set(path, bytes);
    return `${this.url}${path}`;
  }

  async #onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const hosted = req.method === "GET" ? this.hostedFiles.get(req.url ?? "") : undefined;
    if (hosted !== undefined) {
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(hosted.length) });
      res.end(hosted);
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const bytes = Buffer.concat(chunks);
    const raw = bytes.toString("utf8");
    const url = new URL(req.url ?? "/", "http://stand-in");
    const path = decodeURIComponent(url.pathname);
    let body: unknown;
    const files: UploadedFile[] = [];
    const contentType = req.headers["content-type"] ?? "";
    if (contentType.startsWith("multipart/form-data")) {
      // An upload: the message as `payload_json`, each file as `files[n]` (as discord.js sends them).
      const form = await new Response(bytes, { headers: { "content-type": contentType } }).formData();
      for (const [name, value] of form.entries()) {
        if (name === "payload_json" && typeof value === "string") body = JSON.parse(value);
        else if (typeof value !== "string")
          files.push({ name: value.name, contentType: value.type, bytes: new Uint8Array(await value.arrayBuffer()) });
      }
    } else if (raw.length > 0) {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
    }
    const method = req.method ?? "GET";
    const limited = this.#takeRateLimit(method, path);
    const refused = limited === undefined ? this.#takeRefusal(method, path) : undefined;
    let status: number;
    let payload: unknown;
    let headers: Record<string, string> = {};
    if (refused !== undefined) {
      status = refused.status;
      payload = { message: refused.message, code: refused.code };
    } else if (limited !== undefined) {
      status = 429;
      payload = {
        message: "You are being rate limited.",
        retry_after: limited.retryAfterSec,
        global: limited.global === true,
      };
      headers = { "retry-after": String(limited.retryAfterSec), "x-ratelimit-scope": "user" };
      if (limited.global === true) headers["x-ratelimit-global"] = "true";
    } else {
      ({ status, body: payload } = handleRest(this, {
        method,
        path,
        query: url.searchParams,
        headers: req.headers,
        body,
        files,
      }));
    }
    const recorded: RecordedRequest = {
      method,
      path,
      query: url.searchParams,
      headers: req.headers,
      body,
      status,
      at: Date.now(),
    };
    this.requests.push(recorded);
    if (status === 204) {
      res.writeHead(204, headers);
      res.end();
    } else {
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(JSON.stringify(payload));
    }
    this.emit("request", recorded);
  }

  #takeRefusal(method: string, path: string): RefusalRule | undefined {
    const rule = this.refusals.find(
      (r) => r.remaining > 0 && (r.method === undefined || r.method === method) && r.path.test(path),
    );
    if (rule !== undefined) rule.remaining -= 1;
    return rule;
  }

  #takeRateLimit(method: string, path: string): RateLimitRule | undefined {
    const rule = this.rateLimits.find(
      (r) => r.remaining > 0 && (r.method === undefined || r.method === method) && r.path.test(path),
    );
    if (rule !== undefined) rule.remaining -= 1;
    return rule;
  }
}

/** Start a stand-in on a free loopback port. */
export async function startDiscordStandIn(options: DiscordStandInOptions = {}): Promise<DiscordStandIn> {
  return new DiscordStandIn(options).listen();
}
