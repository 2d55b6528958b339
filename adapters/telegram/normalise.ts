/**
 * Telegram updates → the router's `Inbound` fields. Pure functions: no API calls here (the platform role is
 * looked up by the adapter). Ids: chat and user ids are Telegram's numeric ids as strings; the delivery id is
 * `telegram:<update_id>`; the thread id is a forum topic's `message_thread_id`.
 */
import type { Update, Message, Chat } from "grammy/types";
import { parseCommandLine, type ChatKind, type Inbound } from "../../bot/index.ts";

/** What normalising needs to know about the bot. */
export interface BotIdentity {
  id: number;
  username: string;
}

/** An update the router should see, without the bound capabilities (`respond`, `typing`: slots the adapter fills). */
export interface NormalisedUpdate {
  inbound: Omit<Inbound, "respond" | "typing"> & { respond?: Inbound["respond"]; typing?: Inbound["typing"] };
  /** The message to reply to (groups), when the update was a message. */
  messageId?: number;
  /** A button press to acknowledge. */
  callbackQueryId?: string;
  /** Whether the speaker's role should be looked up (groups and channels; not DMs, not anonymous senders). */
  needsRole: boolean;
  /** Files and images on the message, by Telegram file id (the adapter binds how to read them). */
  files?: TelegramFileRef[];
}

/** A file on a message: the adapter reads it with `getFile` and the file download URL. */
export interface TelegramFileRef {
  fileId: string;
  name: string;
  mimeType: string;
  size: number | undefined;
}

/** The photo (its largest size) and the document on a message, if any. */
function filesOf(message: Message): TelegramFileRef[] {
  const out: TelegramFileRef[] = [];
  const photo = Array.isArray(message.photo) ? message.photo.at(-1) : undefined;
  if (photo !== undefined && typeof photo.file_id === "string")
    out.push({ fileId: photo.file_id, name: "photo.jpg", mimeType: "image/jpeg", size: photo.file_size });
  const doc = message.document;
  if (doc !== undefined && typeof doc.file_id === "string")
    out.push({
      fileId: doc.file_id,
      name: doc.file_name ?? "file",
      mimeType: doc.mime_type ?? "application/octet-stream",
      size: doc.file_size,
    });
  return out;
}

/** Why an update was skipped. */
export interface SkippedUpdate {
  skip: string;
}

/** Map a Telegram chat type to a chat kind. */
export function chatKindOf(type: Chat["type"]): ChatKind {
  switch (type) {
    case "private":
      return "dm";
    case "channel":
      return "channel";
    default:
      return "group";
  }
}

/** Normalise one update, or say why it is skipped (unknown type, no text, malformed). Never throws. */
export function normaliseUpdate(
  update: Update,
  bot: BotIdentity,
  receivedAt: number,
): NormalisedUpdate | SkippedUpdate {
  try {
    if (typeof update?.update_id !== "number") return { skip: "malformed update: no update_id" };
    const deliveryId = `telegram:${update.update_id}`;
    if (update.callback_query !== undefined) {
      const q = update.callback_query;
      const message = q.message;
      if (message === undefined || typeof q.data !== "string")
        return { skip: "callback query without message or data" };
      return {
        inbound: {
          deliveryId,
          sequence: update.update_id,
          platform: "telegram",
          receivedAt,
          origin: "button",
          chat: chatOf(message.chat),
          user: { id: String(q.from.id), displayName: nameOf(q.from), isBot: q.from.is_bot },
          text: q.data,
          ...commandOf(q.data, bot),
          ...threadOf(message as Message),
          mentionsBot: true,
        },
        callbackQueryId: q.id,
        needsRole: message.chat.type !== "private",
      };
    }
    if (update.message_reaction !== undefined) return normaliseReaction(update, { deliveryId, receivedAt });
    const message = update.message ?? update.channel_post;
    if (message === undefined)
      return {
        skip: `unhandled update type: ${
          Object.keys(update)
            .filter((k) => k !== "update_id")
            .join(",") || "empty"
        }`,
      };
    if (
      typeof message.message_id !== "number" ||
      typeof message.chat?.id !== "number" ||
      typeof message.chat.type !== "string"
    ) {
      return { skip: "malformed message" };
    }
    const files = filesOf(message);
    const text = message.text ?? message.caption ?? (files.length > 0 ? "" : undefined);
    if (typeof text !== "string" || (text === "" && files.length === 0)) return { skip: "message without text" };
    const chat = chatOf(message.chat);
    const from = message.from;
    // One shape for every user, with a slot for the platform role the adapter may look up.
    const user: Inbound["user"] =
      from !== undefined
        ? { id: String(from.id), displayName: nameOf(from), isBot: from.is_bot, platformRole: undefined }
        : {
            id: String(message.sender_chat?.id ?? message.chat.id),
            displayName: message.sender_chat?.title ?? chat.title ?? "channel",
            isBot: undefined,
            platformRole: undefined,
          };
    const replyTo =
      message.reply_to_message !== undefined && message.reply_to_message.message_id !== message.message_thread_id
        ? {
            messageId: String(message.reply_to_message.message_id),
            isToBot: message.reply_to_message.from?.id === bot.id,
          }
        : undefined;
    const command = text.startsWith("/") ? parseCommandLine(text, bot.username) : undefined;
    if (command === undefined && isForAnotherBot(text, bot)) return { skip: "command for another bot" };
    const mentionsBot =
      chat.kind === "dm" || text.toLowerCase().includes(`@${bot.username.toLowerCase()}`) || replyTo?.isToBot === true;
    // One literal with every field, absent ones undefined (and slots for what the adapter binds): every message
    // gets the same object shape, with no property added later.
    const inbound: NormalisedUpdate["inbound"] = {
      deliveryId,
      sequence: update.update_id,
      platform: "telegram",
      receivedAt,
      chat,
      user,
      text,
      mentionsBot,
      messageId: String(message.message_id),
      command,
      threadId:
        message.is_topic_message === true && typeof message.message_thread_id === "number"
          ? String(message.message_thread_id)
          : undefined,
      replyTo,
      respond: undefined,
      typing: undefined,
    };
    return {
      inbound,
      messageId: message.message_id,
      callbackQueryId: undefined,
      needsRole: chat.kind !== "dm" && from !== undefined && message.sender_chat === undefined,
      ...(files.length === 0 ? {} : { files }),
    };
  } catch (error) {
    return { skip: `malformed update: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/**
 * A `message_reaction` update → a reaction Inbound. Telegram sends the person's whole old and new set of
 * reactions on the message; the first emoji that appeared is reported as added, else the first that went.
 * Anonymous reactions (an `actor_chat`) are skipped: there is no person to count.
 */
function normaliseReaction(
  update: Update,
  { deliveryId, receivedAt }: { deliveryId: string; receivedAt: number },
): NormalisedUpdate | SkippedUpdate {
  const r = update.message_reaction!;
  if (r.user === undefined) return { skip: "anonymous reaction" };
  if (typeof r.message_id !== "number" || typeof r.chat?.id !== "number") return { skip: "malformed reaction" };
  const before = emojisOf(r.old_reaction);
  const after = emojisOf(r.new_reaction);
  const addedEmoji = after.find((e) => !before.includes(e));
  const removedEmoji = before.find((e) => !after.includes(e));
  const emoji = addedEmoji ?? removedEmoji;
  if (emoji === undefined) return { skip: "reaction without an emoji change" };
  const chat = chatOf(r.chat);
  return {
    inbound: {
      deliveryId,
      sequence: update.update_id,
      platform: "telegram",
      receivedAt,
      chat,
      user: { id: String(r.user.id), displayName: nameOf(r.user), isBot: r.user.is_bot, platformRole: undefined },
      text: "",
      messageId: String(r.message_id),
      reaction: { emoji, added: addedEmoji !== undefined, messageId: String(r.message_id) },
      respond: undefined,
      typing: undefined,
    },
    messageId: undefined,
    callbackQueryId: undefined,
    needsRole: chat.kind !== "dm",
  };
}

/** The plain emoji of a reaction list (custom and paid reactions are left out). */
function emojisOf(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  const out: string[] = [];
  for (const item of list as Array<{ type?: unknown; emoji?: unknown }>) {
    if (item?.type === "emoji" && typeof item.emoji === "string") out.push(item.emoji);
  }
  return out;
}

function chatOf(chat: Chat): Inbound["chat"] {
  const kind = chatKindOf(chat.type);
  const title =
    "title" in chat && typeof chat.title === "string"
      ? chat.title
      : fullName(
          "first_name" in chat ? chat.first_name : undefined,
          "last_name" in chat ? chat.last_name : undefined,
        ) || undefined;
  return { id: String(chat.id), kind, title }; // one shape, title or not
}

function nameOf(user: { first_name: string; last_name?: string; username?: string }): string {
  const name = fullName(user.first_name, user.last_name);
  return name !== "" ? name : (user.username ?? "unknown");
}

/** First and last name joined by a space, skipping missing or empty parts ("" when both are). */
function fullName(first: unknown, last: unknown): string {
  const a = typeof first === "string" ? first : "";
  const b = typeof last === "string" ? last : "";
  return a === "" ? b : b === "" ? a : `${a} ${b}`;
}

function threadOf(message: Message): { threadId?: string } {
  return message.is_topic_message === true && typeof message.message_thread_id === "number"
    ? { threadId: String(message.message_thread_id) }
    : {};
}

function isForAnotherBot(text: string, bot: BotIdentity): boolean {
  const m = /^\/[A-Za-z0-9_-]+@([A-Za-z0-9_]+)/.exec(text);
  return m !== null && m[1]!.toLowerCase() !== bot.username.toLowerCase();
}

function commandOf(text: string, bot: BotIdentity): { command?: Inbound["command"] } {
  if (!text.startsWith("/")) return {};
  const command = parseCommandLine(text, bot.username);
  return command === undefined ? {} : { command };
}
