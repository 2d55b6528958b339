/**
 * Hooks as their owners manage them (create, list, rotate, remove, each audited) and as the endpoint finds them:
 * by id, with the secret opened, from a small cache (1,000 hooks, 5 s), so a rotation or removal reaches other
 * processes within 5 s and this one at once.
 */
import { randomBytes } from "node:crypto";
import type { Clock, ConversationTarget } from "../bot/index.ts";
import { SwitchboardError } from "../bot/index.ts";
import { newSecret, type SecretBox } from "./secrets.ts";
import type { HookOptions, HookRecord, HookRepo, TemplateName } from "./store.ts";

/** A hook with its secret in the clear, as the endpoint and the delivery worker use it. */
export interface OpenHook extends Omit<HookRecord, "sealedSecret"> {
  secret: string;
}

const CACHE_MAX = 1_000;
const CACHE_TTL_MS = 5_000;

/** Hook names: what people type after `/hooks`. */
export const HOOK_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/** Write one audit entry. */
export type AuditWriter = (entry: {
  actor: string;
  chatKey: string;
  action: string;
  target?: string;
  via?: string;
  before?: unknown;
  after?: unknown;
}) => Promise<void>;

/** Hook management and lookup. */
export class HookRegistry {
  readonly #repo: HookRepo;
  readonly #box: SecretBox;
  readonly #clock: Clock;
  readonly #audit: AuditWriter;
  readonly #maxPerChat: number;
  readonly #cache = new Map<string, { hook: OpenHook | undefined; at: number }>();

  constructor(o: { repo: HookRepo; box: SecretBox; clock: Clock; audit: AuditWriter; maxPerChat: number }) {
    this.#repo = o.repo;
    this.#box = o.box;
    this.#clock = o.clock;
    this.#audit = o.audit;
    this.#maxPerChat = o.maxPerChat;
  }

  /** Create a hook posting to `target`; answers it with its secret (shown once). */
  async create(o: {
    chatKey: string;
    name: string;
    target: ConversationTarget;
    template: TemplateName;
    options?: HookOptions;
    actor: string;
    /** A secret to use instead of a new one (a workflow shares its own). */
    secret?: string;
  }): Promise<OpenHook> {
    if (!HOOK_NAME.test(o.name))
      throw new SwitchboardError("E_BAD_ARGS", `bad hook name ${JSON.stringify(o.name)}`, {
        chatMessage: "A hook name is 1–32 lower-case letters, digits, `-` or `_`.",
      });
    if (o.template !== "workflow") {
      if ((await this.#repo.byName(o.chatKey, o.name)) !== undefined)
        throw new SwitchboardError("E_CONFLICT", `hook ${o.name} exists in ${o.chatKey}`, {
          chatMessage: `This chat already has a hook named ${o.name}.`,
        });
      if ((await this.#repo.count(o.chatKey)) >= this.#maxPerChat)
        throw new SwitchboardError("E_CONFLICT", `too many hooks in ${o.chatKey}`, {
          chatMessage: `This chat has ${this.#maxPerChat} hooks, the most it may have. Remove one first.`,
        });
    }
    const secret = o.secret ?? newSecret();
    const record: HookRecord = {
      id: randomBytes(16).toString("base64url"),
      chatKey: o.chatKey,
      name: o.name,
      target: o.target,
      template: o.template,
      sealedSecret: this.#box.seal(secret),
      options: o.options ?? {},
      createdBy: o.actor,
      createdAt: this.#clock.now(),
      rotatedAt: null,
    };
    await this.#repo.create(record);
    await this.#audit({
      actor: o.actor,
      chatKey: o.chatKey,
      action: "hooks.add",
      target: o.name,
      via: "chat",
      after: { id: record.id, template: o.template, target: o.target, options: record.options },
    });
    const { sealedSecret: _sealed, ...rest } = record;
    return { ...rest, secret };
  }

  /** A chat's hooks (never their secrets). */
  list(chatKey: string): Promise<HookRecord[]> {
    return this.#repo.list(chatKey);
  }

  /** Last delivery and failures of hooks. */
  stats(ids: readonly string[]): Promise<Map<string, { lastAt: number | null; failed: number }>> {
    return this.#repo.stats(ids);
  }

  /** A new secret for a chat's hook; answers it (shown once), or undefined when there is no such hook. */
  async rotate(o: { chatKey: string; name: string; actor: string }): Promise<OpenHook | undefined> {
    const hook = await this.#repo.byName(o.chatKey, o.name);
    if (hook === undefined) return undefined;
    const secret = newSecret();
    await this.#repo.rotate(hook.id, { sealedSecret: this.#box.seal(secret), at: this.#clock.now() });
    this.#cache.delete(hook.id);
    await this.#audit({ actor: o.actor, chatKey: o.chatKey, action: "hooks.rotate", target: o.name, via: "chat" });
    const { sealedSecret: _sealed, ...rest } = hook;
    return { ...rest, secret };
  }

  /** Remove a chat's hook by name (or a workflow's hook by id); true when there was one. */
  async remove(
    o: { chatKey: string; name: string; actor: string } | { id: string; actor: string; chatKey: string },
  ): Promise<boolean> {
    const hook = "id" in o ? await this.#repo.get(o.id) : await this.#repo.byName(o.chatKey, o.name);
    if (hook === undefined) return false;
    const removed = await this.#repo.remove(hook.id);
    this.#cache.delete(hook.id);
    if (removed)
      await this.#audit({
        actor: o.actor,
        chatKey: o.chatKey,
        action: "hooks.remove",
        target: hook.name,
        via: "chat",
        before: { id: hook.id, template: hook.template, target: hook.target, options: hook.options },
        after: null,
      });
    return removed;
  }

  /** The hook behind an id, secret opened (cached briefly); undefined when there is none. */
  async find(id: string): Promise<OpenHook | undefined> {
    const now = this.#clock.now();
    const cached = this.#cache.get(id);
    if (cached !== undefined && now - cached.at < CACHE_TTL_MS) return cached.hook;
    const record = await this.#repo.get(id);
    let hook: OpenHook | undefined;
    if (record !== undefined) {
      const { sealedSecret, ...rest } = record;
      hook = { ...rest, secret: this.#box.open(sealedSecret) };
    }
    this.#cache.delete(id);
    if (this.#cache.size >= CACHE_MAX) this.#cache.delete(this.#cache.keys().next().value as string);
    this.#cache.set(id, { hook, at: now });
    return hook;
  }
}
