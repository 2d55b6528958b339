/**
 * Fixed-window counters shared by every process through Redis: a module's per-key rate (an inbound hook's
 * requests per minute) counted once for the whole deployment, not once per process. The takes of one event-loop
 * turn are gathered: one Lua call per window key (INCRBY the number of takes, and the window's expiry set on its
 * first count), sent over the router's pipelined command connection, so a turn's takes go out as one write and a
 * burst on one hook costs one command, not one per request. Each take gets its own count from the call's answer
 * (the counts the INCRBY stepped over, in the order taken), as if each had been an INCR of its own. Exact: N
 * processes together let through at most `limit` per window. The window is the local clock's minute (processes'
 * clocks agree to well under a second).
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

/** KEYS[1]: the window's key; ARGV[1]: its expiry in ms; ARGV[2]: takes to count. Answers the count after them. */
const COUNT_SCRIPT = `
local by = tonumber(ARGV[2])
local n = redis.call('INCRBY', KEYS[1], by)
if n == by then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
`;

interface CountCommand {
  switchboardCountWindows(keys: number, key: string, expiryMs: number, by: number): Promise<number>;
}

interface Gathered {
  expiryMs: number;
  takes: Array<{ resolve(count: number): void; reject(error: unknown): void }>;
}

/** Counters in Redis under `<namespace>:window:<key>:<window start>`, each kept one window past its end. */
export function redisSharedWindows(link: RedisLink): SharedWindows {
  link.command.defineCommand("switchboardCountWindows", { lua: COUNT_SCRIPT });
  const run = link.command as unknown as CountCommand;
  const prefix = `${link.namespace}:window:`;
  // This turn's takes by window key; emptied at the end of the turn, so bounded by one turn's requests.
  let gathered = new Map<string, Gathered>();
  let isScheduled = false;
  const send = (): void => {
    isScheduled = false;
    const turn = gathered;
    gathered = new Map();
    for (const [key, { expiryMs, takes }] of turn) {
      run.switchboardCountWindows(1, key, expiryMs, takes.length).then(
        (after) => {
          const first = Number(after) - takes.length;
          for (const [i, take] of takes.entries()) take.resolve(first + i + 1);
        },
        (error: unknown) => {
          for (const take of takes) take.reject(error);
        },
      );
    }
  };
  return {
    count(key, { windowMs, nowMs }) {
      const start = Math.floor(nowMs / windowMs) * windowMs;
      const full = `${prefix}${key}:${start}`;
      return new Promise<number>((resolve, reject) => {
        let entry = gathered.get(full);
        if (entry === undefined) {
          entry = { expiryMs: windowMs * 2, takes: [] };
          gathered.set(full, entry);
        }
        entry.takes.push({ resolve, reject });
        if (!isScheduled) {
          isScheduled = true;
          setImmediate(send);
        }
      });
    },
  };
}
