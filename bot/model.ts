/**
 * The message model: one `Inbound` for every platform, one `Reply` for every platform, and the
 * `ChannelAdapter` interface every adapter implements. Nothing here knows a platform.
 */
import type { ApiRoute } from "./http/routes.ts";

/** A platform name: `console`, `telegram`, `discord`, `slack`, or a third-party adapter's own. */
export type Platform = "console" | "telegram" | "discord" | "slack" | (string & {});

/** What kind of conversation a chat is. */
export type ChatKind = "dm" | "group" | "channel";

/**
 * The role a platform itself gives the speaker in this chat, as the adapter found it.
 * `undefined` means the adapter could not find out: permissions treat it as `guest` (fail closed).
 */
export type PlatformRole = "owner" | "admin" | "member";

/** A chat as the adapter sees it. `id` is the platform's own id (as a string). */
export interface ChatInfo {
  id: string;
  kind: ChatKind;
  title?: string;
}

/** The person who spoke. `id` is the platform's own user id (as a string). */
export interface UserInfo {
  id: string;
  displayName: string;
  platformRole?: PlatformRole;
  isBot?: boolean;
}

/** A parsed command: `/deploy web --now` → `{ name: "deploy", args: ["web", "--now"], rawArgs: "web --now" }`. */
export interface ParsedCommand {
  name: string;
  args: string[];
  rawArgs: string;
}

/** Where a message was sent, enough to edit it later. */
export interface SentMessage {
  platform: Platform;
  chatId: string;
  threadId?: string;
  messageId: string;
}

/** A place to send to: a chat, and a thread/topic inside it where the platform has them. */
export interface ConversationTarget {
  platform: Platform;
  chatId: string;
  threadId?: string;
}

/** One button under a reply. `data` comes back as an Inbound whose text is `data` (a command line). */
export interface ReplyButton {
  label: string;
  data: string;
}

/**
 * One reply, platform-neutral. `text` is a small Markdown subset: `**bold**`, `_italic_`, `` `code` ``,
 * fenced code blocks, `[label](https://url)` links and `- ` list lines. Adapters render it.
 */
export interface Reply {
  text: string;
  /** Rows of buttons; adapters without buttons render them as a hint line. */
  buttons?: ReplyButton[][];
  /** Shown only to the speaker where the platform has it (Slack, Discord); a normal reply elsewhere. */
  ephemeral?: boolean;
  /** `plain` sends the text verbatim, with no Markdown rendering. Default `markdown`. */
  format?: "markdown" | "plain";
  /** A file sent with the reply (the text is its caption), within the adapter's `maxFileBytes`. */
  file?: ReplyFile;
}

/** A file a reply carries. */
export interface ReplyFile {
  name: string;
  data: Uint8Array;
  /** `application/octet-stream` when not given. */
  mimeType?: string;
}

/** A file or image on an inbound message, read on demand. */
export interface Attachment {
  name: string;
  /** The MIME type the platform reports (`image/png`), or `application/octet-stream`. */
  mimeType: string;
  /** Size in bytes, when the platform reports it. */
  size?: number;
  /** Read the bytes; rejects with `E_FILE_TOO_LARGE` past `maxBytes` without reading the rest. */
  fetch(options: { maxBytes: number; signal?: AbortSignal }): Promise<Uint8Array>;
}

/** A reaction added to or removed from a message. */
export interface Reaction {
  /** The emoji as Unicode (`👍`) where the platform gives one, else its name (`thumbsup`, `:party_parrot:`). */
  emoji: string;
  added: boolean;
  /** The message reacted to. */
  messageId: string;
  /** True when that message is one the bot sent, when the adapter can tell. */
  onBotMessage?: boolean;
}

/** A reply, or a plain string (which means `{ text }`). */
export type ReplyInput = Reply | string;

/** Turn a `ReplyInput` into a `Reply`. */
export function toReply(input: ReplyInput): Reply {
  return typeof input === "string" ? { text: input } : input;
}

/**
 * One inbound message, normalised by an adapter. `respond` is bound to where it came from
 * (a Slack `response_url`, a Discord interaction, a Telegram chat and topic, the console).
 */
export interface Inbound {
  /** Unique per delivery from the platform; redeliveries carry the same id. Used for dedupe. */
  deliveryId: string;
  /**
   * A number the platform raises with every delivery to this bot (Telegram's `update_id`), when it has one.
   * Redeliveries carry the same number. In-memory dedupe uses it to keep a window of bits instead of every id.
   */
  sequence?: number;
  platform: Platform;
  chat: ChatInfo;
  user: UserInfo;
  text: string;
  /** Present when the text is a command (or the platform delivered a native command). */
  command?: ParsedCommand;
  /** Thread or topic id where the platform has them; replies stay in it. */
  threadId?: string;
  /** The message this one replies to, when it is a reply. */
  replyTo?: { messageId: string; isToBot: boolean };
  /** True when the bot was mentioned (`@bot`), so group conversation may answer. */
  mentionsBot?: boolean;
  /** The platform's own message id, when there is one. */
  messageId?: string;
  /**
   * What produced it: a person (default), a schedule firing, a button press, or the operator of this process (the
   * console), whom the router does not rate-limit.
   */
  origin?: "user" | "schedule" | "button" | "operator";
  /** Milliseconds since the epoch when the adapter received it. */
  receivedAt: number;
  /**
   * Looks up the speaker's platform role when the adapter could not include it without a platform call (a
   * Telegram group speaker not in its cache). The router calls it in the conversation's turn, so a slow
   * look-up delays only that conversation. It never rejects; undefined means no platform role (fail closed).
   */
  resolvePlatformRole?(): Promise<PlatformRole | undefined>;
  /**
   * Answer where the message came from. An adapter calls `hooks.beforeSend` (and waits for it) right before each
   * platform call that sends the reply, inside its outbound limiter: that is when the inbound journal marks the
   * reply sent.
   */
  respond(reply: Reply, hooks?: SendHooks): Promise<SentMessage>;
  /**
   * Set when the event was written to the inbound journal before it was acknowledged to the platform: the router
   * skips its delivery dedupe (the journal's unique key already did it, durably) and calls `settle` once the
   * message's handling is over, whatever its outcome.
   */
  journal?: JournalMark;
  /** Show a typing indicator where the platform has one. */
  typing?(): Promise<void>;
  /** Images and files on the message. */
  attachments?: Attachment[];
  /** Set when the event is a reaction, not a message: `text` is empty and there is no command. */
  reaction?: Reaction;
}

/**
 * Called by an adapter around the platform call that sends a reply. An adapter calls `beforeSend` right before
 * the call (at most once delivery of the reply across a crash); one whose platform drops a repeated send carrying
 * the same key (Discord's message `nonce` with `enforce_nonce`) sends with `idempotencyKey` and calls `afterSend`
 * once the call succeeded instead (at least once, and the platform drops the repeat).
 */
export interface SendHooks {
  /** Right before the platform call (after any wait in the outbound limiter); the call waits for it. */
  beforeSend?(): void | Promise<void>;
  /** A key at most 25 characters long, the same each time this reply is sent again after a crash. */
  idempotencyKey?: string;
  /** Once the platform accepted a send made with `idempotencyKey`. */
  afterSend?(): void | Promise<void>;
}

/** What the router tells the inbound journal about a journaled message. */
export interface JournalMark {
  /** The message's handling is over (answered, refused, dropped or failed with its error reply tried). */
  settle(): void;
}

/** What a platform can do; the router falls back where it cannot (no edit: send once at the end). */
export interface AdapterCapabilities {
  edit: boolean;
  buttons: boolean;
  ephemeral: boolean;
  typing: boolean;
  /** The platform's limit on one message's text, in characters. Longer replies are split. */
  maxTextLength: number;
  /** The largest file a reply may carry, in bytes; absent when the adapter cannot send files. */
  maxFileBytes?: number;
}

/** Health from real traffic. */
export interface AdapterHealth {
  platform: Platform;
  /** `up`: receiving; `starting`/`reconnecting`: not yet; `down`: given up or stopped. */
  state: "starting" | "up" | "reconnecting" | "down";
  /** Epoch ms of the last inbound event, or null if none yet. */
  lastInboundAt: number | null;
  /** Epoch ms of the last successful platform API call, or null if none yet. */
  lastApiOkAt: number | null;
  /** Human-readable detail: mode, last error, reconnect count. */
  detail?: string;
  /**
   * Times the connection to the platform was lost and taken up again since start (a dropped socket, a Slack
   * refresh, a polling error, a deaf connection recycled), for adapters that hold one; absent for those that do not.
   */
  reconnects?: number;
  /**
   * Set while the platform's API cannot be reached (the last call failed at the network layer, and none has
   * succeeded since): the adapter may be receiving, but replies cannot go out. `/readyz` is 503 meanwhile.
   */
  apiError?: string;
}

/** A command as adapters present it in native menus. */
export interface CommandInfo {
  name: string;
  description: string;
  /** Typed options, for platforms with typed native commands (Discord). */
  args?: CommandArgSpec[];
  /** Subcommands (Discord sub-commands; listed in Slack's usage hint). */
  subcommands?: CommandInfo[];
  /** Minimum role when the chat's policy says nothing (Telegram's menus by scope). */
  defaultRole?: "owner" | "admin" | "member" | "guest";
}

/** One typed argument of a command. */
export interface CommandArgSpec {
  name: string;
  description: string;
  type: "string" | "integer" | "number" | "boolean" | "user";
  required?: boolean;
  choices?: string[];
  /** Takes the rest of the line (Slack/Telegram); rendered as the last string option on Discord. */
  rest?: boolean;
  /** A boolean given as `--name` (`/skills uninstall x --purge`). */
  flag?: boolean;
}

/** Where an adapter hands inbound messages. Returns when the router has accepted (not finished) it. */
export type InboundSink = (inbound: Inbound) => Promise<void>;

/**
 * Every adapter implements this. Example:
 *
 * ```ts
 * class EchoAdapter implements ChannelAdapter {
 *   readonly platform = "echo";
 *   readonly capabilities = { edit: false, buttons: false, ephemeral: false, typing: false, maxTextLength: 4000 };
 *   async start(sink: InboundSink) { ... call sink(inbound) for each message ... }
 *   ...
 * }
 * ```
 */
export interface ChannelAdapter {
  readonly platform: Platform;
  readonly capabilities: AdapterCapabilities;
  /** Connect and begin delivering to `sink`. Resolves once connected (or webhook mounted). */
  start(sink: InboundSink): Promise<void>;
  /** Disconnect; pending outbound work is drained or failed, never left hanging. */
  stop(): Promise<void>;
  /**
   * Send an unsolicited message (schedules, skills' `send`, hook deliveries). `hooks` as for `Inbound.respond`:
   * `beforeSend` right before the platform call, inside the outbound limiter (adapters that keep no limiter may
   * leave them uncalled).
   */
  send(target: ConversationTarget, reply: Reply, hooks?: SendHooks): Promise<SentMessage>;
  /** Edit a message this adapter sent. */
  edit(message: SentMessage, reply: Reply): Promise<void>;
  /** Publish the command list in the platform's native menu (no-op where the platform has none). */
  registerCommands(commands: CommandInfo[]): Promise<void>;
  health(): AdapterHealth;
  /**
   * The platform role of a user in a chat, looked up fresh (cached by the adapter). Used when there is no
   * inbound message to carry it (a schedule firing as its creator). Undefined when the lookup fails.
   */
  platformRoleOf?(chatId: string, userId: string): Promise<PlatformRole | undefined>;
  /** Mount webhook routes on the shared HTTP listener, for adapters that receive over HTTP. */
  mount?(http: HttpMount): void;
  /**
   * Drop the platform connection and open a new one (a fault inside the platform SDK was contained). Adapters
   * that hold no connection (webhooks, HTTP interactions) leave it out.
   */
  recover?(reason: string): void;
}

/**
 * The shared HTTP listener's route table. `route` adds a raw route: its handler gets the raw body (webhooks, for
 * signature checks) and answers status, headers and body. `api` adds a declared JSON route (`bot/http/routes.ts`).
 */
export interface HttpMount {
  route(method: "GET" | "POST", path: string, handler: HttpHandler): void;
  api(route: ApiRoute): void;
}

/** A raw HTTP request on the shared listener. */
export interface HttpRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  rawBody: Buffer;
}

/** What a route handler answers. */
export interface HttpResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export type HttpHandler = (req: HttpRequest) => Promise<HttpResponse>;

/** `platform:chat[:thread]`, the one string form of a conversation. */
export function conversationId(target: ConversationTarget): string {
  return target.threadId === undefined
    ? `${target.platform}:${target.chatId}`
    : `${target.platform}:${target.chatId}:${target.threadId}`;
}

/** Inverse of `conversationId`. Chat ids may contain `:` only if there is no thread. */
export function parseConversationId(id: string): ConversationTarget {
  const first = id.indexOf(":");
  if (first <= 0) throw new TypeError(`not a conversation id: ${JSON.stringify(id)}`);
  const platform = id.slice(0, first);
  const rest = id.slice(first + 1);
  const last = rest.lastIndexOf(":");
  if (last <= 0) return { platform, chatId: rest };
  return { platform, chatId: rest.slice(0, last), threadId: rest.slice(last + 1) };
}

/** The key a chat's policy and data live under: `platform:chatId`. */
export function chatKeyOf(platform: Platform, chatId: string): string {
  return platformKey(platform, chatId);
}

/** The key a user is named by in config and policies: `platform:userId`. */
export function userKeyOf(platform: Platform, userId: string): string {
  return platformKey(platform, userId);
}

/** Keys made recently, by platform and id (bounded: cleared when full). */
const recentKeys = new Map<string, Map<string, string>>();
const RECENT_KEYS_MAX = 16_384;
/** The platform asked for last, and its keys (most calls in a row are for one platform). */
let lastPlatform: string | undefined;
let lastKeys: Map<string, string> | undefined;

/**
 * `platform:id`, the same string object for the same chat or user while it is remembered. The router looks a
 * message's keys up in several maps; a reused key is already flat with its hash computed, where a fresh
 * template string would be flattened and hashed again for every message.
 */
function platformKey(platform: string, id: string): string {
  let byId = platform === lastPlatform ? lastKeys : recentKeys.get(platform);
  if (byId === undefined) recentKeys.set(platform, (byId = new Map()));
  lastPlatform = platform;
  lastKeys = byId;
  let key = byId.get(id);
  if (key === undefined) {
    if (byId.size >= RECENT_KEYS_MAX) byId.clear();
    key = `${platform}:${id}`;
    byId.set(id, key);
  }
  return key;
}
