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
import { SequenceWindow } from "../router/dedupe.ts";
import type { SqlClient } from "../storage/types.ts";
import {
  BATCH_SLOTS,
  claimOpen,
  marksSince,
  openBatches,
  prune,
  recentDeliveries,
  renewLeases,
  writeCommit,
  type BatchRow,
  type Writes,
} from "./journal-sql.ts";

/** One event for `append`: its platform delivery id (the dedupe key) and its raw payload. */
export interface JournalItem {
  deliveryId: string;
  payload: unknown;
  /**
   * A number the platform raises with every delivery (Telegram's `update_id`): the embedded dedupe then keeps a
   * window of bits instead of the delivery id.
   */
  sequence?: number;
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
export type JournalReviver = (entry: JournalEntry) => Inbound | undefined | Promise<Inbound | undefined>;

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

/** A batch row as this process tracks it: events not finished yet. */
interface BatchState {
  id: number;
  remaining: number;
}

/** An event this process is handling. */
interface Live extends JournalEntry {
  batch: BatchState;
  /** Reply indexes already marked sent (known on replay). */
  sent: Set<number> | undefined;
  /** Sends that failed during this attempt: the event is retried instead of finished. */
  failedSends: number;
  nextReply: number;
}

/** A pending group commit and who waits for it. */
interface Pending {
  writes: Writes;
  /** Each batch's waiter, in `writes.batches` order. */
  batches: Array<{ resolve(result: { id: number; kept: boolean[] } | undefined): void; reject(e: unknown): void }>;
  /** Marks added to this commit. */
  markCount: number;
  /** What waiters for this commit's marks share (one promise a commit, not one a mark), made on first ask. */
  written: { promise: Promise<void>; resolve(): void; reject(error: unknown): void } | undefined;
}

const FIRST_RETRY_MS = 500;
const REPLAY_PAGE = 100;
const PRUNE_EVERY_MS = 60_000;
/** Attempts to revive an event before it is dropped as unreadable. */
const MAX_REVIVE_FAILURES = 5;
/** Events per batch row (positions must stay below `BATCH_SLOTS`). */
const MAX_BATCH = 1_000;

function emptyPending(): Pending {
  return {
    writes: { batches: [], marks: { done: [], sent: [], unsent: [] }, closed: [] },
    batches: [],
    markCount: 0,
    written: undefined,
  };
}

/** The journal. `start` after the adapters attached; `stop` before the store closes. */
export class Journal implements InboundJournal {
  readonly #o: JournalOptions;
  readonly owner = `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
  readonly #revivers = new Map<string, JournalReviver>();
  /** Events being handled here, by id: bounded by the router's backpressure, which every dispatch waits for. */
  readonly #live = new Map<number, Live>();
  /** Batches with events not finished, by id (bounded by the open batches). */
  readonly #batches = new Map<number, BatchState>();
  /**
   * The embedded store's dedupe: `platform\0deliveryId` → epoch ms journaled, oldest first, bounded by
   * `maxEvents` and `retentionMs`, reloaded from the journal at start. On PostgreSQL, `journal_deliveries` does it.
   */
  readonly #recent = new Map<string, number>();
  /**
   * Events of this process's batches that wait for a retry (held, or a send failed), and batches finished here:
   * the retry loop replays only those of batches it knows, never one it saw finish, whatever its snapshot of the
   * marks says (a fresh event finishing while the loop runs is not replayed). Bounded: oldest forgotten past 10,000.
   */
  readonly #held = new Set<number>();
  readonly #closedHere = new Set<number>();
  /** Failed attempts to revive an event, by id (bounded: the oldest is forgotten past 10,000). */
  readonly #reviveFailures = new Map<number, number>();
  #reload: Promise<void> | undefined;
  #isReloading = false;
  /** Until when ids reloaded from the journal at start may still be redelivered (then they have expired). */
  #reloadedUntilMs = 0;
  /** The embedded dedupe for deliveries with a sequence number, per platform (bits, not strings). */
  readonly #windows = new Map<string, SequenceWindow>();
  #pending = emptyPending();
  #flushing: Promise<void> | undefined;
  #isFlushScheduled = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryDelayMs = FIRST_RETRY_MS;
  #isRetrying = false;
  /**
   * The earliest run asked for while the retry loop ran (undefined: none). A claim made meanwhile (a lease that
   * ran out, an adapter attached late) brings batches the running pass may already have paged beyond: the loop
   * runs again for them instead of the ask being dropped.
   */
  #rerunDelayMs: number | undefined;
  #leaseTimer: NodeJS.Timeout | undefined;
  #pruneTimer: NodeJS.Timeout | undefined;
  #isStarted = false;
  #isStopped = false;
  /** Counts for logs, tests and benchmarks: events replayed, replies skipped as already sent, events held, commits. */
  readonly stats = { replayed: 0, skippedReplies: 0, held: 0, commits: 0 };

  constructor(options: JournalOptions) {
    this.#o = options;
  }

  get #isShared(): boolean {
    return this.#o.sql.driver === "postgres";
  }

  attach(platform: string, revive: JournalReviver): void {
    this.#revivers.set(platform, revive);
    if (!this.#isStarted) return;
    // Started already (this adapter came up late): take over its platform's open events now.
    void this.#claim()
      .then(() => this.#kick(0))
      .catch((error: unknown) => this.#o.log.warn({ err: error, platform }, "journal claim failed"));
  }

  detach(platform: string): void {
    this.#revivers.delete(platform);
  }

  /** Reload the dedupe, take over what a dead process left (all of it on SQLite, expired leases on PostgreSQL) and replay it. */
  async start(): Promise<void> {
    await this.#reloaded();
    this.#isStarted = true;
    await this.#claim();
    const leaseMs = this.#o.leaseMs;
    if (this.#isShared) {
      this.#leaseTimer = setInterval(
        () => {
          void renewLeases(this.#o.sql, this.owner, this.#o.clock.now() + leaseMs)
            .then(() => this.#claim())
            .catch((error: unknown) => this.#o.log.warn({ err: error }, "journal lease renewal failed"));
        },
        Math.max(1_000, Math.floor(leaseMs / 3)),
      );
      this.#leaseTimer.unref();
    }
    this.#pruneTimer = setInterval(() => void this.#prune(), PRUNE_EVERY_MS);
    this.#pruneTimer.unref();
    this.#kick(0);
  }

  /** Write what is pending and stop the timers; unfinished events stay for the next start. */
  async stop(): Promise<void> {
    this.#isStopped = true;
    clearInterval(this.#leaseTimer);
    clearInterval(this.#pruneTimer);
    clearTimeout(this.#retryTimer);
    await this.#drainWrites();
  }

  async append(platform: string, items: JournalItem[]): Promise<Array<JournalEntry | undefined>> {
    const out: Array<JournalEntry | undefined> = [];
    for (let from = 0; from < items.length; from += MAX_BATCH) {
      for (const entry of await this.#appendBatch(platform, items.slice(from, from + MAX_BATCH))) out.push(entry);
    }
    return out;
  }

  async #appendBatch(platform: string, items: JournalItem[]): Promise<Array<JournalEntry | undefined>> {
    // Adapters take deliveries before `start`: a redelivery of one journaled by the previous run must be known.
    if (this.#reload === undefined || this.#isReloading) await this.#reloaded();
    const nowMs = this.#o.clock.now();
    // The embedded dedupe marks at once (a redelivery racing this write is dropped) and unmarks if it fails.
    const isNew = this.#isShared ? items.map(() => true) : items.map((item) => this.#remember(platform, item, nowMs));
    const fresh = items.filter((_, i) => isNew[i]);
    if (fresh.length === 0) return items.map(() => undefined);
    const row: BatchRow = {
      platform,
      deliveryIds: fresh.map((item) => item.deliveryId),
      payloads: fresh.map((item) => item.payload),
      receivedAt: fresh[0]!.receivedAt ?? nowMs,
    };
    let written: { id: number; kept: boolean[] } | undefined;
    try {
      written = await new Promise((resolve, reject) => {
        this.#pending.writes.batches.push(row);
        this.#pending.batches.push({ resolve, reject });
        this.#schedule();
      });
    } catch (error) {
      if (!this.#isShared) for (const item of fresh) this.#forget(platform, item);
      throw error;
    }
    const out: Array<JournalEntry | undefined> = items.map(() => undefined);
    if (written === undefined) return out;
    const batch: BatchState = { id: written.id, remaining: 0 };
    let position = 0;
    for (let i = 0; i < items.length; i++) {
      if (!isNew[i]) continue;
      const slot = position++;
      if (!written.kept[slot]) continue;
      const live: Live = {
        id: written.id * BATCH_SLOTS + slot,
        platform,
        deliveryId: items[i]!.deliveryId,
        payload: items[i]!.payload,
        isReplay: false,
        batch,
        sent: undefined,
        failedSends: 0,
        nextReply: 0,
      };
      batch.remaining++;
      this.#live.set(live.id, live);
      out[i] = live;
    }
    this.#batches.set(batch.id, batch);
    return out;
  }

  /** True (and remembered) the first time a delivery is seen within the retention window. */
  #remember(platform: string, item: JournalItem, nowMs: number): boolean {
    const seq = item.sequence;
    if (seq !== undefined && Number.isSafeInteger(seq) && seq >= 0) {
      let window = this.#windows.get(platform);
      if (window === undefined) this.#windows.set(platform, (window = new SequenceWindow(this.#o.retentionMs)));
      const isNew = window.mark(seq, nowMs);
      // Ids reloaded at start are strings: until they expire, a new number is checked against them too.
      if (isNew === false || (isNew === true && nowMs > this.#reloadedUntilMs)) return isNew;
      if (isNew === true) {
        const seenAt = this.#recent.get(`${platform}\u0000${item.deliveryId}`);
        if (seenAt !== undefined && nowMs - seenAt <= this.#o.retentionMs) return false;
        return true;
      }
    }
    const key = `${platform}\u0000${item.deliveryId}`;
    const seenAt = this.#recent.get(key);
    if (seenAt !== undefined && nowMs - seenAt <= this.#o.retentionMs) return false;
    if (seenAt !== undefined) this.#recent.delete(key);
    this.#recent.set(key, nowMs);
    if (this.#recent.size > this.#o.maxEvents) this.#recent.delete(this.#recent.keys().next().value!);
    return true;
  }

  /** The embedded dedupe reloaded from the journal, once (nothing to reload on PostgreSQL). */
  #reloaded(): Promise<void> {
    if (this.#reload === undefined) {
      this.#isReloading = true;
      this.#reload = (this.#isShared ? DONE : this.#loadRecent()).then(
        () => {
          this.#isReloading = false;
        },
        (error: unknown) => {
          this.#isReloading = false;
          this.#reload = undefined; // tried again by the next append
          throw error;
        },
      );
    }
    return this.#reload;
  }

  #forget(platform: string, item: JournalItem): void {
    const seq = item.sequence;
    if (seq !== undefined) this.#windows.get(platform)?.unmark(seq);
    this.#recent.delete(`${platform}\u0000${item.deliveryId}`);
  }

  async #loadRecent(): Promise<void> {
    const rows = await recentDeliveries(this.#o.sql, {
      sinceMs: this.#o.clock.now() - this.#o.retentionMs,
      limit: this.#o.maxEvents,
    });
    for (const row of rows.reverse()) {
      for (const id of row.deliveryIds) if (id !== null) this.#recent.set(`${row.platform}\u0000${id}`, row.receivedAt);
    }
    while (this.#recent.size > this.#o.maxEvents) this.#recent.delete(this.#recent.keys().next().value!);
    if (this.#recent.size > 0) this.#reloadedUntilMs = this.#o.clock.now() + this.#o.retentionMs;
  }

  dispatch(entry: JournalEntry): Promise<void> {
    const live = this.#live.get(entry.id);
    if (live === undefined) return DONE; // finished, or not this process's
    if (this.#o.isHeld?.() === true) return this.#hold(live, "a store is down");
    const revive = this.#revivers.get(live.platform);
    if (revive === undefined) return this.#hold(live, "no adapter for its platform");
    let revived: Inbound | undefined | Promise<Inbound | undefined>;
    try {
      revived = revive(live);
    } catch (error) {
      return this.#unreadable(live, error);
    }
    if (revived instanceof Promise) {
      return revived.then(
        (inbound) => this.#handOver(live, inbound),
        (error: unknown) => this.#unreadable(live, error),
      );
    }
    return this.#handOver(live, revived);
  }

  /**
   * The adapter could not make an `Inbound` of the event (not connected yet, or the payload makes its SDK throw):
   * held for a retry, and dropped with a warning after `MAX_REVIVE_FAILURES`, so one poisonous payload is not
   * retried for as long as it is kept.
   */
  #unreadable(live: Live, error: unknown): Promise<void> {
    const reason = error instanceof Error ? error.message : String(error);
    const failures = (this.#reviveFailures.get(live.id) ?? 0) + 1;
    if (failures < MAX_REVIVE_FAILURES) {
      this.#reviveFailures.set(live.id, failures);
      if (this.#reviveFailures.size > 10_000) this.#reviveFailures.delete(this.#reviveFailures.keys().next().value!);
      return this.#hold(live, reason);
    }
    this.#o.log.warn(
      { event: live.id, platform: live.platform, delivery: live.deliveryId, reason },
      "journaled event dropped: its adapter could not read it",
    );
    this.#finish(live);
    return DONE;
  }

  /** The revived `Inbound` to the router, with the journal's marks bound; none means nothing to handle. */
  #handOver(live: Live, inbound: Inbound | undefined): Promise<void> {
    if (inbound === undefined) {
      this.#finish(live);
      return DONE;
    }
    this.#bind(live, inbound);
    return this.#o.handle(inbound).catch((error: unknown) => {
      this.#holdNow(live, error instanceof Error ? error.message : String(error));
    });
  }

  async intake(platform: string, items: JournalItem[]): Promise<void> {
    for (const entry of await this.append(platform, items)) if (entry !== undefined) await this.dispatch(entry);
  }

  /** Leave the event unfinished for the retry loop. */
  #hold(live: Live, reason: string): Promise<void> {
    this.#holdNow(live, reason);
    return DONE;
  }

  #holdNow(live: Live, reason: string): void {
    this.#live.delete(live.id);
    remember(this.#held, live.id);
    this.stats.held++;
    this.#o.log.debug({ event: live.id, platform: live.platform, reason }, "journaled event held for retry");
    this.#kick(this.#retryDelayMs);
  }

  /** Wrap `respond` with the reply marks, and have the router settle through us. */
  #bind(live: Live, inbound: Inbound): void {
    const respond = inbound.respond;
    inbound.respond = (reply) => {
      const index = live.nextReply++;
      if (live.sent?.has(index) === true) {
        this.stats.skippedReplies++;
        return Promise.resolve(skipped(inbound));
      }
      const markSent = (): Promise<void> => this.#mark((m) => m.sent.push([live.id, index]));
      const hooks = { beforeSend: markSent, afterSend: markSent, idempotencyKey: `${live.id}.${index}` };
      return respond(reply, hooks).catch((error: unknown) => {
        live.failedSends++;
        // It did not go out: unmark it, so the retry sends it.
        void this.#mark((m) => m.unsent.push([live.id, index])).catch(noop);
        throw error;
      });
    };
    inbound.journal = { settle: () => this.#settled(live) };
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
    this.#reviveFailures.delete(live.id);
    const batch = live.batch;
    const isLast = --batch.remaining === 0;
    this.#held.delete(live.id);
    if (isLast) {
      this.#batches.delete(batch.id);
      remember(this.#closedHere, batch.id);
    }
    // Nobody waits for a done mark: a commit that fails logs it (the event is replayed after a restart).
    this.#addMarks((m, writes) => {
      m.done.push(live.id);
      if (isLast) writes.closed.push(batch.id);
    });
  }

  /** Add marks to the next group commit; resolves once it is written. */
  #mark(add: (marks: Writes["marks"], writes: Writes) => void): Promise<void> {
    this.#addMarks(add);
    const pending = this.#pending;
    if (pending.written === undefined) {
      let resolve!: () => void;
      let reject!: (error: unknown) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      pending.written = { promise, resolve, reject };
    }
    return pending.written.promise;
  }

  /** Add marks to the next group commit, waiting for nothing. */
  #addMarks(add: (marks: Writes["marks"], writes: Writes) => void): void {
    add(this.#pending.writes.marks, this.#pending.writes);
    this.#pending.markCount++;
    this.#schedule();
  }

  #hasPending(): boolean {
    return this.#pending.batches.length > 0 || this.#pending.markCount > 0;
  }

  async #drainWrites(): Promise<void> {
    while (this.#flushing !== undefined || this.#hasPending()) {
      await (this.#flushing ?? this.#flush());
    }
  }

  /** One commit at a time; what arrives meanwhile goes in the next one (no timer: the commit is the wait). */
  #schedule(): void {
    // Measured: writing an append at the end of its own turn (a commit per poll batch) gave 0.43 against 0.57 for
    // gathering a turn's appends and marks into one commit (test/bench/journal.ts, paired medians).
    if (this.#flushing !== undefined || this.#isFlushScheduled) return;
    this.#isFlushScheduled = true;
    setImmediate(() => {
      this.#isFlushScheduled = false;
      if (this.#flushing === undefined && this.#hasPending()) void this.#flush();
    });
  }

  #flush(): Promise<void> {
    const pending = this.#pending;
    this.#pending = emptyPending();
    this.stats.commits++;
    const flushing = writeCommit(this.#o.sql, pending.writes, {
      owner: this.owner,
      leaseUntil: this.#o.clock.now() + this.#o.leaseMs,
    }).then(
      (results) => {
        for (const [i, waiter] of pending.batches.entries()) waiter.resolve(results[i]);
        pending.written?.resolve();
      },
      (error: unknown) => {
        for (const waiter of pending.batches) waiter.reject(error);
        pending.written?.reject(error);
        const done = pending.writes.marks.done.length;
        if (done > 0) this.#o.log.warn({ err: error, events: done }, "could not mark journaled events done");
      },
    );
    this.#flushing = flushing.finally(() => {
      this.#flushing = undefined;
      if (this.#hasPending()) this.#schedule();
    });
    return this.#flushing;
  }

  /** Run the retry loop after `delayMs` (the earliest asked for wins). */
  #kick(delayMs: number): void {
    if (this.#isStopped || !this.#isStarted) return;
    if (this.#isRetrying) {
      this.#rerunDelayMs = Math.min(this.#rerunDelayMs ?? delayMs, delayMs);
      return;
    }
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

  /** Dispatch this process's unfinished events that nobody here is handling: replays, held and failed ones. */
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
      await this.#drainWrites(); // what finished here is marked before the marks are read
      let afterId = 0;
      for (;;) {
        const batches = await openBatches(this.#o.sql, {
          owner: this.owner,
          platforms: [...this.#revivers.keys()],
          afterId,
          limit: REPLAY_PAGE,
        });
        if (batches.length === 0) break;
        const done = new Set<number>();
        const sent = new Map<number, Set<number>>();
        for (const marks of await marksSince(this.#o.sql, batches[0]!.id)) {
          for (const id of marks.done) done.add(id);
          for (const [id, index] of marks.sent) {
            let set = sent.get(id);
            if (set === undefined) sent.set(id, (set = new Set()));
            set.add(index);
          }
          for (const [id, index] of marks.unsent) sent.get(id)?.delete(index);
        }
        for (const row of batches) {
          afterId = row.id;
          if (this.#closedHere.has(row.id)) continue;
          const toRun: Live[] = [];
          let batch = this.#batches.get(row.id);
          const isKnown = batch !== undefined;
          batch ??= { id: row.id, remaining: 0 };
          for (const [slot, payload] of row.payloads.entries()) {
            const id = row.id * BATCH_SLOTS + slot;
            const deliveryId = row.deliveryIds[slot];
            if (deliveryId === null || deliveryId === undefined || done.has(id) || this.#live.has(id)) continue;
            if (isKnown && !this.#held.has(id)) continue; // this process's own, being handled or finished
            this.#held.delete(id);
            if (!isKnown) batch.remaining++;
            toRun.push({
              id,
              platform: row.platform,
              deliveryId,
              payload,
              isReplay: true,
              batch,
              sent: sent.get(id),
              failedSends: 0,
              nextReply: 0,
            });
          }
          if (!isKnown && batch.remaining === 0) {
            await this.#mark((_, writes) => writes.closed.push(row.id)); // finished, its closing mark lost
            continue;
          }
          this.#batches.set(row.id, batch);
          for (const live of toRun) {
            found++;
            this.#live.set(live.id, live);
            this.stats.replayed++;
            await this.dispatch(live);
            if (this.#isStopped) return;
          }
        }
        if (batches.length < REPLAY_PAGE) break;
      }
    } catch (error) {
      this.#o.log.warn({ err: error }, "journal replay failed; retrying");
      heldBefore = -1;
    } finally {
      this.#isRetrying = false;
      const rerunDelayMs = this.#rerunDelayMs;
      this.#rerunDelayMs = undefined;
      if (rerunDelayMs !== undefined) this.#kick(rerunDelayMs);
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
      this.#o.log.info({ batches: claimed }, "claimed unfinished journaled events of a stopped process");
      this.#kick(0);
    }
  }

  async #prune(): Promise<void> {
    try {
      await prune(this.#o.sql, {
        cutoffMs: this.#o.clock.now() - this.#o.retentionMs,
        maxBatches: this.#o.maxEvents,
      });
    } catch (error) {
      this.#o.log.warn({ err: error }, "journal prune failed");
    }
  }
}

const DONE: Promise<void> = Promise.resolve();
const noop = (): void => undefined;

/** What a reply skipped on replay answers: it went out before, and where is not known. */
function skipped(inbound: Inbound): SentMessage {
  return inbound.threadId === undefined
    ? { platform: inbound.platform, chatId: inbound.chat.id, messageId: "" }
    : { platform: inbound.platform, chatId: inbound.chat.id, threadId: inbound.threadId, messageId: "" };
}

/** Add to a bounded set of ids, forgetting the oldest past 10,000. */
function remember(set: Set<number>, id: number): void {
  set.add(id);
  if (set.size > 10_000) set.delete(set.values().next().value!);
}
