/**
 * A started `TelegramAdapter` against a fresh stand-in, with a sink that records every Inbound. Used by the
 * adapter contract and the Telegram end-to-end tests that do not need the whole bot.
 */
import Keyv from "keyv";
import { pino } from "pino";
import { CommandRegistry, systemClock } from "../../../bot/index.ts";
import { TelegramAdapter, type TelegramAdapterOptions, type TelegramDeps } from "../../../adapters/telegram/index.ts";
import { telegramHtml, telegramHtmlToText } from "../../../adapters/shared/index.ts";
import type { AdapterHarness } from "../../contract/adapter.contract.ts";
import { TelegramStandIn } from "./server.ts";
import { RecordingSink } from "../../helpers/recording-sink.ts";

/** Adapter options suited to tests: short polls, small but real outbound spacing. */
export function testAdapterOptions(
  standIn: TelegramStandIn,
  overrides: Partial<TelegramAdapterOptions> = {},
): TelegramAdapterOptions {
  return {
    token: standIn.token,
    apiRoot: standIn.apiRoot,
    mode: "polling",
    webhookPath: "/telegram/webhook",
    pollTimeoutSeconds: 1,
    outbound: { globalPerSecond: 200, perChatIntervalMs: 20, perGroupPerMinute: 600 },
    editIntervalMs: 100,
    roleCacheTtlMs: 60_000,
    maxInboundChars: 16_000,
    backoff: { initialMs: 50, maxMs: 200 },
    commandsDebounceMs: 50,
    ...overrides,
  };
}

/** Build the minimal core pieces the adapter needs, from the real implementations. */
export function testDeps(): TelegramDeps & { commands: CommandRegistry } {
  return {
    log: pino<never>({ level: process.env.TEST_LOG_LEVEL ?? "silent" }),
    kv: new Keyv(),
    commands: new CommandRegistry(),
    clock: systemClock,
  };
}

/** A started adapter, its stand-in and its recording sink. */
export async function startTelegram(overrides: Partial<TelegramAdapterOptions> = {}): Promise<{
  standIn: TelegramStandIn;
  adapter: TelegramAdapter;
  sink: RecordingSink;
  deps: ReturnType<typeof testDeps>;
  close(): Promise<void>;
}> {
  const standIn = await TelegramStandIn.start();
  const deps = testDeps();
  const adapter = new TelegramAdapter(testAdapterOptions(standIn, overrides), deps);
  const sink = new RecordingSink();
  await adapter.start(sink.sink);
  return {
    standIn,
    adapter,
    sink,
    deps,
    async close() {
      await adapter.stop();
      await standIn.close();
    },
  };
}

/** The contract harness for Telegram. */
export async function makeTelegramHarness(): Promise<AdapterHarness> {
  const { standIn, adapter, sink, close } = await startTelegram();
  return {
    adapter,
    async deliver({ text, chatKind = "dm", inThread = false }) {
      const update = standIn.queueMessage({
        text,
        chatId: chatKind === "dm" ? 4242 : -100_4242,
        chatType: chatKind === "dm" ? "private" : chatKind === "channel" ? "channel" : "supergroup",
        userId: 4242,
        ...(inThread ? { threadId: 7 } : {}),
      });
      if (chatKind !== "dm") standIn.setMember(-100_4242, 4242, "member");
      return sink.waitFor(`telegram:${update.update_id}`);
    },
    messages: () =>
      standIn.messages.map((m) => ({
        chatId: m.chatId,
        messageId: String(m.messageId),
        raw: m.raw,
        ...(m.threadId === undefined ? {} : { threadId: String(m.threadId) }),
      })),
    toPlain: telegramHtmlToText,
    measure: (raw) => telegramHtml.measure!(raw),
    registeredCommands: () =>
      [...standIn.commands.values()].flat().map((c) => ({ name: c.command, description: c.description })),
    failNextSend(failure) {
      standIn.failNext(
        "sendMessage",
        failure.kind === "rate-limit"
          ? { kind: "retry-after", seconds: failure.retryAfterSeconds }
          : { kind: "error", code: 403, description: "Forbidden: bot was blocked by the user" },
      );
    },
    sendAttempts: () => standIn.callsOf("sendMessage").length,
    files: () => standIn.files.map((f) => ({ chatId: f.chatId, name: f.name, mimeType: f.mimeType, bytes: f.bytes })),
    async deliverFile({ name, mimeType, bytes, foreignUrl }) {
      const update = standIn.queueFile({
        chatId: 4242,
        userId: 4242,
        name,
        mimeType,
        bytes,
        ...(foreignUrl === undefined ? {} : { filePath: foreignUrl }),
      });
      return sink.waitFor(`telegram:${update.update_id}`);
    },
    async react({ chatId, messageId, userId, emoji, added }) {
      const update = standIn.queueReaction({
        chatId: Number(chatId),
        messageId: Number(messageId),
        userId: Number(userId),
        old: added ? [] : [emoji],
        new: added ? [emoji] : [],
      });
      if (update === undefined)
        throw new Error("the stand-in did not produce message_reaction: not in allowed_updates");
      return sink.waitFor(`telegram:${update.update_id}`);
    },
    close,
  };
}

export { RecordingSink };
