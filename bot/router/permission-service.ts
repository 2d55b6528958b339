/**
 * The permission service: cached chat policies plus the pure decisions in `../permissions.ts`. Every
 * authorization (typed command, LLM tool, schedule fire) goes through here. Policy changes are audited.
 */
import type { Logger } from "pino";
import type { Clock, PermissionQuery, PermissionService, PermissionTarget } from "../core.ts";
import type { CommandRegistry } from "../commands.ts";
import type { Store } from "../storage/types.ts";
import { SwitchboardError } from "../errors.ts";
import { chatKeyOf, userKeyOf } from "../model.ts";
import {
  GLOBAL_POLICY_KEY,
  checkCommand,
  emptyPolicy,
  resolveRole,
  type ChatPolicy,
  type Decision,
  type DmPolicy,
  type PermissionSettings,
  type Role,
} from "../permissions.ts";

/** Options for the permission service. */
export interface PermissionServiceOptions {
  store: Store;
  commands: CommandRegistry;
  clock: Clock;
  log: Logger;
  owners: readonly string[];
  defaultDm: DmPolicy;
  newChats: "locked" | "platform-admins";
  /** Operator defaults for command minimum roles (config `permissions.commandRoles`). */
  commandRoles: Readonly<Record<string, Role>>;
  cacheTtlMs: number;
}

interface CacheEntry {
  policy: ChatPolicy | undefined;
  expiresAt: number;
}

/** Create the permission service. */
export class CachedPermissionService implements PermissionService {
  readonly settings: PermissionSettings;
  readonly #o: PermissionServiceOptions;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #loading = new Map<string, Promise<ChatPolicy | undefined>>();

  constructor(options: PermissionServiceOptions) {
    this.#o = options;
    this.settings = { owners: new Set(options.owners), defaultDm: options.defaultDm };
  }

  /** The policy a chat runs under: stored, else (with `newChats: platform-admins`) an empty one, else none. */
  policy(chatKey: string): Promise<ChatPolicy | undefined> {
    const hit = this.#cache.get(chatKey);
    if (hit !== undefined && hit.expiresAt > this.#o.clock.now()) return Promise.resolve(hit.policy);
    let loading = this.#loading.get(chatKey);
    if (loading === undefined) {
      loading = this.#load(chatKey).finally(() => this.#loading.delete(chatKey));
      this.#loading.set(chatKey, loading);
    }
    return loading;
  }

  /**
   * A cached policy without waiting, or `null` when it must be loaded. For the router's hot path, which passes
   * `nowMs` (the clock's time) when it peeks at several keys.
   */
  peek(chatKey: string, nowMs?: number): ChatPolicy | undefined | null {
    const hit = this.#cache.get(chatKey);
    return hit !== undefined && hit.expiresAt > (nowMs ?? this.#o.clock.now()) ? hit.policy : null;
  }

  async #load(chatKey: string): Promise<ChatPolicy | undefined> {
    const stored = await this.#o.store.chats.getPolicy(chatKey);
    const policy =
      stored ?? (this.#o.newChats === "platform-admins" && chatKey !== GLOBAL_POLICY_KEY ? emptyPolicy() : undefined);
    this.#cache.set(chatKey, { policy, expiresAt: this.#o.clock.now() + this.#o.cacheTtlMs });
    return policy;
  }

  /** The minimum role a command needs when the chat's policy says nothing. */
  defaultRoleOf(name: string, fallback: Role): Role {
    return Object.hasOwn(this.#o.commandRoles, name) ? this.#o.commandRoles[name]! : fallback;
  }

  async roleOf(query: PermissionQuery): Promise<Role> {
    const policy = await this.policy(chatKeyOf(query.platform, query.chatId));
    return resolveRole(this.settings, policy, {
      userKey: userKeyOf(query.platform, query.userId),
      platformRole: query.platformRole,
      chatKind: query.chatKind,
      isBot: false,
    });
  }

  async canRun(query: PermissionQuery, command: string | PermissionTarget): Promise<Decision> {
    const chatKey = chatKeyOf(query.platform, query.chatId);
    const policy = await this.policy(chatKey);
    const role = resolveRole(this.settings, policy, {
      userKey: userKeyOf(query.platform, query.userId),
      platformRole: query.platformRole,
      chatKind: query.chatKind,
      isBot: false,
    });
    const global = await this.policy(GLOBAL_POLICY_KEY);
    const userKey = userKeyOf(query.platform, query.userId);
    if (role !== "owner" && (policy?.deny.includes(userKey) || global?.deny.includes(userKey))) {
      return { allowed: false, role, code: "E_USER_DENIED", reason: "user is on the deny list" };
    }
    let target: PermissionTarget;
    if (typeof command === "string") {
      const def = this.#o.commands.get(command);
      if (def === undefined || (def.availableIn !== undefined && !def.availableIn(chatKey))) {
        return { allowed: false, role, code: "E_PERMISSION_DENIED", reason: `/${command} is not available here` };
      }
      target = { name: def.name, defaultRole: this.defaultRoleOf(def.name, def.defaultRole), skill: def.skill };
    } else {
      target = { ...command, defaultRole: this.defaultRoleOf(command.name, command.defaultRole) };
    }
    return checkCommand(role, policy, target);
  }

  async updatePolicy(
    chatKey: string,
    { actor, action, target, via }: { actor: string; action: string; target?: string; via?: string },
    change: (policy: ChatPolicy) => void,
  ): Promise<ChatPolicy> {
    const { store, clock } = this.#o;
    // Changes to one chat are already serialized by the router's per-chat queue.
    const before = await store.chats.getPolicy(chatKey);
    const updated: ChatPolicy = structuredClone(before ?? emptyPolicy());
    change(updated);
    await store.chats.setPolicy(chatKey, updated);
    await store.audit.append({
      at: clock.now(),
      actor,
      chatKey,
      action,
      target: target ?? null,
      via: via ?? "chat",
      before: before ?? null,
      after: updated,
    });
    this.#cache.set(chatKey, { policy: updated, expiresAt: clock.now() + this.#o.cacheTtlMs });
    return updated;
  }

  invalidate(chatKey?: string): void {
    if (chatKey === undefined) this.#cache.clear();
    else this.#cache.delete(chatKey);
  }
}

/** Parse a user reference from chat: `platform:id`, or a bare id on the chat's own platform. */
export function parseUserRef(ref: string, platform: string): string {
  const trimmed = ref
    .trim()
    .replace(/^<@!?|>$/g, "")
    .replace(/^@/, "");
  if (trimmed === "")
    throw new SwitchboardError("E_BAD_ARGS", "empty user reference", {
      chatMessage: "Name a user: platform:id, or an id on this platform.",
    });
  return /^[a-z0-9_-]+:.+$/.test(trimmed) ? trimmed : userKeyOf(platform, trimmed);
}
