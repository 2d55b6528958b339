/**
 * Ephemeral shared state (dedupe ids, caches, locks) on keyv: in memory by default, Redis through `@keyv/redis`
 * when a Redis URL is configured so several bot processes share it. Nothing here must survive a restart.
 */
import { createRequire } from "node:module";
import type KeyvRedis from "@keyv/redis";
import Keyv from "keyv";
import { SwitchboardError } from "./errors.ts";

type KeyvRedisClass = typeof KeyvRedis;

/**
 * `@keyv/redis`, loaded on first use. Loading it has a cost for the whole process even when Redis is not used:
 * its client subclasses `String`, which turns off one of V8's string fast paths (string building in the
 * per-message path ran 2.5 times slower with it loaded). So the embedded default never loads it.
 */
let keyvRedisClass: KeyvRedisClass | undefined;
function loadKeyvRedis(): KeyvRedisClass {
  keyvRedisClass ??= (createRequire(import.meta.url)("@keyv/redis") as { default: KeyvRedisClass }).default;
  return keyvRedisClass;
}

/** Options for `createEphemeral`. */
export interface EphemeralOptions {
  /** `redis://host:port`; without it, state lives in this process's memory. */
  redisUrl?: string | undefined;
  /** Key prefix separating Switchboard (or one deployment) from other users of the same Redis. */
  namespace?: string | undefined;
  /** How long to wait for Redis to answer a connection, in ms. */
  connectTimeoutMs?: number | undefined;
}

/** The default namespace. */
export const EPHEMERAL_NAMESPACE = "switchboard";

/**
 * A keyv instance for shared ephemeral state. On Redis, failures throw (a lock or dedupe check that silently
 * answered "nothing there" would be worse than an error).
 *
 * ```ts
 * const kv = createEphemeral({ redisUrl: process.env.REDIS_URL });
 * if (await rememberOnce(kv, `delivery:${inbound.deliveryId}`, 600_000)) handle(inbound);
 * ```
 */
export function createEphemeral(options: EphemeralOptions = {}): Keyv {
  const namespace = options.namespace ?? EPHEMERAL_NAMESPACE;
  if (options.redisUrl === undefined || options.redisUrl === "") return new Keyv({ namespace });
  const RedisStore = loadKeyvRedis();
  const store = new RedisStore(options.redisUrl, {
    namespace,
    throwOnConnectError: true,
    throwOnErrors: true,
    connectionTimeout: options.connectTimeoutMs ?? 5_000,
  });
  return new Keyv({ store, namespace, useKeyPrefix: false, throwOnErrors: true });
}

const SWEEP_EVERY_INSERTS = 256;
const MIN_FULL_SWEEP_SIZE = 4_096;

/**
 * Seen-keys with expiry for one in-memory keyv. Insertion order is expiry order when TTLs are equal (the usual
 * case), so sweeping from the head removes exactly the expired marks; a full pass runs when the map doubles, for
 * mixed TTLs.
 */
class OnceMarks {
  /**
   * Expiry times in ms after `baseMs`, not epoch ms: those fit V8's small integers (for about 12 days after
   * creation), so a mark costs no boxed number; later ones are plain numbers and just as correct.
   */
  private readonly expiresAtMs = new Map<string, number>();
  private readonly baseMs: number;
  private insertsUntilSweep = SWEEP_EVERY_INSERTS;
  private fullSweepAtSize = MIN_FULL_SWEEP_SIZE;

  constructor(nowMs: number) {
    this.baseMs = nowMs;
  }

  get size(): number {
    return this.expiresAtMs.size;
  }

  remember(key: string, ttlMs: number, epochMs: number): boolean {
    const nowMs = epochMs - this.baseMs;
    const expiresAt = this.expiresAtMs.get(key);
    if (expiresAt !== undefined) {
      if (expiresAt > nowMs) return false;
      // Re-insert so the map's order stays the expiry order.
      this.expiresAtMs.delete(key);
    }
    this.expiresAtMs.set(key, Math.ceil(nowMs + ttlMs));
    if (--this.insertsUntilSweep <= 0) this.sweep(nowMs);
    return true;
  }

  /** `nowMs` is relative to `baseMs`. */
  private sweep(nowMs: number): void {
    this.insertsUntilSweep = SWEEP_EVERY_INSERTS;
    const isFull = this.expiresAtMs.size >= this.fullSweepAtSize;
    for (const [key, expiresAt] of this.expiresAtMs) {
      if (expiresAt > nowMs) {
        if (!isFull) break;
        continue;
      }
      this.expiresAtMs.delete(key);
    }
    if (isFull) this.fullSweepAtSize = Math.max(MIN_FULL_SWEEP_SIZE, this.expiresAtMs.size * 2);
  }
}

const marksByKeyv = new WeakMap<Keyv, OnceMarks>();
const TRUE = Promise.resolve(true);
const FALSE = Promise.resolve(false);

function checkArgs(key: unknown, ttlMs: unknown): void {
  if (typeof key !== "string" || key === "")
    throw new SwitchboardError("E_BAD_ARGS", "rememberOnce needs a non-empty string key");
  if (typeof ttlMs !== "number" || !(ttlMs >= 1) || !Number.isFinite(ttlMs)) {
    throw new SwitchboardError("E_BAD_ARGS", `rememberOnce needs ttlMs ≥ 1, got ${String(ttlMs)}`);
  }
}

/**
 * True the first time `key` is seen within `ttlMs`, false while it is remembered. Atomic across processes on
 * Redis (`SET NX PX`); in memory it is a synchronous map lookup (no keyv round trip) for the per-message hot
 * path — those marks belong to this keyv instance and are not visible through `kv.get`.
 */
export function rememberOnce(kv: Keyv, key: string, ttlMs: number): Promise<boolean> {
  checkArgs(key, ttlMs);
  const store: unknown = kv.store;
  if (store instanceof Map) {
    const nowMs = Date.now();
    let marks = marksByKeyv.get(kv);
    if (marks === undefined) {
      marks = new OnceMarks(nowMs);
      marksByKeyv.set(kv, marks);
    }
    return marks.remember(key, ttlMs, nowMs) ? TRUE : FALSE;
  }
  if (keyvRedisClass !== undefined && store instanceof keyvRedisClass) return rememberOnceRedis(store, key, ttlMs);
  return rememberOnceGeneric(kv, key, ttlMs);
}

/**
 * `rememberOnce` for one key prefix and one TTL, made once and called per key: what the router's dedupe runs
 * for every message. In memory it answers synchronously and keeps its marks by the key without the prefix (no
 * string to build per call), shared by every checker with that prefix on the same keyv; on Redis it is
 * `rememberOnce` with `prefix + key`.
 *
 * ```ts
 * const firstDelivery = onceChecker(kv, "dedupe:", 600_000);
 * if (await firstDelivery(inbound.deliveryId)) handle(inbound);
 * ```
 */
export function onceChecker(kv: Keyv, prefix: string, ttlMs: number): (key: string) => boolean | Promise<boolean> {
  checkArgs(prefix, ttlMs);
  if (!(kv.store instanceof Map)) return (key) => rememberOnce(kv, prefix + key, ttlMs);
  let byPrefix = scopedMarks.get(kv);
  if (byPrefix === undefined) scopedMarks.set(kv, (byPrefix = new Map()));
  let marks = byPrefix.get(prefix);
  if (marks === undefined) byPrefix.set(prefix, (marks = new OnceMarks(Date.now())));
  const scoped = marks;
  return (key) => {
    if (typeof key !== "string" || key === "")
      throw new SwitchboardError("E_BAD_ARGS", "rememberOnce needs a non-empty string key");
    return scoped.remember(key, ttlMs, Date.now());
  };
}

/** The marks of `onceChecker`s on an in-memory keyv, by prefix: checkers with one prefix share them. */
const scopedMarks = new WeakMap<Keyv, Map<string, OnceMarks>>();

async function rememberOnceRedis(store: KeyvRedis<unknown>, key: string, ttlMs: number): Promise<boolean> {
  try {
    const client = await store.getClient();
    const answer = await client.set(store.createKeyPrefix(`once:${key}`, store.namespace), "1", {
      NX: true,
      PX: Math.ceil(ttlMs),
    });
    return answer === "OK";
  } catch (error) {
    throw new SwitchboardError(
      "E_STORAGE",
      `rememberOnce on Redis failed: ${error instanceof Error ? error.message : String(error)}`,
      {
        cause: error,
      },
    );
  }
}

// Other keyv stores have no atomic set-if-absent through keyv's API: get-then-set, correct within one process
// only when callers do not race on the same key.
async function rememberOnceGeneric(kv: Keyv, key: string, ttlMs: number): Promise<boolean> {
  const onceKey = `once:${key}`;
  if ((await kv.get(onceKey)) !== undefined) return false;
  await kv.set(onceKey, 1, Math.ceil(ttlMs));
  return true;
}

/** How many dedupe marks an in-memory keyv holds right now (expired ones not yet swept included); for tests and metrics. */
export function onceMarkCount(kv: Keyv): number {
  return (
    (marksByKeyv.get(kv)?.size ?? 0) +
    [...(scopedMarks.get(kv)?.values() ?? [])].reduce((n, marks) => n + marks.size, 0)
  );
}

const windowCounts = new WeakMap<object, Map<string, { count: number; expiresAtMs: number }>>();
/** Most in-memory window counters kept; past it the expired ones are swept, then the oldest dropped. */
const MAX_WINDOW_COUNTERS = 100_000;

/**
 * Add one to the counter `key` and return its new value; the counter starts at 1 and ends `ttlMs` after it
 * started (a fixed window). Atomic on Redis (`INCR`, then `PEXPIRE … NX`), so several bot processes share one
 * count; in memory it is a bounded map of its own.
 *
 * ```ts
 * const n = await countInWindow(kv, `rpm:${keyId}:${Math.floor(now / 60_000)}`, 60_000);
 * if (n > limit) refuse();
 * ```
 */
export async function countInWindow(kv: Keyv, key: string, ttlMs: number): Promise<number> {
  checkArgs(key, ttlMs);
  const store: unknown = kv.store;
  if (keyvRedisClass !== undefined && store instanceof keyvRedisClass) {
    try {
      const client = await store.getClient();
      const name = store.createKeyPrefix(`count:${key}`, store.namespace);
      const count = Number(await client.incr(name));
      if (count === 1) await client.pExpire(name, Math.ceil(ttlMs));
      return count;
    } catch (error) {
      throw new SwitchboardError(
        "E_STORAGE",
        `countInWindow on Redis failed: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
  }
  let counts = windowCounts.get(kv);
  if (counts === undefined) {
    counts = new Map();
    windowCounts.set(kv, counts);
  }
  const nowMs = Date.now();
  const current = counts.get(key);
  if (current !== undefined && current.expiresAtMs > nowMs) return ++current.count;
  if (counts.size >= MAX_WINDOW_COUNTERS) {
    for (const [k, v] of counts) if (v.expiresAtMs <= nowMs) counts.delete(k);
    if (counts.size >= MAX_WINDOW_COUNTERS) counts.delete(counts.keys().next().value as string);
  }
  counts.set(key, { count: 1, expiresAtMs: nowMs + ttlMs });
  return 1;
}
