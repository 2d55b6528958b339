/**
 * The console's credentials, in the store: single-use sign-in links (10 minutes, bound to one platform identity),
 * browser sessions (with a CSRF token, expiring, listable, revocable) and API tokens (scoped, shown once,
 * revocable). Only SHA-256 hashes of secrets are kept: every secret is 32 random bytes, so a fast hash is enough
 * (nothing to brute-force), and a leaked database holds nothing that signs anyone in.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Clock } from "../core.ts";
import { SwitchboardError } from "../errors.ts";
import type { ApiScope, Principal } from "../http/routes.ts";
import { API_SCOPES } from "../http/routes.ts";
import type { SqlClient } from "../storage/types.ts";

/** How long a sign-in link is valid. */
export const SIGN_IN_TTL_MS = 10 * 60_000;
/** Sign-in links, sessions and tokens kept after they stopped working (for listing), before they are pruned. */
const KEEP_ENDED_MS = 7 * 24 * 3_600_000;
/** `last_used_at` is written at most this often per credential. */
const TOUCH_EVERY_MS = 60_000;
/** Most sessions or tokens one person may hold at once (older sessions are revoked past it). */
export const MAX_SESSIONS_PER_USER = 20;
export const MAX_TOKENS_PER_USER = 50;

/** A person a credential is bound to. */
export interface Identity {
  /** `platform:userId`. */
  userKey: string;
  displayName: string;
}

/** A session or token as listed (never with its secret). */
export interface CredentialInfo {
  id: string;
  kind: "session" | "token";
  userKey: string;
  displayName: string;
  name: string | null;
  scopes: ApiScope[];
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

const sha256 = (secret: string): string => createHash("sha256").update(secret).digest("hex");
const secret = (): string => randomBytes(32).toString("base64url");
const newId = (): string => randomBytes(9).toString("base64url");

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, "hex");
  const y = Buffer.from(b, "hex");
  return x.length === y.length && timingSafeEqual(x, y);
}

function splitUserKey(userKey: string): { platform: string; userId: string } {
  const i = userKey.indexOf(":");
  if (i <= 0 || i === userKey.length - 1)
    throw new SwitchboardError("E_BAD_ARGS", `not a user key: ${userKey}`, {
      chatMessage: "A person is named platform:userId, e.g. telegram:123456.",
    });
  return { platform: userKey.slice(0, i), userId: userKey.slice(i + 1) };
}

function principalOf(
  row: { id: string; user_key: string; display_name: string },
  via: Principal["via"],
  scopes: readonly ApiScope[],
): Principal {
  return {
    ...splitUserKey(row.user_key),
    userKey: row.user_key,
    displayName: row.display_name,
    via,
    scopes,
    credentialId: row.id,
  };
}

/** Sign-in links, sessions and API tokens over the store's SQL. */
export class ConsoleCredentials {
  readonly #sql: SqlClient;
  readonly #clock: Clock;
  readonly #sessionTtlMs: number;

  constructor(options: { sql: SqlClient; clock: Clock; sessionTtlMs: number }) {
    this.#sql = options.sql;
    this.#clock = options.clock;
    this.#sessionTtlMs = options.sessionTtlMs;
  }

  /** A single-use sign-in code for this person, valid `SIGN_IN_TTL_MS`. */
  async issueSignIn(identity: Identity): Promise<{ code: string; expiresAt: number }> {
    splitUserKey(identity.userKey);
    const now = this.#clock.now();
    const code = secret();
    const expiresAt = now + SIGN_IN_TTL_MS;
    await this.#sql.query("DELETE FROM console_sign_ins WHERE expires_at < $1", [now - KEEP_ENDED_MS]);
    await this.#sql.query(
      `INSERT INTO console_sign_ins (code_hash, user_key, display_name, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5)`,
      [sha256(code), identity.userKey, identity.displayName, now, expiresAt],
    );
    return { code, expiresAt };
  }

  /**
   * Redeem a sign-in code: once, before it expires. Opens a session and answers its cookie value and CSRF token;
   * undefined for an unknown, used or expired code.
   */
  async redeemSignIn(
    code: string,
  ): Promise<{ cookie: string; csrfToken: string; principal: Principal; expiresAt: number } | undefined> {
    const now = this.#clock.now();
    return this.#sql.transaction(async (tx) => {
      const { rows } = await tx.query<{ user_key: string; display_name: string }>(
        `UPDATE console_sign_ins SET used_at = $1
         WHERE code_hash = $2 AND used_at IS NULL AND expires_at > $1
         RETURNING user_key, display_name`,
        [now, sha256(code)],
      );
      const row = rows[0];
      if (row === undefined) return undefined;
      const id = newId();
      const key = secret();
      const csrfToken = secret();
      const expiresAt = now + this.#sessionTtlMs;
      await tx.query("DELETE FROM console_sessions WHERE expires_at < $1", [now - KEEP_ENDED_MS]);
      await tx.query(
        `INSERT INTO console_sessions
           (id, secret_hash, csrf_token, user_key, display_name, created_at, expires_at, last_used_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $6)`,
        [id, sha256(key), csrfToken, row.user_key, row.display_name, now, expiresAt],
      );
      // A person's oldest live sessions past the bound are revoked.
      await tx.query(
        `UPDATE console_sessions SET revoked_at = $1
         WHERE user_key = $2 AND revoked_at IS NULL AND id NOT IN (
           SELECT id FROM console_sessions WHERE user_key = $2 AND revoked_at IS NULL
           ORDER BY created_at DESC, id LIMIT $3)`,
        [now, row.user_key, MAX_SESSIONS_PER_USER],
      );
      const principal = principalOf({ id, ...row }, "web", API_SCOPES);
      return { cookie: `${id}.${key}`, csrfToken, principal, expiresAt };
    });
  }

  /** The live session behind a cookie value, with its CSRF token. */
  async session(cookie: string): Promise<{ principal: Principal; csrfToken: string } | undefined> {
    const dot = cookie.indexOf(".");
    if (dot <= 0) return undefined;
    const id = cookie.slice(0, dot);
    const now = this.#clock.now();
    const { rows } = await this.#sql.query<{
      id: string;
      secret_hash: string;
      csrf_token: string;
      user_key: string;
      display_name: string;
      last_used_at: number;
    }>(
      `SELECT id, secret_hash, csrf_token, user_key, display_name, last_used_at FROM console_sessions
       WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2`,
      [id, now],
    );
    const row = rows[0];
    if (row === undefined || !sameHash(row.secret_hash, sha256(cookie.slice(dot + 1)))) return undefined;
    if (now - Number(row.last_used_at) > TOUCH_EVERY_MS)
      await this.#sql.query("UPDATE console_sessions SET last_used_at = $1 WHERE id = $2", [now, id]);
    return { principal: principalOf(row, "web", API_SCOPES), csrfToken: row.csrf_token };
  }

  /** Create an API token. The returned `token` is shown once; only its hash is kept. */
  async createToken(
    identity: Identity,
    options: { name: string; scopes: readonly ApiScope[]; ttlMs?: number },
  ): Promise<{ token: string; info: CredentialInfo }> {
    splitUserKey(identity.userKey);
    if (options.scopes.length === 0 || options.scopes.some((s) => !API_SCOPES.includes(s)))
      throw new SwitchboardError("E_BAD_ARGS", `scopes are ${API_SCOPES.join(", ")}`, {
        chatMessage: `Give at least one scope of ${API_SCOPES.join(", ")}.`,
      });
    const now = this.#clock.now();
    const live = await this.#sql.query<{ n: number }>(
      "SELECT count(*) AS n FROM api_tokens WHERE user_key = $1 AND revoked_at IS NULL",
      [identity.userKey],
    );
    if (Number(live.rows[0]?.n ?? 0) >= MAX_TOKENS_PER_USER)
      throw new SwitchboardError("E_CONFLICT", "too many tokens", {
        chatMessage: `You hold ${MAX_TOKENS_PER_USER} tokens already; revoke one first.`,
      });
    const id = newId();
    const key = secret();
    const scopes = [...new Set(options.scopes)];
    const expiresAt = options.ttlMs === undefined ? null : now + options.ttlMs;
    await this.#sql.query(
      `INSERT INTO api_tokens (id, secret_hash, name, scopes, user_key, display_name, created_at, expires_at)
       VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8)`,
      [id, sha256(key), options.name, JSON.stringify(scopes), identity.userKey, identity.displayName, now, expiresAt],
    );
    return {
      token: `sbt_${id}_${key}`,
      info: {
        id,
        kind: "token",
        userKey: identity.userKey,
        displayName: identity.displayName,
        name: options.name,
        scopes,
        createdAt: now,
        expiresAt,
        lastUsedAt: null,
        revokedAt: null,
      },
    };
  }

  /** The principal behind a bearer token; undefined when unknown, expired or revoked. */
  async token(token: string): Promise<Principal | undefined> {
    const match = /^sbt_([A-Za-z0-9_-]{12})_([A-Za-z0-9_-]{43})$/.exec(token);
    if (match === null) return undefined;
    const [, id, key] = match as unknown as [string, string, string];
    const now = this.#clock.now();
    const { rows } = await this.#sql.query<{
      id: string;
      secret_hash: string;
      scopes: string;
      user_key: string;
      display_name: string;
      last_used_at: number | null;
    }>(
      `SELECT id, secret_hash, scopes::text AS scopes, user_key, display_name, last_used_at FROM api_tokens
       WHERE id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)`,
      [id, now],
    );
    const row = rows[0];
    if (row === undefined || !sameHash(row.secret_hash, sha256(key))) return undefined;
    if (row.last_used_at === null || now - Number(row.last_used_at) > TOUCH_EVERY_MS)
      await this.#sql.query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2", [now, id]);
    const scopes = (JSON.parse(row.scopes) as string[]).filter((s): s is ApiScope =>
      API_SCOPES.includes(s as ApiScope),
    );
    return principalOf(row, "api", scopes);
  }

  /** Sessions and tokens, newest first: one person's, or everyone's when `userKey` is undefined. */
  async list(userKey: string | undefined): Promise<CredentialInfo[]> {
    const sessions = await this.#sql.query<Record<string, unknown>>(
      `SELECT id, user_key, display_name, created_at, expires_at, last_used_at, revoked_at FROM console_sessions
       WHERE ($1::text IS NULL OR user_key = $1::text) ORDER BY created_at DESC LIMIT 500`,
      [userKey ?? null],
    );
    const tokens = await this.#sql.query<Record<string, unknown>>(
      `SELECT id, name, scopes::text AS scopes, user_key, display_name, created_at, expires_at, last_used_at, revoked_at
       FROM api_tokens WHERE ($1::text IS NULL OR user_key = $1::text) ORDER BY created_at DESC LIMIT 500`,
      [userKey ?? null],
    );
    const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
    const info = (r: Record<string, unknown>, kind: CredentialInfo["kind"]): CredentialInfo => ({
      id: String(r.id),
      kind,
      userKey: String(r.user_key),
      displayName: String(r.display_name),
      name: kind === "token" ? String(r.name) : null,
      scopes: kind === "token" ? (JSON.parse(String(r.scopes)) as ApiScope[]) : [...API_SCOPES],
      createdAt: Number(r.created_at),
      expiresAt: num(r.expires_at),
      lastUsedAt: num(r.last_used_at),
      revokedAt: num(r.revoked_at),
    });
    return [...sessions.rows.map((r) => info(r, "session")), ...tokens.rows.map((r) => info(r, "token"))].sort(
      (a, b) => b.createdAt - a.createdAt,
    );
  }

  /** Revoke a session or token by id (only `userKey`'s when given). True when something was revoked. */
  async revoke(id: string, userKey?: string): Promise<boolean> {
    const now = this.#clock.now();
    let revoked = 0;
    for (const table of ["console_sessions", "api_tokens"]) {
      const { rows } = await this.#sql.query(
        `UPDATE ${table} SET revoked_at = $1
         WHERE id = $2 AND revoked_at IS NULL AND ($3::text IS NULL OR user_key = $3::text) RETURNING id`,
        [now, id, userKey ?? null],
      );
      revoked += rows.length;
    }
    return revoked > 0;
  }
}
