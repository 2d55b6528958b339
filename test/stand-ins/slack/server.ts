/**
 * A stand-in Slack platform on 127.0.0.1:0: a stateful Web API (`POST /api/<method>`, form or JSON bodies,
 * Bearer or body token), `response_url` receivers, and a Socket Mode WebSocket server. It records every call
 * and offers knobs: 429 with Retry-After, dropped or deaf sockets, platform errors.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";

/** One Web API call as the stand-in received it. */
export interface RecordedCall {
  method: string;
  /** The parsed body (form fields or JSON), token removed. */
  body: Record<string, unknown>;
  /** Which token authenticated it. */
  token: string | undefined;
  at: number;
  /** The HTTP status answered. */
  status: number;
}

/** A message the stand-in stores (posted or updated through the Web API). */
export interface StoredMessage {
  channel: string;
  ts: string;
  text: string;
  threadTs?: string;
  blocks?: unknown;
  /** False when posted with `mrkdwn: false` (shown without markup parsing). */
  mrkdwn: boolean;
  /** Every text this message had, oldest first (chat.update appends). */
  history: string[];
}

/** A POST received on a `response_url`. */
export interface ResponseUrlPost {
  id: string;
  body: Record<string, unknown>;
  at: number;
}

/** A workspace user, as users.info returns it. */
export interface StandInUser {
  id: string;
  name?: string;
  is_owner?: boolean;
  is_primary_owner?: boolean;
  is_admin?: boolean;
  is_bot?: boolean;
}

/** One Socket Mode envelope waiting for, or having received, an ack. */
interface Envelope {
  envelope_id: string;
  type: string;
  payload: unknown;
  accepts_response_payload: boolean;
  attempts: number;
  acked: boolean;
}

/** Options for the stand-in. */
export interface SlackStandInOptions {
  botToken?: string;
  appToken?: string;
  /** How often the Socket Mode server pings each connection, in ms. */
  socketPingIntervalMs?: number;
  users?: StandInUser[];
}

/** The stand-in Slack platform. */
export class SlackStandIn {
  readonly botToken: string;
  readonly appToken: string;
  readonly botUserId = "UBOT0001";
  readonly botId = "BBOT0001";
  readonly teamId = "T0000001";
  readonly calls: RecordedCall[] = [];
  readonly messages: StoredMessage[] = [];
  readonly responsePosts: ResponseUrlPost[] = [];
  readonly users = new Map<string, StandInUser>();
  /** Every envelope ack the Socket Mode server received: envelope id and the ack's payload. */
  readonly acks: Array<{ envelopeId: string; payload: unknown }> = [];
  /** How many Socket Mode connections were opened (apps.connections.open calls that connected). */
  socketConnections = 0;
  #server: Server;
  #wss: WebSocketServer;
  #port = 0;
  #tsCounter = 0;
  #responseIds = 0;
  #envelopeIds = 0;
  #rateLimits = new Map<string, { retryAfterS: number; remaining: number }>();
  #failures = new Map<string, { error: string; remaining: number }>();
  #sockets = new Set<WebSocket>();
  #deaf = false;
  #envelopes: Envelope[] = [];
  #pingTimer: NodeJS.Timeout | undefined;
  #waiters = new Set<() => void>();
  readonly #pingIntervalMs: number;

  constructor(options: SlackStandInOptions = {}) {
    this.botToken = options.botToken ?? "xoxb-stand-in";
    this.appToken = options.appToken ?? "xapp-stand-in";
    this.#pingIntervalMs = options.socketPingIntervalMs ?? 1_000;
    for (const user of options.users ?? []) this.users.set(user.id, user);
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => {
        res.writeHead(500, { "content-type": "text/plain" });
        res.end(String(error));
      });
    });
    this.#wss = new WebSocketServer({ noServer: true });
    this.#server.on("upgrade", (req, socket, head) => {
      if (!(req.url ?? "").startsWith("/socket")) {
        socket.destroy();
        return;
      }
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#onSocket(ws));
    });
  }

  /** Listen on 127.0.0.1 and a free port. */
  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    this.#port = (this.#server.address() as AddressInfo).port;
    this.#pingTimer = setInterval(() => {
      for (const ws of this.#sockets) ws.ping("stand-in");
    }, this.#pingIntervalMs);
    return this;
  }

  /** Close every socket and the HTTP server. */
  async stop(): Promise<void> {
    clearInterval(this.#pingTimer);
    for (const ws of this.#sockets) ws.terminate();
    this.#sockets.clear();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** `http://127.0.0.1:PORT`. */
  get origin(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** The Web API root to configure (`slackApiUrl`), ending in `/api/`. */
  get apiUrl(): string {
    return `${this.origin}/api/`;
  }

  /** A fresh `response_url` on this stand-in. */
  responseUrl(): string {
    this.#responseIds += 1;
    return `${this.origin}/response/${this.#responseIds}`;
  }

  /** The next `times` calls of `method` answer 429 with `Retry-After: retryAfterS`. */
  rateLimit(method: string, retryAfterS: number, times = 1): void {
    this.#rateLimits.set(method, { retryAfterS, remaining: times });
  }

  /** The next `times` calls of `method` answer `{ ok: false, error }`. */
  failNext(method: string, error: string, times = 1): void {
    this.#failures.set(method, { error, remaining: times });
  }

  /** Calls of one method, in order. */
  callsOf(method: string): RecordedCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Messages in a channel, oldest first. */
  messagesIn(channel: string): StoredMessage[] {
    return this.messages.filter((m) => m.channel === channel);
  }

  /** Resolve when `predicate` holds (checked after every recorded change), or reject after `timeoutMs`. */
  async waitFor(predicate: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
    if (predicate()) return;
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`stand-in Slack: timed out waiting for ${what}`));
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }

  // ---- Socket Mode knobs ----

  /** Queue an envelope (`events_api`, `slash_commands`, `interactive`) and send it when a socket listens. */
  deliver(type: "events_api" | "slash_commands" | "interactive", payload: unknown): string {
    this.#envelopeIds += 1;
    const envelope: Envelope = {
      envelope_id: `env-${this.#envelopeIds}`,
      type,
      payload,
      accepts_response_payload: type !== "events_api",
      attempts: 0,
      acked: false,
    };
    this.#envelopes.push(envelope);
    this.#flush();
    return envelope.envelope_id;
  }

  /** True when the envelope was acked. */
  isAcked(envelopeId: string): boolean {
    return this.#envelopes.some((e) => e.envelope_id === envelopeId && e.acked);
  }

  /** How many Socket Mode connections are open now. */
  get openSockets(): number {
    return this.#sockets.size;
  }

  /** Cut every Socket Mode connection without a close handshake. Unacked envelopes are redelivered later. */
  dropSockets(): void {
    for (const ws of this.#sockets) ws.terminate();
    this.#sockets.clear();
  }

  /** Deaf mode: sockets stay open and answer pings, but envelopes are held until a new connection opens. */
  setDeaf(deaf: boolean): void {
    this.#deaf = deaf;
    if (!deaf) this.#flush();
  }

  /** Send one text frame as it is (malformed on purpose, in fuzz tests) on the newest live socket. */
  sendRaw(text: string): void {
    const ws = [...this.#sockets].at(-1);
    if (ws === undefined || ws.readyState !== ws.OPEN) throw new Error("no live socket mode connection");
    ws.send(text);
  }

  /** Send `{type: "disconnect", reason}` on every socket, as Slack does before recycling a connection. */
  requestRefresh(reason = "refresh_requested"): void {
    for (const ws of this.#sockets) ws.send(JSON.stringify({ type: "disconnect", reason }));
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  #onSocket(ws: WebSocket): void {
    this.#sockets.add(ws);
    this.socketConnections += 1;
    // A fresh connection is never deaf: the knob models a connection that went deaf, not the platform.
    this.#deaf = false;
    ws.on("message", (data) => {
      let frame: { envelope_id?: string; payload?: unknown };
      try {
        frame = JSON.parse(String(data)) as typeof frame;
      } catch {
        return;
      }
      const envelope = this.#envelopes.find((e) => e.envelope_id === frame.envelope_id);
      if (envelope !== undefined) envelope.acked = true;
      this.acks.push({ envelopeId: String(frame.envelope_id), payload: frame.payload });
      this.#notify();
    });
    ws.on("close", () => {
      this.#sockets.delete(ws);
      this.#notify();
    });
    ws.send(
      JSON.stringify({
        type: "hello",
        num_connections: this.#sockets.size,
        debug_info: { host: "stand-in", approximate_connection_time: 3600 },
        connection_info: { app_id: "A0000001" },
      }),
    );
    this.#flush();
    this.#notify();
  }

  /** Send every unacked, unsent-on-this-socket envelope to the newest live socket (unless deaf). */
  #flush(): void {
    if (this.#deaf) return;
    const ws = [...this.#sockets].at(-1);
    if (ws === undefined || ws.readyState !== ws.OPEN) return;
    const sentOn = ((ws as WebSocket & { sent?: Set<string> }).sent ??= new Set<string>());
    for (const envelope of this.#envelopes) {
      if (envelope.acked || sentOn.has(envelope.envelope_id)) continue;
      sentOn.add(envelope.envelope_id);
      envelope.attempts += 1;
      ws.send(
        JSON.stringify({
          envelope_id: envelope.envelope_id,
          type: envelope.type,
          payload: envelope.payload,
          accepts_response_payload: envelope.accepts_response_payload,
          ...(envelope.type === "events_api"
            ? { retry_attempt: envelope.attempts - 1, retry_reason: envelope.attempts > 1 ? "timeout" : "" }
            : {}),
        }),
      );
    }
  }

  // ---- HTTP ----

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const url = new URL(req.url ?? "/", this.origin);
    if (req.method === "POST" && url.pathname.startsWith("/response/")) {
      this.responsePosts.push({
        id: url.pathname.slice("/response/".length),
        body: parseBody(req, raw),
        at: Date.now(),
      });
      this.#notify();
      send(res, 200, { body: "ok", type: "text/plain" });
      return;
    }
    if (req.method === "GET" && url.pathname.startsWith("/files-pri/")) {
      // url_private: served only with the bot token, as Slack's file host does.
      const hosted = this.hostedFiles.get(url.pathname);
      if (req.headers.authorization !== `Bearer ${this.botToken}` || hosted === undefined) {
        send(res, 404, { body: "not found", type: "text/plain" });
        return;
      }
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(hosted.length) });
      res.end(hosted);
      return;
    }
    if (req.method === "POST" && url.pathname.startsWith("/upload/")) {
      // Step 2 of an external upload: the bytes, to the URL getUploadURLExternal gave.
      // The Web API client sends the bytes as a multipart form (one file part); a raw body works too.
      const pending = this.#pendingUploads.get(url.pathname.slice("/upload/".length));
      let bytes: Uint8Array = new Uint8Array(raw);
      const contentType = String(req.headers["content-type"] ?? "");
      if (contentType.startsWith("multipart/form-data")) {
        const form = await new Response(raw, { headers: { "content-type": contentType } }).formData();
        const part = [...form.values()].find((v) => typeof v !== "string");
        bytes = part === undefined ? new Uint8Array() : new Uint8Array(await part.arrayBuffer());
      }
      if (pending === undefined || bytes.length !== pending.length) {
        send(res, 400, { body: "bad upload", type: "text/plain" });
        return;
      }
      pending.bytes = bytes;
      send(res, 200, { body: `OK - ${bytes.length}`, type: "text/plain" });
      return;
    }
    if (req.method === "POST" && url.pathname.startsWith("/api/")) {
      const method = url.pathname.slice("/api/".length);
      const body = parseBody(req, raw);
      const header = req.headers.authorization;
      const token =
        typeof header === "string" && header.startsWith("Bearer ")
          ? header.slice(7)
          : (body.token as string | undefined);
      delete body.token;
      const call: RecordedCall = { method, body, token, at: Date.now(), status: 200 };
      this.calls.push(call);
      const limited = this.#rateLimits.get(method);
      if (limited !== undefined && limited.remaining > 0) {
        limited.remaining -= 1;
        call.status = 429;
        res.writeHead(429, { "content-type": "application/json", "retry-after": String(limited.retryAfterS) });
        res.end(JSON.stringify({ ok: false, error: "ratelimited" }));
        this.#notify();
        return;
      }
      const answer = this.#api(method, body, token);
      send(res, 200, { body: JSON.stringify(answer), type: "application/json" });
      this.#notify();
      return;
    }
    send(res, 404, { body: "not found", type: "text/plain" });
  }

  #api(method: string, body: Record<string, unknown>, token: string | undefined): Record<string, unknown> {
    const failure = this.#failures.get(method);
    if (failure !== undefined && failure.remaining > 0) {
      failure.remaining -= 1;
      return { ok: false, error: failure.error };
    }
    if (method === "apps.connections.open") {
      if (token !== this.appToken) return { ok: false, error: "invalid_auth" };
      return { ok: true, url: `ws://127.0.0.1:${this.#port}/socket?n=${this.socketConnections + 1}` };
    }
    if (token !== this.botToken) return { ok: false, error: "invalid_auth" };
    switch (method) {
      case "auth.test":
        return {
          ok: true,
          url: "https://stand-in.slack.com/",
          team: "Stand-in",
          user: "switchboard",
          team_id: this.teamId,
          user_id: this.botUserId,
          bot_id: this.botId,
          is_enterprise_install: false,
        };
      case "chat.postMessage": {
        const channel = String(body.channel ?? "");
        if (channel === "") return { ok: false, error: "channel_not_found" };
        const text = String(body.text ?? "");
        const ts = this.#nextTs();
        const message: StoredMessage = {
          channel,
          ts,
          text,
          mrkdwn: body.mrkdwn !== false && body.mrkdwn !== "false",
          history: [text],
        };
        if (body.thread_ts !== undefined) message.threadTs = String(body.thread_ts);
        if (body.blocks !== undefined) message.blocks = parseMaybeJson(body.blocks);
        this.messages.push(message);
        return {
          ok: true,
          channel,
          ts,
          message: {
            type: "message",
            text,
            user: this.botUserId,
            bot_id: this.botId,
            ts,
            ...(message.threadTs === undefined ? {} : { thread_ts: message.threadTs }),
          },
        };
      }
      case "chat.postEphemeral": {
        const channel = String(body.channel ?? "");
        if (channel === "" || body.user === undefined) return { ok: false, error: "channel_not_found" };
        return { ok: true, message_ts: this.#nextTs() };
      }
      case "chat.update": {
        const message = this.messages.find((m) => m.channel === String(body.channel) && m.ts === String(body.ts));
        if (message === undefined) return { ok: false, error: "message_not_found" };
        message.text = String(body.text ?? "");
        message.history.push(message.text);
        if (body.blocks !== undefined) message.blocks = parseMaybeJson(body.blocks);
        return { ok: true, channel: message.channel, ts: message.ts, text: message.text };
      }
      case "chat.delete": {
        const index = this.messages.findIndex((m) => m.channel === String(body.channel) && m.ts === String(body.ts));
        if (index === -1) return { ok: false, error: "message_not_found" };
        this.messages.splice(index, 1);
        return { ok: true, channel: String(body.channel), ts: String(body.ts) };
      }
      case "files.getUploadURLExternal": {
        const length = Number(body.length);
        if (typeof body.filename !== "string" || !Number.isInteger(length) || length <= 0)
          return { ok: false, error: "invalid_arguments" };
        this.#uploadCounter += 1;
        const id = `F${String(this.#uploadCounter).padStart(8, "0")}`;
        this.#pendingUploads.set(id, { name: body.filename, length, bytes: undefined });
        return { ok: true, upload_url: `${this.origin}/upload/${id}`, file_id: id };
      }
      case "files.completeUploadExternal": {
        const list = parseMaybeJson(body.files) as Array<{ id?: string; title?: string }> | undefined;
        const channel = typeof body.channel_id === "string" ? body.channel_id : undefined;
        if (!Array.isArray(list) || list.length === 0) return { ok: false, error: "invalid_arguments" };
        const files = [];
        for (const entry of list) {
          const pending = entry.id === undefined ? undefined : this.#pendingUploads.get(entry.id);
          if (pending?.bytes === undefined) return { ok: false, error: "file_not_found" };
          this.#pendingUploads.delete(entry.id!);
          const ts = this.#nextTs();
          if (channel !== undefined)
            this.files.push({
              id: entry.id!,
              channel,
              ts,
              name: pending.name,
              bytes: pending.bytes,
              ...(typeof body.thread_ts === "string" ? { threadTs: body.thread_ts } : {}),
            });
          files.push({
            id: entry.id,
            name: pending.name,
            title: entry.title ?? pending.name,
            size: pending.length,
            ...(channel === undefined ? {} : { shares: { public: { [channel]: [{ ts }] } } }),
          });
        }
        return { ok: true, files };
      }
      case "users.info": {
        const user = this.users.get(String(body.user ?? ""));
        if (user === undefined) return { ok: false, error: "user_not_found" };
        return {
          ok: true,
          user: {
            team_id: this.teamId,
            deleted: false,
            name: user.name ?? user.id,
            real_name: user.name ?? user.id,
            is_bot: false,
            is_admin: false,
            is_owner: false,
            is_primary_owner: false,
            ...user,
          },
        };
      }
      default:
        return { ok: false, error: "unknown_method" };
    }
  }

  /** Files users shared, by path, served at their `url_private`. */
  readonly hostedFiles = new Map<string, Uint8Array>();

  /** Serve bytes as a shared file; returns its `files` entry for an event (with `url_private`). */
  hostFile(name: string, mimeType: string, bytes: Uint8Array): Record<string, unknown> {
    this.#uploadCounter += 1;
    const id = `F${String(this.#uploadCounter).padStart(8, "0")}`;
    const path = `/files-pri/${this.teamId}-${id}/${encodeURIComponent(name)}`;
    this.hostedFiles.set(path, bytes);
    return { id, name, mimetype: mimeType, size: bytes.length, url_private: `${this.origin}${path}` };
  }

  /** Uploads announced by getUploadURLExternal, until completed. */
  readonly #pendingUploads = new Map<string, { name: string; length: number; bytes: Uint8Array | undefined }>();
  #uploadCounter = 0;
  /** Files shared into conversations by completeUploadExternal, oldest first. */
  readonly files: Array<{
    id: string;
    channel: string;
    ts: string;
    name: string;
    bytes: Uint8Array;
    threadTs?: string;
  }> = [];

  #nextTs(): string {
    this.#tsCounter += 1;
    return `1700000000.${String(this.#tsCounter).padStart(6, "0")}`;
  }
}

/** Start a stand-in Slack platform. */
export async function startSlackStandIn(options: SlackStandInOptions = {}): Promise<SlackStandIn> {
  return new SlackStandIn(options).start();
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function parseBody(req: IncomingMessage, raw: Buffer): Record<string, unknown> {
  const type = String(req.headers["content-type"] ?? "");
  const text = raw.toString("utf8");
  if (text === "") return {};
  if (type.includes("application/json")) return JSON.parse(text) as Record<string, unknown>;
  return Object.fromEntries(new URLSearchParams(text));
}

function parseMaybeJson(value: unknown): unknown {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

function send(res: ServerResponse, status: number, { body, type }: { body: string; type: string }): void {
  res.writeHead(status, { "content-type": type });
  res.end(body);
}
