/**
 * Personal keys for the gateway: `sbk_<id>_<secret>`, shown once, bound to one person (`platform:userId`),
 * optionally limited to some models and given an expiry; listed and revoked by id; every creation and
 * revocation audited. Only the SHA-256 of a key is stored: the secret is 32 random bytes, so a fast hash is
 * enough (nothing to brute-force) and a leaked database holds no usable key.
 *
 * A verified key is remembered for `VERIFIED_TTL_MS` (bounded by count), so a request costs no store round trip;
 * a revocation takes effect at once in the process that made it and within that time in the others.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Clock, Migration, SqlClient } from "../bot/index.ts";
import { SwitchboardError } from "../bot/index.ts";

/** Tables of the gateway. */
export const GATEWAY_MIGRATIONS: readonly Migration[] = [
  {
    id: "gateway-001-keys",
    sql: `
CREATE TABLE IF NOT EXISTS gateway_keys (
  id TEXT PRIMARY KEY,
  hash TEXT NOT NULL UNIQUE,
  user_key TEXT NOT NULL,
  name TEXT,
  models TEXT,
  cache TEXT NOT NULL DEFAULT 'default',
  created_at BIGINT NOT NULL,
  expires_at BIGINT,
  revoked_at BIGINT,
  last_used_at BIGINT
);
CREATE INDEX IF NOT EXISTS gateway_keys_user ON gateway_keys (user_key);
`,
  },
  {
    id: "gateway-002-cache-hits",
    sql: `
CREATE TABLE IF NOT EXISTS gateway_cache_hits (
  day TEXT NOT NULL,
  model TEXT NOT NULL,
  user_key TEXT NOT NULL,
  key_id TEXT NOT NULL,
  hits INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (day, model, user_key, key_id)
);
`,
  },
];

/** Every key starts with this, so it is recognised (and found by secret scanners). */
export const KEY_PREFIX = "sbk_";
/** The shape of a key; anything else is refused without a store look-up. */
const KEY_SHAPE = /^sbk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/;
/** How long a verified key is trusted without asking the store again. */
export const VERIFIED_TTL_MS = 5_000;
const MAX_VERIFIED = 1_000;
/** `last_used_at` is written at most this often per key. */
const TOUCH_EVERY_MS = 60_000;

/** Whether a key uses the answer cache: as configured, always, or never. */
export type KeyCacheMode = "default" | "on" | "off";

/** A key as listed (never its secret). */
export interface KeyInfo {
  id: string;
  /** What the key starts with, to recognise it: `sbk_<id>_…`. */
  shown: string;
  userKey: string;
  name: string | null;
  /** Models and aliases it may use; null: every one. */
  models: string[] | null;
  cache: KeyCacheMode;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

/** Who did something to a key, for the audit trail. */
export interface KeyActor {
  actor: string;
  /** `chat`, `cli`, `api`. */
  via: string;
}

/** What `create` needs. */
export interface NewKey {
  userKey: string;
  name?: string | undefined;
  models?: readonly string[] | undefined;
  expiresAt?: number | undefined;
  cache?: KeyCacheMode | undefined;
}

interface Row {
  id: string;
  user_key: string;
  name: string | null;
  models: string | null;
  cache: string;
  created_at: number | string;
  expires_at: number | string | null;
  revoked_at: number | string | null;
  last_used_at: number | string | null;
}

const sha256 = (s: string): string => createHash("sha256").update(s).digest("hex");
const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

/** Writes one audit entry (the core's `audit`). */
export type AuditWriter = (entry: {
  actor: string;
  chatKey: string;
  action: string;
  target: string;
  via: string;
  before?: unknown;
  after?: unknown;
}) => Promise<void>;

/** The key store. */
export class KeyService {
  readonly #sql: SqlClient;
  readonly #clock: Clock;
  readonly #audit: AuditWriter;
  readonly #maxPerUser: number;
  readonly #verified = new Map<string, { info: KeyInfo; untilMs: number }>();
  readonly #touched = new Map<string, number>();

  constructor(o: {
    sql: SqlClient;
    clock: Clock;
    audit: AuditWriter;
    maxPerUser: number;
  }) {
    this.#sql = o.sql;
    this.#clock = o.clock;
    this.#audit = o.audit;
    this.#maxPerUser = o.maxPerUser;
  }

  /** Create a key; the secret is in the answer only. Refused past `maxKeysPerUser` active keys. */
  async create(k: NewKey, by: KeyActor): Promise<{ key: string; info: KeyInfo }> {
    if (!/^[a-z0-9_-]+:.+$/.test(k.userKey))
      throw new SwitchboardError("E_BAD_ARGS", `not a person: ${k.userKey}`, {
        chatMessage: "A person is named platform:userId, e.g. telegram:123456.",
      });
    const now = this.#clock.now();
    if (k.expiresAt !== undefined && k.expiresAt <= now)
      throw new SwitchboardError("E_BAD_ARGS", "expiry in the past", { chatMessage: "The expiry is in the past." });
    const active = (await this.list(k.userKey)).filter((i) => isActive(i, now));
    if (active.length >= this.#maxPerUser)
      throw new SwitchboardError("E_CONFLICT", `${k.userKey} holds ${active.length} keys`, {
        chatMessage: `You hold ${active.length} active keys, the most allowed; revoke one first.`,
      });
    const id = randomBytes(6).toString("hex");
    const key = `${KEY_PREFIX}${id}_${randomBytes(32).toString("base64url")}`;
    const models = k.models === undefined || k.models.length === 0 ? null : [...k.models];
    await this.#sql.query(
      `INSERT INTO gateway_keys (id, hash, user_key, name, models, cache, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        id,
        sha256(key),
        k.userKey,
        k.name ?? null,
        models === null ? null : JSON.stringify(models),
        k.cache ?? "default",
        now,
        k.expiresAt ?? null,
      ],
    );
    await this.#audit({
      actor: by.actor,
      chatKey: "*",
      action: "gateway.key.create",
      target: id,
      via: by.via,
      after: { userKey: k.userKey, name: k.name ?? null, models, expiresAt: k.expiresAt ?? null },
    });
    const info = (await this.get(id))!;
    return { key, info };
  }

  /** One key by id. */
  async get(id: string): Promise<KeyInfo | undefined> {
    const { rows } = await this.#sql.query<Row>(`SELECT * FROM gateway_keys WHERE id = $1`, [id]);
    return rows[0] === undefined ? undefined : toInfo(rows[0]);
  }

  /** A person's keys, or everyone's, newest first. */
  async list(userKey?: string): Promise<KeyInfo[]> {
    const { rows } =
      userKey === undefined
        ? await this.#sql.query<Row>(`SELECT * FROM gateway_keys ORDER BY created_at DESC, id`)
        : await this.#sql.query<Row>(`SELECT * FROM gateway_keys WHERE user_key = $1 ORDER BY created_at DESC, id`, [
            userKey,
          ]);
    return rows.map(toInfo);
  }

  /**
   * Revoke a key. With `onlyOf`, only that person's key (a person revoking from chat). Answers false when there
   * is no such (active) key.
   */
  async revoke(id: string, by: KeyActor & { onlyOf?: string }): Promise<boolean> {
    const { rows } =
      by.onlyOf === undefined
        ? await this.#sql.query<{ id: string }>(
            `UPDATE gateway_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING id`,
            [id, this.#clock.now()],
          )
        : await this.#sql.query<{ id: string }>(
            `UPDATE gateway_keys SET revoked_at = $2 WHERE id = $1 AND user_key = $3 AND revoked_at IS NULL RETURNING id`,
            [id, this.#clock.now(), by.onlyOf],
          );
    if (rows.length === 0) return false;
    for (const [hash, v] of this.#verified) if (v.info.id === id) this.#verified.delete(hash);
    await this.#audit({ actor: by.actor, chatKey: "*", action: "gateway.key.revoke", target: id, via: by.via });
    return true;
  }

  /** The key's record when `key` is a valid, active key; undefined otherwise (unknown, revoked, expired). */
  async verify(key: string): Promise<KeyInfo | undefined> {
    if (!KEY_SHAPE.test(key)) return undefined;
    const now = this.#clock.now();
    const hash = sha256(key);
    const known = this.#verified.get(hash);
    if (known !== undefined && known.untilMs > now) return isActive(known.info, now) ? known.info : undefined;
    const { rows } = await this.#sql.query<Row>(`SELECT * FROM gateway_keys WHERE hash = $1`, [hash]);
    const info = rows[0] === undefined ? undefined : toInfo(rows[0]);
    if (info === undefined || !isActive(info, now)) return undefined;
    if (this.#verified.size >= MAX_VERIFIED) this.#verified.delete(this.#verified.keys().next().value as string);
    this.#verified.set(hash, { info, untilMs: now + VERIFIED_TTL_MS });
    return info;
  }

  /** Note that a key was used (written at most once a minute per key). */
  async touch(id: string): Promise<void> {
    const now = this.#clock.now();
    if ((this.#touched.get(id) ?? 0) + TOUCH_EVERY_MS > now) return;
    if (this.#touched.size >= MAX_VERIFIED) this.#touched.delete(this.#touched.keys().next().value as string);
    this.#touched.set(id, now);
    await this.#sql.query(`UPDATE gateway_keys SET last_used_at = $2 WHERE id = $1`, [id, now]);
  }
}

function isActive(i: KeyInfo, now: number): boolean {
  return i.revokedAt === null && (i.expiresAt === null || i.expiresAt > now);
}

function toInfo(r: Row): KeyInfo {
  return {
    id: r.id,
    shown: `${KEY_PREFIX}${r.id}_…`,
    userKey: r.user_key,
    name: r.name,
    models: r.models === null ? null : (JSON.parse(r.models) as string[]),
    cache: r.cache === "on" || r.cache === "off" ? r.cache : "default",
    createdAt: Number(r.created_at),
    expiresAt: num(r.expires_at),
    revokedAt: num(r.revoked_at),
    lastUsedAt: num(r.last_used_at),
  };
}
