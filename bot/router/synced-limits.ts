/**
 * Inbound rate limits shared by every process through Redis, with the hot path kept in memory: each process
 * decides every message with its own token buckets (no round trip per message), counts the tokens it spent, and
 * sends those counts to Redis in one Lua call: every `syncMs` (100 ms) for keys whose local balance is below half
 * their burst, every ten of those (1 s) for every key that spent anything. Redis keeps one bucket per key for all
 * processes (refilled on Redis's clock), charges the counts, and answers each key's shared balance, which then
 * replaces the local one — a negative balance is a debt the sender pays off before anything more is let through.
 * A sender or chat this process holds no bucket for (new, or idle long enough to be dropped) waits for its shared
 * balance first: one round trip, batched with the others of its event-loop turn.
 *
 * Tolerance, stated: over any stretch longer than a second, a sender gets the configured rate across all
 * processes. Before the next sync, each of N processes can let through up to the balance it last heard (half of
 * it before the fast sync starts), so the worst case is N × `burst` when a sender reaches every process within
 * one second; that excess is then owed and refused until refilled. With one process it is exact. When Redis fails, each process goes on with its own buckets
 * (logged), so intake never waits for a Redis that does not answer.
 *
 * Measured (`test/bench/router-scaled.ts`): an exact per-message Lua bucket (two buckets and the dedupe mark in
 * one script, batched per event-loop turn) held the router to about 50,000 msg/s on this machine's Redis; the
 * dedupe mark alone ran at about 150,000.
 */
import type { Logger } from "pino";
import type { Clock } from "../core.ts";
import { localInboundLimits, type BucketShape, type InboundLimits } from "./inbound-limits.ts";
import type { RateVerdict, TokenBuckets } from "./rate-limit.ts";
import type { RedisLink } from "./redis-link.ts";

/**
 * KEYS: buckets (the first ARGV[1] are user buckets, the rest chat buckets). ARGV: count of user keys, user burst,
 * user tokens per ms, chat burst, chat tokens per ms, then one spent count per key. A bucket is "tokens:atMs".
 * Answers each key's balance after charging, as a string.
 */
const SYNC_SCRIPT = bucketScript({ charge: true });

/** KEYS and ARGV as for the sync script, without counts: answers the balances, charging nothing. */
const FETCH_SCRIPT = bucketScript({ charge: false });

/** The two scripts share the refill; only the sync charges the spent counts and stores the balance. */
function bucketScript({ charge }: { charge: boolean }): string {
  return `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local users = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS do
  local burst, perMs
  if i <= users then burst, perMs = tonumber(ARGV[2]), tonumber(ARGV[3]) else burst, perMs = tonumber(ARGV[4]), tonumber(ARGV[5]) end
  local tokens = burst
  local v = redis.call('GET', KEYS[i])
  if v then
    local n, at = string.match(v, '^([^:]+):(.+)$')
    tokens = math.min(burst, tonumber(n) + math.max(0, now - tonumber(at)) * perMs)
  end${
    charge
      ? `
  tokens = tokens - tonumber(ARGV[5 + i])
  redis.call('SET', KEYS[i], tostring(tokens) .. ':' .. now, 'PX', math.ceil((burst - tokens) / perMs) + 1000)`
      : ""
  }
  out[i] = tostring(tokens)
end
return out
`;
}

interface SyncCommand {
  switchboardSyncBuckets(...keysAndArgs: Array<string | number>): Promise<string[]>;
  switchboardFetchBuckets(...keysAndArgs: Array<string | number>): Promise<string[]>;
}

interface Fetch {
  users: string[];
  chats: string[];
  waiting: Array<() => void>;
}

/** Options for `syncedInboundLimits`. */
export interface SyncedLimitsOptions {
  link: RedisLink;
  perUser: BucketShape;
  perChat: BucketShape;
  clock: Clock;
  maxKeys: number;
  log: Logger;
  /** How often spent tokens are sent to Redis, in ms. Default 100. */
  syncMs?: number;
}

/** Limits shared through Redis with local decisions (see the module doc). */
export function syncedInboundLimits(
  options: SyncedLimitsOptions,
): InboundLimits & { sync(): Promise<void>; stop(): void } {
  const { link, perUser, perChat, clock, log } = options;
  const local = localInboundLimits({ perUser, perChat, clock, maxKeys: options.maxKeys });
  link.command.defineCommand("switchboardSyncBuckets", { lua: SYNC_SCRIPT });
  link.command.defineCommand("switchboardFetchBuckets", { lua: FETCH_SCRIPT });
  const run = link.command as unknown as SyncCommand;
  const userPrefix = `${link.namespace}:rate:user:`;
  const chatPrefix = `${link.namespace}:rate:chat:`;
  const spentUsers = new Map<string, number>();
  const spentChats = new Map<string, number>();
  let syncing: Promise<void> | undefined;
  let isFailing = false;

  /** Take from `spent` the keys to send: all, or only those whose local balance is below half the burst. */
  const pick = (
    { spent, buckets, burst }: { spent: Map<string, number>; buckets: TokenBuckets; burst: number },
    isAll: boolean,
  ) => {
    if (isAll) {
      const all = new Map(spent);
      spent.clear();
      return all;
    }
    const atRisk = new Map<string, number>();
    for (const [key, count] of spent) {
      if (buckets.tokensOf(key) < burst / 2) {
        atRisk.set(key, count);
        spent.delete(key);
      }
    }
    return atRisk;
  };
  let ticks = 0;
  const sync = (isAll = true): Promise<void> => {
    if (syncing !== undefined) return syncing;
    if (spentUsers.size === 0 && spentChats.size === 0) return Promise.resolve();
    const users = pick({ spent: spentUsers, buckets: local.users, burst: perUser.burst }, isAll);
    const chats = pick({ spent: spentChats, buckets: local.chats, burst: perChat.burst }, isAll);
    if (users.size === 0 && chats.size === 0) return Promise.resolve();
    const keys = [...[...users.keys()].map((k) => userPrefix + k), ...[...chats.keys()].map((k) => chatPrefix + k)];
    const args = [users.size, ...shapeArgs, ...users.values(), ...chats.values()];
    syncing = run
      .switchboardSyncBuckets(keys.length, ...keys, ...args)
      .then(
        (balances) => {
          isFailing = false;
          const nowMs = clock.now();
          let i = 0;
          // Tokens spent here since the counts were sent are still owed on top of the shared balance.
          for (const key of users.keys())
            local.users.reconcile(key, Number(balances[i++]) - (spentUsers.get(key) ?? 0), nowMs);
          for (const key of chats.keys())
            local.chats.reconcile(key, Number(balances[i++]) - (spentChats.get(key) ?? 0), nowMs);
        },
        (error: unknown) => {
          if (!isFailing)
            log.warn({ err: error }, "inbound rate limits: Redis sync failed; limits are per process until it answers");
          isFailing = true;
        },
      )
      .finally(() => {
        syncing = undefined;
      });
    return syncing;
  };
  const shapeArgs = [perUser.burst, perUser.perMinute / 60_000, perChat.burst, perChat.perMinute / 60_000];
  let fetching: Fetch | undefined;
  /** Load the shared balances of keys this process has no bucket for; resolves when they are in place. */
  const fetchBalances = (userKey: string | undefined, chatKey: string | undefined): Promise<void> =>
    new Promise<void>((resolve) => {
      let batch = fetching;
      if (batch === undefined) {
        const fresh: Fetch = { users: [], chats: [], waiting: [] };
        fetching = batch = fresh;
        setImmediate(() => {
          fetching = undefined;
          const keys = [...fresh.users.map((k) => userPrefix + k), ...fresh.chats.map((k) => chatPrefix + k)];
          run.switchboardFetchBuckets(keys.length, ...keys, fresh.users.length, ...shapeArgs).then(
            (balances) => {
              isFailing = false;
              const nowMs = clock.now();
              let i = 0;
              for (const key of fresh.users)
                local.users.reconcile(key, Number(balances[i++]) - (spentUsers.get(key) ?? 0), nowMs);
              for (const key of fresh.chats)
                local.chats.reconcile(key, Number(balances[i++]) - (spentChats.get(key) ?? 0), nowMs);
              for (const go of fresh.waiting) go();
            },
            (error: unknown) => {
              if (!isFailing)
                log.warn(
                  { err: error },
                  "inbound rate limits: Redis fetch failed; limits are per process until it answers",
                );
              isFailing = true;
              for (const go of fresh.waiting) go();
            },
          );
        });
      }
      if (userKey !== undefined) batch.users.push(userKey);
      if (chatKey !== undefined) batch.chats.push(chatKey);
      batch.waiting.push(resolve);
    });
  const takeLocal = (userKey: string, chatKey: string, nowMs: number): RateVerdict => {
    const byUser = local.users.take(userKey, nowMs);
    if (byUser !== "ok") return byUser;
    spentUsers.set(userKey, (spentUsers.get(userKey) ?? 0) + 1);
    const byChat = local.chats.take(chatKey, nowMs);
    if (byChat === "ok") spentChats.set(chatKey, (spentChats.get(chatKey) ?? 0) + 1);
    // Bounded: a flood of distinct senders is sent at once rather than held.
    if (spentUsers.size + spentChats.size > options.maxKeys) void sync();
    return byChat;
  };
  // Keys running low every tick; every key that spent anything every tenth tick.
  const timer = setInterval(() => void sync(++ticks % 10 === 0), options.syncMs ?? 100);
  timer.unref();

  return {
    take(userKey, chatKey, nowMs) {
      const hasUser = local.users.has(userKey);
      const hasChat = local.chats.has(chatKey);
      if (hasUser && hasChat) return takeLocal(userKey, chatKey, nowMs);
      return fetchBalances(hasUser ? undefined : userKey, hasChat ? undefined : chatKey).then(() =>
        takeLocal(userKey, chatKey, clock.now()),
      );
    },
    sync: () => sync(true),
    stop() {
      clearInterval(timer);
    },
  };
}
