/**
 * Fixed-window counters shared by every process through Redis: a module's per-key rate (an inbound hook's
 * requests per minute) counted once for the whole deployment, not once per process. One Lua call per take (INCR,
 * and the window's expiry set on its first count), sent over the router's pipelined command connection, so the
 * takes of one event-loop turn go out as one write. Exact: N processes together let through at most `limit` per
 * window. The window is the local clock's minute (processes' clocks agree to well under a second).
 *
 * A take that Redis does not answer is decided by the caller's own counter (`undefined` here means "allowed by
 * the shared count"; a failure rejects), so intake never waits on a Redis that is down for longer than the
 * client's retry.
 */
import type { RedisLink } from "./redis-link.ts";

/** What modules see: count one event against `key`'s window; answers the count in the window so far. */
export interface SharedWindows {
  /**
   * Count one event for `key` in the window of `windowMs` that holds `nowMs`; resolves with the count including
   * this one. Rejects when Redis cannot be asked.
   */
  count(key: string, { windowMs, nowMs }: { windowMs: number; nowMs: number }): Promise<number>;
}

/** KEYS[1]: the window's key; ARGV[1]: its expiry in ms. Answers the count after this one. */
const COUNT_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
`;

interface CountCommand {
  switchboardCountWindow(keys: number, key: string, expiryMs: number): Promise<number>;
}

/** Counters in Redis under `<namespace>:window:<key>:<window start>`, each kept one window past its end. */
export function redisSharedWindows(link: RedisLink): SharedWindows {
  link.command.defineCommand("switchboardCountWindow", { lua: COUNT_SCRIPT });
  const run = link.command as unknown as CountCommand;
  const prefix = `${link.namespace}:window:`;
  return {
    count(key, { windowMs, nowMs }) {
      const start = Math.floor(nowMs / windowMs) * windowMs;
      return run.switchboardCountWindow(1, `${prefix}${key}:${start}`, windowMs * 2).then(Number);
    },
  };
}
