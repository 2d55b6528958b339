/**
 * A started Discord adapter (gateway mode, real discord.js) against a fresh stand-in, with a sink that records
 * every Inbound: the adapter contract's harness, and the base of the Discord tests that need no whole bot.
 */
import Keyv from "keyv";
import { pino } from "pino";
import { CommandRegistry, systemClock, type Core } from "../../../bot/index.ts";
import { parseConfig } from "../../../config/index.ts";
import { createDiscordAdapter, type DiscordAdapter, type DiscordTuning } from "../../../adapters/discord/index.ts";
import type { AdapterHarness } from "../../contract/adapter.contract.ts";
import { RecordingSink } from "../telegram/harness.ts";
import { discordToPlain } from "./plain.ts";
import { wireUser } from "./payloads.ts";
import { startDiscordStandIn, type DiscordStandIn } from "./server.ts";

/** Tuning suited to tests: small but real outbound spacing, short edit interval. */
export const HARNESS_TUNING: DiscordTuning = {
  outboundLimits: { globalPerSecond: 50, perChatIntervalMs: 20 },
  editIntervalMs: 100,
  commandsDebounceMs: 50,
};

/**
 * The core services the adapter reads, built from real implementations (config, logger, keyv, command
 * registry); the rest of `Core` is not used by the adapter.
 */
export function adapterCore(config: Record<string, unknown>): Core {
  const parsed = parseConfig({ log: { level: "silent" }, ...config });
  const partial = {
    config: parsed,
    log: pino<never>({ level: process.env.TEST_LOG_LEVEL ?? "silent" }),
    clock: systemClock,
    kv: new Keyv(),
    commands: new CommandRegistry(),
    track: <T>(promise: Promise<T>) => promise,
  };
  return partial as unknown as Core;
}

/** A started adapter, its stand-in, its recording sink and core. */
export interface StartedDiscord {
  standIn: DiscordStandIn;
  adapter: DiscordAdapter;
  sink: RecordingSink;
  core: Core;
  close(): Promise<void>;
}

/** Start a stand-in and a gateway-mode adapter against it. */
export async function startDiscord(
  tuning: DiscordTuning = {},
  config: Record<string, unknown> = {},
): Promise<StartedDiscord> {
  const standIn = await startDiscordStandIn({ heartbeatIntervalMs: 1_000 });
  const core = adapterCore({
    ...config,
    adapters: { discord: { token: standIn.token, applicationId: standIn.applicationId, apiRoot: standIn.apiRoot } },
  });
  const adapter = createDiscordAdapter(core, { ...HARNESS_TUNING, ...tuning }) as DiscordAdapter;
  const sink = new RecordingSink();
  await adapter.start(sink.sink);
  return {
    standIn,
    adapter,
    sink,
    core,
    async close() {
      await adapter.stop();
      await standIn.close();
    },
  };
}

/** The contract harness for Discord. */
export async function makeDiscordHarness(): Promise<AdapterHarness> {
  const { standIn, adapter, sink, close } = await startDiscord();
  const messagePath = /^\/api\/v10\/channels\/\d+\/messages$/;
  return {
    adapter,
    async deliver({ text, chatKind = "dm" }) {
      const inGuild = chatKind !== "dm";
      const payload = standIn.dispatchMessage({
        content: inGuild ? `<@${standIn.bot.id}> ${text}` : text,
        author: standIn.users.alice,
        channelId: inGuild ? standIn.channelId : standIn.dmChannelId,
        ...(inGuild ? { guildId: standIn.guild.id, mentions: [standIn.bot] } : {}),
      });
      return sink.waitFor(`discord:${payload.id as string}`);
    },
    messages: () => standIn.allMessages().map((m) => ({ chatId: m.channel_id, messageId: m.id, raw: m.content })),
    toPlain: discordToPlain,
    measure: (raw) => raw.length,
    registeredCommands: () =>
      [...standIn.commands.values()].flat().map((c) => ({ name: String(c.name), description: String(c.description) })),
    failNextSend(failure) {
      if (failure.kind === "rate-limit")
        standIn.rateLimitNext({ method: "POST", path: messagePath, retryAfterSec: failure.retryAfterSeconds });
      else
        standIn.refuseNext({
          method: "POST",
          path: messagePath,
          status: 403,
          code: 50013,
          message: "Missing Permissions",
        });
    },
    sendAttempts: () => standIn.requests.filter((r) => r.method === "POST" && messagePath.test(r.path)).length,
    files: () =>
      standIn.uploads.map((u) => ({
        chatId: u.channelId,
        name: u.file.name,
        mimeType: u.file.contentType,
        bytes: u.file.bytes,
      })),
    async deliverFile({ name, mimeType, bytes, foreignUrl }) {
      const url = foreignUrl ?? standIn.hostFile(name, bytes);
      const payload = standIn.dispatchMessage({
        content: "here",
        author: standIn.users.alice,
        channelId: standIn.dmChannelId,
        attachments: [{ filename: name, content_type: mimeType, size: bytes.length, url }],
      });
      return sink.waitFor(`discord:${payload.id as string}`);
    },
    async react({ chatId, messageId, userId, emoji, added }) {
      const user = wireUser(userId, `user${userId}`);
      const inGuild = chatId === standIn.channelId;
      const seq = standIn.dispatchReaction({
        user,
        channelId: chatId,
        messageId,
        emoji,
        added,
        ...(inGuild ? { guildId: standIn.guild.id } : {}),
      });
      if (seq < 0) throw new Error("the stand-in sent no reaction: the client lacks the reaction intent");
      return sink.waitFor(`discord:reaction:${messageId}:${userId}:${emoji}:${added ? "add" : "remove"}:${seq}`);
    },
    close,
  };
}
