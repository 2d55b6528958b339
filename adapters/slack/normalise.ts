/**
 * Slack payloads → the router's `Inbound` (without `respond`, which the adapter binds): slash commands,
 * `app_mention` and DM (`message.im`) events, and button clicks. Pure functions of the payload, so they are
 * cheap and easy to test; anything malformed returns undefined and is logged by the caller.
 */
import { parseCommandLine, type ChatKind, type Inbound, type ParsedCommand } from "../../bot/index.ts";
import { RESERVED_PREFIX, SLACK_RESERVED_COMMANDS } from "./manifest.ts";

/** Where a reply to an inbound goes. */
export interface ReplyContext {
  channel: string;
  threadTs?: string;
  /** The speaker (for ephemeral replies). */
  userId: string;
  /** A slash command's or button's `response_url` (ephemeral replies, and the fallback when the bot is not in the channel). */
  responseUrl?: string;
}

/** A normalised inbound before the adapter binds `respond`, with where its replies go. */
export interface NormalisedInbound {
  inbound: Omit<Inbound, "respond" | "typing">;
  reply: ReplyContext;
  /** Files shared with the message (`url_private`, read with the bot token by the adapter). */
  files?: SlackFileRef[];
}

/** A file shared with a message. */
export interface SlackFileRef {
  name: string;
  mimeType: string;
  size: number | undefined;
  url: string;
}

/** The well-formed entries of an event's `files` (at most 10). */
function filesOf(raw: unknown): SlackFileRef[] {
  if (!Array.isArray(raw)) return [];
  const out: SlackFileRef[] = [];
  for (const f of raw.slice(0, 10) as Array<Record<string, unknown>>) {
    if (f === null || typeof f !== "object" || typeof f.url_private !== "string") continue;
    out.push({
      name: typeof f.name === "string" ? f.name : "file",
      mimeType: typeof f.mimetype === "string" ? f.mimetype : "application/octet-stream",
      size: typeof f.size === "number" ? f.size : undefined,
      url: f.url_private,
    });
  }
  return out;
}

/** What normalising needs beyond the payload. */
export interface NormaliseOptions {
  /** The bot's own user id (from auth.test), to strip leading mentions. */
  botUserId: string;
  /** Prefix of every slash command in the manifest (`sb-` → `/sb-help`); stripped here. */
  commandPrefix: string;
  /** The umbrella slash command (`/switchboard help`) that carries any command as its text. */
  umbrellaCommand: string;
  nowMs: number;
}

/** Slack's channel id prefixes: `D` is a DM, `G` a private channel or group DM, `C` a channel. */
export function chatKindOf(channelId: string, channelType?: string): ChatKind {
  if (channelType === "im" || channelId.startsWith("D")) return "dm";
  // Slack channels are conversations where members talk, like groups elsewhere (not broadcast channels).
  return "group";
}

/**
 * Slack's wire text → plain text: `<@U1>` stays (a user reference), `<#C1|name>` → `#name`, `<url|label>` → url,
 * `<!here>` → `@here`, then `&lt; &gt; &amp;` decoded.
 */
export function decodeSlackText(text: string): string {
  return text
    .replace(/<([^<>]*)>/g, (whole, inner: string) => {
      if (/^@[UW][A-Z0-9]+(\|[^>]*)?$/.test(inner)) return `<${inner.split("|")[0]}>`;
      if (inner.startsWith("#")) {
        const [id, name] = inner.slice(1).split("|");
        return `#${name ?? id}`;
      }
      if (inner.startsWith("!")) {
        const [special, label] = inner.slice(1).split("|");
        return label ?? `@${special!.split("^")[0]}`;
      }
      if (/^(https?:|mailto:)/i.test(inner)) return inner.split("|")[0]!;
      return whole;
    })
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

/** The command a slash command invocation names, prefix and umbrella resolved. */
export function commandFromSlash(
  command: string,
  text: string,
  options: Pick<NormaliseOptions, "commandPrefix" | "umbrellaCommand">,
): { text: string; command: ParsedCommand | undefined } {
  let name = command.replace(/^\//, "").toLowerCase();
  const args = decodeSlackText(text).trim();
  if (name === options.umbrellaCommand) {
    const line = args === "" ? "/help" : args.startsWith("/") ? args : `/${args}`;
    return { text: line, command: parseCommandLine(line) };
  }
  if (options.commandPrefix !== "" && name.startsWith(options.commandPrefix))
    name = name.slice(options.commandPrefix.length);
  else if (name.startsWith(RESERVED_PREFIX) && SLACK_RESERVED_COMMANDS.has(name.slice(RESERVED_PREFIX.length)))
    name = name.slice(RESERVED_PREFIX.length);
  const line = args === "" ? `/${name}` : `/${name} ${args}`;
  return { text: line, command: parseCommandLine(line) ?? { name, args: [], rawArgs: args } };
}

/** A slash command payload (form fields, or Socket Mode's `payload`). */
export interface SlashCommandBody {
  command?: unknown;
  text?: unknown;
  user_id?: unknown;
  user_name?: unknown;
  channel_id?: unknown;
  channel_name?: unknown;
  response_url?: unknown;
  trigger_id?: unknown;
}

/** Normalise a slash command. Undefined when a required field is missing. */
export function fromSlashCommand(body: SlashCommandBody, options: NormaliseOptions): NormalisedInbound | undefined {
  const command = str(body.command);
  const userId = str(body.user_id);
  const channel = str(body.channel_id);
  if (command === undefined || userId === undefined || channel === undefined) return undefined;
  const parsed = commandFromSlash(command, str(body.text) ?? "", options);
  const triggerId = str(body.trigger_id);
  const channelName = str(body.channel_name);
  const kind = chatKindOf(channel, channelName === "directmessage" ? "im" : undefined);
  const responseUrl = str(body.response_url);
  return {
    inbound: {
      // Without a trigger id there is nothing stable to dedupe on: the delivery is taken as unique.
      deliveryId:
        triggerId === undefined
          ? `slack:cmd:${options.nowMs}:${Math.random().toString(36).slice(2)}`
          : `slack:cmd:${triggerId}`,
      platform: "slack",
      chat:
        channelName === undefined || channelName === "directmessage" || channelName === "privategroup"
          ? { id: channel, kind }
          : { id: channel, kind, title: channelName },
      user: { id: userId, displayName: str(body.user_name) ?? userId },
      text: parsed.text,
      ...(parsed.command === undefined ? {} : { command: parsed.command }),
      receivedAt: options.nowMs,
    },
    reply: { channel, userId, ...(responseUrl === undefined || responseUrl === "" ? {} : { responseUrl }) },
  };
}

/** The parts of an Events API body used here. */
export interface EventBody {
  event_id?: unknown;
  event?: object;
}

/**
 * Normalise an `app_mention`, or a `message` in a DM. Undefined for anything else (edits, joins, bot posts,
 * channel chatter the bot was not addressed in), which the adapter skips.
 */
export function fromEvent(body: EventBody, options: NormaliseOptions): NormalisedInbound | undefined {
  const event = body.event as Record<string, unknown> | undefined;
  const eventId = str(body.event_id);
  if (event === undefined || eventId === undefined) return undefined;
  const type = str(event.type);
  const channel = str(event.channel);
  const userId = str(event.user);
  const ts = str(event.ts);
  if (channel === undefined || userId === undefined || ts === undefined) return undefined;
  // A message with files comes as the `file_share` subtype; other subtypes are edits, joins and the like.
  const isFileShare = event.subtype === "file_share";
  if ((event.subtype !== undefined && !isFileShare) || event.bot_id !== undefined || userId === options.botUserId)
    return undefined;
  const isMention = type === "app_mention";
  const isDm = type === "message" && (event.channel_type === "im" || channel.startsWith("D"));
  if (!isMention && !isDm) return undefined;
  const raw = str(event.text) ?? "";
  const text = decodeSlackText(stripLeadingMention(raw, options.botUserId)).trim();
  const threadTs = str(event.thread_ts);
  const command = text.startsWith("/") ? parseCommandLine(text) : undefined;
  return {
    inbound: {
      deliveryId: `slack:${eventId}`,
      platform: "slack",
      chat: { id: channel, kind: isDm ? "dm" : chatKindOf(channel, str(event.channel_type)) },
      user: { id: userId, displayName: userId },
      text,
      ...(command === undefined ? {} : { command }),
      ...(threadTs === undefined ? {} : { threadId: threadTs }),
      ...(threadTs !== undefined && threadTs !== ts
        ? { replyTo: { messageId: threadTs, isToBot: event.parent_user_id === options.botUserId } }
        : {}),
      mentionsBot: true,
      messageId: ts,
      receivedAt: options.nowMs,
    },
    reply: { channel, userId, ...(threadTs === undefined ? {} : { threadTs }) },
    ...(Array.isArray(event.files) ? { files: filesOf(event.files) } : {}),
  };
}

/** Slack's names for the thumbs, with or without a skin tone, as the Unicode emoji other platforms send. */
const THUMBS: Readonly<Record<string, string>> = {
  "+1": "👍",
  thumbsup: "👍",
  "-1": "👎",
  thumbsdown: "👎",
};

/** A Slack reaction name as `Reaction.emoji`: the thumbs as `👍`/`👎` (any skin tone), anything else by name. */
export function reactionEmoji(name: string): string {
  const base = name.split("::")[0]!;
  return THUMBS[base] ?? name;
}

/**
 * Normalise a `reaction_added` or `reaction_removed` on a message. Undefined for reactions on files or other
 * items, and for the bot's own reactions.
 */
export function fromReaction(body: EventBody, options: NormaliseOptions): NormalisedInbound | undefined {
  const event = body.event as Record<string, unknown> | undefined;
  const eventId = str(body.event_id);
  if (event === undefined || eventId === undefined) return undefined;
  const type = str(event.type);
  if (type !== "reaction_added" && type !== "reaction_removed") return undefined;
  const item = event.item as Record<string, unknown> | undefined;
  const userId = str(event.user);
  const name = str(event.reaction);
  if (item === undefined || item.type !== "message" || userId === undefined || name === undefined) return undefined;
  const channel = str(item.channel);
  const ts = str(item.ts);
  if (channel === undefined || ts === undefined || userId === options.botUserId) return undefined;
  const itemUser = str(event.item_user);
  return {
    inbound: {
      deliveryId: `slack:${eventId}`,
      platform: "slack",
      chat: { id: channel, kind: chatKindOf(channel) },
      user: { id: userId, displayName: userId },
      text: "",
      messageId: ts,
      reaction: {
        emoji: reactionEmoji(name),
        added: type === "reaction_added",
        messageId: ts,
        ...(itemUser === undefined ? {} : { onBotMessage: itemUser === options.botUserId }),
      },
      receivedAt: options.nowMs,
    },
    reply: { channel, userId },
  };
}

/** The parts of a `block_actions` body used here. */
export interface ActionBody {
  trigger_id?: unknown;
  user?: { id?: unknown; name?: unknown; username?: unknown };
  channel?: { id?: unknown; name?: unknown };
  container?: { thread_ts?: unknown; message_ts?: unknown };
  message?: { ts?: unknown; thread_ts?: unknown };
  response_url?: unknown;
  actions?: Array<{ value?: unknown; action_ts?: unknown; action_id?: unknown }>;
}

/** Normalise a button click: its value is a command line, run as if the clicker typed it. */
export function fromButton(body: ActionBody, options: NormaliseOptions): NormalisedInbound | undefined {
  const action = body.actions?.[0];
  const value = str(action?.value);
  const userId = str(body.user?.id);
  const channel = str(body.channel?.id);
  if (value === undefined || userId === undefined || channel === undefined) return undefined;
  const threadTs = str(body.message?.thread_ts) ?? str(body.container?.thread_ts);
  const command = parseCommandLine(value);
  const responseUrl = str(body.response_url);
  const stamp = str(action?.action_ts) ?? String(options.nowMs);
  return {
    inbound: {
      deliveryId: `slack:act:${str(body.trigger_id) ?? channel}:${stamp}`,
      platform: "slack",
      chat: { id: channel, kind: chatKindOf(channel) },
      user: { id: userId, displayName: str(body.user?.name) ?? str(body.user?.username) ?? userId },
      text: value,
      ...(command === undefined ? {} : { command }),
      ...(threadTs === undefined ? {} : { threadId: threadTs }),
      origin: "button",
      receivedAt: options.nowMs,
    },
    reply: {
      channel,
      userId,
      ...(threadTs === undefined ? {} : { threadTs }),
      ...(responseUrl === undefined ? {} : { responseUrl }),
    },
  };
}

function stripLeadingMention(text: string, botUserId: string): string {
  return text.replace(new RegExp(`^\\s*<@${botUserId}(\\|[^>]*)?>[\\s:,]*`), "");
}

function str(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}
