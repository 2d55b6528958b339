/**
 * The Switchboard skill SDK: the types a skill author imports, and `defineSkill`. A skill runs in its own
 * isolate with no Node APIs; everything it can do goes through the `SkillContext` it is handed, and every
 * capability call is checked by the bot against what the chat granted. Values cross as JSON data.
 *
 * ```ts
 * import { defineSkill } from "@switchboard/skill-sdk";
 *
 * export default defineSkill({
 *   commands: {
 *     hello: async (ctx) => {
 *       const count = ((await ctx.storage.get<number>("count")) ?? 0) + 1;
 *       await ctx.storage.set("count", count);
 *       return `Hello ${ctx.user.name}, #${count} in this chat`;
 *     },
 *   },
 *   tools: {
 *     greet: async (args: { name: string }) => `Hello ${args.name}`,
 *   },
 * });
 * ```
 *
 * Build it with `switchboard-skill build` (this package's bin): it bundles `src/index.ts` with esbuild into one
 * self-contained script, the manifest's `entry` (`dist/index.js`). `switchboard-skill test` plays a script of chat
 * lines and tool calls against it; `switchboard-skill check` validates the package as the installer will.
 *
 * @packageDocumentation
 */

/**
 * JSON data: what crosses between a skill and the bot.
 *
 * @example
 * ```ts
 * import type { Json } from "@switchboard/skill-sdk";
 *
 * const tally: Json = { question: "Lunch?", votes: { pizza: 3, sushi: 2 }, closed: false };
 * ```
 */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/**
 * One button under a reply; pressing it sends `data` (a command line) back as a message.
 *
 * @example
 * ```ts
 * import type { SkillButton } from "@switchboard/skill-sdk";
 *
 * const yes: SkillButton = { label: "Yes", data: "/vote 1" };
 * ```
 */
export interface SkillButton {
  /** The text on the button. */
  label: string;
  /** The command line sent back when the button is pressed, like `/vote 1`. */
  data: string;
}

/**
 * A reply: text in a small Markdown subset (`**bold**`, `_italic_`, `` `code` ``, links, `- ` lists).
 *
 * @example
 * ```ts
 * import type { SkillReply } from "@switchboard/skill-sdk";
 *
 * const reply: SkillReply = {
 *   text: "**Deploy** to `staging`?",
 *   buttons: [[{ label: "Deploy", data: "/deploy staging" }, { label: "Cancel", data: "/deploy cancel" }]],
 * };
 * ```
 */
export interface SkillReply {
  /** The message, in the Markdown subset (or plain text with `format: "plain"`). */
  text: string;
  /** Rows of buttons under the message. */
  buttons?: SkillButton[][];
  /** Show the reply only to the person who asked, where the platform can (Slack, Discord). */
  ephemeral?: boolean;
  /** How `text` is read. Default `markdown`. */
  format?: "markdown" | "plain";
  /**
   * A file sent with the reply (`text` is shown with it). `data` is bytes or base64 text; it crosses to the bot
   * within the capability argument limit (64 KB of base64 by default), and the platform's own limit applies
   * when it is sent (Telegram 50 MB, Discord 10 MB, Slack 50 MB). Over a limit the reply fails with
   * `E_FILE_TOO_LARGE` and nothing of it is sent. A file name with a slash or a control character is refused.
   */
  file?: SkillFile;
}

/**
 * A file a skill sends with a reply.
 *
 * @example
 * ```ts
 * import type { SkillFile } from "@switchboard/skill-sdk";
 *
 * const file: SkillFile = { name: "report.csv", data: new Uint8Array([97, 44, 98, 10]), mimeType: "text/csv" };
 * ```
 */
export interface SkillFile {
  /** The file name the chat shows, without slashes or control characters (at most 200 characters). */
  name: string;
  /** The bytes, or the same as base64 text. */
  data: Uint8Array | string;
  /** Like `text/csv`; `application/octet-stream` when not given. */
  mimeType?: string;
}

/**
 * A reply, or plain text.
 *
 * @example
 * ```ts
 * import type { SkillReplyInput } from "@switchboard/skill-sdk";
 *
 * const short: SkillReplyInput = "Done.";
 * const rich: SkillReplyInput = { text: "**Done.**", ephemeral: true };
 * ```
 */
export type SkillReplyInput = SkillReply | string;

/**
 * The chat an invocation runs in. `id` is `platform:chatId`.
 *
 * @example
 * ```ts
 * import { defineSkill } from "@switchboard/skill-sdk";
 *
 * export default defineSkill({
 *   commands: {
 *     where: (ctx) => (ctx.chat.kind === "dm" ? "A direct message" : `${ctx.chat.title ?? ctx.chat.id}`),
 *   },
 * });
 * ```
 */
export interface SkillChat {
  /** `platform:chatId`, like `telegram:-1001234`. */
  id: string;
  /** `telegram`, `discord`, `slack` or `console`. */
  platform: string;
  /** A direct message, a group, or a channel. */
  kind: "dm" | "group" | "channel";
  /** The chat's name, where the platform has one. */
  title?: string;
}

/**
 * The person the invocation runs as. `id` is `platform:userId`.
 *
 * @example
 * ```ts
 * import { defineSkill } from "@switchboard/skill-sdk";
 *
 * export default defineSkill({
 *   commands: {
 *     whoami: (ctx) => `${ctx.user.name} (${ctx.user.role})`,
 *   },
 * });
 * ```
 */
export interface SkillUser {
  /** `platform:userId`, like `slack:U024BE7LH`. */
  id: string;
  /** The display name. */
  name: string;
  /** The person's role in this chat, as the bot's permissions see it. */
  role: "owner" | "admin" | "member" | "guest";
}

/**
 * Key-value storage scoped to (this skill, this chat), within a quota. Needs the `storage` permission.
 *
 * @example
 * ```ts
 * import { defineSkill } from "@switchboard/skill-sdk";
 *
 * export default defineSkill({
 *   commands: {
 *     note: async (ctx) => {
 *       await ctx.storage.set(`note:${Date.now()}`, ctx.rawArgs);
 *       const notes = await ctx.storage.list<string>("note:");
 *       return `${notes.length} notes in this chat`;
 *     },
 *   },
 * });
 * ```
 */
export interface SkillStorage {
  /** The stored value (JSON data), or undefined. */
  get<T = Json>(key: string): Promise<T | undefined>;
  /** Store JSON data (setting `null` deletes). Fails with `E_QUOTA_EXCEEDED` past the quota. */
  set(key: string, value: unknown): Promise<void>;
  /** Delete a key; true when it existed. */
  delete(key: string): Promise<boolean>;
  /** Entries in key order (at most 100); `prefix` filters. */
  list<T = Json>(
    prefix?: string,
  ): Promise<
    Array<{
      /** The entry's key. */
      key: string;
      /** The entry's value. */
      value: T;
    }>
  >;
}

/**
 * Options for `fetch`. Bodies are text.
 *
 * @example
 * ```ts
 * import type { SkillFetchInit } from "@switchboard/skill-sdk";
 *
 * const init: SkillFetchInit = {
 *   method: "POST",
 *   headers: { "content-type": "application/json" },
 *   body: JSON.stringify({ ref: "main" }),
 *   timeoutMs: 5000,
 * };
 * ```
 */
export interface SkillFetchInit {
  /** The HTTP method. Default `GET`. */
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD";
  /** Request headers, by name. */
  headers?: Record<string, string>;
  /** The request body, as text (`JSON.stringify` objects). */
  body?: string;
  /** Give up sooner than the operator's limit. */
  timeoutMs?: number;
}

/**
 * A fetched response (the body is read whole, within the operator's size limit).
 *
 * @example
 * ```ts
 * import { defineSkill } from "@switchboard/skill-sdk";
 *
 * export default defineSkill({
 *   commands: {
 *     status: async (ctx) => {
 *       const response = await ctx.fetch("https://status.example.com/api/v2/status.json");
 *       if (!response.ok) return `The status page answered ${response.status}`;
 *       const { status } = await response.json<{ status: { description: string } }>();
 *       return status.description;
 *     },
 *   },
 * });
 * ```
 */
export interface SkillFetchResponse {
  /** True for a 2xx status. */
  ok: boolean;
  /** The HTTP status code. */
  status: number;
  /** The final URL after redirects. */
  url: string;
  /** Response headers, names in lower case. */
  headers: Record<string, string>;
  /** The body, as text. */
  body: string;
  /** The body, as text (like the Fetch API's `text()`). */
  text(): Promise<string>;
  /** The body parsed as JSON (like the Fetch API's `json()`). */
  json<T = Json>(): Promise<T>;
}

/**
 * A request to the chat's language model (within the chat's quota). Needs the `llm` permission.
 *
 * @example
 * ```ts
 * import type { SkillLlmRequest } from "@switchboard/skill-sdk";
 *
 * const request: SkillLlmRequest = {
 *   system: "Answer in one sentence.",
 *   messages: [{ role: "user", content: "What is a canary release?" }],
 * };
 * ```
 */
export interface SkillLlmRequest {
  /** One user message; or give `messages`. */
  prompt?: string;
  /** A conversation so far, oldest first; or give `prompt`. */
  messages?: Array<{
    /** Who said it. */
    role: "user" | "assistant";
    /** What was said. */
    content: string;
  }>;
  /** Instructions for the model, ahead of the messages. */
  system?: string;
}

/**
 * A schedule request: one of the skill's own commands, in the invoking chat. Needs the `schedules` permission.
 *
 * @example
 * ```ts
 * import type { SkillScheduleRequest } from "@switchboard/skill-sdk";
 *
 * const weekdays: SkillScheduleRequest = { cron: "0 9 * * 1-5", command: "/standup", timeZone: "Europe/Berlin" };
 * const once: SkillScheduleRequest = { at: "in 10m", command: "/remind tea" };
 * ```
 */
export interface SkillScheduleRequest {
  /** Cron expression (`0 9 * * 1-5`); or give `at`. */
  cron?: string;
  /** One-off: `in 10m`, `2026-12-01 09:00`, or epoch ms. */
  at?: string | number;
  /** The command line to run then, like `/remind standup`. */
  command: string;
  /** IANA time zone the cron expression is read in, like `Europe/Berlin`. Default: the operator's. */
  timeZone?: string;
  /** What to do with a fire missed while the bot was down. */
  missed?: "skip" | "once";
}

/**
 * A schedule as the skill sees it.
 *
 * @example
 * ```ts
 * import { defineSkill } from "@switchboard/skill-sdk";
 *
 * export default defineSkill({
 *   commands: {
 *     schedules: async (ctx) => {
 *       const all = await ctx.schedule.list();
 *       return all.map((s) => `- ${s.id}: ${s.command} (${s.cron ?? "once"})`).join("\n") || "None";
 *     },
 *   },
 * });
 * ```
 */
export interface SkillSchedule {
  /** The schedule's id, for `cancel`. */
  id: string;
  /** The cron expression, or null for a one-off. */
  cron: string | null;
  /** When a one-off runs (epoch ms), or null for a cron schedule. */
  runAt: number | null;
  /** The command line it runs. */
  command: string;
  /** The IANA time zone it is read in. */
  timeZone: string;
  /** Its state, like `active`, `paused` or `done`. */
  state: string;
  /** When it fires next (epoch ms), or null when it will not. */
  nextRunAt: number | null;
}

/**
 * A file or image sent with the message that invoked the skill, as `ctx.files.list()` gives it. The id is
 * random and good only during this invocation: it names no file of any other message.
 *
 * @example
 * ```ts
 * import { defineSkill, type SkillAttachment } from "@switchboard/skill-sdk";
 *
 * export default defineSkill({
 *   commands: {
 *     files: async (ctx) => {
 *       const files: SkillAttachment[] = await ctx.files.list();
 *       return files.map((f) => `${f.name} (${f.mimeType}, ${f.size ?? "?"} bytes)`).join("\n") || "No files.";
 *     },
 *   },
 * });
 * ```
 */
export interface SkillAttachment {
  /** Pass it to `ctx.files.read`. */
  id: string;
  /** The file name the platform gives (`photo.jpg` for a photo without one). */
  name: string;
  /** The MIME type the platform reports, or `application/octet-stream`. */
  mimeType: string;
  /** Size in bytes when the platform told it before download, else null. */
  size: number | null;
}

/**
 * A file read with `ctx.files.read`: its bytes as base64.
 *
 * @example
 * ```ts
 * import { defineSkill, type SkillAttachmentContent } from "@switchboard/skill-sdk";
 *
 * export default defineSkill({
 *   commands: {
 *     size: async (ctx) => {
 *       const [first] = await ctx.files.list();
 *       if (first === undefined) return "Send a file with the command.";
 *       const file: SkillAttachmentContent = await ctx.files.read(first.id);
 *       return `${file.name}: ${file.size} bytes`;
 *     },
 *   },
 * });
 * ```
 */
export interface SkillAttachmentContent {
  /** The id it was read by. */
  id: string;
  /** The file name the platform gives. */
  name: string;
  /** The MIME type the platform reports, or `application/octet-stream`. */
  mimeType: string;
  /** Bytes read. */
  size: number;
  /** The bytes, base64-encoded. */
  data: string;
}

/**
 * The files of the invoking message (`ctx.files`). Needs `permissions.files.read`, approved by the chat.
 * A command sees the files sent with it, a `message` event handler those of the message it heard; tools,
 * schedules and other events see none. Each read counts against the invocation's `fileBytesIn` budget; a file over
 * `permissions.files.maxBytes` (or the operator's limit) fails with `E_FILE_TOO_LARGE`, a read past the budget
 * with `E_SKILL_BUDGET`, an id that is not on the invoking message with `E_NOT_FOUND`.
 *
 * @example
 * ```ts
 * import { defineSkill, type SkillAttachments } from "@switchboard/skill-sdk";
 *
 * async function firstImage(files: SkillAttachments): Promise<string | undefined> {
 *   const image = (await files.list()).find((f) => f.mimeType.startsWith("image/"));
 *   return image === undefined ? undefined : (await files.read(image.id)).data;
 * }
 *
 * export default defineSkill({
 *   commands: { avatar: async (ctx) => ((await firstImage(ctx.files)) ? "Got it." : "Send an image.") },
 * });
 * ```
 */
export interface SkillAttachments {
  /** The files of the invoking message, in the order they were sent. */
  list(): Promise<SkillAttachment[]>;
  /** Read one file whole, within the byte limits. */
  read(id: string): Promise<SkillAttachmentContent>;
}

/**
 * Everything a handler may use.
 *
 * @example
 * ```ts
 * import { defineSkill, type SkillContext } from "@switchboard/skill-sdk";
 *
 * async function greet(ctx: SkillContext): Promise<void> {
 *   const { greeting = "Hello" } = await ctx.settings.get();
 *   await ctx.reply(`${greeting}, ${ctx.user.name}`);
 * }
 *
 * export default defineSkill({ commands: { greet } });
 * ```
 */
export interface SkillContext {
  /** Whether a command, a tool call or an event handler is running. */
  kind: "command" | "tool" | "event";
  /** The command name, for command handlers. */
  command?: string;
  /** The event type (`message`, `hook`, …), for event handlers. */
  event?: SkillEvent["type"];
  /** Arguments split like a shell (quotes keep words together), for command handlers. */
  args: string[];
  /** The arguments as typed, unsplit. */
  rawArgs: string;
  /** The chat the invocation runs in. */
  chat: SkillChat;
  /** The person it runs as. */
  user: SkillUser;
  /** Reply in the invoking chat (a few per invocation; mass mentions neutralised unless granted). */
  reply(reply: SkillReplyInput): Promise<void>;
  /** Send to another chat (`platform:chatId`). Needs `messages.otherChats`, and the skill enabled there. */
  send(target: string, reply: SkillReplyInput): Promise<void>;
  /** Storage scoped to this skill and this chat. */
  storage: SkillStorage;
  /** HTTPS to declared, granted hosts only. */
  fetch(url: string, init?: SkillFetchInit): Promise<SkillFetchResponse>;
  /** Files and images sent with the invoking message. Needs the `files` permission. */
  files: SkillAttachments;
  /** This chat's settings for this skill (secrets included, for this skill only). */
  settings: {
    /** The settings, defaults filled in from the manifest's settings schema. */
    get(): Promise<Record<string, string | number | boolean>>;
  };
  /** The chat's language model. Needs the `llm` permission. */
  llm: {
    /** One completion within the chat's quota. */
    complete(request: SkillLlmRequest): Promise<{
      /** The model's answer. */
      text: string;
      /** The model that answered. */
      model: string;
    }>;
  };
  /** Schedules of this skill's commands in this chat. Needs the `schedules` permission. */
  schedule: {
    /** Create a schedule. */
    create(request: SkillScheduleRequest): Promise<SkillSchedule>;
    /** This skill's schedules in this chat. */
    list(): Promise<SkillSchedule[]>;
    /** Cancel one of this skill's schedules in this chat. */
    cancel(id: string): Promise<{
      /** The id of the schedule cancelled. */
      deleted: string;
    }>;
  };
}

/**
 * A command handler: return a reply (or nothing when it replied itself).
 *
 * @example
 * ```ts
 * import type { CommandHandler } from "@switchboard/skill-sdk";
 *
 * const roll: CommandHandler = (ctx) => {
 *   const sides = Number(ctx.args[0] ?? 6);
 *   return `${ctx.user.name} rolled ${1 + Math.floor(Math.random() * sides)}`;
 * };
 * ```
 */
export type CommandHandler = (ctx: SkillContext) => Promise<SkillReplyInput | void> | SkillReplyInput | void;

/**
 * A tool handler: gets the model's arguments; its result (text, or JSON data) goes back to the model.
 *
 * @example
 * ```ts
 * import type { ToolHandler } from "@switchboard/skill-sdk";
 *
 * const forecast: ToolHandler<{ city: string }> = async ({ city }, ctx) => {
 *   const response = await ctx.fetch(`https://api.weather.example/v1/forecast?city=${encodeURIComponent(city)}`);
 *   return response.json();
 * };
 * ```
 */
export type ToolHandler<A = Record<string, Json>> = (args: A, ctx: SkillContext) => unknown;

/**
 * A message seen in a chat that granted `messages.read`, matching the manifest's `events.messages.pattern`
 * (Hubot's `hear`). It arrives after the bot has started handling the message, commands included.
 *
 * @example
 * ```ts
 * import type { EventHandler, SkillMessageEvent } from "@switchboard/skill-sdk";
 *
 * // manifest: "events": { "messages": { "pattern": "(?i)\\bticket (\\d+)" } }
 * const onMessage: EventHandler<SkillMessageEvent> = (event) => `Ticket ${event.match[1]}: https://tracker.example/${event.match[1]}`;
 * ```
 */
export interface SkillMessageEvent {
  /** Always `message`. */
  type: "message";
  /** The message's text (cut to the first 4,000 characters). */
  text: string;
  /** What the pattern matched: the whole match first, then each group (`""` for a group that did not take part). */
  match: string[];
  /** The platform's id of the message, where it has one. */
  messageId?: string;
  /** True when the message was a command (its reply is already on its way). */
  isCommand: boolean;
}

/**
 * A reaction added to or removed from a message, in a chat where the skill is enabled (`events.reactions`).
 *
 * @example
 * ```ts
 * import type { EventHandler, SkillReactionEvent } from "@switchboard/skill-sdk";
 *
 * const onReaction: EventHandler<SkillReactionEvent> = async (event, ctx) => {
 *   if (event.added && event.emoji === "👀") await ctx.storage.set(`seen:${event.messageId}`, ctx.user.id);
 * };
 * ```
 */
export interface SkillReactionEvent {
  /** Always `reaction`. */
  type: "reaction";
  /** The emoji (`👍`), or its name where the platform gives no Unicode (`party_parrot`). */
  emoji: string;
  /** True when added, false when removed. */
  added: boolean;
  /** The message reacted to. */
  messageId: string;
  /** True when that message is one the bot sent, when the platform tells. */
  onBotMessage?: boolean;
}

/**
 * A delivery of an inbound hook named in `events.hooks`, in a chat where the skill is enabled.
 *
 * @example
 * ```ts
 * import type { EventHandler, SkillHookEvent } from "@switchboard/skill-sdk";
 *
 * const onHook: EventHandler<SkillHookEvent> = (event) => {
 *   const payload = event.payload as { status?: unknown };
 *   if (payload.status === "failed") return `**${event.hook.name}**: the run failed`;
 * };
 * ```
 */
export interface SkillHookEvent {
  /** Always `hook`. */
  type: "hook";
  /** The hook it came through. */
  hook: {
    /** The hook's name, as in the manifest. */
    name: string;
    /** Its template: `alertmanager`, `github`, `grafana` or `generic`. */
    template: string;
  };
  /** The delivery's id (unique per delivery). */
  deliveryId: string;
  /** The JSON the sender posted: outside data, check it before use. */
  payload: Json;
  /** The message the template rendered from it. */
  text: string;
}

/**
 * A schedule fired in a chat where the skill is enabled (`events.schedule`).
 *
 * @example
 * ```ts
 * import type { EventHandler, SkillScheduleEvent } from "@switchboard/skill-sdk";
 *
 * const onSchedule: EventHandler<SkillScheduleEvent> = async (event, ctx) => {
 *   await ctx.storage.set("lastFire", { id: event.scheduleId, command: event.command });
 * };
 * ```
 */
export interface SkillScheduleEvent {
  /** Always `schedule`. */
  type: "schedule";
  /** The schedule's id. */
  scheduleId: string;
  /** The command line it ran. */
  command: string;
}

/**
 * The skill was enabled or disabled in the chat, or its settings there changed (`events.lifecycle`).
 *
 * @example
 * ```ts
 * import type { EventHandler, SkillLifecycleEvent } from "@switchboard/skill-sdk";
 *
 * const onLifecycle: EventHandler<SkillLifecycleEvent> = (event) =>
 *   event.event === "enabled" ? "Hello! I will post here when a build fails." : undefined;
 * ```
 */
export interface SkillLifecycleEvent {
  /** Always `lifecycle`. */
  type: "lifecycle";
  /** What happened. */
  event: "enabled" | "disabled" | "settingsChanged";
}

/**
 * Any event a skill can subscribe to.
 *
 * @example
 * ```ts
 * import type { SkillEvent } from "@switchboard/skill-sdk";
 *
 * function describe(event: SkillEvent): string {
 *   return event.type === "message" ? `heard "${event.text}"` : event.type;
 * }
 * ```
 */
export type SkillEvent =
  | SkillMessageEvent
  | SkillReactionEvent
  | SkillHookEvent
  | SkillScheduleEvent
  | SkillLifecycleEvent;

/**
 * An event handler: gets the event and the context (`ctx.user` is who caused it; the bot for schedules, hooks
 * and lifecycle changes). It runs with the same capabilities, budget and limits as a command. A returned reply
 * is posted in the chat; returning nothing posts nothing, and a failure is logged and counted, never posted.
 *
 * @example
 * ```ts
 * import type { EventHandler, SkillMessageEvent } from "@switchboard/skill-sdk";
 *
 * const count: EventHandler<SkillMessageEvent> = async (_event, ctx) => {
 *   await ctx.storage.set("heard", ((await ctx.storage.get<number>("heard")) ?? 0) + 1);
 * };
 * ```
 */
export type EventHandler<E extends SkillEvent = SkillEvent> = (
  event: E,
  ctx: SkillContext,
) => Promise<SkillReplyInput | void> | SkillReplyInput | void;

/**
 * Event handlers by event type; the manifest's `events` says which ones the bot sends. Delivery is at most once:
 * each event is handed to a handler once or not at all (events wait in memory, bounded, and those waiting when the
 * bot stops or crashes are not replayed), so a handler must not be the only record of something that matters.
 *
 * @example
 * ```ts
 * import type { SkillEventHandlers } from "@switchboard/skill-sdk";
 *
 * const events: SkillEventHandlers = {
 *   message: (event) => `You said ${event.match[0]}`,
 *   lifecycle: (event) => (event.event === "enabled" ? "Listening." : undefined),
 * };
 * ```
 */
export interface SkillEventHandlers {
  /** Messages matching `events.messages.pattern`. */
  message?: EventHandler<SkillMessageEvent>;
  /** Reactions (`events.reactions`). */
  reaction?: EventHandler<SkillReactionEvent>;
  /** Inbound hook deliveries (`events.hooks`). */
  hook?: EventHandler<SkillHookEvent>;
  /** Schedule fires (`events.schedule`). */
  schedule?: EventHandler<SkillScheduleEvent>;
  /** Enabled, disabled, settings changed (`events.lifecycle`). */
  lifecycle?: EventHandler<SkillLifecycleEvent>;
}

/**
 * A skill's handlers, by the names its manifest declares.
 *
 * @example
 * ```ts
 * import type { SkillDefinition } from "@switchboard/skill-sdk";
 *
 * const definition: SkillDefinition = {
 *   commands: { ping: () => "pong" },
 *   tools: { time: () => new Date().toISOString() },
 * };
 * ```
 */
export interface SkillDefinition {
  /** Command handlers, by the command names in the manifest. */
  commands?: Record<string, CommandHandler>;
  /** Tool handlers, by the tool names in the manifest. */
  tools?: Record<string, ToolHandler<never>>;
  /** Event handlers, by event type, for what the manifest's `events` subscribes to. */
  events?: SkillEventHandlers;
}

/**
 * Declare a skill (identity at run time; gives handlers their types). Export it as the default export.
 *
 * @example
 * ```ts
 * import { defineSkill } from "@switchboard/skill-sdk";
 *
 * export default defineSkill({
 *   commands: {
 *     echo: (ctx) => ctx.rawArgs || "Say something after /echo",
 *   },
 *   events: {
 *     // manifest: "events": { "messages": { "pattern": "(?i)\\bthanks\\b" } }, "permissions": { "messages": { "read": true } }
 *     message: () => "You're welcome!",
 *   },
 * });
 * ```
 */
export function defineSkill<T extends SkillDefinition>(definition: T): T {
  return definition;
}

/**
 * The code of a capability error (`E_SKILL_DENIED`, `E_QUOTA_EXCEEDED`, …), if it is one.
 *
 * @example
 * ```ts
 * import { defineSkill, errorCode } from "@switchboard/skill-sdk";
 *
 * export default defineSkill({
 *   commands: {
 *     remember: async (ctx) => {
 *       try {
 *         await ctx.storage.set("last", ctx.rawArgs);
 *         return "Saved.";
 *       } catch (error) {
 *         if (errorCode(error) === "E_QUOTA_EXCEEDED") return "This chat's storage is full.";
 *         throw error;
 *       }
 *     },
 *   },
 * });
 * ```
 */
export function errorCode(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && typeof (error as { code?: unknown }).code === "string"
    ? (error as { code: string }).code
    : undefined;
}
