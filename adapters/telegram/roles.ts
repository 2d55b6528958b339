/**
 * The speaker's platform role from `getChatMember` (creator → owner, administrator → admin, member/restricted →
 * member), cached in this process and in the shared ephemeral store. A failed look-up is `undefined` (fail
 * closed) and is remembered briefly so a burst of messages does not hammer the API.
 */
import type Keyv from "keyv";
import type { PlatformRole } from "../../bot/index.ts";

/** Map a Telegram chat member status to a platform role. */
export function roleOfStatus(status: string): PlatformRole | undefined {
  switch (status) {
    case "creator":
      return "owner";
    case "administrator":
      return "admin";
    case "member":
    case "restricted":
      return "member";
    default:
      return undefined; // left, kicked
  }
}

/** Options for a `RoleCache`. */
export interface RoleCacheOptions {
  ttlMs: number;
  /** How long a failed look-up is remembered, in ms. Default 30 s. */
  failureTtlMs?: number;
  kv?: Keyv;
  now(): number;
  /** The API call: the member's status string. */
  fetchStatus(chatId: string, userId: string): Promise<string>;
  onError?(error: unknown, chatId: string, userId: string): void;
}

/** Looks up and caches platform roles. */
export class RoleCache {
  readonly #options: RoleCacheOptions;
  readonly #local = new Map<string, { role: PlatformRole | undefined; expiresAt: number }>();
  readonly #inFlight = new Map<string, Promise<PlatformRole | undefined>>();

  constructor(options: RoleCacheOptions) {
    this.#options = options;
  }

  /** The user's role in the chat, from cache or the API. Never rejects. */
  roleOf(chatId: string, userId: string): Promise<PlatformRole | undefined> {
    const key = `${chatId}:${userId}`;
    const hit = this.#local.get(key);
    if (hit !== undefined && hit.expiresAt > this.#options.now()) return Promise.resolve(hit.role);
    let pending = this.#inFlight.get(key);
    if (pending === undefined) {
      pending = this.#lookUp(key, chatId, userId).finally(() => this.#inFlight.delete(key));
      this.#inFlight.set(key, pending);
    }
    return pending;
  }

  /** Forget one member (their status changed) or everything. */
  forget(chatId?: string, userId?: string): void {
    if (chatId === undefined) this.#local.clear();
    else this.#local.delete(`${chatId}:${userId ?? ""}`);
  }

  async #lookUp(key: string, chatId: string, userId: string): Promise<PlatformRole | undefined> {
    const { kv, ttlMs, now } = this.#options;
    const kvKey = `telegram:role:${key}`;
    try {
      const shared = kv === undefined ? undefined : await kv.get<string>(kvKey);
      if (typeof shared === "string") {
        const role = roleOfStatus(shared);
        this.#local.set(key, { role, expiresAt: now() + ttlMs });
        return role;
      }
    } catch {
      // The shared cache is an optimisation; fall through to the API.
    }
    try {
      const status = await this.#options.fetchStatus(chatId, userId);
      const role = roleOfStatus(status);
      this.#local.set(key, { role, expiresAt: now() + ttlMs });
      if (kv !== undefined && ttlMs > 0) await kv.set(kvKey, status, ttlMs).catch(() => undefined);
      return role;
    } catch (error) {
      this.#options.onError?.(error, chatId, userId);
      this.#local.set(key, { role: undefined, expiresAt: now() + (this.#options.failureTtlMs ?? 30_000) });
      return undefined;
    }
  }
}
