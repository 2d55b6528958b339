/**
 * Policy changes pushed to every process: a process that writes a chat's policy publishes the chat's key on a
 * Redis channel, and every other process drops that chat from its policy cache at once. So policies can be
 * cached until they change (the cache TTL is a safety net, not the way changes travel), and a quiet chat costs
 * a cache hit, not a store read.
 *
 * A notice lost while a subscriber was disconnected would leave a stale policy until the TTL: on every
 * reconnection the whole cache is dropped instead.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { RedisLink } from "./redis-link.ts";

/** Where a process announces, and hears of, policy changes. */
export interface PolicyChanges {
  /** Tell the other processes that `chatKey`'s policy changed. */
  publish(chatKey: string): Promise<void>;
}

/** Options for `redisPolicyChanges`. */
export interface RedisPolicyChangesOptions {
  link: RedisLink;
  log: Logger;
  /** Drop a chat from the cache, or everything (`undefined`). */
  invalidate(chatKey?: string): void;
}

/** Policy change notices over Redis pub/sub; resolves once subscribed. */
export async function redisPolicyChanges(options: RedisPolicyChangesOptions): Promise<PolicyChanges> {
  const { link, log, invalidate } = options;
  const channel = `${link.namespace}:policy-changed`;
  // Notices carry the sender, so a process does not drop the policy it has just written and cached.
  const self = randomUUID();
  link.subscriber.on("message", (from: string, message: string) => {
    if (from !== channel) return;
    const space = message.indexOf(" ");
    if (space === -1 || message.slice(0, space) === self) return;
    invalidate(message.slice(space + 1));
  });
  let wasReady = false;
  link.subscriber.on("ready", () => {
    if (wasReady) {
      log.info("policy change notices: reconnected to Redis, dropping every cached policy");
      invalidate();
    }
    wasReady = true;
  });
  await link.subscriber.subscribe(channel);
  wasReady = true;
  return {
    async publish(chatKey) {
      await link.command.publish(channel, `${self} ${chatKey}`);
    },
  };
}
