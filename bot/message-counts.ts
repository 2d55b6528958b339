/**
 * Messages in and out per platform per day, for the console's dashboard: counted in process (one map entry per
 * platform, so bounded by the adapters running) and added to `message_counts` every minute and at shutdown, so
 * processes sharing a database add up. A flush attributes what it carries to the UTC day it runs in: around
 * midnight up to a minute's messages land on the next day.
 */
import type { Clock } from "./core.ts";
import type { SqlClient } from "./storage/types.ts";

/** How often counts are written. */
export const FLUSH_EVERY_MS = 60_000;

/** One day's counts on one platform. */
export interface MessageCountRow {
  day: string;
  platform: string;
  messagesIn: number;
  messagesOut: number;
}

/** Counts per platform since the last flush. */
export class MessageCounts {
  readonly #sql: SqlClient;
  readonly #clock: Clock;
  #pending = new Map<string, { in: number; out: number }>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  constructor(options: { sql: SqlClient; clock: Clock }) {
    this.#sql = options.sql;
    this.#clock = options.clock;
  }

  /** Count one message. */
  add(platform: string, direction: "in" | "out"): void {
    let entry = this.#pending.get(platform);
    if (entry === undefined) this.#pending.set(platform, (entry = { in: 0, out: 0 }));
    entry[direction] += 1;
  }

  /** Flush every minute until `stop`. Failures are handed to `onError`; the counts are kept for the next try. */
  start(onError: (error: unknown) => void): void {
    this.#timer ??= setInterval(() => {
      this.flush().catch(onError);
    }, FLUSH_EVERY_MS).unref();
  }

  /** Stop the timer and write what is pending. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }

  /** Add the pending counts to the table (one upsert per platform). */
  flush(): Promise<void> {
    // One flush at a time; a failed one does not stop the next.
    this.#flushing = this.#flushing
      .catch(() => undefined)
      .then(async () => {
        if (this.#pending.size === 0) return;
        const batch = this.#pending;
        this.#pending = new Map();
        const day = new Date(this.#clock.now()).toISOString().slice(0, 10);
        try {
          for (const [platform, n] of batch)
            await this.#sql.query(
              `INSERT INTO message_counts (day, platform, messages_in, messages_out) VALUES ($1, $2, $3, $4)
             ON CONFLICT (day, platform) DO UPDATE SET
               messages_in = message_counts.messages_in + EXCLUDED.messages_in,
               messages_out = message_counts.messages_out + EXCLUDED.messages_out`,
              [day, platform, n.in, n.out],
            );
        } catch (error) {
          // Keep what could not be written for the next flush.
          for (const [platform, n] of batch) {
            const entry = this.#pending.get(platform) ?? { in: 0, out: 0 };
            entry.in += n.in;
            entry.out += n.out;
            this.#pending.set(platform, entry);
          }
          throw error;
        }
      });
    return this.#flushing;
  }

  /** Counts per day and platform between two UTC days (inclusive), oldest first. */
  async read(fromDay: string, toDay: string): Promise<MessageCountRow[]> {
    const { rows } = await this.#sql.query<{
      day: string;
      platform: string;
      messages_in: number;
      messages_out: number;
    }>(
      `SELECT day, platform, messages_in, messages_out FROM message_counts
       WHERE day >= $1 AND day <= $2 ORDER BY day, platform`,
      [fromDay, toDay],
    );
    return rows.map((r) => ({
      day: r.day,
      platform: r.platform,
      messagesIn: Number(r.messages_in),
      messagesOut: Number(r.messages_out),
    }));
  }
}
