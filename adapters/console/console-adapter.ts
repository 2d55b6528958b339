/**
 * The console adapter: a DM from the local operator, who is a bot owner (`console:<userId>`), since whoever can
 * type into the process already controls it. Its messages carry `origin: "operator"`, which the router does not
 * rate-limit. In a terminal it is interactive (a prompt); otherwise it reads one message per line and prints
 * replies, so it can be scripted. Replies render through the shared kit's terminal dialect: ANSI styles when the
 * output is a TTY, plain text when it is piped. When input ends, `ended` resolves.
 */
import { createInterface, type Interface } from "node:readline";
import { randomUUID } from "node:crypto";
import type {
  AdapterCapabilities,
  AdapterHealth,
  ChannelAdapter,
  CommandInfo,
  ConversationTarget,
  InboundSink,
  Reply,
  SentMessage,
} from "../../bot/index.ts";
import { parseCommandLine } from "../../bot/index.ts";
import { formatBytes } from "../shared/files.ts";
import { renderText, terminalDialect, type MarkdownDialect } from "../shared/index.ts";

/** Options for the console adapter. */
export interface ConsoleAdapterOptions {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** The operator's user id (config `adapters.console.userId`). */
  userId: string;
  /** A prompt and a greeting; default: the input is a TTY. */
  interactive?: boolean;
  /** ANSI styles in replies; default: the output is a TTY and `NO_COLOR` is unset. */
  ansi?: boolean;
  botName?: string;
}

/** The chat id of the console conversation. */
export const CONSOLE_CHAT_ID = "local";

/** See the file comment. */
export class ConsoleAdapter implements ChannelAdapter {
  readonly platform = "console";
  readonly capabilities: AdapterCapabilities = {
    edit: false,
    buttons: false,
    ephemeral: false,
    typing: false,
    maxTextLength: 1_000_000,
    // Nothing is uploaded: the console names the file and its size.
    maxFileBytes: 1024 * 1024 * 1024,
  };
  /** Resolves when the input has ended and every line read has been accepted. */
  readonly ended: Promise<void>;
  readonly #o: ConsoleAdapterOptions;
  readonly #session = randomUUID().slice(0, 8);
  readonly #interactive: boolean;
  readonly #dialect: MarkdownDialect;
  #endedResolve!: () => void;
  #rl: Interface | undefined;
  #seq = 0;
  #sent = 0;
  #state: AdapterHealth["state"] = "starting";
  #lastInboundAt: number | null = null;
  #lastApiOkAt: number | null = null;
  #accepting: Promise<void> = Promise.resolve();

  constructor(options: ConsoleAdapterOptions) {
    this.#o = options;
    this.#interactive = options.interactive ?? (options.input as { isTTY?: boolean }).isTTY === true;
    const ansi =
      options.ansi ?? ((options.output as { isTTY?: boolean }).isTTY === true && (process.env.NO_COLOR ?? "") === "");
    this.#dialect = terminalDialect({ ansi });
    this.ended = new Promise((resolve) => {
      this.#endedResolve = resolve;
    });
  }

  async start(sink: InboundSink): Promise<void> {
    const rl = createInterface({ input: this.#o.input, terminal: this.#interactive, crlfDelay: Infinity });
    this.#rl = rl;
    this.#state = "up";
    if (this.#interactive) {
      this.#o.output.write(
        `${this.#o.botName ?? "switchboard"} console — you are the bot owner. Type /help, or Ctrl-D to quit.\n`,
      );
      rl.setPrompt("> ");
      rl.prompt();
    }
    rl.on("line", (line) => {
      const text = line.trim();
      if (text === "") {
        if (this.#interactive) rl.prompt();
        return;
      }
      // Lines are accepted in order; the router keeps one conversation's replies in order.
      this.#accepting = this.#accepting.then(() => this.#accept(sink, text));
    });
    rl.once("close", () => {
      this.#state = "down";
      void this.#accepting.then(() => this.#endedResolve());
    });
  }

  async #accept(sink: InboundSink, text: string): Promise<void> {
    const now = Date.now();
    this.#lastInboundAt = now;
    const n = ++this.#seq;
    const command = parseCommandLine(text);
    try {
      await sink({
        deliveryId: `console:${this.#session}:${n}`,
        platform: this.platform,
        chat: { id: CONSOLE_CHAT_ID, kind: "dm", title: "console" },
        user: { id: this.#o.userId, displayName: this.#o.userId },
        text,
        ...(command === undefined ? {} : { command }),
        messageId: String(n),
        origin: "operator",
        receivedAt: now,
        respond: (reply) => this.send({ platform: this.platform, chatId: CONSOLE_CHAT_ID }, reply),
      });
    } catch (error) {
      this.#o.output.write(`(could not handle that line: ${(error as Error).message})\n`);
    }
  }

  async stop(): Promise<void> {
    this.#state = "down";
    this.#rl?.close();
  }

  async send(target: ConversationTarget, reply: Reply): Promise<SentMessage> {
    const text = renderText(reply.text, this.#dialect, reply.format === "plain" ? "plain" : "markdown");
    const buttons = reply.buttons
      ?.flat()
      .map((b) => `[${b.label}: ${b.data}]`)
      .join(" ");
    const file =
      reply.file === undefined
        ? ""
        : `\n[file: ${reply.file.name}, ${formatBytes(reply.file.data.byteLength)}${reply.file.mimeType === undefined ? "" : `, ${reply.file.mimeType}`}]`;
    this.#o.output.write(`${text}${buttons ? `\n${buttons}` : ""}${file}\n`);
    if (this.#interactive) this.#rl?.prompt(true);
    this.#lastApiOkAt = Date.now();
    return { platform: this.platform, chatId: target.chatId, messageId: `out-${++this.#sent}` };
  }

  async edit(message: SentMessage, reply: Reply): Promise<void> {
    await this.send({ platform: this.platform, chatId: message.chatId }, reply);
  }

  async registerCommands(_commands: CommandInfo[]): Promise<void> {}

  health(): AdapterHealth {
    return {
      platform: this.platform,
      state: this.#state,
      lastInboundAt: this.#lastInboundAt,
      lastApiOkAt: this.#lastApiOkAt,
      detail: this.#interactive ? "interactive" : "line mode",
    };
  }
}
