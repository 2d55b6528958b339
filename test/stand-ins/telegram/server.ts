/**
 * A stateful stand-in for the Telegram Bot API on 127.0.0.1:0, enough for grammY: long polling (held
 * `getUpdates` that answers early when an update is queued and copes with the client aborting), messages and
 * edits (HTML checked like the real API, 4096-character limit), command menus per scope, chat members, webhook
 * registration, and knobs to fail calls (dropped connection, 5xx, 429 with retry_after, any API error) and to go
 * deaf. Every call is recorded.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { parseTelegramHtml } from "./html.ts";

/** One recorded API call. */
export interface RecordedCall {
  method: string;
  body: Record<string, unknown>;
  at: number;
}

/** A message the bot sent, as the stand-in keeps it. */
export interface StoredMessage {
  chatId: string;
  messageId: number;
  threadId?: number;
  /** What the bot sent (HTML when parse_mode was HTML). */
  raw: string;
  /** What a client shows. */
  text: string;
  parseMode?: string;
  replyMarkup?: unknown;
  replyTo?: number;
  /** Every text it had, oldest first (edits append). */
  history: string[];
}

/** A file the bot uploaded (`sendDocument`, `sendPhoto`: multipart form data, as the real API takes it). */
export interface StoredFile {
  method: string;
  chatId: string;
  messageId: number;
  name: string;
  mimeType: string;
  bytes: Uint8Array;
  threadId?: number;
}

/** The Bot API's upload limit. */
const MAX_UPLOAD_BYTES = 50 * 1024 * 1024;

/** How to fail a call. */
export type Failure =
  | { kind: "drop" }
  | { kind: "status"; status: number }
  | { kind: "retry-after"; seconds: number }
  | { kind: "error"; code: number; description: string }
  /** Answer normally, but only after this long. */
  | { kind: "delay"; ms: number };

/** A message to queue as an update. */
export interface QueueMessageInput {
  chatId?: number;
  chatType?: "private" | "group" | "supergroup" | "channel";
  chatTitle?: string;
  userId?: number;
  firstName?: string;
  text: string;
  threadId?: number;
  replyToMessageId?: number;
  replyToFromBot?: boolean;
}

const BOT_ID = 777_000_111;

interface HeldPoll {
  isDeaf: boolean;
  wake(): void;
}

/** The stand-in server. */
export class TelegramStandIn {
  readonly token: string;
  readonly botUsername = "switchboard_test_bot";
  readonly calls: RecordedCall[] = [];
  readonly messages: StoredMessage[] = [];
  readonly files: StoredFile[] = [];
  /** setMyCommands state: scope JSON (or "default") → commands. */
  readonly commands = new Map<string, Array<{ command: string; description: string }>>();
  readonly members = new Map<string, string>();
  webhook: { url: string; secret?: string } | undefined;
  /** When true, getUpdates is held forever whatever is queued (a deaf connection). */
  isDeaf = false;
  /**
   * The update types the bot asked for (`allowed_updates` of its last getUpdates or setWebhook). Like the real
   * API, `message_reaction` updates are only produced when asked for: undefined means the default set.
   */
  allowedUpdates: string[] | undefined;

  readonly #server: Server;
  readonly #failures = new Map<string, Failure[]>();
  #pending: Array<Record<string, unknown> & { update_id: number }> = [];
  #nextUpdateId = 1;
  #nextMessageId = 1;
  #waiters = new Set<() => void>();
  #held = new Map<ServerResponse, HeldPoll>();
  #callListeners = new Set<() => void>();

  private constructor(token: string) {
    this.token = token;
    this.#server = createServer((req, res) => {
      void this.#handle(req, res);
    });
  }

  /** Start on 127.0.0.1 with a free port. */
  static async start(token = "123456:TEST-token"): Promise<TelegramStandIn> {
    const standIn = new TelegramStandIn(token);
    await new Promise<void>((resolve) => standIn.#server.listen(0, "127.0.0.1", resolve));
    return standIn;
  }

  /** The `apiRoot` to give grammY. */
  get apiRoot(): string {
    const { port } = this.#server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  get botId(): number {
    return BOT_ID;
  }

  /** Updates queued and not yet confirmed by an offset. */
  get pendingCount(): number {
    return this.#pending.length;
  }

  /** Queue a raw update (update_id assigned). */
  queueUpdate(update: Record<string, unknown>): Record<string, unknown> & { update_id: number } {
    const full = { ...update, update_id: this.#nextUpdateId++ };
    this.#pending.push(full);
    for (const wake of [...this.#waiters]) wake();
    return full;
  }

  /** Build the update for a text message (commands get their bot_command entity). */
  messageUpdate(input: QueueMessageInput): Record<string, unknown> {
    const chatId = input.chatId ?? input.userId ?? 1001;
    const chatType = input.chatType ?? "private";
    const message: Record<string, unknown> = {
      message_id: this.#nextMessageId++,
      date: Math.floor(Date.now() / 1000),
      chat:
        chatType === "private"
          ? { id: chatId, type: "private", first_name: input.firstName ?? "Ada" }
          : {
              id: chatId,
              type: chatType,
              title: input.chatTitle ?? "Ops room",
              ...(input.threadId !== undefined ? { is_forum: true } : {}),
            },
      text: input.text,
    };
    if (chatType !== "channel")
      message.from = { id: input.userId ?? 1001, is_bot: false, first_name: input.firstName ?? "Ada" };
    else message.sender_chat = message.chat;
    const command = /^\/\S+/.exec(input.text);
    if (command !== null) message.entities = [{ type: "bot_command", offset: 0, length: command[0].length }];
    if (input.threadId !== undefined) {
      message.message_thread_id = input.threadId;
      message.is_topic_message = true;
    }
    if (input.replyToMessageId !== undefined) {
      message.reply_to_message = {
        message_id: input.replyToMessageId,
        date: message.date,
        chat: message.chat,
        text: "earlier",
        from:
          input.replyToFromBot === true
            ? { id: BOT_ID, is_bot: true, first_name: "Switchboard", username: this.botUsername }
            : { id: 5, is_bot: false, first_name: "Bo" },
      };
    }
    return chatType === "channel" ? { channel_post: message } : { message };
  }

  /** Queue a text message as an update. */
  queueMessage(input: QueueMessageInput): Record<string, unknown> & { update_id: number } {
    return this.queueUpdate(this.messageUpdate(input));
  }

  /**
   * A person's reactions on a message changed (`message_reaction`). Queued only when the bot asked for
   * `message_reaction` in `allowed_updates`, as the real API does; returns undefined when it was not produced.
   */
  queueReaction(input: {
    chatId: number;
    messageId: number;
    userId: number;
    firstName?: string;
    old?: string[];
    new?: string[];
  }): (Record<string, unknown> & { update_id: number }) | undefined {
    if (this.allowedUpdates?.includes("message_reaction") !== true) return undefined;
    return this.queueUpdate(this.reactionUpdate(input));
  }

  /** Build a `message_reaction` update. */
  reactionUpdate(input: {
    chatId: number;
    messageId: number;
    userId: number;
    firstName?: string;
    old?: string[];
    new?: string[];
  }): Record<string, unknown> {
    const chat =
      input.chatId > 0
        ? { id: input.chatId, type: "private", first_name: input.firstName ?? "Ada" }
        : { id: input.chatId, type: "supergroup", title: "Ops room" };
    const asReactions = (list: string[] | undefined) => (list ?? []).map((emoji) => ({ type: "emoji", emoji }));
    return {
      message_reaction: {
        chat,
        message_id: input.messageId,
        user: { id: input.userId, is_bot: false, first_name: input.firstName ?? "Ada" },
        date: Math.floor(Date.now() / 1000),
        old_reaction: asReactions(input.old),
        new_reaction: asReactions(input.new),
      },
    };
  }

  /** Files users sent, by `file_path`, served at `/file/bot<token>/<file_path>` like the real file host. */
  readonly hostedFiles = new Map<string, { fileId: string; bytes: Uint8Array }>();

  /**
   * Queue a message carrying a document (or, with `asPhoto`, a photo). `filePath` is what `getFile` will answer
   * (a crafted one tests that the bot reads from the file host only).
   */
  queueFile(input: {
    chatId: number;
    userId: number;
    name: string;
    mimeType: string;
    bytes: Uint8Array;
    caption?: string;
    asPhoto?: boolean;
    filePath?: string;
  }): Record<string, unknown> & { update_id: number } {
    const fileId = `file-${this.#nextMessageId}`;
    this.hostedFiles.set(input.filePath ?? `documents/${fileId}-${input.name}`, { fileId, bytes: input.bytes });
    const update = this.messageUpdate({ chatId: input.chatId, userId: input.userId, text: "" });
    const message = update.message as Record<string, unknown>;
    delete message.text;
    if (input.caption !== undefined) message.caption = input.caption;
    if (input.asPhoto === true)
      message.photo = [
        { file_id: fileId, file_unique_id: `u-${fileId}`, width: 1, height: 1, file_size: input.bytes.length },
      ];
    else
      message.document = {
        file_id: fileId,
        file_unique_id: `u-${fileId}`,
        file_name: input.name,
        mime_type: input.mimeType,
        file_size: input.bytes.length,
      };
    return this.queueUpdate(update);
  }

  /** Make the next `times` calls of `method` fail. */
  failNext(method: string, failure: Failure, times = 1): void {
    const list = this.#failures.get(method) ?? [];
    for (let i = 0; i < times; i++) list.push(failure);
    this.#failures.set(method, list);
  }

  /** Set a user's status in a chat (creator, administrator, member, left, …). */
  setMember(chatId: number | string, userId: number | string, status: string): void {
    this.members.set(`${chatId}:${userId}`, status);
  }

  /** Calls of one method. */
  callsOf(method: string): RecordedCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Messages the bot sent to a chat. */
  messagesIn(chatId: number | string): StoredMessage[] {
    return this.messages.filter((m) => m.chatId === String(chatId));
  }

  /** Resolve once `predicate` holds (checked after every call), or reject after `timeoutMs`. */
  async waitFor(predicate: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
    if (predicate()) return;
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!predicate()) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`stand-in: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      // Some state changes between calls (a poll being held, a confirmation): look periodically too.
      const ticker = setInterval(check, 50);
      const cleanup = () => {
        clearTimeout(timer);
        clearInterval(ticker);
        this.#callListeners.delete(check);
      };
      this.#callListeners.add(check);
    });
  }

  /** POST an update to a webhook URL as Telegram would, with the secret header when given. */
  async postWebhook(
    url: string,
    update: Record<string, unknown> | string,
    secret?: string,
  ): Promise<{ status: number; body: string }> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (secret !== undefined) headers["x-telegram-bot-api-secret-token"] = secret;
    const res = await fetch(url, {
      method: "POST",
      headers,
      body: typeof update === "string" ? update : JSON.stringify(update),
    });
    return { status: res.status, body: await res.text() };
  }

  /** Next update id that will be assigned (for building webhook payloads). */
  nextUpdateId(): number {
    return this.#nextUpdateId++;
  }

  async close(): Promise<void> {
    for (const res of this.#held.keys()) res.destroy();
    this.#held.clear();
    for (const wake of [...this.#waiters]) wake();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const file = /^\/file\/bot([^/]+)\/(.+)$/.exec(req.url ?? "");
    if (file !== null && req.method === "GET") {
      const hosted = file[1] === this.token ? this.hostedFiles.get(file[2]!) : undefined;
      if (hosted === undefined) return this.#send(res, 404, { ok: false, error_code: 404, description: "Not Found" });
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(hosted.bytes.length) });
      res.end(hosted.bytes);
      return;
    }
    const match = /^\/bot([^/]+)\/(\w+)$/.exec(req.url ?? "");
    if (match === null) return this.#send(res, 404, { ok: false, error_code: 404, description: "Not Found" });
    const [, token, method] = match;
    let body: Record<string, unknown> = {};
    const bytes = Buffer.concat(chunks);
    const raw = bytes.toString("utf8");
    const contentType = req.headers["content-type"] ?? "";
    if (contentType.startsWith("multipart/form-data")) {
      if (bytes.length > MAX_UPLOAD_BYTES)
        return this.#send(res, 413, { ok: false, error_code: 413, description: "Request Entity Too Large" });
      try {
        const form = await new Response(bytes, { headers: { "content-type": contentType } }).formData();
        for (const [k, v] of form.entries()) {
          body[k] =
            typeof v === "string"
              ? /^[[{]/.test(v)
                ? JSON.parse(v)
                : /^-?\d+$/.test(v)
                  ? Number(v)
                  : v
              : { name: v.name, type: v.type, bytes: new Uint8Array(await v.arrayBuffer()) };
        }
      } catch {
        return this.#send(res, 400, { ok: false, error_code: 400, description: "Bad Request: invalid form data" });
      }
    } else if (raw !== "") {
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        return this.#send(res, 400, { ok: false, error_code: 400, description: "Bad Request: invalid JSON" });
      }
    }
    this.calls.push({ method: method!, body, at: Date.now() });
    for (const listener of [...this.#callListeners]) listener();
    if (token !== this.token) return this.#send(res, 401, { ok: false, error_code: 401, description: "Unauthorized" });
    const failure = this.#failures.get(method!)?.shift();
    if (failure?.kind === "delay") await new Promise((resolve) => setTimeout(resolve, failure.ms));
    else if (failure !== undefined) return this.#fail(res, failure);
    try {
      if (method === "getUpdates") return await this.#getUpdates(req, res, body);
      const result = this.#call(method!, body);
      this.#send(res, 200, { ok: true, result });
    } catch (error) {
      const e = error as Error & { code?: number };
      this.#send(res, e.code ?? 400, { ok: false, error_code: e.code ?? 400, description: e.message });
    } finally {
      for (const listener of [...this.#callListeners]) listener();
    }
  }

  /**
   * The next `getUpdates` answer (a held one too) sends its headers and half its body, with a Content-Length
   * promising all of it, then goes silent: a connection cut mid-body.
   */
  truncateNextPollAnswer(): void {
    this.#truncateNextPoll = true;
  }

  /** Answers cut mid-body and held open (closed by `close`). */
  readonly truncated: ServerResponse[] = [];
  #truncateNextPoll = false;

  #fail(res: ServerResponse, failure: Failure): void {
    switch (failure.kind) {
      case "drop":
        res.socket?.destroy();
        return;
      case "status":
        this.#send(res, failure.status, {
          ok: false,
          error_code: failure.status,
          description: "Internal Server Error",
        });
        return;
      case "retry-after":
        this.#send(res, 429, {
          ok: false,
          error_code: 429,
          description: `Too Many Requests: retry after ${failure.seconds}`,
          parameters: { retry_after: failure.seconds },
        });
        return;
      case "error":
        this.#send(res, failure.code, { ok: false, error_code: failure.code, description: failure.description });
        return;
    }
  }

  async #getUpdates(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>): Promise<void> {
    if (Array.isArray(body.allowed_updates)) this.allowedUpdates = body.allowed_updates.map(String);
    const offset = typeof body.offset === "number" ? body.offset : 0;
    if (offset > 0) this.#pending = this.#pending.filter((u) => u.update_id >= offset);
    const limit = typeof body.limit === "number" ? body.limit : 100;
    const timeoutS = typeof body.timeout === "number" ? body.timeout : 0;
    const ready = () => this.#pending.filter((u) => u.update_id >= offset).slice(0, limit);
    if (!this.isDeaf && (ready().length > 0 || timeoutS === 0)) return this.#answerPoll(res, ready());
    const poll: HeldPoll = { isDeaf: this.isDeaf, wake: () => undefined };
    this.#held.set(res, poll);
    await new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve();
      };
      const wake = () => {
        if (!poll.isDeaf) done();
      };
      poll.wake = done;
      timer = setTimeout(() => {
        if (!poll.isDeaf) done();
      }, timeoutS * 1000);
      this.#waiters.add(wake);
      res.once("close", done);
      req.once("aborted", done);
    });
    this.#held.delete(res);
    if (res.destroyed || res.writableEnded) return;
    this.#answerPoll(res, ready());
  }

  #answerPoll(res: ServerResponse, updates: unknown[]): void {
    if (!this.#truncateNextPoll) {
      this.#send(res, 200, { ok: true, result: updates });
      return;
    }
    this.#truncateNextPoll = false;
    const text = JSON.stringify({ ok: true, result: updates });
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.write(text.slice(0, Math.floor(text.length / 2)));
    this.truncated.push(res); // held open until close()
  }

  /** The polls held right now stop hearing anything (a half-dead connection); new polls work normally. */
  deafenCurrentPolls(): number {
    for (const poll of this.#held.values()) poll.isDeaf = true;
    return this.#held.size;
  }

  /** Polls being held open right now. */
  get heldPolls(): number {
    return this.#held.size;
  }

  #call(method: string, body: Record<string, unknown>): unknown {
    switch (method) {
      case "getMe":
        return {
          id: BOT_ID,
          is_bot: true,
          first_name: "Switchboard",
          username: this.botUsername,
          can_join_groups: true,
          can_read_all_group_messages: false,
          supports_inline_queries: false,
        };
      case "deleteWebhook":
        this.webhook = undefined;
        if (body.drop_pending_updates === true) this.#pending = [];
        return true;
      case "setWebhook":
        this.webhook = {
          url: String(body.url),
          ...(typeof body.secret_token === "string" ? { secret: body.secret_token } : {}),
        };
        if (Array.isArray(body.allowed_updates)) this.allowedUpdates = body.allowed_updates.map(String);
        return true;
      case "getWebhookInfo":
        return {
          url: this.webhook?.url ?? "",
          has_custom_certificate: false,
          pending_update_count: this.#pending.length,
        };
      case "setMyCommands":
        this.commands.set(
          scopeKey(body.scope),
          (body.commands as Array<{ command: string; description: string }>) ?? [],
        );
        return true;
      case "getMyCommands":
        return this.commands.get(scopeKey(body.scope)) ?? [];
      case "deleteMyCommands":
        this.commands.delete(scopeKey(body.scope));
        return true;
      case "sendMessage":
        return this.#sendMessage(body);
      case "sendDocument":
        return this.#sendFile(method, body, "document");
      case "sendPhoto":
        return this.#sendFile(method, body, "photo");
      case "editMessageText":
        return this.#editMessage(body);
      case "getFile": {
        const id = String(body.file_id ?? "");
        const hosted = [...this.hostedFiles.entries()].find(([, f]) => f.fileId === id);
        if (hosted === undefined) throw new Error("Bad Request: invalid file_id");
        return { file_id: id, file_unique_id: `u-${id}`, file_size: hosted[1].bytes.length, file_path: hosted[0] };
      }
      case "sendChatAction":
      case "answerCallbackQuery":
        return true;
      case "getChatMember": {
        const status = this.members.get(`${String(body.chat_id)}:${String(body.user_id)}`);
        if (status === undefined) throw Object.assign(new Error("Bad Request: member not found"), { code: 400 });
        return { status, user: { id: Number(body.user_id), is_bot: false, first_name: "User" } };
      }
      default:
        throw Object.assign(new Error("Not Found: method not found"), { code: 404 });
    }
  }

  #render(body: Record<string, unknown>): { raw: string; text: string } {
    const raw = typeof body.text === "string" ? body.text : "";
    let text = raw;
    if (body.parse_mode === "HTML") text = parseTelegramHtml(raw);
    else if (body.parse_mode !== undefined)
      throw new Error(`Bad Request: unsupported parse_mode ${String(body.parse_mode)}`);
    if (text.trim() === "") throw new Error("Bad Request: message text is empty");
    if (text.length > 4096) throw new Error("Bad Request: message is too long");
    return { raw, text };
  }

  #sendMessage(body: Record<string, unknown>): unknown {
    if (body.chat_id === undefined) throw new Error("Bad Request: chat_id is empty");
    const { raw, text } = this.#render(body);
    const stored: StoredMessage = {
      chatId: String(body.chat_id),
      messageId: this.#nextMessageId++,
      raw,
      text,
      history: [text],
      ...(typeof body.message_thread_id === "number" ? { threadId: body.message_thread_id } : {}),
      ...(typeof body.parse_mode === "string" ? { parseMode: body.parse_mode } : {}),
      ...(body.reply_markup !== undefined ? { replyMarkup: body.reply_markup } : {}),
      ...(typeof (body.reply_parameters as { message_id?: unknown } | undefined)?.message_id === "number"
        ? { replyTo: (body.reply_parameters as { message_id: number }).message_id }
        : {}),
    };
    this.messages.push(stored);
    return this.#asMessage(stored);
  }

  #sendFile(method: string, body: Record<string, unknown>, field: "document" | "photo"): unknown {
    if (body.chat_id === undefined) throw new Error("Bad Request: chat_id is empty");
    // The file travels as its own form part, named by an `attach://<part>` reference (as grammY sends it).
    const ref = body[field];
    const part = typeof ref === "string" && ref.startsWith("attach://") ? body[ref.slice("attach://".length)] : ref;
    const upload = part as { name?: string; type?: string; bytes?: Uint8Array } | undefined;
    if (upload?.bytes === undefined) throw new Error(`Bad Request: there is no ${field} in the request`);
    const messageId = this.#nextMessageId++;
    this.files.push({
      method,
      chatId: String(body.chat_id),
      messageId,
      name: upload.name ?? "file",
      mimeType: upload.type ?? "application/octet-stream",
      bytes: upload.bytes,
      ...(typeof body.message_thread_id === "number" ? { threadId: body.message_thread_id } : {}),
    });
    return {
      message_id: messageId,
      date: Math.floor(Date.now() / 1000),
      chat: { id: Number(body.chat_id), type: Number(body.chat_id) > 0 ? "private" : "supergroup" },
      from: { id: BOT_ID, is_bot: true, first_name: "Switchboard", username: this.botUsername },
      ...(field === "document"
        ? { document: { file_id: `doc-${messageId}`, file_unique_id: `u${messageId}`, file_name: upload.name } }
        : { photo: [{ file_id: `photo-${messageId}`, file_unique_id: `u${messageId}`, width: 1, height: 1 }] }),
    };
  }

  #editMessage(body: Record<string, unknown>): unknown {
    const stored = this.messages.find((m) => m.chatId === String(body.chat_id) && m.messageId === body.message_id);
    if (stored === undefined) throw new Error("Bad Request: message to edit not found");
    const { raw, text } = this.#render(body);
    if (raw === stored.raw)
      throw new Error(
        "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
      );
    stored.raw = raw;
    stored.text = text;
    stored.history.push(text);
    return this.#asMessage(stored);
  }

  #asMessage(m: StoredMessage): Record<string, unknown> {
    const id = Number(m.chatId);
    return {
      message_id: m.messageId,
      date: Math.floor(Date.now() / 1000),
      chat: id > 0 ? { id, type: "private", first_name: "Ada" } : { id, type: "supergroup", title: "Ops room" },
      from: { id: BOT_ID, is_bot: true, first_name: "Switchboard", username: this.botUsername },
      text: m.text,
      ...(m.threadId !== undefined ? { message_thread_id: m.threadId, is_topic_message: true } : {}),
    };
  }

  #send(res: ServerResponse, status: number, payload: unknown): void {
    if (res.destroyed || res.writableEnded) return;
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(payload));
  }
}

function scopeKey(scope: unknown): string {
  return scope === undefined || (scope as { type?: unknown }).type === "default" ? "default" : JSON.stringify(scope);
}
