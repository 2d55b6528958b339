/**
 * Slack workspace roles → platform roles: primary owner or owner → `owner`, admin → `admin`, anyone else →
 * `member` (from `users.info`). Roles are workspace-wide, so one lookup serves every channel. Answers are cached
 * for `ttlMs`; concurrent lookups of one user share a request; a failed lookup is `undefined` (fail closed) and
 * cached briefly so a flood of messages does not become a flood of API calls.
 */
import type { PlatformRole } from "../../bot/index.ts";

/** What `users.info` returns that matters here. */
export interface SlackUserFlags {
  is_owner?: boolean;
  is_primary_owner?: boolean;
  is_admin?: boolean;
  is_bot?: boolean;
  name?: string;
  real_name?: string;
  profile?: { display_name?: string; real_name?: string };
}

/** Map a Slack user's flags to a platform role. */
export function platformRoleFromUser(user: SlackUserFlags): PlatformRole {
  if (user.is_primary_owner === true || user.is_owner === true) return "owner";
  if (user.is_admin === true) return "admin";
  return "member";
}

/** A looked-up user: role and a display name. */
export interface SlackUserInfo {
  role: PlatformRole | undefined;
  displayName: string | undefined;
  isBot: boolean;
}

interface Entry {
  value: Promise<SlackUserInfo>;
  expiresAt: number;
}

/** Options for the role cache. */
export interface RoleCacheOptions {
  /** Fetch one user (`users.info`); throws on failure. */
  fetchUser: (userId: string) => Promise<SlackUserFlags>;
  now: () => number;
  ttlMs?: number;
  /** How long a failed lookup is remembered, in ms. */
  failureTtlMs?: number;
  /** Most users kept; the oldest go first. */
  maxEntries?: number;
}

/** Cached workspace roles. */
export class SlackRoleCache {
  readonly #o: Required<RoleCacheOptions>;
  readonly #entries = new Map<string, Entry>();

  constructor(options: RoleCacheOptions) {
    this.#o = { ttlMs: 5 * 60_000, failureTtlMs: 10_000, maxEntries: 10_000, ...options };
  }

  /** The user's role and name (cached). Never throws. */
  lookup(userId: string): Promise<SlackUserInfo> {
    const now = this.#o.now();
    const hit = this.#entries.get(userId);
    if (hit !== undefined && hit.expiresAt > now) return hit.value;
    const entry: Entry = {
      value: Promise.resolve({ role: undefined, displayName: undefined, isBot: false }),
      expiresAt: now + this.#o.ttlMs,
    };
    entry.value = this.#o.fetchUser(userId).then(
      (user) => ({
        role: platformRoleFromUser(user),
        displayName: user.profile?.display_name || user.real_name || user.name || undefined,
        isBot: user.is_bot === true,
      }),
      () => {
        entry.expiresAt = this.#o.now() + this.#o.failureTtlMs;
        return { role: undefined, displayName: undefined, isBot: false };
      },
    );
    this.#entries.delete(userId);
    this.#entries.set(userId, entry);
    if (this.#entries.size > this.#o.maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
    return entry.value;
  }

  /** Forget one user, or everyone. */
  invalidate(userId?: string): void {
    if (userId === undefined) this.#entries.clear();
    else this.#entries.delete(userId);
  }
}
