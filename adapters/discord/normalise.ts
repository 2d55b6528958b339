/**
 * Discord payloads → the parts of an `Inbound`: application-command interactions (options in the command's
 * declared order, joined into the same `rawArgs` a typed command would have), and channel messages that
 * mention the bot or arrive in a DM. Payloads are checked field by field; anything malformed throws
 * `MalformedPayloadError`, which the caller logs and skips.
 */
import { parseCommandLine, type ChatInfo, type CommandArgSpec, type ParsedCommand } from "../../bot/index.ts";
import { optionName } from "./commands.ts";

/** A payload that is not what Discord sends. */
export class MalformedPayloadError extends Error {
  constructor(what: string) {
    super(`malformed Discord payload: ${what}`);
    this.name = "MalformedPayloadError";
  }
}

type Obj = Record<string, unknown>;

function isObj(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function str(obj: Obj, key: string, what: string): string {
  const value = obj[key];
  if (typeof value !== "string" || value === "") throw new MalformedPayloadError(`${what}.${key} is not a string`);
  return value;
}

function optStr(obj: Obj | undefined, key: string): string | undefined {
  const value = obj?.[key];
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** The speaker, as both payload kinds carry it. */
export interface WireSpeaker {
  id: string;
  displayName: string;
  isBot: boolean;
}

function speakerOf(user: unknown, nick: string | undefined, what: string): WireSpeaker {
  if (!isObj(user)) throw new MalformedPayloadError(`${what} has no user`);
  const id = str(user, "id", `${what}.user`);
  const displayName = nick ?? optStr(user, "global_name") ?? optStr(user, "username") ?? id;
  return { id, displayName, isBot: user.bot === true };
}

/** An application command or a button press, normalised. */
export interface CommandInteraction {
  kind: "command";
  id: string;
  token: string;
  applicationId: string;
  chat: ChatInfo;
  guildId: string | undefined;
  user: WireSpeaker;
  /** The member's computed permissions in the channel (decimal string), in a guild. */
  permissions: string | undefined;
  /** Absent for a button whose data is not a command line. */
  command: ParsedCommand | undefined;
  text: string;
  origin: "user" | "button";
}

/** Any interaction we do not handle (context menus, autocomplete, modals…): only its ids. */
export type OtherInteraction =
  | { kind: "ping"; id: string; type: number }
  | { kind: "unsupported"; id: string; type: number };

/** The registry's typed arguments for a command or one of its subcommands (by path), to order its options. */
export type ArgSpecsOf = (commandName: string, path: readonly string[]) => readonly CommandArgSpec[] | undefined;

interface WireOption {
  name: string;
  type: number;
  value?: unknown;
  options?: unknown;
}

function flattenOptions(
  options: unknown,
  out: Array<{ name: string; value: string; type: number }>,
  names: string[],
): void {
  if (options === undefined) return;
  if (!Array.isArray(options)) throw new MalformedPayloadError("data.options is not a list");
  for (const raw of options) {
    if (!isObj(raw) || typeof raw.name !== "string" || typeof raw.type !== "number")
      throw new MalformedPayloadError("an option has no name or type");
    const option = raw as unknown as WireOption;
    if (option.type === 1 || option.type === 2) {
      names.push(option.name); // a subcommand (group) reads as the first word(s)
      flattenOptions(option.options, out, names);
      continue;
    }
    const value = option.value;
    if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") continue;
    out.push({ name: option.name, value: String(value), type: option.type });
  }
}

/** Quote an argument so `splitArgs` gives it back as one argument. */
function quoteArg(value: string): string {
  if (value !== "" && !/[\s"'\\]/.test(value)) return value;
  return `"${value.replace(/(["\\])/g, "\\$1")}"`;
}

/**
 * Options → the command line a user would have typed: declared arguments in order (a `rest` argument last and
 * unquoted), then any undeclared options. `args` is that line split exactly as a typed command is.
 */
export function commandFromOptions(name: string, options: unknown, argSpecsOf: ArgSpecsOf): ParsedCommand {
  const flat: Array<{ name: string; value: string; type: number }> = [];
  const words: string[] = [];
  flattenOptions(options, flat, words);
  const specs = argSpecsOf(name, words) ?? [];
  const byName = new Map(flat.map((o) => [o.name, o]));
  const parts = words.map(quoteArg);
  let rest: string | undefined;
  for (const spec of specs) {
    const option = byName.get(optionName(spec.name));
    if (option === undefined) continue;
    byName.delete(option.name);
    // A flag is typed `--name` when set, and left out when not.
    if (spec.flag === true) {
      if (option.value === "true") parts.push(`--${spec.name}`);
    } else if (spec.rest === true) rest = option.value;
    else parts.push(quoteArg(option.value));
  }
  for (const option of byName.values()) parts.push(quoteArg(option.value));
  if (rest !== undefined) parts.push(rest.trim());
  const rawArgs = parts.filter((p) => p !== "").join(" ");
  const parsed = parseCommandLine(`/${name}${rawArgs === "" ? "" : ` ${rawArgs}`}`);
  return parsed ?? { name: name.toLowerCase(), args: [], rawArgs };
}

/** Read an INTERACTION_CREATE payload (gateway or HTTP). */
export function parseInteraction(payload: unknown, argSpecsOf: ArgSpecsOf): CommandInteraction | OtherInteraction {
  if (!isObj(payload)) throw new MalformedPayloadError("interaction is not an object");
  const id = str(payload, "id", "interaction");
  const type = payload.type;
  if (typeof type !== "number") throw new MalformedPayloadError("interaction.type is not a number");
  if (type === 1) return { kind: "ping", id, type };
  const data = payload.data;
  const isCommand = type === 2 && isObj(data) && (data.type === undefined || data.type === 1);
  const isButton = type === 3 && isObj(data) && data.component_type === 2 && typeof data.custom_id === "string";
  if (!isObj(data) || (!isCommand && !isButton)) return { kind: "unsupported", id, type };
  const token = str(payload, "token", "interaction");
  const applicationId = str(payload, "application_id", "interaction");
  const channelId =
    optStr(payload, "channel_id") ?? (isObj(payload.channel) ? optStr(payload.channel, "id") : undefined);
  if (channelId === undefined) throw new MalformedPayloadError("interaction has no channel");
  const guildId = optStr(payload, "guild_id");
  const member = isObj(payload.member) ? payload.member : undefined;
  const user = speakerOf(member?.user ?? payload.user, optStr(member, "nick"), "interaction");
  let command: ParsedCommand | undefined;
  let text: string;
  if (isCommand) {
    command = commandFromOptions(str(data, "name", "interaction.data"), data.options, argSpecsOf);
    text = command.rawArgs === "" ? `/${command.name}` : `/${command.name} ${command.rawArgs}`;
  } else {
    text = data.custom_id as string;
    command = parseCommandLine(text);
  }
  const channelName = isObj(payload.channel) ? optStr(payload.channel, "name") : undefined;
  const channelType = isObj(payload.channel) ? payload.channel.type : undefined;
  return {
    kind: "command",
    id,
    token,
    applicationId,
    chat: {
      id: channelId,
      kind: guildId !== undefined || channelType === 3 ? "group" : "dm",
      ...(channelName === undefined ? {} : { title: channelName }),
    },
    guildId,
    user,
    permissions: optStr(member, "permissions"),
    command,
    text,
    origin: isCommand ? "user" : "button",
  };
}

/** A message that reached the bot (a mention in a guild channel, or a DM). */
export interface BotMessage {
  id: string;
  chat: ChatInfo;
  guildId: string | undefined;
  user: WireSpeaker;
  /** The member's role ids, in a guild. */
  roleIds: string[];
  /** Text with the bot's mention taken out. */
  text: string;
  command: ParsedCommand | undefined;
  mentionsBot: boolean;
  replyTo: { messageId: string; isToBot: boolean } | undefined;
  /** Files and images on the message, as Discord lists them (the URL is checked when it is read). */
  attachments: WireAttachment[];
}

/** An attachment as a message payload lists it. */
export interface WireAttachment {
  name: string;
  mimeType: string;
  size: number | undefined;
  url: string;
}

/** The well-formed entries of a payload's `attachments` (at most 10, as Discord allows). */
function attachmentsOf(raw: unknown): WireAttachment[] {
  if (!Array.isArray(raw)) return [];
  const out: WireAttachment[] = [];
  for (const a of raw.slice(0, 10)) {
    if (!isObj(a) || typeof a.url !== "string") continue;
    out.push({
      name: typeof a.filename === "string" ? a.filename : "file",
      mimeType: typeof a.content_type === "string" ? a.content_type : "application/octet-stream",
      size: typeof a.size === "number" ? a.size : undefined,
      url: a.url,
    });
  }
  return out;
}

/**
 * Read a MESSAGE_CREATE payload. Returns undefined for messages the bot should not hear: its own, other bots',
 * and guild messages that neither mention it nor reply to it.
 */
export function parseMessage(payload: unknown, botUserId: string): BotMessage | undefined {
  if (!isObj(payload)) throw new MalformedPayloadError("message is not an object");
  const id = str(payload, "id", "message");
  const channelId = str(payload, "channel_id", "message");
  const member = isObj(payload.member) ? payload.member : undefined;
  const user = speakerOf(payload.author, optStr(member, "nick"), "message");
  if (user.isBot || user.id === botUserId) return undefined;
  const content = typeof payload.content === "string" ? payload.content : "";
  const guildId = optStr(payload, "guild_id");
  const mentions = Array.isArray(payload.mentions) ? payload.mentions : [];
  const mentionPattern = new RegExp(`<@!?${botUserId}>`, "g");
  const mentionsBot =
    mentions.some((m) => isObj(m) && m.id === botUserId) ||
    content.includes(`<@${botUserId}>`) ||
    content.includes(`<@!${botUserId}>`);
  const referenced = isObj(payload.referenced_message) ? payload.referenced_message : undefined;
  const refAuthor = referenced !== undefined && isObj(referenced.author) ? referenced.author : undefined;
  const replyTo =
    referenced !== undefined && typeof referenced.id === "string"
      ? { messageId: referenced.id, isToBot: refAuthor?.id === botUserId }
      : undefined;
  if (guildId !== undefined && !mentionsBot && replyTo?.isToBot !== true) return undefined;
  const text = content.replace(mentionPattern, "").trim();
  const command = text.startsWith("/") ? parseCommandLine(text) : undefined;
  return {
    id,
    chat: { id: channelId, kind: guildId === undefined ? "dm" : "group" },
    guildId,
    user,
    roleIds: Array.isArray(member?.roles)
      ? (member.roles as unknown[]).filter((r): r is string => typeof r === "string")
      : [],
    text,
    command,
    mentionsBot,
    replyTo,
    attachments: attachmentsOf(payload.attachments),
  };
}

/** A reaction dispatch, normalised. */
export interface ParsedReaction {
  channelId: string;
  messageId: string;
  guildId: string | undefined;
  userId: string;
  displayName: string;
  emoji: string;
  added: boolean;
  /** The author of the message reacted to, when Discord says (`MESSAGE_REACTION_ADD` only). */
  messageAuthorId: string | undefined;
}

/**
 * `MESSAGE_REACTION_ADD` / `MESSAGE_REACTION_REMOVE` → a parsed reaction. A Unicode emoji comes as its
 * character; a custom one as `:name:`. Throws `MalformedPayloadError` on a payload without its ids.
 */
export function parseReaction(payload: unknown, added: boolean): ParsedReaction {
  if (!isObj(payload)) throw new MalformedPayloadError("reaction payload is not an object");
  const { channel_id: channelId, message_id: messageId, user_id: userId, emoji } = payload;
  if (typeof channelId !== "string" || typeof messageId !== "string" || typeof userId !== "string" || !isObj(emoji))
    throw new MalformedPayloadError("reaction payload without channel, message, user or emoji");
  const name = typeof emoji.name === "string" ? emoji.name : "";
  if (name === "") throw new MalformedPayloadError("reaction without an emoji name");
  const member = isObj(payload.member) ? payload.member : undefined;
  const memberUser = member !== undefined && isObj(member.user) ? member.user : undefined;
  const displayName =
    (typeof member?.nick === "string" && member.nick) ||
    (typeof memberUser?.global_name === "string" && memberUser.global_name) ||
    (typeof memberUser?.username === "string" && memberUser.username) ||
    userId;
  return {
    channelId,
    messageId,
    guildId: typeof payload.guild_id === "string" ? payload.guild_id : undefined,
    userId,
    displayName,
    emoji: typeof emoji.id === "string" ? `:${name}:` : name,
    added,
    messageAuthorId: typeof payload.message_author_id === "string" ? payload.message_author_id : undefined,
  };
}
