/**
 * The bot side of every capability call. Each call arrives as (name, JSON string) from the skill host, is parsed
 * as hostile data, checked against what the skill declared and what the chat granted, and answered with a JSON
 * envelope string. Nothing here throws to the host: failures become `{ ok: false, error: { code, message } }`,
 * and the message is the chat-safe one.
 */
import {
  cleanChatText,
  conversationId,
  parseConversationId,
  SwitchboardError,
  toSwitchboardError,
  type Attachment,
  type ConversationTarget,
  type Reply,
  type ReplyButton,
  type ReplyFile,
  type PlatformRole,
} from "../../bot/index.ts";
import { randomUUID } from "node:crypto";
import type { SkillsServices } from "../needs.ts";
import type { SkillsConfig } from "../../config/sections/skills.ts";
import type { SkillManifest } from "../manifest.ts";
import { estimateTokens, type BudgetMeter } from "./budget.ts";
import { skillFetch, type FetchDeps } from "./fetch.ts";

/** One running invocation, as capabilities see it. */
export interface Invocation {
  skill: string;
  version: string;
  manifest: SkillManifest;
  chatKey: string;
  userKey: string;
  /** The person's platform role in the chat, as the invoking message carried it. */
  platformRole?: PlatformRole | undefined;
  target: ConversationTarget;
  /** Aborted when the invocation ends (its promise settled, its wall clock ran out, or the chat's turn ended). */
  signal: AbortSignal;
  /** Send a reply where the invocation came from. */
  reply(reply: Reply): Promise<unknown>;
  /** What it may still do; every capability call is counted here first. */
  budget: BudgetMeter;
  /** The first capability denial, shown to the chat if the skill then fails with it. */
  denial: SwitchboardError | undefined;
  /** The files of the message that invoked the skill (none for tools, schedules and other events). */
  files: readonly InvocationFile[];
}

/**
 * One file of the invoking message. Its id is random and lives only as long as the invocation, so a skill can
 * name no file of another message, another invocation or another chat.
 */
export interface InvocationFile {
  id: string;
  attachment: Attachment;
}

/** Give each attachment of the invoking message a fresh random id. */
export function invocationFiles(attachments: readonly Attachment[] | undefined): InvocationFile[] {
  return (attachments ?? []).map((attachment) => ({ id: randomUUID(), attachment }));
}

/** What capability handlers need from the service. */
export interface CapabilityDeps {
  core: SkillsServices;
  config: SkillsConfig;
  /** The largest attachment the bot reads (`limits.maxAttachmentBytes`). */
  maxAttachmentBytes: number;
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
  ["files.list", (inv) => filesList(inv)],
  ["files.read", (inv, args, deps) => filesRead(inv, args, deps)],
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
    // First, before any work: a call over the budget costs the bot this comparison and its answer.
    inv.budget.chargeCall();
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
    if (e.code === "E_SKILL_BUDGET" && inv.budget.refusedTotal === 1) {
      deps.core.metrics.error(e.code);
      void deps.core.track(
        deps.core
          .audit({
            actor: `skill:${inv.skill}`,
            chatKey: inv.chatKey,
            action: "skill.budget",
            target: name.slice(0, 40),
            after: { reason: e.chatMessage },
          })
          .catch(() => undefined),
      );
    }
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
    if (v.file !== undefined && v.file !== null) reply.file = toReplyFile(v.file);
  } else {
    throw new SwitchboardError("E_BAD_ARGS", "reply must be text or { text }", {
      chatMessage: "a reply must be text or an object with text",
    });
  }
  // Controls, bidi overrides and hiding links always go; mentions unless the skill may use them.
  const clean = { mentions: allowMentions };
  reply.text = cleanChatText(reply.text, clean);
  if (reply.buttons !== undefined) {
    reply.buttons = reply.buttons.map((row) =>
      row.map((b) => ({ label: cleanChatText(b.label, clean), data: b.data })),
    );
  }
  return reply;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const MIME = /^[a-z]+\/[a-z0-9.+-]{1,100}$/i;

/**
 * A skill's `{ name, data, mimeType }` file: `data` is base64 (the SDK turns a Uint8Array into it), and its size
 * is bounded by the capability argument limit (`skills.maxResultChars`) before it gets here; the adapter checks
 * the platform's limit when it sends.
 */
function toReplyFile(raw: unknown): ReplyFile {
  const bad = (why: string) => new SwitchboardError("E_BAD_ARGS", `bad reply file: ${why}`, { chatMessage: why });
  const f = raw as { name?: unknown; data?: unknown; mimeType?: unknown };
  if (typeof f !== "object" || Array.isArray(f)) throw bad("a reply's file must be { name, data, mimeType }");
  if (typeof f.name !== "string" || f.name.trim() === "" || f.name.length > 200 || !isPlainFileName(f.name))
    throw bad("a file needs a name of at most 200 characters, without slashes or control characters");
  if (typeof f.data !== "string" || f.data.length % 4 !== 0 || !BASE64.test(f.data))
    throw bad("a file's data must be a Uint8Array or base64 text");
  if (f.mimeType !== undefined && (typeof f.mimeType !== "string" || !MIME.test(f.mimeType)))
    throw bad("a file's mimeType must look like text/csv");
  const data = new Uint8Array(Buffer.from(f.data, "base64"));
  return f.mimeType === undefined ? { name: f.name, data } : { name: f.name, data, mimeType: f.mimeType };
}

/** A file name with no path separators and no control characters. */
function isPlainFileName(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0x2f || c === 0x5c) return false;
  }
  return true;
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

/** Count a reply against the invocation's budget; throws `E_SKILL_BUDGET` past it. */
export function chargeReply(inv: Invocation, reply: Reply): void {
  inv.budget.chargeReply(reply.text.length);
}

async function replyCap(inv: Invocation, args: unknown, _deps: CapabilityDeps): Promise<void> {
  const reply = toSkillReply(args, inv.manifest.permissions.messages.mentions);
  chargeReply(inv, reply);
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
  chargeReply(inv, reply);
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
  inv.budget.chargeStorageWrite();
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
  const key = keyOf(args);
  inv.budget.chargeStorageWrite();
  return deps.core.store.kv.delete(storageNamespace(inv), inv.chatKey, key);
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
  const maxBytesIn = inv.budget.beginFetch(requestBytes(a.url, a.init));
  let bytesIn = 0;
  try {
    const result = await skillFetch(
      { url: a.url, init: a.init },
      {
        hosts,
        policy: { ...deps.config.fetch, maxResponseBytes: Math.min(deps.config.fetch.maxResponseBytes, maxBytesIn) },
        signal: inv.signal,
        userAgent: `switchboard-skill/${inv.skill}`,
        ...(deps.fetchDeps === undefined ? {} : { deps: deps.fetchDeps }),
      },
    );
    bytesIn = Buffer.byteLength(result.body);
    return result;
  } finally {
    inv.budget.endFetch(bytesIn);
  }
}

/** What a fetch sends, counted before it starts: the URL, header names and values, and the body. */
function requestBytes(url: unknown, init: unknown): number {
  let bytes = typeof url === "string" ? url.length : 0;
  if (init !== null && typeof init === "object") {
    const { headers, body } = init as { headers?: unknown; body?: unknown };
    if (headers !== null && typeof headers === "object")
      for (const [k, v] of Object.entries(headers)) bytes += k.length + (typeof v === "string" ? v.length : 0);
    if (typeof body === "string") bytes += Buffer.byteLength(body);
  }
  return bytes;
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
  if (name === "llm") inv.budget.beginLlm(estimateTokens(JSON.stringify(args ?? null).length));
  const value = await handler({
    skill: inv.skill,
    chatKey: inv.chatKey,
    userKey: inv.userKey,
    ...(inv.platformRole === undefined ? {} : { platformRole: inv.platformRole }),
    target: inv.target,
    args,
    signal: inv.signal,
  });
  const json = JSON.stringify(value ?? null);
  if (name === "llm") inv.budget.endLlm(estimateTokens(json.length));
  return JSON.parse(json) as unknown;
}

function requireFiles(inv: Invocation): void {
  if (!inv.manifest.permissions.files.read) throw denied("reading files was not declared by this skill");
}

async function filesList(
  inv: Invocation,
): Promise<Array<{ id: string; name: string; mimeType: string; size: number | null }>> {
  requireFiles(inv);
  return inv.files.map(({ id, attachment: a }) => ({ id, name: a.name, mimeType: a.mimeType, size: a.size ?? null }));
}

/** The most bytes of one file this skill reads: its manifest's `files.maxBytes` within the operator's maximum. */
export function maxFileBytesOf(manifest: SkillManifest, maxAttachmentBytes: number): number {
  return Math.min(manifest.permissions.files.maxBytes ?? maxAttachmentBytes, maxAttachmentBytes);
}

async function filesRead(
  inv: Invocation,
  args: unknown,
  deps: CapabilityDeps,
): Promise<{ id: string; name: string; mimeType: string; size: number; data: string }> {
  requireFiles(inv);
  const id = (args as { id?: unknown } | null)?.id;
  if (typeof id !== "string" || id.length === 0 || id.length > 100)
    throw new SwitchboardError("E_BAD_ARGS", "bad file id", { chatMessage: "files.read needs an id from files.list" });
  const file = inv.files.find((f) => f.id === id);
  if (file === undefined) {
    throw new SwitchboardError("E_NOT_FOUND", "no such file on the invoking message", {
      chatMessage: "no file with that id was sent with the message that invoked this skill",
    });
  }
  const a = file.attachment;
  const perFile = maxFileBytesOf(inv.manifest, deps.maxAttachmentBytes);
  const tooLarge = () =>
    new SwitchboardError("E_FILE_TOO_LARGE", `${a.name} is over ${perFile} bytes`, {
      chatMessage: `the file ${a.name} is larger than the ${perFile} bytes this skill may read`,
    });
  // Refused before any download when the platform told the size.
  if (a.size !== undefined && a.size > perFile) throw tooLarge();
  const left = inv.budget.beginFileRead(a.size);
  const limit = Math.min(perFile, left);
  let bytes: Uint8Array;
  try {
    bytes = await a.fetch({ maxBytes: limit, signal: inv.signal });
  } catch (error) {
    const e = toSwitchboardError(error);
    if (e.code !== "E_FILE_TOO_LARGE") throw e;
    // It ran past the limit while downloading: the bytes read so far count, and the reason is whichever bound it was.
    inv.budget.endFileRead(limit);
    throw limit < perFile ? inv.budget.fileBudgetSpent() : tooLarge();
  }
  inv.budget.endFileRead(bytes.byteLength);
  return {
    id,
    name: a.name,
    mimeType: a.mimeType,
    size: bytes.byteLength,
    data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64"),
  };
}

function denied(message: string): SwitchboardError {
  return new SwitchboardError("E_SKILL_DENIED", message, { chatMessage: message });
}
