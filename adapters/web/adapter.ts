/**
 * The web chat: a person signed in to the console talks to the bot in the browser, as themselves. Their chat is
 * a DM on the `web` platform whose id names their own identity (`telegram.123` for `telegram:123`); the speaker's
 * user key is `web:telegram.123`, and the composition root makes the web key of every bot owner an owner too
 * (`webUserKeyOf`). Messages and button presses come in over `POST /api/webchat/…` and go through the router like
 * any platform's (dedupe, rate limits, permissions, the chat's queue); replies, edits and typing go out over a
 * server-sent event stream (`GET /api/webchat/events`) that resumes after the last event seen.
 *
 * Files: a message may carry a few files (`files` on the post, within `maxUploadFiles` and `maxUploadBytes` in
 * all), held in memory on a bounded shelf and read through `Inbound.attachments`; a reply's file is held on
 * another shelf and announced with a `file` event whose link (`GET /api/webchat/files/:id`) serves it to that
 * chat's person only, until it ages out.
 */
import type {
  AdapterCapabilities,
  Attachment,
  AdapterHealth,
  ChannelAdapter,
  CommandInfo,
  ConversationTarget,
  HttpMount,
  Inbound,
  InboundSink,
  Reply,
  SendHooks,
  SentMessage,
} from "../../bot/index.ts";
import { SwitchboardError, isSwitchboardError, parseCommandLine } from "../../bot/index.ts";
import {
  HealthTracker,
  OutboundLimiter,
  assertFileFits,
  formatBytes,
  mimeTypeOf,
  renderReply,
  telegramHtml,
  telegramHtmlToText,
} from "../shared/index.ts";
import { FileShelf, type HeldFile } from "./files.ts";
import { webChatRoutes } from "./routes.ts";
import { DEFAULT_WEB_CHAT_LIMITS, WebChats, type WebChat, type WebChatLimits } from "./chats.ts";

/** Commands in the page's menu at most. */
const MAX_MENU_COMMANDS = 200;

/** The platform name. */
export const WEB_PLATFORM = "web";

/**
 * The web dialect: HTML with `b`, `i`, `code`, `pre` and `a` only, every other character escaped (the shared
 * kit's Telegram HTML). The page builds elements from these five tags and shows anything else as text.
 */
export const webHtml = { ...telegramHtml, name: "web-html" };

/** What a reader sees of the web dialect: tags removed, entities decoded. */
export const webHtmlToText = telegramHtmlToText;

/** The web chat id of a person (`telegram:123` → `telegram.123`): no `:`, so it round-trips in a conversation id. */
export function webChatIdOf(userKey: string): string {
  const i = userKey.indexOf(":");
  return `${userKey.slice(0, i)}.${encodeURIComponent(userKey.slice(i + 1))}`;
}

/** The user key a person speaks with in the web chat (`telegram:123` → `web:telegram.123`). */
export function webUserKeyOf(userKey: string): string {
  return `${WEB_PLATFORM}:${webChatIdOf(userKey)}`;
}

/** Options for the web chat adapter. */
export interface WebChatAdapterOptions {
  limits?: Partial<WebChatLimits>;
  /** The platform's limit on one message, in characters. Default 4,000. */
  maxTextLength?: number;
  /** How long a refused send (unread events full) waits before its retry, in ms. Default 1,000. */
  retryAfterMs?: number;
  /** Clock, for tests. */
  now?: () => number;
  /** Bounds on files in and out (see `WebChatFileLimits`). */
  files?: Partial<WebChatFileLimits>;
}

/** Bounds on the web chat's files. */
export interface WebChatFileLimits {
  /** Files on one message at most. Default 4. */
  maxUploadFiles: number;
  /** Bytes of all files on one message at most (the app passes `limits.maxAttachmentBytes`). Default 10 MB. */
  maxUploadBytes: number;
  /** The largest file a reply may carry (`capabilities.maxFileBytes`). Default 10 MB. */
  maxFileBytes: number;
  /** Files held in memory, uploads and replies each, at most. Default 200. */
  maxHeldFiles: number;
  /** Bytes held in memory, uploads and replies each, at most; the oldest file goes first. Default 100 MB. */
  maxHeldBytes: number;
  /** How long a held file stays readable, in ms. Default 10 minutes. */
  heldTtlMs: number;
}

/** Defaults for `WebChatFileLimits`. */
export const DEFAULT_WEB_CHAT_FILE_LIMITS: WebChatFileLimits = {
  maxUploadFiles: 4,
  maxUploadBytes: 10 * 1024 * 1024,
  maxFileBytes: 10 * 1024 * 1024,
  maxHeldFiles: 200,
  maxHeldBytes: 100 * 1024 * 1024,
  heldTtlMs: 10 * 60_000,
};

/** A file on a message from the page. */
export interface WebChatUpload {
  name: string;
  mimeType: string;
  data: Uint8Array;
}

/** A message or button press from the page. */
export interface WebChatPost {
  /** The person's user key (`telegram:123`) and name, from their console session. */
  userKey: string;
  displayName: string;
  text: string;
  /** A client-made id: the same id sent twice is one delivery. */
  clientId: string;
  /** Set for a button press: the message whose button it was. */
  buttonOf?: string;
  /** Files sent with the message. */
  files?: WebChatUpload[];
}

/** See the file comment. */
export class WebChatAdapter implements ChannelAdapter {
  readonly platform = WEB_PLATFORM;
  readonly capabilities: AdapterCapabilities;
  readonly chats: WebChats;
  readonly fileLimits: WebChatFileLimits;
  /** Files on messages from the page, until their handling is long over. */
  readonly uploads: FileShelf;
  /** Files the bot sent, until they are downloaded or age out. */
  readonly downloads: FileShelf;
  readonly #health = new HealthTracker(WEB_PLATFORM);
  readonly #limiter: OutboundLimiter;
  readonly #now: () => number;
  readonly #retryAfterMs: number;
  #sink: InboundSink | undefined;
  #sent = 0;
  #attempts = 0;
  #refused = 0;
  #sweeper: NodeJS.Timeout | undefined;
  #menu: Array<{ name: string; description: string }> = [];

  constructor(options: WebChatAdapterOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#retryAfterMs = options.retryAfterMs ?? 1_000;
    this.capabilities = {
      edit: true,
      buttons: true,
      ephemeral: false,
      typing: true,
      maxTextLength: options.maxTextLength ?? 4_000,
    };
    this.fileLimits = { ...DEFAULT_WEB_CHAT_FILE_LIMITS, ...options.files };
    this.capabilities.maxFileBytes = this.fileLimits.maxFileBytes;
    const shelfLimits = {
      maxFiles: this.fileLimits.maxHeldFiles,
      maxBytes: this.fileLimits.maxHeldBytes,
      ttlMs: this.fileLimits.heldTtlMs,
    };
    this.uploads = new FileShelf({ limits: shelfLimits, now: this.#now });
    this.downloads = new FileShelf({ limits: shelfLimits, now: this.#now });
    this.chats = new WebChats({ limits: { ...DEFAULT_WEB_CHAT_LIMITS, ...options.limits }, now: this.#now });
    this.#limiter = new OutboundLimiter({
      id: WEB_PLATFORM,
      limits: {},
      maxRetries: 3,
      retryAfterMsOf: (error) =>
        isSwitchboardError(error) && typeof error.details.retryAfterMs === "number"
          ? error.details.retryAfterMs
          : undefined,
    });
  }

  /** Sends that reached the chats, and how many of them were refused (health, tests). */
  stats(): { attempts: number; refused: number } {
    return { attempts: this.#attempts, refused: this.#refused };
  }

  async start(sink: InboundSink): Promise<void> {
    this.#sink = sink;
    this.#health.setState("up");
    this.#sweeper = setInterval(() => {
      this.chats.sweep();
      this.uploads.sweep();
      this.downloads.sweep();
    }, 60_000);
    this.#sweeper.unref();
  }

  async stop(): Promise<void> {
    this.#sink = undefined;
    // Open streams are answers in flight: the listener's close would wait for them.
    this.chats.closeAll();
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper);
    this.uploads.clear();
    this.downloads.clear();
    this.#health.setState("down");
    await this.#limiter.stop();
  }

  mount(http: HttpMount): void {
    for (const route of webChatRoutes(this)) http.api(route);
  }

  /** A message or button press from the page, handed to the router. Throws `E_ADAPTER` when refused here. */
  async receive(post: WebChatPost): Promise<void> {
    const sink = this.#sink;
    if (sink === undefined) throw new SwitchboardError("E_ADAPTER", "the web chat is not running");
    const chatId = webChatIdOf(post.userKey);
    const chat = this.#chat(chatId);
    if (post.buttonOf !== undefined && chat.buttons.get(post.buttonOf)?.has(post.text) !== true) {
      throw new SwitchboardError("E_BAD_ARGS", "no such button on that message", {
        chatMessage: "That button is no longer there.",
      });
    }
    const files = post.buttonOf === undefined ? this.#checkUploads(post.files ?? []) : [];
    // Speaking in a chat opens it again after the person closed it.
    chat.isClosed = false;
    const now = this.#now();
    this.#health.markInbound();
    const held = files.map((f) => this.uploads.put({ chatId, name: f.name, mimeType: f.mimeType, data: f.data }));
    const said =
      post.buttonOf === undefined
        ? this.chats.push(chat, {
            type: "said",
            text: post.text,
            ...(held.length === 0
              ? {}
              : { files: held.map((f) => ({ name: f.name, mimeType: f.mimeType, size: f.data.byteLength })) }),
          })
        : undefined;
    const command = parseCommandLine(post.text);
    const inbound: Inbound = {
      deliveryId: `web:${chatId}:${post.clientId}`,
      platform: WEB_PLATFORM,
      chat: { id: chatId, kind: "dm", title: "web chat" },
      user: { id: chatId, displayName: post.displayName },
      text: post.text,
      ...(command === undefined ? {} : { command }),
      ...(said === undefined ? {} : { messageId: `u${said.id}` }),
      ...(held.length === 0 ? {} : { attachments: held.map((f) => this.#attachment(f)) }),
      origin: post.buttonOf === undefined ? "user" : "button",
      receivedAt: now,
      respond: (reply, hooks) => this.#send(chatId, reply, hooks),
      typing: async () => {
        this.chats.push(chat, { type: "typing" });
      },
    };
    await sink(inbound);
  }

  async send(target: ConversationTarget, reply: Reply): Promise<SentMessage> {
    return this.#send(target.chatId, reply);
  }

  async edit(message: SentMessage, reply: Reply): Promise<void> {
    await this.#limiter.run({ chatId: message.chatId, isEdit: true }, async () => {
      const chat = this.#deliverable(message.chatId);
      const [html = ""] = renderReply(reply, webHtml, Number.POSITIVE_INFINITY);
      this.chats.push(chat, {
        type: "edit",
        messageId: message.messageId,
        html,
        ...(reply.buttons === undefined ? {} : { buttons: reply.buttons }),
      });
      this.#health.markApiOk();
    });
  }

  /** The page's command menu (offered as suggestions while typing), as `registerCommands` last set it. */
  async registerCommands(commands: CommandInfo[]): Promise<void> {
    this.#menu = commands.slice(0, MAX_MENU_COMMANDS).map((c) => ({ name: c.name, description: c.description }));
  }

  /** The command menu the page shows. */
  commandMenu(): ReadonlyArray<{ name: string; description: string }> {
    return this.#menu;
  }

  health(): AdapterHealth {
    // No connection to a platform here, so nothing to reconnect.
    const { reconnects: _none, ...snapshot } = this.#health.snapshot();
    return {
      ...snapshot,
      detail: `${this.chats.size} chats, ${this.chats.streams} open streams, ${this.uploads.size + this.downloads.size} files held`,
    };
  }

  /** The files of a post, or `E_BAD_ARGS` (a 400 with the reason) when they are over the bounds. */
  #checkUploads(files: WebChatUpload[]): WebChatUpload[] {
    const { maxUploadFiles, maxUploadBytes } = this.fileLimits;
    if (files.length > maxUploadFiles) {
      throw new SwitchboardError("E_BAD_ARGS", `${files.length} files on one message`, {
        chatMessage: `At most ${maxUploadFiles} files go with one message.`,
      });
    }
    const bytes = files.reduce((n, f) => n + f.data.byteLength, 0);
    if (bytes > maxUploadBytes) {
      throw new SwitchboardError("E_FILE_TOO_LARGE", `${bytes} bytes of files on one message`, {
        chatMessage: `The files come to ${formatBytes(bytes)}; at most ${formatBytes(maxUploadBytes)} go with one message.`,
        details: { bytes, maxBytes: maxUploadBytes },
      });
    }
    return files;
  }

  /** An uploaded file as an attachment: read from the shelf while it is held, within `maxBytes`. */
  #attachment(file: HeldFile): Attachment {
    const { id, chatId, name, mimeType } = file;
    return {
      name,
      mimeType,
      size: file.data.byteLength,
      fetch: async ({ maxBytes }) => {
        const held = this.uploads.get(id, chatId);
        if (held === undefined) {
          throw new SwitchboardError("E_ADAPTER", `upload ${name} is no longer held`, {
            chatMessage: `The file ${name} is no longer available; send it again.`,
            details: { layer: "adapter", reason: "expired" },
          });
        }
        if (held.data.byteLength > maxBytes) {
          throw new SwitchboardError("E_FILE_TOO_LARGE", `attachment ${name} is over ${maxBytes} bytes`, {
            chatMessage: `The file ${name} is larger than ${formatBytes(maxBytes)}, the most the bot reads.`,
          });
        }
        return held.data.slice();
      },
    };
  }

  async #send(chatId: string, reply: Reply, hooks?: SendHooks): Promise<SentMessage> {
    if (reply.file !== undefined) {
      assertFileFits(reply.file, { maxBytes: this.capabilities.maxFileBytes, platform: "the web chat" });
    }
    const parts = renderReply(reply, webHtml, this.capabilities.maxTextLength);
    let last: SentMessage | undefined;
    for (const [i, html] of parts.entries()) {
      const isLast = i === parts.length - 1;
      last = await this.#limiter.run({ chatId }, async () => {
        const chat = this.#deliverable(chatId);
        await hooks?.beforeSend?.();
        const messageId = `b${++this.#sent}`;
        this.chats.push(chat, {
          type: "message",
          messageId,
          html,
          ...(isLast && reply.buttons !== undefined ? { buttons: reply.buttons } : {}),
        });
        this.#health.markApiOk();
        return { platform: WEB_PLATFORM, chatId, messageId };
      });
    }
    const file = reply.file;
    if (file !== undefined) {
      await this.#limiter.run({ chatId }, async () => {
        const chat = this.#deliverable(chatId);
        const held = this.downloads.put({ chatId, name: file.name, mimeType: mimeTypeOf(file), data: file.data });
        this.chats.push(chat, {
          type: "file",
          messageId: `b${++this.#sent}`,
          file: {
            id: held.id,
            name: held.name,
            mimeType: held.mimeType,
            size: held.data.byteLength,
            url: `/api/webchat/files/${held.id}`,
          },
        });
        this.#health.markApiOk();
      });
    }
    return last!;
  }

  /** The chat to deliver to, or the refusal a platform would give (the person closed it; nobody reads it). */
  #deliverable(chatId: string): WebChat {
    this.#attempts++;
    const chat = this.chats.get(chatId);
    if (chat === undefined || chat.isClosed) {
      this.#refused++;
      throw new SwitchboardError("E_ADAPTER", `web chat ${chatId} is closed`, {
        details: { layer: "platform", reason: "closed" },
      });
    }
    if (chat.unread() >= this.chats.limits.maxUnreadEvents) {
      this.#refused++;
      throw new SwitchboardError("E_ADAPTER", `web chat ${chatId} has too many unread events`, {
        details: { layer: "platform", reason: "unread-full", retryAfterMs: this.#retryAfterMs },
      });
    }
    return chat;
  }

  #chat(chatId: string): WebChat {
    const chat = this.chats.open(chatId);
    if (chat === "too-many-chats") {
      throw new SwitchboardError("E_ADAPTER", "too many web chats open", {
        details: { layer: "platform", reason: chat },
      });
    }
    return chat;
  }
}
