/**
 * The web chat: a person signed in to the console talks to the bot in the browser, as themselves. Their chat is
 * a DM on the `web` platform whose id names their own identity (`telegram.123` for `telegram:123`); the speaker's
 * user key is `web:telegram.123`, and the composition root makes the web key of every bot owner an owner too
 * (`webUserKeyOf`). Messages and button presses come in over `POST /api/webchat/…` and go through the router like
 * any platform's (dedupe, rate limits, permissions, the chat's queue); replies, edits and typing go out over a
 * server-sent event stream (`GET /api/webchat/events`) that resumes after the last event seen.
 */
import type {
  AdapterCapabilities,
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
import { HealthTracker, OutboundLimiter, renderReply, telegramHtml, telegramHtmlToText } from "../shared/index.ts";
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
}

/** See the file comment. */
export class WebChatAdapter implements ChannelAdapter {
  readonly platform = WEB_PLATFORM;
  readonly capabilities: AdapterCapabilities;
  readonly chats: WebChats;
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
    this.#sweeper = setInterval(() => this.chats.sweep(), 60_000);
    this.#sweeper.unref();
  }

  async stop(): Promise<void> {
    this.#sink = undefined;
    // Open streams are answers in flight: the listener's close would wait for them.
    this.chats.closeAll();
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper);
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
    // Speaking in a chat opens it again after the person closed it.
    chat.isClosed = false;
    const now = this.#now();
    this.#health.markInbound();
    const said = post.buttonOf === undefined ? this.chats.push(chat, { type: "said", text: post.text }) : undefined;
    const command = parseCommandLine(post.text);
    const inbound: Inbound = {
      deliveryId: `web:${chatId}:${post.clientId}`,
      platform: WEB_PLATFORM,
      chat: { id: chatId, kind: "dm", title: "web chat" },
      user: { id: chatId, displayName: post.displayName },
      text: post.text,
      ...(command === undefined ? {} : { command }),
      ...(said === undefined ? {} : { messageId: `u${said.id}` }),
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
    return {
      ...this.#health.snapshot(),
      detail: `${this.chats.size} chats, ${this.chats.streams} open streams`,
    };
  }

  async #send(chatId: string, reply: Reply, hooks?: SendHooks): Promise<SentMessage> {
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
