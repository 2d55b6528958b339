/**
 * Platform roles from Discord permissions: the guild owner → `owner`; Administrator or Manage Guild → `admin`;
 * anyone else in the guild → `member`. Guild owners and role permissions come from GUILD_CREATE (gateway) or
 * `GET /guilds/{id}`, members from `GET /guilds/{id}/members/{user}`, channels from `GET /channels/{id}`; all
 * cached with a TTL. A failed lookup gives `undefined`, which permissions treat as guest (fail closed).
 */
import type { Clock, PlatformRole } from "../../bot/index.ts";

/** Discord's Administrator permission bit. */
export const ADMINISTRATOR = 1n << 3n;
/** Discord's Manage Guild permission bit. */
export const MANAGE_GUILD = 1n << 5n;

/** What the resolver knows of a guild. */
export interface GuildFacts {
  ownerId: string;
  /** Role id → permission bits; the @everyone role has the guild's id. */
  rolePermissions: Map<string, bigint>;
}

/** The REST reads the resolver needs (the adapter's API layer provides them). */
export interface RoleLookups {
  guild(guildId: string): Promise<unknown>;
  member(guildId: string, userId: string): Promise<unknown>;
  channel(channelId: string): Promise<unknown>;
}

/** Turn a guild payload (GUILD_CREATE or GET /guilds/{id}) into facts; undefined when it lacks them. */
export function guildFactsOf(payload: unknown): { id: string; facts: GuildFacts } | undefined {
  if (typeof payload !== "object" || payload === null) return undefined;
  const g = payload as { id?: unknown; owner_id?: unknown; roles?: unknown };
  if (typeof g.id !== "string" || typeof g.owner_id !== "string" || !Array.isArray(g.roles)) return undefined;
  const rolePermissions = new Map<string, bigint>();
  for (const role of g.roles as Array<{ id?: unknown; permissions?: unknown }>) {
    if (typeof role?.id !== "string" || typeof role.permissions !== "string" || !/^\d+$/.test(role.permissions))
      continue;
    rolePermissions.set(role.id, BigInt(role.permissions));
  }
  return { id: g.id, facts: { ownerId: g.owner_id, rolePermissions } };
}

/** `admin` when the bits hold Administrator or Manage Guild, else `member`. */
export function roleFromPermissions(bits: bigint): PlatformRole {
  return (bits & ADMINISTRATOR) !== 0n || (bits & MANAGE_GUILD) !== 0n ? "admin" : "member";
}

interface Cached<T> {
  value: T;
  expiresAt: number;
}

/** Options for a `RoleResolver`. */
export interface RoleResolverOptions {
  lookups: RoleLookups;
  clock: Clock;
  /** How long guild facts are kept, in ms. Default 5 minutes. */
  guildTtlMs?: number;
  /** How long member roles and channel → guild answers are kept, in ms. Default 60 s. */
  memberTtlMs?: number;
  onError?(error: unknown, what: string): void;
}

/** Resolves and caches platform roles. */
export class RoleResolver {
  readonly #o: RoleResolverOptions;
  readonly #guilds = new Map<string, Cached<GuildFacts>>();
  readonly #members = new Map<string, Cached<string[]>>();
  readonly #channels = new Map<string, Cached<string | null>>();
  /** Lookups in flight, so a burst of messages from one guild makes one request. */
  readonly #inFlight = new Map<string, Promise<unknown>>();
  /** The last permissions string read and its role (most interactions repeat a few). */
  #lastPermissions: string | undefined;
  #lastPermissionsRole: PlatformRole = "member";

  constructor(options: RoleResolverOptions) {
    this.#o = options;
  }

  /** Remember a guild seen on the gateway (GUILD_CREATE / GUILD_UPDATE). */
  rememberGuild(payload: unknown): void {
    const parsed = guildFactsOf(payload);
    if (parsed === undefined) return;
    this.#guilds.set(parsed.id, {
      value: parsed.facts,
      expiresAt: this.#o.clock.now() + (this.#o.guildTtlMs ?? 300_000),
    });
  }

  /** Forget a guild (its roles changed). */
  forgetGuild(guildId: string): void {
    this.#guilds.delete(guildId);
  }

  /**
   * Role from an interaction: its member's computed permissions, and the guild owner. Answers at once (no
   * promise) when the guild is known and the interaction carries permissions, as it nearly always does.
   */
  fromInteraction(
    guildId: string,
    userId: string,
    permissions: string | undefined,
  ): PlatformRole | undefined | Promise<PlatformRole | undefined> {
    const hit = this.#guilds.get(guildId);
    if (hit !== undefined && hit.expiresAt > this.#o.clock.now())
      return this.#interactionRole(guildId, hit.value, { userId, permissions });
    return this.#guild(guildId).then((guild) => this.#interactionRole(guildId, guild, { userId, permissions }));
  }

  #interactionRole(
    guildId: string,
    guild: GuildFacts | undefined,
    { userId, permissions }: { userId: string; permissions: string | undefined },
  ): PlatformRole | undefined | Promise<PlatformRole | undefined> {
    if (guild?.ownerId === userId) return "owner";
    if (permissions !== undefined) {
      if (permissions === this.#lastPermissions) return this.#lastPermissionsRole;
      if (/^\d+$/.test(permissions)) {
        const role = roleFromPermissions(BigInt(permissions));
        this.#lastPermissions = permissions;
        this.#lastPermissionsRole = role;
        return role;
      }
    }
    return guild === undefined
      ? undefined
      : this.#memberRoles(guildId, userId).then((roles) => this.#fromRoles(guildId, guild, roles));
  }

  /** Role from a message's member role ids. */
  async fromMemberRoles(guildId: string, userId: string, roleIds: string[]): Promise<PlatformRole | undefined> {
    const guild = await this.#guild(guildId);
    if (guild === undefined) return undefined;
    if (guild.ownerId === userId) return "owner";
    return this.#fromRoles(guildId, guild, roleIds);
  }

  /** Role of a user in a channel, looked up fresh (cached). DMs give `member`. */
  async inChannel(channelId: string, userId: string): Promise<PlatformRole | undefined> {
    const guildId = await this.#guildOfChannel(channelId);
    if (guildId === undefined) return undefined;
    if (guildId === null) return "member";
    const guild = await this.#guild(guildId);
    if (guild === undefined) return undefined;
    if (guild.ownerId === userId) return "owner";
    const roles = await this.#memberRoles(guildId, userId);
    return roles === undefined ? undefined : this.#fromRoles(guildId, guild, roles);
  }

  #fromRoles(guildId: string, guild: GuildFacts, roleIds: string[] | undefined): PlatformRole | undefined {
    if (roleIds === undefined) return undefined;
    let bits = guild.rolePermissions.get(guildId) ?? 0n;
    for (const id of roleIds) bits |= guild.rolePermissions.get(id) ?? 0n;
    return roleFromPermissions(bits);
  }

  async #cached<T>(
    map: Map<string, Cached<T>>,
    { key, ttlMs, what }: { key: string; ttlMs: number; what: string },
    load: () => Promise<T | undefined>,
  ): Promise<T | undefined> {
    const now = this.#o.clock.now();
    const hit = map.get(key);
    if (hit !== undefined && hit.expiresAt > now) return hit.value;
    const pending = this.#inFlight.get(what) as Promise<T | undefined> | undefined;
    if (pending !== undefined) return pending;
    const loading = (async () => {
      try {
        const value = await load();
        if (value !== undefined) map.set(key, { value, expiresAt: this.#o.clock.now() + ttlMs });
        return value;
      } catch (error) {
        this.#o.onError?.(error, what);
        return undefined;
      } finally {
        this.#inFlight.delete(what);
      }
    })();
    this.#inFlight.set(what, loading);
    return loading;
  }

  #guild(guildId: string): Promise<GuildFacts | undefined> {
    return this.#cached(
      this.#guilds,
      { key: guildId, ttlMs: this.#o.guildTtlMs ?? 300_000, what: `guild ${guildId}` },
      async () => guildFactsOf(await this.#o.lookups.guild(guildId))?.facts,
    );
  }

  #memberRoles(guildId: string, userId: string): Promise<string[] | undefined> {
    return this.#cached(
      this.#members,
      {
        key: `${guildId}:${userId}`,
        ttlMs: this.#o.memberTtlMs ?? 60_000,
        what: `member ${userId} of guild ${guildId}`,
      },
      async () => {
        const member = (await this.#o.lookups.member(guildId, userId)) as { roles?: unknown };
        return Array.isArray(member?.roles)
          ? member.roles.filter((r): r is string => typeof r === "string")
          : undefined;
      },
    );
  }

  /** The channel's guild id, `null` for a DM, undefined when unknown. */
  #guildOfChannel(channelId: string): Promise<string | null | undefined> {
    return this.#cached(
      this.#channels,
      { key: channelId, ttlMs: this.#o.memberTtlMs ?? 60_000, what: `channel ${channelId}` },
      async () => {
        const channel = (await this.#o.lookups.channel(channelId)) as { guild_id?: unknown; type?: unknown };
        if (typeof channel?.guild_id === "string") return channel.guild_id;
        return channel?.type === 1 || channel?.type === 3 ? null : undefined;
      },
    );
  }
}
