/**
 * The permission service: cached chat policies plus the pure decisions in `../permissions.ts`. Every
 * authorization (typed command, LLM tool, schedule fire) goes through here. Policy changes are audited.
 */
import type { Logger } from "pino";
import type { Clock, PermissionQuery, PermissionService, PermissionTarget } from "../core.ts";
import { parseCommandLine, resolveCommand, type CommandRegistry } from "../commands.ts";
import type { Store } from "../storage/types.ts";
import { SwitchboardError } from "../errors.ts";
import { AgedMap } from "./aged-map.ts";
import type { PolicyChanges } from "./policy-changes.ts";
import { chatKeyOf, userKeyOf } from "../model.ts";
import { authorizePath } from "./authorize.ts";
import {
  GLOBAL_POLICY_KEY,
  checkCommand,
  emptyPolicy,
  resolveRole,
  type ChatPolicy,
  type Decision,
  type DmPolicy,
  listNames,
  type PermissionSettings,
  type Person,
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
  /** How long a cached policy is trusted without a change being heard of, in ms. */
  cacheTtlMs: number;
  /** Most chats whose policy is cached; the least recently loaded go first. Default 100,000. */
  cacheMaxEntries?: number;
  /** People named in config (`permissions.principals`), by each of their identities. */
  people?: ReadonlyMap<string, Person>;
}

/** A cached policy; the box tells "no policy" apart from "not cached". */
interface CacheEntry {
  readonly policy: ChatPolicy | undefined;
}

/** Create the permission service. */
export class CachedPermissionService implements PermissionService {
  readonly settings: PermissionSettings;
  readonly #o: PermissionServiceOptions;
  readonly #cache: AgedMap<CacheEntry>;
  readonly #loading = new Map<string, Promise<ChatPolicy | undefined>>();
  /** Raised by every invalidation: a load that started before one does not cache what it read. */
  #epoch = 0;
  #changes: PolicyChanges | undefined;

  constructor(options: PermissionServiceOptions) {
    this.#o = options;
    this.#cache = new AgedMap({ maxEntries: options.cacheMaxEntries ?? 100_000, maxAgeMs: options.cacheTtlMs });
    this.settings = {
      owners: new Set(options.owners),
      defaultDm: options.defaultDm,
      people: options.people ?? new Map(),
    };
  }

  /** The key a person's usage, quotas and rate limits are counted under: `principal:<name>`, else the identity. */
  personOf(userKey: string): string {
    return this.settings.people?.get(userKey)?.key ?? userKey;
  }

  /** Whether config names this principal (`principal:<name>`). */
  isPerson(key: string): boolean {
    for (const person of this.settings.people?.values() ?? []) if (person.key === key) return true;
    return false;
  }

  /** The named person an identity belongs to, with every identity of theirs; undefined for no one named. */
  personFor(userKey: string): Person | undefined {
    return this.settings.people?.get(userKey);
  }

  /** Bot owners from config plus every identity linked to one (`/link`): ownership follows the person. */
  setLinkedOwners(linked: ReadonlySet<string>): void {
    this.settings.owners = new Set([...this.#o.owners, ...linked]);
  }

  /** The policy a chat runs under: stored, else (with `newChats: platform-admins`) an empty one, else none. */
  policy(chatKey: string): Promise<ChatPolicy | undefined> {
    const hit = this.#cache.get(chatKey, this.#o.clock.now());
    if (hit !== undefined) return Promise.resolve(hit.policy);
    let loading = this.#loading.get(chatKey);
    if (loading === undefined) {
      const started: Promise<ChatPolicy | undefined> = this.#load(chatKey).finally(() => {
        if (this.#loading.get(chatKey) === started) this.#loading.delete(chatKey);
      });
      loading = started;
      this.#loading.set(chatKey, loading);
    }
    return loading;
  }

  /**
   * A cached policy without waiting, or `null` when it must be loaded. For the router's hot path, which passes
   * `nowMs` (the clock's time) when it peeks at several keys.
   */
  peek(chatKey: string, nowMs?: number): ChatPolicy | undefined | null {
    const hit = this.#cache.get(chatKey, nowMs ?? this.#o.clock.now());
    return hit !== undefined ? hit.policy : null;
  }

  /** Announce this process's policy writes to the others (Redis pub/sub when scaled out). */
  announceChangesWith(changes: PolicyChanges): void {
    this.#changes = changes;
  }

  async #load(chatKey: string): Promise<ChatPolicy | undefined> {
    const epoch = this.#epoch;
    const stored = await this.#o.store.chats.getPolicy(chatKey);
    const policy =
      stored ?? (this.#o.newChats === "platform-admins" && chatKey !== GLOBAL_POLICY_KEY ? emptyPolicy() : undefined);
    // A change heard of while reading may not be in what was read: answer it, but do not keep it.
    if (epoch === this.#epoch) this.#cache.set(chatKey, { policy }, this.#o.clock.now());
    return policy;
  }

  /** The minimum role a command (or subcommand, by its key `skills.install`) needs when the policy says nothing. */
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
    const person = this.settings.people?.get(userKey);
    if (role !== "owner" && (listNames(policy?.deny, userKey, person) || listNames(global?.deny, userKey, person))) {
      return { allowed: false, role, code: "E_USER_DENIED", reason: "user is on the deny list" };
    }
    if (typeof command !== "string") {
      const target = { ...command, defaultRole: this.defaultRoleOf(command.name, command.defaultRole) };
      const own = checkCommand(role, policy, target);
      if (!own.allowed || command.command === undefined) return own;
      // A tool runs as its command would: the stricter of the tool's own role and its command's wins.
      return this.#checkLine(role, policy, { chatKey, chatKind: query.chatKind, line: command.command });
    }
    return this.#checkLine(role, policy, { chatKey, chatKind: query.chatKind, line: command });
  }

  /** Resolve a command line (`perms set x admin`, `/perms set x admin`) and check every node on its path. */
  #checkLine(
    role: Role,
    policy: ChatPolicy | undefined,
    { chatKey, chatKind, line }: { chatKey: string; chatKind: PermissionQuery["chatKind"]; line: string },
  ): Decision {
    const parsed = parseCommandLine(line.startsWith("/") ? line : `/${line}`);
    const def = parsed === undefined ? undefined : this.#o.commands.get(parsed.name);
    if (parsed === undefined || def === undefined || (def.availableIn !== undefined && !def.availableIn(chatKey))) {
      const name = line.replace(/^\//, "").split(/\s/, 1)[0];
      return { allowed: false, role, code: "E_PERMISSION_DENIED", reason: `/${name} is not available here` };
    }
    const resolved = resolveCommand(def, parsed.args, parsed.rawArgs);
    return authorizePath(resolved, { role, policy, chatKind, defaultRoleOf: (k, r) => this.defaultRoleOf(k, r) });
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
    this.#epoch++;
    this.#loading.delete(chatKey); // a load racing this write must not be answered from
    this.#cache.set(chatKey, { policy: updated }, clock.now());
    await this.#changes?.publish(chatKey).catch((error: unknown) => {
      this.#o.log.warn(
        { err: error, chat: chatKey },
        "could not announce a policy change: other processes see it when their cache expires",
      );
    });
    return updated;
  }

  /** Chats whose policy is cached (expired ones not yet dropped included). */
  get cachedCount(): number {
    return this.#cache.size;
  }

  invalidate(chatKey?: string): void {
    this.#epoch++;
    if (chatKey === undefined) {
      this.#cache.clear();
      this.#loading.clear();
    } else {
      this.#cache.delete(chatKey);
      this.#loading.delete(chatKey);
    }
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
