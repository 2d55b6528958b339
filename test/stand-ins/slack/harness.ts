/**
 * A started Slack adapter (HTTP mode, mounted on a real shared HTTP listener) against a fresh stand-in, with a
 * sink that records every Inbound. Used by the adapter contract and by benchmarks that do not need the whole bot.
 */
import Keyv from "keyv";
import { pino } from "pino";
import { CommandRegistry, systemClock, type Core } from "../../../bot/index.ts";
import { HttpListener } from "../../../bot/http/listener.ts";
import { SlackAdapter, type SlackAdapterOptions } from "../../../adapters/slack/index.ts";
import { buildSlackManifest } from "../../../adapters/slack/manifest.ts";
import type { AdapterHarness } from "../../contract/adapter.contract.ts";
import { appMention, directMessage, eventCallback, reactionEvent, sendCommand, sendEvent } from "./sender.ts";
import { SlackStandIn } from "./server.ts";
import { RecordingSink } from "../../helpers/recording-sink.ts";

/** The signing secret the harness uses. */
export const HARNESS_SECRET = "harness-signing-secret";

/** The core services the adapter uses, from the real implementations (no router). */
export function slackTestCore(): Core {
  const tracked = new Set<Promise<unknown>>();
  return {
    log: pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }),
    clock: systemClock,
    kv: new Keyv(),
    commands: new CommandRegistry(),
    track: <T>(p: Promise<T>) => {
      tracked.add(p);
      p.then(
        () => tracked.delete(p),
        () => tracked.delete(p),
      );
      return p;
    },
  } as unknown as Core;
}

/** Options suited to tests: real but short spacing, no SDK retries. */
export function slackTestOptions(
  standIn: SlackStandIn,
  overrides: Partial<SlackAdapterOptions> = {},
): SlackAdapterOptions {
  return {
    token: standIn.botToken,
    mode: "http",
    signingSecret: HARNESS_SECRET,
    apiUrl: standIn.apiUrl,
    eventsPath: "/slack/events",
    commandPrefix: "",
    umbrellaCommand: "switchboard",
    socketIdleRecycleMs: 60_000,
    editIntervalMs: 100,
    outboundLimits: { globalPerSecond: 0, perChatIntervalMs: 10 },
    clientOptions: { retryConfig: { retries: 0 } },
    apiTimeoutMs: 5_000,
    ...overrides,
  };
}

/** What a Slack client shows for mrkdwn: markers removed, links reduced to their label, entities decoded. */
export function slackMrkdwnToText(raw: string): string {
  const codes: string[] = [];
  let text = raw.replace(
    /```\n?([\s\S]*?)\n?```|`([^`\n]*)`/g,
    (_, block: string | undefined, inline: string | undefined) => {
      codes.push(block ?? inline ?? "");
      return `\u0000${codes.length - 1}\u0000`;
    },
  );
  text = text
    .replace(/<([^<>|]+)\|([^<>]*)>/g, "$2")
    .replace(/<((?:https?|mailto):[^<>]*)>/g, "$1")
    .replace(/(^|[^\p{L}\p{N}*])\*(?=\S)([^*\n]*?\S)\*(?![\p{L}\p{N}])/gu, "$1$2")
    .replace(/(^|[^\p{L}\p{N}_])_(?=\S)([^_\n]*?\S)_(?![\p{L}\p{N}])/gu, "$1$2")
    // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL marks the placeholders this function itself inserted
    .replace(/\u0000(\d+)\u0000/g, (_, i: string) => codes[Number(i)]!);
  return decodeEntities(text);
}

function decodeEntities(text: string): string {
  return text.replace(/&(amp|lt|gt);/g, (_, e: string) => ({ amp: "&", lt: "<", gt: ">" })[e]!);
}

/** A started adapter, its stand-in (fresh, or `shared` and left running on close), its HTTP listener and sink. */
export async function startSlackAdapter(
  overrides: Partial<SlackAdapterOptions> = {},
  shared?: SlackStandIn,
): Promise<{
  standIn: SlackStandIn;
  adapter: SlackAdapter;
  sink: RecordingSink;
  eventsUrl: string;
  close(): Promise<void>;
}> {
  const standIn = shared ?? (await new SlackStandIn({ users: [{ id: "U0000001", name: "alice" }] }).start());
  const core = slackTestCore();
  const adapter = new SlackAdapter(core, slackTestOptions(standIn, overrides));
  const http = new HttpListener({ log: core.log, maxBodyBytes: 1_048_576 });
  adapter.mount(http);
  const address = await http.listen("127.0.0.1", 0);
  await http.serve();
  const sink = new RecordingSink();
  try {
    await adapter.start(sink.sink);
  } catch (error) {
    await adapter.stop();
    await http.close();
    if (shared === undefined) await standIn.stop();
    throw error;
  }
  return {
    standIn,
    adapter,
    sink,
    eventsUrl: `http://127.0.0.1:${address.port}/slack/events`,
    async close() {
      await adapter.stop();
      await http.close();
      if (shared === undefined) await standIn.stop();
    },
  };
}

/** The contract harness for Slack. */
export async function makeSlackHarness(): Promise<AdapterHarness> {
  const { standIn, adapter, sink, eventsUrl, close } = await startSlackAdapter();
  const sign = { signingSecret: HARNESS_SECRET };
  let n = 0;
  return {
    adapter,
    async deliver({ text, chatKind = "dm", inThread = false }) {
      n += 1;
      const channel = chatKind === "dm" ? "D0000042" : "C0000042";
      if (text.startsWith("/") && !inThread) {
        const [command, ...rest] = text.split(" ");
        const triggerId = `trig-contract-${n}`;
        const res = await sendCommand(
          eventsUrl,
          {
            command: command!,
            text: rest.join(" "),
            channel_id: channel,
            trigger_id: triggerId,
            channel_name: chatKind === "dm" ? "directmessage" : "ops",
            response_url: standIn.responseUrl(),
          },
          sign,
        );
        if (res.status !== 200) throw new Error(`slash command answered ${res.status}`);
        return sink.waitFor(`slack:cmd:${triggerId}`);
      }
      const eventId = `EvCONTRACT${n}`;
      const ts = `1700002000.${String(n).padStart(6, "0")}`;
      const fields = {
        text: chatKind === "dm" ? text : `<@${standIn.botUserId}> ${text}`,
        channel,
        ts,
        ...(inThread ? { threadTs: "1700001999.000001" } : {}),
      };
      await sendEvent(
        eventsUrl,
        eventCallback(chatKind === "dm" ? directMessage(fields) : appMention(fields), eventId),
        sign,
      );
      return sink.waitFor(`slack:${eventId}`);
    },
    messages: () =>
      standIn.messages.map((m) => ({
        chatId: m.channel,
        messageId: m.ts,
        raw: m.mrkdwn ? m.text : `\u0001${m.text}`,
        ...(m.threadTs === undefined ? {} : { threadId: m.threadTs }),
      })),
    // A message posted with mrkdwn off is shown as is (entities still decoded); it is marked in `raw` above.
    toPlain: (raw) => (raw.startsWith("\u0001") ? decodeEntities(raw.slice(1)) : slackMrkdwnToText(raw)),
    measure: (raw) => (raw.startsWith("\u0001") ? raw.length - 1 : raw.length),
    // Slack has no command API: its native menu is the app manifest built from what the adapter was given.
    registeredCommands: () =>
      (
        buildSlackManifest({
          appName: "switchboard",
          commands: adapter.registeredCommands(),
          socketMode: true,
          commandPrefix: "",
          umbrellaCommand: "switchboard",
        }) as { features: { slash_commands: Array<{ command: string; description: string }> } }
      ).features.slash_commands.map((c) => ({ name: c.command.slice(1), description: c.description })),
    failNextSend(failure) {
      if (failure.kind === "rate-limit") standIn.rateLimit("chat.postMessage", failure.retryAfterSeconds);
      else standIn.failNext("chat.postMessage", "missing_scope");
    },
    sendAttempts: () => standIn.callsOf("chat.postMessage").length,
    files: () =>
      standIn.files.map((f) => ({
        chatId: f.channel,
        name: f.name,
        mimeType: "application/octet-stream",
        bytes: f.bytes,
      })),
    async deliverFile({ name, mimeType, bytes, foreignUrl }) {
      n += 1;
      const eventId = `EvFILE${n}`;
      const file = standIn.hostFile(name, mimeType, bytes);
      if (foreignUrl !== undefined) file.url_private = foreignUrl;
      const event = {
        ...directMessage({ text: "here", channel: "D0000042", ts: `1700004000.${String(n).padStart(6, "0")}` }),
        subtype: "file_share",
        files: [file],
      };
      await sendEvent(eventsUrl, eventCallback(event, eventId), sign);
      return sink.waitFor(`slack:${eventId}`);
    },
    async react({ chatId, messageId, userId, emoji, added }) {
      n += 1;
      const eventId = `EvREACT${n}`;
      const onBot = standIn.messages.some((m) => m.channel === chatId && m.ts === messageId);
      // Slack names emoji: the thumbs arrive as `+1` / `-1`.
      const reaction = emoji === "👍" ? "+1" : emoji === "👎" ? "-1" : emoji;
      const event = reactionEvent({
        reaction,
        added,
        channel: chatId,
        ts: messageId,
        user: userId,
        ...(onBot ? { itemUser: standIn.botUserId } : {}),
      });
      const res = await sendEvent(eventsUrl, eventCallback(event, eventId), sign);
      if (res.status !== 200) throw new Error(`reaction event answered ${res.status}`);
      return sink.waitFor(`slack:${eventId}`);
    },
    close,
  };
}
