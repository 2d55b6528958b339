/**
 * The inbound journal: every accepted platform event is written durably before the platform is told we have it,
 * and stays open until its handling settled with every reply handed to the platform. Replies are marked sent
 * right before their platform call (after their wait in the outbound limiter), so a replay after a crash re-runs
 * the event's handling and skips the replies that went out: at-least-once intake, made exactly-once by the
 * journal's unique key per delivery and its marks per (event, reply index).
 *
 * Writes are group-committed: everything asked for while the previous commit ran (a poll batch, the webhooks of
 * those milliseconds, the done and sent marks) goes in one transaction. While a store the bot needs is down, new
 * events stay in the journal and are dispatched when it answers again, with backoff. On PostgreSQL each process
 * holds a lease on its open events and renews it; another process claims them once the lease has run out.
 */
import { hostname } from "node:os";
import type { Logger } from "pino";
import type { Clock } from "../core.ts";
import type { Inbound, SentMessage } from "../model.ts";
import type { SqlClient } from "../storage/types.ts";
import {
  claimOpen,
  openEvents,
  prune,
  renewLeases,
  sentIndexes,
  writeBatch,
  type Batch,
  type EventRow,
} from "./journal-sql.ts";

/** One event for `append`: its platform delivery id (the dedupe key) and its raw payload. */
export interface JournalItem {
  deliveryId: string;
  payload: unknown;
  /** Epoch ms it arrived; default now. */
  receivedAt?: number;
}

/** A journaled event, as the adapter gets it back to turn into an `Inbound`. */
export interface JournalEntry {
  readonly id: number;
  readonly platform: string;
  readonly deliveryId: string;
  readonly payload: unknown;
  /** True when it is handled again (after a crash, a failed send or a store outage), not on arrival. */
  readonly isReplay: boolean;
}

/**
 * An adapter's way back from a journaled payload to an `Inbound` (respond bound), or undefined when the payload
 * asks for nothing (an update kind the router does not see). May throw while the adapter cannot yet (not started).
 */
export type JournalReviver = (entry: JournalEntry) => Inbound | undefined;

/** What the adapters see of the journal. */
export interface InboundJournal {
  /** Hand a platform's journaled events to `revive` and then the router, fresh and replayed alike. */
  attach(platform: string, revive: JournalReviver): void;
  detach(platform: string): void;
  /**
   * Write events durably (group commit) and resolve, per item in order, with its entry, or undefined for a
   * redelivery of an event already journaled. Acknowledge to the platform only after this resolves.
   */
  append(platform: string, items: JournalItem[]): Promise<Array<JournalEntry | undefined>>;
  /** Hand a written entry to its platform's reviver and the router; resolves when the router accepted it. */
  dispatch(entry: JournalEntry): Promise<void>;
  /** `append`, then `dispatch` each new entry in order; resolves when the router accepted them all. */
  intake(platform: string, items: JournalItem[]): Promise<void>;
}

/** Options for `Journal`. */
export interface JournalOptions {
  sql: SqlClient;
  log: Logger;
  clock: Clock;
  /** The router's `handle`. */
  handle(inbound: Inbound): Promise<void>;
  /** True while a store the bot needs is down: new events are held in the journal meanwhile. */
  isHeld?: () => boolean;
  /** A process's claim on its open events lasts this long without renewal (PostgreSQL), in ms. */
  leaseMs: number;
  /** Longest wait between retries of held or failed events, in ms. */
  retryMaxMs: number;
  /** Finished events are kept this long (the durable dedupe window), in ms. */
  retentionMs: number;
  /** At most this many finished events are kept. */
  maxEvents: number;
}

/** An event this process is handling. */
interface Live extends JournalEntry {
  /** Reply indexes already marked sent (known on replay). */
  sent: Set<number> | undefined;
  /** Sends that failed during this attempt: the event is retried instead of finished. */
  failedSends: number;
  nextReply: number;
}

/** A pending group-commit write and who waits for it. */
interface Pending {
  batch: Batch;
  /** Each `append` call: where its events start and end in `batch.events`. */
  appends: Array<{ from: number; to: number; resolve(ids: Array<number | undefined>): void; reject(e: unknown): void }>;
  /** Each mark's waiter. */
  marks: Array<{ resolve(): void; reject(error: unknown): void }>;
}

const FIRST_RETRY_MS = 500;
const REPLAY_PAGE = 200;
const PRUNE_EVERY_MS = 60_000;

function emptyPending(): Pending {
  return { batch: { events: [], sent: [], unsent: [], done: [] }, appends: [], marks: [] };
}

/** The journal. `start` after the adapters attached; `stop` before the store closes. */
export class Journal implements InboundJournal {
  readonly #o: JournalOptions;
  readonly owner = `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
  readonly #revivers = new Map<string, JournalReviver>();
  /** Events being handled here, by id: bounded by the router's backpressure, which every dispatch waits for. */
  readonly #live = new Map<number, Live>();
  #pending = emptyPending();
  #flushing: Promise<void> | undefined;
  #isFlushScheduled = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryDelayMs = FIRST_RETRY_MS;
  #isRetrying = false;
  #leaseTimer: NodeJS.Timeout | undefined;
  #pruneTimer: NodeJS.Timeout | undefined;
  #isStopped = false;
  /** Counts for logs and tests: events replayed, and replies skipped as already sent. */
  readonly stats = { replayed: 0, skippedReplies: 0, held: 0 };

  constructor(options: JournalOptions) {
    this.#o = options;
  }

  attach(platform: string, revive: JournalReviver): void {
    this.#revivers.set(platform, revive);
    if (this.#leaseTimer === undefined) return;
    // Started already (this adapter came up late): take over its platform's open events now.
    void this.#claim()
      .then(() => this.#kick(0))
      .catch((error: unknown) => this.#o.log.warn({ err: error, platform }, "journal claim failed"));
  }

  detach(platform: string): void {
    this.#revivers.delete(platform);
  }

  /** Take over what a dead process left (all of it on SQLite, expired leases on PostgreSQL) and replay it. */
  async start(): Promise<void> {
    await this.#claim();
    const leaseMs = this.#o.leaseMs;
    this.#leaseTimer = setInterval(
      () => {
        if (this.#o.sql.driver !== "postgres") return;
        void renewLeases(this.#o.sql, this.owner, this.#o.clock.now() + leaseMs)
          .then(() => this.#claim())
          .catch((error: unknown) => this.#o.log.warn({ err: error }, "journal lease renewal failed"));
      },
      Math.max(1_000, Math.floor(leaseMs / 3)),
    );
    this.#leaseTimer.unref();
    this.#pruneTimer = setInterval(() => void this.#prune(), PRUNE_EVERY_MS);
    this.#pruneTimer.unref();
    this.#kick(0);
  }

  /** Write what is pending and stop the timers; open events stay for the next start. */
  async stop(): Promise<void> {
    this.#isStopped = true;
    clearInterval(this.#leaseTimer);
    clearInterval(this.#pruneTimer);
    clearTimeout(this.#retryTimer);
    await this.#flushing;
    if (this.#hasPending()) await this.#flush();
  }

  append(platform: string, items: JournalItem[]): Promise<Array<JournalEntry | undefined>> {
    if (items.length === 0) return Promise.resolve([]);
    const nowMs = this.#o.clock.now();
    const rows: EventRow[] = items.map((item) => ({
      platform,
      deliveryId: item.deliveryId,
      payload: JSON.stringify(item.payload),
      receivedAt: item.receivedAt ?? nowMs,
    }));
    return new Promise<Array<number | undefined>>((resolve, reject) => {
      const events = this.#pending.batch.events;
      const from = events.length;
      for (const row of rows) events.push(row);
      this.#pending.appends.push({ from, to: events.length, resolve, reject });
      this.#schedule();
    }).then((ids) =>
      ids.map((id, i) => {
        if (id === undefined) return undefined;
        const live: Live = {
          id,
          platform,
          deliveryId: items[i]!.deliveryId,
          payload: items[i]!.payload,
          isReplay: false,
          sent: undefined,
          failedSends: 0,
          nextReply: 0,
        };
        this.#live.set(id, live);
        return live;
      }),
    );
  }

  dispatch(entry: JournalEntry): Promise<void> {
    const live = this.#live.get(entry.id);
    if (live === undefined) return Promise.resolve(); // finished, or not this process's
    if (this.#o.isHeld?.() === true) return this.#hold(live, "a store is down");
    const revive = this.#revivers.get(live.platform);
    if (revive === undefined) return this.#hold(live, "no adapter for its platform");
    let inbound: Inbound | undefined;
    try {
      inbound = revive(live);
    } catch (error) {
      return this.#hold(live, error instanceof Error ? error.message : String(error));
    }
    if (inbound === undefined) {
      this.#finish(live);
      return Promise.resolve();
    }
    this.#bind(live, inbound);
    return this.#o.handle(inbound).catch((error: unknown) => {
      this.#holdNow(live, error instanceof Error ? error.message : String(error));
    });
  }

  /** Append and dispatch in order; resolves when the router accepted them all (backpressure). */
  async intake(platform: string, items: JournalItem[]): Promise<void> {
    for (const entry of await this.append(platform, items)) if (entry !== undefined) await this.dispatch(entry);
  }

  /** Leave the event open for the retry loop. */
  #hold(live: Live, reason: string): Promise<void> {
    this.#holdNow(live, reason);
    return Promise.resolve();
  }

  #holdNow(live: Live, reason: string): void {
    this.#live.delete(live.id);
    this.stats.held++;
    this.#o.log.debug({ event: live.id, platform: live.platform, reason }, "journaled event held for retry");
    this.#kick(this.#retryDelayMs);
  }

  /** Wrap `respond` with the reply marks, and tell the router to settle through us. */
  #bind(live: Live, inbound: Inbound): void {
    const respond = inbound.respond;
    inbound.respond = (reply) => {
      const index = live.nextReply++;
      if (live.sent?.has(index) === true) {
        this.stats.skippedReplies++;
        return Promise.resolve(skipped(inbound));
      }
      return respond(reply, { beforeSend: () => this.#markSent(live, index) }).catch((error: unknown) => {
        live.failedSends++;
        // It did not go out: unmark it, so the retry sends it.
        void this.#enqueue((batch) => batch.unsent.push({ eventId: live.id, index })).catch(noop);
        throw error;
      });
    };
    inbound.journal = { settle: () => this.#settled(live) };
  }

  #markSent(live: Live, index: number): Promise<void> {
    return this.#enqueue((batch) => batch.sent.push({ eventId: live.id, index }));
  }

  #settled(live: Live): void {
    if (this.#live.get(live.id) !== live) return;
    if (live.failedSends > 0) {
      this.#holdNow(live, `${live.failedSends} reply send(s) failed`);
      return;
    }
    this.#finish(live);
  }

  #finish(live: Live): void {
    this.#live.delete(live.id);
    void this.#enqueue((batch) => batch.done.push(live.id)).catch((error: unknown) =>
      this.#o.log.warn({ err: error, event: live.id }, "could not mark a journaled event done"),
    );
  }

  /** Add to the next group commit; resolves once it is written. */
  #enqueue(add: (batch: Batch) => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      add(this.#pending.batch);
      this.#pending.marks.push({ resolve, reject });
      this.#schedule();
    });
  }

  #hasPending(): boolean {
    return this.#pending.appends.length > 0 || this.#pending.marks.length > 0;
  }

  /** One commit at a time; what arrives meanwhile goes in the next one (no timer: the commit is the wait). */
  #schedule(): void {
    if (this.#isFlushScheduled || this.#flushing !== undefined) return;
    this.#isFlushScheduled = true;
    setImmediate(() => {
      this.#isFlushScheduled = false;
      void this.#flush();
    });
  }

  #flush(): Promise<void> {
    const pending = this.#pending;
    this.#pending = emptyPending();
    const nowMs = this.#o.clock.now();
    const flushing = writeBatch(this.#o.sql, pending.batch, {
      owner: this.owner,
      nowMs,
      leaseUntil: nowMs + this.#o.leaseMs,
    }).then(
      (ids) => {
        for (const a of pending.appends) a.resolve(ids.slice(a.from, a.to));
        for (const m of pending.marks) m.resolve();
      },
      (error: unknown) => {
        for (const a of pending.appends) a.reject(error);
        for (const m of pending.marks) m.reject(error);
      },
    );
    this.#flushing = flushing.finally(() => {
      this.#flushing = undefined;
      if (this.#hasPending() && !this.#isStopped) this.#schedule();
    });
    return this.#flushing;
  }

  /** Run the retry loop after `delayMs` (the earliest asked for wins). */
  #kick(delayMs: number): void {
    if (this.#isStopped || this.#isRetrying) return;
    if (this.#retryTimer !== undefined) {
      if (delayMs > 0) return;
      clearTimeout(this.#retryTimer);
    }
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#retry();
    }, delayMs);
    this.#retryTimer.unref();
  }

  /** Dispatch this process's open events that nobody here is handling: replays, held and failed ones. */
  async #retry(): Promise<void> {
    if (this.#isStopped) return;
    if (this.#o.isHeld?.() === true) {
      this.#backoff();
      return;
    }
    this.#isRetrying = true;
    let found = 0;
    let heldBefore = this.stats.held;
    try {
      let afterId = 0;
      for (;;) {
        const rows = await openEvents(this.#o.sql, {
          owner: this.owner,
          platforms: [...this.#revivers.keys()],
          afterId,
          limit: REPLAY_PAGE,
        });
        for (const row of rows) {
          afterId = row.id;
          if (this.#live.has(row.id)) continue;
          found++;
          const live: Live = {
            id: row.id,
            platform: row.platform,
            deliveryId: row.delivery_id,
            payload: JSON.parse(row.payload) as unknown,
            isReplay: true,
            sent: await sentIndexes(this.#o.sql, row.id),
            failedSends: 0,
            nextReply: 0,
          };
          this.#live.set(live.id, live);
          this.stats.replayed++;
          await this.dispatch(live);
          if (this.#isStopped) return;
        }
        if (rows.length < REPLAY_PAGE) break;
      }
    } catch (error) {
      this.#o.log.warn({ err: error }, "journal replay failed; retrying");
      heldBefore = -1;
    } finally {
      this.#isRetrying = false;
    }
    if (found > 0) this.#o.log.info({ events: found }, "journaled events replayed");
    if (heldBefore === -1 || this.stats.held > heldBefore) this.#backoff();
    else this.#retryDelayMs = FIRST_RETRY_MS;
  }

  #backoff(): void {
    this.#retryDelayMs = Math.min(this.#o.retryMaxMs, this.#retryDelayMs * 2);
    this.#kick(this.#retryDelayMs);
  }

  async #claim(): Promise<void> {
    const nowMs = this.#o.clock.now();
    const claimed = await claimOpen(this.#o.sql, {
      owner: this.owner,
      nowMs,
      leaseUntil: nowMs + this.#o.leaseMs,
      platforms: [...this.#revivers.keys()],
    });
    if (claimed > 0) {
      this.#o.log.info({ events: claimed }, "claimed open journaled events of a stopped process");
      this.#kick(0);
    }
  }

  async #prune(): Promise<void> {
    try {
      await prune(this.#o.sql, {
        cutoffMs: this.#o.clock.now() - this.#o.retentionMs,
        maxEvents: this.#o.maxEvents,
      });
    } catch (error) {
      this.#o.log.warn({ err: error }, "journal prune failed");
    }
  }
}

const noop = (): void => undefined;

/** What a reply skipped on replay answers: it went out before, and where is not known. */
function skipped(inbound: Inbound): SentMessage {
  return inbound.threadId === undefined
    ? { platform: inbound.platform, chatId: inbound.chat.id, messageId: "" }
    : { platform: inbound.platform, chatId: inbound.chat.id, threadId: inbound.threadId, messageId: "" };
}
