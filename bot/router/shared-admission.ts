/**
 * Admission shared by every process when the bot is scaled out with Redis: the dedupe mark and both inbound
 * rate limits (user, then chat) of a message decided in one atomic step, so a redelivery is dropped whichever
 * process it reaches and a sender cannot multiply their budget by the number of processes.
 *
 * The messages of one event-loop turn go to Redis together: one Lua script call decides them all (up to 256 a
 * call), so a poller's batch of updates or a burst of webhooks costs one round trip, and Redis runs one script
 * rather than a handful of commands per message. One message alone is still one round trip. The buckets run on
 * Redis's clock (`TIME`), so the processes' clocks do not matter, and the answer is exact: no process holds
 * tokens of its own. Bucket keys expire once they would be full again, dedupe marks after the dedupe TTL, so
 * Redis holds only recent senders and deliveries. All keys of a call must live on one Redis (no Cluster).
 */
import type { RateVerdict } from "./rate-limit.ts";
import type { RedisLink } from "./redis-link.ts";
import type { BucketShape } from "./inbound-limits.ts";

/** What admission decided for one message. */
export type Admission = RateVerdict | "redelivery";

/** The router's shared admission. */
export interface SharedAdmission {
  /**
   * Decide one message: `redelivery` when its delivery id was seen within the dedupe TTL; else, when `isLimited`,
   * its rate-limit verdict; else `ok`.
   */
  admit(deliveryId: string, userKey: string, chatKey: string, isLimited: boolean): Promise<Admission>;
}

/**
 * KEYS: (dedupe mark, user bucket, chat bucket) per message. ARGV: user burst, user tokens per ms, chat burst,
 * chat tokens per ms, dedupe TTL in ms, one character per message ('1': rate-limited, '0': not). Answers one code
 * per message: 0 ok, 1 limited (say so), 2 limited (said already), 3 redelivery. A bucket is a hash: tokens (n),
 * updated at (t), warned (w).
 */
const ADMIT_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function take(key, burst, perMs)
  local b = redis.call('HMGET', key, 'n', 't', 'w')
  local tokens = tonumber(b[1])
  local warned = b[3] == '1'
  if tokens == nil then
    tokens = burst
    warned = false
  else
    tokens = math.min(burst, tokens + math.max(0, now - tonumber(b[2])) * perMs)
  end
  local verdict = 0
  if tokens >= 1 then
    tokens = tokens - 1
    if tokens >= 1 then warned = false end
  elseif warned then
    verdict = 2
  else
    warned = true
    verdict = 1
  end
  redis.call('HSET', key, 'n', tostring(tokens), 't', now, 'w', warned and '1' or '0')
  redis.call('PEXPIRE', key, math.ceil((burst - tokens) / perMs) + 1000)
  return verdict
end
local ub, ur = tonumber(ARGV[1]), tonumber(ARGV[2])
local cb, cr = tonumber(ARGV[3]), tonumber(ARGV[4])
local ttl = ARGV[5]
local flags = ARGV[6]
local out = {}
for i = 1, #KEYS / 3 do
  local k = (i - 1) * 3
  if not redis.call('SET', KEYS[k + 1], '1', 'NX', 'PX', ttl) then
    out[i] = 3
  elseif string.sub(flags, i, i) ~= '1' then
    out[i] = 0
  else
    local v = take(KEYS[k + 2], ub, ur)
    if v == 0 then v = take(KEYS[k + 3], cb, cr) end
    out[i] = v
  end
end
return out
`;

const ADMISSIONS: readonly Admission[] = ["ok", "limited-warn", "limited-silent", "redelivery"];
const MAX_PER_CALL = 256;

interface AdmitCommand {
  switchboardAdmit(...keysAndArgs: Array<string | number>): Promise<number[]>;
}

interface Pending {
  keys: string[];
  flags: string;
  settle: Array<{ resolve: (a: Admission) => void; reject: (e: unknown) => void }>;
}

/** Options for `redisAdmission`. */
export interface RedisAdmissionOptions {
  link: RedisLink;
  perUser: BucketShape;
  perChat: BucketShape;
  dedupeTtlMs: number;
}

/** Shared admission through Redis (see the module doc). */
export function redisAdmission(options: RedisAdmissionOptions): SharedAdmission {
  const { link, perUser, perChat } = options;
  // `defineCommand` sends EVALSHA, and the script itself only when Redis does not know it yet.
  link.command.defineCommand("switchboardAdmit", { lua: ADMIT_SCRIPT });
  const run = link.command as unknown as AdmitCommand;
  const dedupePrefix = `${link.namespace}:dedupe:`;
  const userPrefix = `${link.namespace}:rate:user:`;
  const chatPrefix = `${link.namespace}:rate:chat:`;
  const args = [
    perUser.burst,
    perUser.perMinute / 60_000,
    perChat.burst,
    perChat.perMinute / 60_000,
    Math.ceil(options.dedupeTtlMs),
  ];
  let pending: Pending | undefined;

  const flush = (batch: Pending): void => {
    if (pending === batch) pending = undefined;
    const count = batch.settle.length;
    run.switchboardAdmit(batch.keys.length, ...batch.keys, ...args, batch.flags).then(
      (codes) => {
        for (let i = 0; i < count; i++) batch.settle[i]!.resolve(ADMISSIONS[codes[i]!] ?? "ok");
      },
      (error: unknown) => {
        for (const s of batch.settle) s.reject(error);
      },
    );
  };

  return {
    admit(deliveryId, userKey, chatKey, isLimited) {
      return new Promise<Admission>((resolve, reject) => {
        let batch = pending;
        if (batch === undefined) {
          const fresh: Pending = { keys: [], flags: "", settle: [] };
          pending = batch = fresh;
          // The end of this turn: every message accepted in it goes in one call.
          setImmediate(() => {
            if (pending === fresh) flush(fresh);
          });
        }
        batch.keys.push(dedupePrefix + deliveryId, userPrefix + userKey, chatPrefix + chatKey);
        batch.flags += isLimited ? "1" : "0";
        batch.settle.push({ resolve, reject });
        if (batch.settle.length >= MAX_PER_CALL) flush(batch);
      });
    },
  };
}
