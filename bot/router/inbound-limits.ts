/**
 * Inbound rate limits per user and per chat, as the router asks for them: one verdict per message. In one
 * process they are two sets of token buckets in memory (`TokenBuckets`); scaled out with Redis they are the same
 * buckets synced to shared ones (`synced-limits.ts`), which answer asynchronously only for a key new to the process.
 */
import type { Clock } from "../core.ts";
import { type RateVerdict, TokenBuckets } from "./rate-limit.ts";

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
}): {
  take(userKey: string, chatKey: string, nowMs: number): RateVerdict;
  readonly users: TokenBuckets;
  readonly chats: TokenBuckets;
} {
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
