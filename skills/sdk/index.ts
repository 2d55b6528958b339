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
 */

/** JSON data: what crosses between a skill and the bot. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** One button under a reply; pressing it sends `data` (a command line) back as a message. */
export interface SkillButton {
  label: string;
  data: string;
}

/** A reply: text in a small Markdown subset (`**bold**`, `_italic_`, `` `code` ``, links, `- ` lists). */
export interface SkillReply {
  text: string;
  buttons?: SkillButton[][];
  ephemeral?: boolean;
  format?: "markdown" | "plain";
}

/** A reply, or plain text. */
export type SkillReplyInput = SkillReply | string;

/** The chat an invocation runs in. `id` is `platform:chatId`. */
export interface SkillChat {
  id: string;
  platform: string;
  kind: "dm" | "group" | "channel";
  title?: string;
}

/** The person the invocation runs as. `id` is `platform:userId`. */
export interface SkillUser {
  id: string;
  name: string;
  role: "owner" | "admin" | "member" | "guest";
}

/** Key-value storage scoped to (this skill, this chat), within a quota. Needs the `storage` permission. */
export interface SkillStorage {
  /** The stored value (JSON data), or undefined. */
  get<T = Json>(key: string): Promise<T | undefined>;
  /** Store JSON data (setting `null` deletes). Fails with `E_QUOTA_EXCEEDED` past the quota. */
  set(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<boolean>;
  /** Entries in key order (at most 100); `prefix` filters. */
  list<T = Json>(prefix?: string): Promise<Array<{ key: string; value: T }>>;
}

/** Options for `fetch`. Bodies are text. */
export interface SkillFetchInit {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD";
  headers?: Record<string, string>;
  body?: string;
  /** Give up sooner than the operator's limit. */
  timeoutMs?: number;
}

/** A fetched response (the body is read whole, within the operator's size limit). */
export interface SkillFetchResponse {
  ok: boolean;
  status: number;
  /** The final URL after redirects. */
  url: string;
  headers: Record<string, string>;
  body: string;
  text(): Promise<string>;
  json<T = Json>(): Promise<T>;
}

/** A request to the chat's language model (within the chat's quota). Needs the `llm` permission. */
export interface SkillLlmRequest {
  /** One user message; or give `messages`. */
  prompt?: string;
  messages?: Array<{ role: "user" | "assistant"; content: string }>;
  system?: string;
}

/** A schedule request: one of the skill's own commands, in the invoking chat. Needs the `schedules` permission. */
export interface SkillScheduleRequest {
  /** Cron expression (`0 9 * * 1-5`); or give `at`. */
  cron?: string;
  /** One-off: `in 10m`, `2026-12-01 09:00`, or epoch ms. */
  at?: string | number;
  /** The command line to run then, like `/remind standup`. */
  command: string;
  timeZone?: string;
  /** What to do with a fire missed while the bot was down. */
  missed?: "skip" | "once";
}

/** A schedule as the skill sees it. */
export interface SkillSchedule {
  id: string;
  cron: string | null;
  runAt: number | null;
  command: string;
  timeZone: string;
  state: string;
  nextRunAt: number | null;
}

/** Everything a handler may use. */
export interface SkillContext {
  kind: "command" | "tool";
  /** The command name, for command handlers. */
  command?: string;
  /** Arguments split like a shell (quotes keep words together), for command handlers. */
  args: string[];
  rawArgs: string;
  chat: SkillChat;
  user: SkillUser;
  /** Reply in the invoking chat (a few per invocation; mass mentions neutralised unless granted). */
  reply(reply: SkillReplyInput): Promise<void>;
  /** Send to another chat (`platform:chatId`). Needs `messages.otherChats`, and the skill enabled there. */
  send(target: string, reply: SkillReplyInput): Promise<void>;
  storage: SkillStorage;
  /** HTTPS to declared, granted hosts only. */
  fetch(url: string, init?: SkillFetchInit): Promise<SkillFetchResponse>;
  /** This chat's settings for this skill (secrets included, for this skill only). */
  settings: { get(): Promise<Record<string, string | number | boolean>> };
  llm: { complete(request: SkillLlmRequest): Promise<{ text: string; model: string }> };
  schedule: {
    create(request: SkillScheduleRequest): Promise<SkillSchedule>;
    /** This skill's schedules in this chat. */
    list(): Promise<SkillSchedule[]>;
    cancel(id: string): Promise<{ deleted: string }>;
  };
}

/** A command handler: return a reply (or nothing when it replied itself). */
export type CommandHandler = (ctx: SkillContext) => Promise<SkillReplyInput | void> | SkillReplyInput | void;

/** A tool handler: gets the model's arguments; its result (text, or JSON data) goes back to the model. */
export type ToolHandler<A = Record<string, Json>> = (args: A, ctx: SkillContext) => unknown;

/** A skill's handlers, by the names its manifest declares. */
export interface SkillDefinition {
  commands?: Record<string, CommandHandler>;
  tools?: Record<string, ToolHandler<never>>;
}

/** Declare a skill (identity at run time; gives handlers their types). Export it as the default export. */
export function defineSkill<T extends SkillDefinition>(definition: T): T {
  return definition;
}

/** The code of a capability error (`E_SKILL_DENIED`, `E_QUOTA_EXCEEDED`, …), if it is one. */
export function errorCode(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && typeof (error as { code?: unknown }).code === "string"
    ? (error as { code: string }).code
    : undefined;
}
