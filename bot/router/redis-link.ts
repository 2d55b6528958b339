/**
 * The router's own Redis connections when the bot is scaled out: one for commands (shared rate limits, policy
 * change notices) with automatic pipelining, so the calls of many messages in one event-loop turn go out as one
 * write, and one for pub/sub (a subscribed connection can do nothing else).
 *
 * ioredis is loaded on first use: the embedded default never loads a Redis client (see `ephemeral.ts` on the
 * process-wide cost of one).
 */
import { createRequire } from "node:module";
import type { Redis as RedisClient } from "ioredis";

type RedisClass = typeof RedisClient;

let redisClass: RedisClass | undefined;
function loadRedis(): RedisClass {
  redisClass ??= (createRequire(import.meta.url)("ioredis") as { Redis: RedisClass }).Redis;
  return redisClass;
}

/** Options for `openRedisLink`. */
export interface RedisLinkOptions {
  url: string;
  /** Key and channel prefix, as for the shared keyv store. */
  namespace: string;
}

/** Two connections to one Redis: `command` (pipelined) and `subscriber`. */
export interface RedisLink {
  readonly namespace: string;
  readonly command: RedisClient;
  readonly subscriber: RedisClient;
  close(): Promise<void>;
}

/** Open the router's Redis connections; resolves once both are ready. */
export async function openRedisLink(options: RedisLinkOptions): Promise<RedisLink> {
  const Redis = loadRedis();
  const connect = (): RedisClient =>
    new Redis(options.url, {
      enableAutoPipelining: true,
      maxRetriesPerRequest: 2,
      connectTimeout: 5_000,
      lazyConnect: true,
    });
  const command = connect();
  const subscriber = connect();
  try {
    await Promise.all([command.connect(), subscriber.connect()]);
  } catch (error) {
    command.disconnect();
    subscriber.disconnect();
    throw error;
  }
  return {
    namespace: options.namespace,
    command,
    subscriber,
    async close() {
      await Promise.all([command.quit().catch(() => undefined), subscriber.quit().catch(() => undefined)]);
    },
  };
}
