/**
 * Inbound rate limits per user and per chat, as the router asks for them: one verdict per message. In one
 * process they are two sets of token buckets in memory (`TokenBuckets`); scaled out with Redis they are shared
 * by every process, so a sender cannot multiply their budget by the number of processes.
 *
 * On Redis both buckets are taken in one Lua script (atomic, on Redis's clock, so the processes' clocks do not
 * matter): one round trip per message, and the router's Redis connection pipelines the calls of all messages of
 * one event-loop turn into one write. The answer is exact, not approximate: no process holds tokens of its own.
 * Bucket keys expire once the bucket would be full again, so Redis holds only active senders.
 */
import type { Clock } from "../core.ts";
import { type RateVerdict, TokenBuckets } from "./rate-limit.ts";
import type { RedisLink } from "./redis-link.ts";

/** The shape of one bucket. */
export interface BucketShape {
  burst: number;
  perMinute: number;
}

/** The verdict for a message from `userKey` in `chatKey`: the user's bucket first, then the chat's. */
export interface InboundLimits {
  take(userKey: string, chatKey: string, nowMs: number): RateVerdict | Promise<RateVerdict>;
}

/** Per-process buckets (the default): synchronous, no allocation per message. */
export function localInboundLimits(options: {
  perUser: BucketShape;
  perChat: BucketShape;
  clock: Clock;
  maxKeys: number;
}): InboundLimits & { readonly users: TokenBuckets; readonly chats: TokenBuckets } {
  const users = new TokenBuckets({ ...options.perUser, clock: options.clock, maxKeys: options.maxKeys });
  const chats = new TokenBuckets({ ...options.perChat, clock: options.clock, maxKeys: options.maxKeys });
  return {
    users,
    chats,
    take(userKey, chatKey, nowMs) {
      const byUser = users.take(userKey, nowMs);
      return byUser === "ok" ? chats.take(chatKey, nowMs) : byUser;
    },
  };
}

/**
 * KEYS: user bucket, chat bucket. ARGV: user burst, user tokens per ms, chat burst, chat tokens per ms.
 * Answers 0 (ok), 1 (limited, tell them), 2 (limited, told already). A bucket is a hash: tokens, updated at,
 * warned.
 */
const TAKE_SCRIPT = `
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
    tokens = math.min(burst, tokens + (now - tonumber(b[2])) * perMs)
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
local v = take(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))
if v ~= 0 then return v end
return take(KEYS[2], tonumber(ARGV[3]), tonumber(ARGV[4]))
`;

const VERDICTS: readonly RateVerdict[] = ["ok", "limited-warn", "limited-silent"];

interface TakeCommand {
  switchboardTakeInbound(userKey: string, chatKey: string, ...args: Array<string | number>): Promise<number>;
}

/** Limits shared by every process through Redis (see the module doc). */
export function redisInboundLimits(options: {
  link: RedisLink;
  perUser: BucketShape;
  perChat: BucketShape;
}): InboundLimits {
  const { link, perUser, perChat } = options;
  const client = link.command;
  // `defineCommand` sends EVALSHA, and the script itself only when Redis does not know it yet.
  client.defineCommand("switchboardTakeInbound", { numberOfKeys: 2, lua: TAKE_SCRIPT });
  const run = client as unknown as TakeCommand;
  const userPrefix = `${link.namespace}:rate:user:`;
  const chatPrefix = `${link.namespace}:rate:chat:`;
  const args = [perUser.burst, perUser.perMinute / 60_000, perChat.burst, perChat.perMinute / 60_000] as const;
  const toVerdict = (code: number): RateVerdict => VERDICTS[code] ?? "ok";
  return {
    take(userKey, chatKey) {
      return run.switchboardTakeInbound(userPrefix + userKey, chatPrefix + chatKey, ...args).then(toVerdict);
    },
  };
}
