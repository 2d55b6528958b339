/**
 * A real `ChannelAdapter` for router tests: messages are injected with `say`, and everything the bot sends is
 * recorded. It is a platform of its own ("test"), not a stand-in for one of ours.
 */
import type {
  AdapterCapabilities,
  AdapterHealth,
  ChannelAdapter,
  ChatKind,
  CommandInfo,
  ConversationTarget,
  Inbound,
  InboundSink,
  PlatformRole,
  Reply,
  SentMessage,
} from "../../bot/index.ts";
import { parseCommandLine } from "../../bot/index.ts";

/** One message the bot sent. */
export interface Sent {
  chatId: string;
  threadId?: string;
  text: string;
  reply: Reply;
  messageId: string;
  edited?: boolean;
}

/** Who says something, and where. */
export interface SayOptions {
  chatId?: string;
  chatKind?: ChatKind;
  userId?: string;
  role?: PlatformRole;
  deliveryId?: string;
  threadId?: string;
  isBot?: boolean;
  mentionsBot?: boolean;
}

let deliveries = 0;

/** See the file comment. */
export class TestAdapter implements ChannelAdapter {
  readonly platform: string;
  readonly capabilities: AdapterCapabilities = {
    edit: true,
    buttons: true,
    ephemeral: false,
    typing: false,
    maxTextLength: 4000,
  };
  readonly sent: Sent[] = [];
  readonly registered: CommandInfo[][] = [];
  #sink: InboundSink | undefined;
  #n = 0;

  constructor(platform = "test") {
    this.platform = platform;
  }

  async start(sink: InboundSink): Promise<void> {
    this.#sink = sink;
  }

  async stop(): Promise<void> {
    this.#sink = undefined;
  }

  /** Build an Inbound as a platform adapter would. */
  inbound(text: string, o: SayOptions = {}): Inbound {
    const chatId = o.chatId ?? "c1";
    const command = parseCommandLine(text);
    return {
      deliveryId: o.deliveryId ?? `test:${++deliveries}`,
      platform: this.platform,
      chat: { id: chatId, kind: o.chatKind ?? "group", title: `chat ${chatId}` },
      user: {
        id: o.userId ?? "u1",
        displayName: o.userId ?? "u1",
        ...(o.role === undefined ? {} : { platformRole: o.role }),
        ...(o.isBot ? { isBot: true } : {}),
      },
      text,
      ...(command === undefined ? {} : { command }),
      ...(o.threadId === undefined ? {} : { threadId: o.threadId }),
      ...(o.mentionsBot === undefined ? {} : { mentionsBot: o.mentionsBot }),
      receivedAt: Date.now(),
      respond: (reply) =>
        this.send(
          { platform: this.platform, chatId, ...(o.threadId === undefined ? {} : { threadId: o.threadId }) },
          reply,
        ),
    };
  }

  /** Hand a message to the router (resolves when accepted). */
  async say(text: string, o: SayOptions = {}): Promise<void> {
    if (this.#sink === undefined) throw new Error("test adapter not started");
    await this.#sink(this.inbound(text, o));
  }

  /** Texts sent to one chat, in order. */
  textsIn(chatId = "c1"): string[] {
    return this.sent.filter((s) => s.chatId === chatId).map((s) => s.text);
  }

  async send(target: ConversationTarget, reply: Reply): Promise<SentMessage> {
    const messageId = `m${++this.#n}`;
    this.sent.push({
      chatId: target.chatId,
      ...(target.threadId === undefined ? {} : { threadId: target.threadId }),
      text: reply.text,
      reply,
      messageId,
    });
    return { platform: this.platform, chatId: target.chatId, messageId };
  }

  async edit(message: SentMessage, reply: Reply): Promise<void> {
    this.sent.push({ chatId: message.chatId, text: reply.text, reply, messageId: message.messageId, edited: true });
  }

  async registerCommands(commands: CommandInfo[]): Promise<void> {
    this.registered.push(commands);
  }

  health(): AdapterHealth {
    return {
      platform: this.platform,
      state: this.#sink === undefined ? "down" : "up",
      lastInboundAt: null,
      lastApiOkAt: null,
    };
  }
}
