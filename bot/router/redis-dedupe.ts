/**
 * Delivery dedupe shared by every process when the bot is scaled out with Redis: a `SET NX PX` mark per delivery
 * id, so a redelivery is dropped whichever process it reaches.
 *
 * The deliveries of one event-loop turn go to Redis together: one Lua script call marks them all (up to 512 a
 * call), so a poller's batch of updates or a burst of webhooks costs one round trip and one script run rather than
 * a command per message. One delivery alone is still one round trip.
 */
import type { DeliveryCheck, DeliveryKey } from "./dedupe.ts";
import type { RedisLink } from "./redis-link.ts";

/** KEYS: one mark per delivery. ARGV: the TTL in ms. Answers 1 (first time) or 0 (seen) per key. */
const MARK_SCRIPT = `
local out = {}
for i = 1, #KEYS do
  if redis.call('SET', KEYS[i], '1', 'NX', 'PX', ARGV[1]) then out[i] = 1 else out[i] = 0 end
end
return out
`;

const MAX_PER_CALL = 512;

interface MarkCommand {
  switchboardMarkDeliveries(...keysAndArgs: Array<string | number>): Promise<number[]>;
}

interface Pending {
  keys: string[];
  settle: Array<{ resolve: (isFirst: boolean) => void; reject: (e: unknown) => void }>;
}

/** The router's dedupe on Redis, batched per event-loop turn (see the module doc). */
export function redisDeliveryDedupe(link: RedisLink, ttlMs: number): DeliveryCheck {
  // `defineCommand` sends EVALSHA, and the script itself only when Redis does not know it yet.
  link.command.defineCommand("switchboardMarkDeliveries", { lua: MARK_SCRIPT });
  const run = link.command as unknown as MarkCommand;
  const prefix = `${link.namespace}:dedupe:`;
  const ttl = String(Math.ceil(ttlMs));
  let pending: Pending | undefined;

  const flush = (batch: Pending): void => {
    if (pending === batch) pending = undefined;
    run.switchboardMarkDeliveries(batch.keys.length, ...batch.keys, ttl).then(
      (answers) => {
        for (let i = 0; i < batch.settle.length; i++) batch.settle[i]!.resolve(answers[i] === 1);
      },
      (error: unknown) => {
        for (const s of batch.settle) s.reject(error);
      },
    );
  };

  return (delivery: DeliveryKey) =>
    new Promise<boolean>((resolve, reject) => {
      let batch = pending;
      if (batch === undefined) {
        const fresh: Pending = { keys: [], settle: [] };
        pending = batch = fresh;
        // The end of this turn: every delivery accepted in it goes in one call.
        setImmediate(() => {
          if (pending === fresh) flush(fresh);
        });
      }
      batch.keys.push(prefix + delivery.deliveryId);
      batch.settle.push({ resolve, reject });
      if (batch.settle.length >= MAX_PER_CALL) flush(batch);
    });
}
