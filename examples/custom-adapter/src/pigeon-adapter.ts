/**
 * The smallest Switchboard adapter, for Pigeon, a made-up chat platform with an HTTP API:
 * - `GET  /updates?offset=N` long-polls for new messages (each has an `updateId`);
 * - `POST /messages` sends `{ chatId, threadId?, html }`; `POST /messages/edit` edits one;
 * - `PUT  /commands` publishes the command menu;
 * - a refused call answers 403, a rate limit answers 429 with `Retry-After` (seconds).
 *
 * Everything it imports comes from the installed `switchboard` package: the `ChannelAdapter` contract and
 * its types, the command-line parser and the error type from `switchboard`, and the Markdown renderer and
 * splitter from `switchboard/adapters/shared`. Pigeon shows a small HTML subset, so the adapter reuses the
 * Telegram HTML dialect.
 */
import {
  type AdapterCapabilities,
  type AdapterHealth,
  type ChannelAdapter,
  type ChatKind,
  type CommandInfo,
  type ConversationTarget,
  type Inbound,
  type InboundSink,
  parseCommandLine,
  type Reply,
  type SentMessage,
  SwitchboardError,
} from "switchboard";
import { renderReply, telegramHtml } from "switchboard/adapters/shared";

/** One message as Pigeon delivers it. */
export interface PigeonUpdate {
  updateId: number;
  messageId: string;
  chat: { id: string; kind: ChatKind; title?: string };
  user: { id: string; name: string };
  threadId?: string;
  text: string;
}

/** Where the Pigeon API is, and the bot's token for it. */
export interface PigeonAdapterOptions {
  baseUrl: string;
  token: string;
  /** Tries per call when Pigeon answers 429 (each waits its `Retry-After`). Default 3. */
  maxAttempts?: number;
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });

/** A `ChannelAdapter` for Pigeon: long-polls for messages, renders replies as Pigeon's HTML subset. */
export class PigeonAdapter implements ChannelAdapter {
  readonly platform = "pigeon";
  readonly capabilities: AdapterCapabilities = {
    edit: true,
    buttons: false,
    ephemeral: false,
    typing: false,
    maxTextLength: 1000,
  };
  readonly #o: PigeonAdapterOptions;
  readonly #stop = new AbortController();
  #state: AdapterHealth["state"] = "starting";
  #lastInboundAt: number | null = null;
  #lastApiOkAt: number | null = null;
  #offset = 0;
  #polling: Promise<void> = Promise.resolve();

  constructor(options: PigeonAdapterOptions) {
    this.#o = options;
  }

  async start(sink: InboundSink): Promise<void> {
    await this.#call("GET", "/me"); // fails start when the URL or the token is wrong
    this.#state = "up";
    this.#polling = this.#poll(sink);
  }

  async stop(): Promise<void> {
    this.#state = "down";
    this.#stop.abort();
    await this.#polling;
  }

  async send(target: ConversationTarget, reply: Reply): Promise<SentMessage> {
    let last: SentMessage | undefined;
    for (const html of renderReply(reply, telegramHtml, this.capabilities.maxTextLength)) {
      const body = {
        chatId: target.chatId,
        ...(target.threadId === undefined ? {} : { threadId: target.threadId }),
        html,
      };
      const { messageId } = (await this.#call("POST", "/messages", body)) as { messageId: string };
      last = { platform: this.platform, chatId: target.chatId, messageId };
      if (target.threadId !== undefined) last.threadId = target.threadId;
    }
    return last!; // renderReply always gives at least one message
  }

  async edit(message: SentMessage, reply: Reply): Promise<void> {
    const [html = ""] = renderReply(reply, telegramHtml, this.capabilities.maxTextLength);
    await this.#call("POST", "/messages/edit", { chatId: message.chatId, messageId: message.messageId, html });
  }

  async registerCommands(commands: CommandInfo[]): Promise<void> {
    const menu = commands.map(({ name, description }) => ({ name, description }));
    await this.#call("PUT", "/commands", { commands: menu });
  }

  health(): AdapterHealth {
    return {
      platform: this.platform,
      state: this.#state,
      lastInboundAt: this.#lastInboundAt,
      lastApiOkAt: this.#lastApiOkAt,
    };
  }

  async #poll(sink: InboundSink): Promise<void> {
    while (!this.#stop.signal.aborted) {
      try {
        const updates = (await this.#call("GET", `/updates?offset=${this.#offset}`)) as PigeonUpdate[];
        this.#state = "up";
        for (const update of updates) {
          this.#offset = update.updateId + 1;
          this.#lastInboundAt = Date.now();
          await sink(this.#inbound(update));
        }
      } catch {
        if (this.#stop.signal.aborted) return;
        this.#state = "reconnecting";
        await sleep(1000, this.#stop.signal);
      }
    }
  }

  #inbound(update: PigeonUpdate): Inbound {
    const target: ConversationTarget = { platform: this.platform, chatId: update.chat.id };
    if (update.threadId !== undefined) target.threadId = update.threadId;
    const command = parseCommandLine(update.text);
    return {
      deliveryId: `pigeon:${update.updateId}`,
      sequence: update.updateId,
      platform: this.platform,
      chat: update.chat,
      user: { id: update.user.id, displayName: update.user.name },
      text: update.text,
      ...(command === undefined ? {} : { command }),
      ...(update.threadId === undefined ? {} : { threadId: update.threadId }),
      messageId: update.messageId,
      receivedAt: Date.now(),
      respond: (reply) => this.send(target, reply),
    };
  }

  /** One API call; waits out a 429's Retry-After up to `maxAttempts`; any other refusal is an `E_ADAPTER` error. */
  async #call(method: "GET" | "POST" | "PUT", path: string, body?: unknown): Promise<unknown> {
    const maxAttempts = this.#o.maxAttempts ?? 3;
    for (let attempt = 1; ; attempt++) {
      const response = await fetch(`${this.#o.baseUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.#o.token}`, "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: path.startsWith("/updates") ? this.#stop.signal : AbortSignal.timeout(10_000),
      });
      if (response.status === 429 && attempt < maxAttempts) {
        await response.body?.cancel();
        await sleep(Number(response.headers.get("retry-after") ?? "1") * 1000);
        continue;
      }
      if (!response.ok) {
        throw new SwitchboardError("E_ADAPTER", `pigeon ${method} ${path} answered ${response.status}`, {
          details: { status: response.status, body: (await response.text()).slice(0, 200) },
        });
      }
      this.#lastApiOkAt = Date.now();
      return response.json();
    }
  }
}
