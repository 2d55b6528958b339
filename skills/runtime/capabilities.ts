/**
 * The bot side of every capability call. Each call arrives as (name, JSON string) from the skill host, is parsed
 * as hostile data, checked against what the skill declared and what the chat granted, and answered with a JSON
 * envelope string. Nothing here throws to the host: failures become `{ ok: false, error: { code, message } }`,
 * and the message is the chat-safe one.
 */
import {
  conversationId,
  parseConversationId,
  SwitchboardError,
  toSwitchboardError,
  type Core,
  type ConversationTarget,
  type Reply,
  type ReplyButton,
} from "../../bot/index.ts";
import type { SkillsConfig } from "../../config/sections/skills.ts";
import type { SkillManifest } from "../manifest.ts";
import { skillFetch, type FetchDeps } from "./fetch.ts";

/** One running invocation, as capabilities see it. */
export interface Invocation {
  skill: string;
  version: string;
  manifest: SkillManifest;
  chatKey: string;
  userKey: string;
  target: ConversationTarget;
  signal: AbortSignal;
  /** Send a reply where the invocation came from. */
  reply(reply: Reply): Promise<unknown>;
  replies: number;
  replyChars: number;
  /** The first capability denial, shown to the chat if the skill then fails. */
  denial: SwitchboardError | undefined;
}

/** What capability handlers need from the service. */
export interface CapabilityDeps {
  core: Core;
  config: SkillsConfig;
  /** Is the skill enabled (and its grant current) in this chat? */
  isEnabled(chatKey: string, skill: string): boolean;
  /** This chat's settings for the skill, secrets decrypted. */
  settings(chatKey: string, skill: string): Promise<Record<string, unknown>>;
  fetchDeps?: FetchDeps;
}

type Handler = (inv: Invocation, args: unknown, deps: CapabilityDeps) => Promise<unknown>;

const HANDLERS = new Map<string, Handler>([
  ["reply", (inv, args, deps) => replyCap(inv, args, deps)],
  ["send", (inv, args, deps) => sendCap(inv, args, deps)],
  ["storage.get", (inv, args, deps) => storageGet(inv, args, deps)],
  ["storage.set", (inv, args, deps) => storageSet(inv, args, deps)],
  ["storage.delete", (inv, args, deps) => storageDelete(inv, args, deps)],
  ["storage.list", (inv, args, deps) => storageList(inv, args, deps)],
  ["fetch", (inv, args, deps) => fetchCap(inv, args, deps)],
  ["settings.get", (inv, _args, deps) => deps.settings(inv.chatKey, inv.skill)],
  ["llm", (inv, args, deps) => forward(inv, { name: "llm", args }, deps)],
  ["schedule", (inv, args, deps) => forward(inv, { name: "schedule", args }, deps)],
]);

/** Answer one capability call with a JSON envelope. Never rejects. */
export async function handleCapability(
  inv: Invocation,
  { name, argsJson }: { name: string; argsJson: string },
  deps: CapabilityDeps,
): Promise<string> {
  try {
    if (inv.signal.aborted) throw new SwitchboardError("E_TIMEOUT", "invocation aborted");
    const handler = HANDLERS.get(name);
    if (handler === undefined)
      throw new SwitchboardError("E_BAD_ARGS", `unknown capability ${name.slice(0, 40)}`, {
        chatMessage: "unknown capability",
      });
    if (argsJson.length > deps.config.maxResultChars) {
      throw new SwitchboardError("E_SKILL_LIMIT", "capability arguments too large", {
        chatMessage: "capability arguments are too large",
      });
    }
    if (!deps.isEnabled(inv.chatKey, inv.skill)) throw denied(`${inv.skill} is no longer enabled in this chat`);
    const args: unknown = JSON.parse(argsJson);
    const value = await handler(inv, args, deps);
    return JSON.stringify({ ok: true, value: value === undefined ? null : value });
  } catch (error) {
    const e = toSwitchboardError(error);
    if (e.code === "E_INTERNAL")
      deps.core.log.warn({ err: error, skill: inv.skill, capability: name }, "skill capability failed");
    if (e.code === "E_SKILL_DENIED" || e.code === "E_CAPABILITY_UNAVAILABLE") {
      inv.denial ??= e;
      deps.core.metrics.error(e.code);
      void deps.core.track(
        deps.core
          .audit({
            actor: `skill:${inv.skill}`,
            chatKey: inv.chatKey,
            action: "skill.denied",
            target: name.slice(0, 40),
            after: { reason: e.chatMessage },
          })
          .catch(() => undefined),
      );
    }
    return JSON.stringify({ ok: false, error: { code: e.code, message: e.chatMessage } });
  }
}

/** Mass mentions neutralised with a zero-width space so they show but do not notify. */
export function neutraliseMentions(text: string): string {
  return text
    .replace(/@(everyone|here|channel|all)\b/gi, "@\u200b$1")
    .replace(/<!(channel|here|everyone|subteam\^[A-Z0-9]+)(\|[^>]*)?>/gi, "<\u200b!$1$2>")
    .replace(/<@&(\d+)>/g, "<@\u200b&$1>");
}

/** Validate a skill's reply value (string or `{ text, buttons, ephemeral, format }`) into a `Reply`. */
export function toSkillReply(value: unknown, allowMentions: boolean): Reply {
  let reply: Reply;
  if (typeof value === "string") {
    reply = { text: value };
  } else if (
    value !== null &&
    typeof value === "object" &&
    !Array.isArray(value) &&
    typeof (value as { text?: unknown }).text === "string"
  ) {
    const v = value as Record<string, unknown>;
    reply = { text: v.text as string };
    if (v.ephemeral === true) reply.ephemeral = true;
    if (v.format === "plain" || v.format === "markdown") reply.format = v.format;
    if (v.buttons !== undefined) reply.buttons = toButtons(v.buttons);
  } else {
    throw new SwitchboardError("E_BAD_ARGS", "reply must be text or { text }", {
      chatMessage: "a reply must be text or an object with text",
    });
  }
  if (!allowMentions) {
    reply.text = neutraliseMentions(reply.text);
    if (reply.buttons !== undefined) {
      reply.buttons = reply.buttons.map((row) =>
        row.map((b) => ({ label: neutraliseMentions(b.label), data: b.data })),
      );
    }
  }
  return reply;
}

function toButtons(raw: unknown): ReplyButton[][] {
  if (!Array.isArray(raw) || raw.length > 10)
    throw new SwitchboardError("E_BAD_ARGS", "bad buttons", { chatMessage: "buttons must be at most 10 rows" });
  return raw.map((row: unknown) => {
    if (!Array.isArray(row) || row.length > 8)
      throw new SwitchboardError("E_BAD_ARGS", "bad button row", {
        chatMessage: "a button row must be an array of at most 8 buttons",
      });
    return row.map((b: unknown) => {
      const button = b as { label?: unknown; data?: unknown } | null;
      if (
        button === null ||
        typeof button !== "object" ||
        typeof button.label !== "string" ||
        typeof button.data !== "string" ||
        button.label.length > 64 ||
        button.data.length > 64
      ) {
        throw new SwitchboardError("E_BAD_ARGS", "bad button", {
          chatMessage: "a button needs a label and data (strings of at most 64 characters)",
        });
      }
      return { label: button.label, data: button.data };
    });
  });
}

/** Count a reply against the invocation's caps; throws `E_SKILL_LIMIT` past them. */
export function chargeReply(inv: Invocation, reply: Reply, config: SkillsConfig): void {
  if (inv.replies + 1 > config.maxRepliesPerInvocation) {
    throw new SwitchboardError("E_SKILL_LIMIT", "too many replies", {
      chatMessage: `at most ${config.maxRepliesPerInvocation} replies per invocation`,
    });
  }
  if (inv.replyChars + reply.text.length > config.maxReplyChars) {
    throw new SwitchboardError("E_SKILL_LIMIT", "replies too long", {
      chatMessage: `replies are limited to ${config.maxReplyChars} characters per invocation`,
    });
  }
  inv.replies++;
  inv.replyChars += reply.text.length;
}

async function replyCap(inv: Invocation, args: unknown, deps: CapabilityDeps): Promise<void> {
  const reply = toSkillReply(args, inv.manifest.permissions.messages.mentions);
  chargeReply(inv, reply, deps.config);
  await inv.reply(reply);
}

async function sendCap(inv: Invocation, args: unknown, deps: CapabilityDeps): Promise<void> {
  const a = args as { target?: unknown; reply?: unknown } | null;
  if (a === null || typeof a !== "object" || typeof a.target !== "string" || a.target.length > 300) {
    throw new SwitchboardError("E_BAD_ARGS", "send needs a target", {
      chatMessage: "send needs a target chat id like telegram:123",
    });
  }
  let target: ConversationTarget;
  try {
    target = parseConversationId(a.target);
  } catch {
    throw new SwitchboardError("E_BAD_ARGS", "bad send target", {
      chatMessage: "send needs a target chat id like telegram:123",
    });
  }
  const targetChat = `${target.platform}:${target.chatId}`;
  if (targetChat !== inv.chatKey) {
    if (!inv.manifest.permissions.messages.otherChats)
      throw denied("sending to other chats was not declared by this skill");
    if (!deps.isEnabled(targetChat, inv.skill)) throw denied("the skill is not enabled in the target chat");
  }
  const reply = toSkillReply(a.reply, inv.manifest.permissions.messages.mentions);
  chargeReply(inv, reply, deps.config);
  if (conversationId(target) === conversationId(inv.target)) await inv.reply(reply);
  else await deps.core.adapters.send(target, reply);
}

function storageNamespace(inv: Invocation): string {
  return `skill:${inv.skill}`;
}

function requireStorage(inv: Invocation): void {
  if (inv.manifest.permissions.storage === false) throw denied("storage was not declared by this skill");
}

function keyOf(args: unknown): string {
  const key = (args as { key?: unknown } | null)?.key;
  if (typeof key !== "string" || key.length === 0 || key.length > 200) {
    throw new SwitchboardError("E_BAD_ARGS", "bad storage key", {
      chatMessage: "storage keys are strings of 1–200 characters",
    });
  }
  return key;
}

async function storageGet(inv: Invocation, args: unknown, deps: CapabilityDeps): Promise<unknown> {
  requireStorage(inv);
  return deps.core.store.kv.get(storageNamespace(inv), inv.chatKey, keyOf(args));
}

async function storageSet(inv: Invocation, args: unknown, deps: CapabilityDeps): Promise<void> {
  requireStorage(inv);
  const key = keyOf(args);
  const value = (args as { value?: unknown }).value;
  if (value === undefined || value === null) {
    await deps.core.store.kv.delete(storageNamespace(inv), inv.chatKey, key);
    return;
  }
  const quotaBytes = quotaOf(inv, deps.config) * 1024;
  const newBytes = Buffer.byteLength(JSON.stringify(value)) + Buffer.byteLength(key);
  const ns = storageNamespace(inv);
  const [used, old] = await Promise.all([
    deps.core.store.kv.sizeBytes(ns, inv.chatKey),
    deps.core.store.kv.get(ns, inv.chatKey, key),
  ]);
  const oldBytes = old === undefined ? 0 : Buffer.byteLength(JSON.stringify(old)) + Buffer.byteLength(key);
  if (used - oldBytes + newBytes > quotaBytes) {
    throw new SwitchboardError("E_QUOTA_EXCEEDED", "storage quota exceeded", {
      chatMessage: `storage quota of ${quotaBytes / 1024} KB for this chat is full`,
    });
  }
  await deps.core.store.kv.set(ns, inv.chatKey, { key: key, value: value });
}

async function storageDelete(inv: Invocation, args: unknown, deps: CapabilityDeps): Promise<boolean> {
  requireStorage(inv);
  return deps.core.store.kv.delete(storageNamespace(inv), inv.chatKey, keyOf(args));
}

async function storageList(
  inv: Invocation,
  args: unknown,
  deps: CapabilityDeps,
): Promise<Array<{ key: string; value: unknown }>> {
  requireStorage(inv);
  const prefix = (args as { prefix?: unknown } | null)?.prefix ?? "";
  if (typeof prefix !== "string" || prefix.length > 200)
    throw new SwitchboardError("E_BAD_ARGS", "bad prefix", {
      chatMessage: "the prefix must be a string of at most 200 characters",
    });
  const entries = await deps.core.store.kv.list(storageNamespace(inv), inv.chatKey, { prefix, limit: 100 });
  return entries.map((e) => ({ key: e.key, value: e.value }));
}

/** The storage quota of a skill in KB (its request within the operator's maximum). */
export function quotaOf(inv: { manifest: SkillManifest }, config: SkillsConfig): number {
  const storage = inv.manifest.permissions.storage;
  return Math.min(typeof storage === "object" ? storage.quotaKb : config.defaultStorageKb, config.maxStorageKb);
}

async function fetchCap(inv: Invocation, args: unknown, deps: CapabilityDeps): Promise<unknown> {
  const hosts = inv.manifest.permissions.network;
  if (hosts.length === 0) throw denied("network access was not declared by this skill");
  const a = args as { url?: unknown; init?: unknown } | null;
  if (a === null || typeof a !== "object")
    throw new SwitchboardError("E_BAD_ARGS", "bad fetch", { chatMessage: "fetch needs a URL" });
  return skillFetch(
    { url: a.url, init: a.init },
    {
      hosts,
      policy: deps.config.fetch,
      signal: inv.signal,
      userAgent: `switchboard-skill/${inv.skill}`,
      ...(deps.fetchDeps === undefined ? {} : { deps: deps.fetchDeps }),
    },
  );
}

async function forward(
  inv: Invocation,
  { name, args }: { name: "llm" | "schedule"; args: unknown },
  deps: CapabilityDeps,
): Promise<unknown> {
  const declared = name === "llm" ? inv.manifest.permissions.llm : inv.manifest.permissions.schedules;
  if (!declared) throw denied(`${name === "llm" ? "LLM calls were" : "schedules were"} not declared by this skill`);
  const handler = deps.core.capabilities.get(name);
  if (handler === undefined) {
    throw new SwitchboardError("E_CAPABILITY_UNAVAILABLE", `${name} capability not provided`, {
      chatMessage: `the ${name} capability is not available on this bot`,
    });
  }
  const value = await handler({
    skill: inv.skill,
    chatKey: inv.chatKey,
    userKey: inv.userKey,
    target: inv.target,
    args,
    signal: inv.signal,
  });
  return value === undefined ? null : (JSON.parse(JSON.stringify(value)) as unknown);
}

function denied(message: string): SwitchboardError {
  return new SwitchboardError("E_SKILL_DENIED", message, { chatMessage: message });
}
