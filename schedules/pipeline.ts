/**
 * Schedule fires as a pipeline, not a loop: due fires are claimed in batches, run with bounded concurrency
 * across chats while each chat's fires run one after another in fire-time order, and their outcomes are
 * recorded in batches.
 *
 * Why: each fire costs a claim, the permission re-check, the router, the reply and a finish; done one after
 * another, 10,000 fires due in the same second were answered 12 s late, and since every claim was started at
 * once nobody got an answer until nearly everybody had been claimed. Here the first fire due is claimed alone
 * (so it is answered at once), the fires that fell due meanwhile are claimed together (one statement for up to
 * `batchSize`), claimed fires wait for a free lane (at most `concurrency` chats run at once), and claiming stops
 * while `concurrency × 4` claimed fires wait, so claimed-but-unrun fires stay few (a claimed fire whose process
 * dies is lost, never run twice).
 *
 * Every claimed fire ends with a written outcome while its process lives: a run has a deadline (past it, its
 * outcome is recorded from `failedOutcome` and the lane goes on; what the run settles to later is recorded over it),
 * and a failed record is retried, with backoff, until it is written (after `close`, a few more times only: the
 * sweeper of the next process closes what is left).
 *
 * A claim that fails as a whole claimed nothing: its fires are claimed again the same way as `held` ones. (The
 * schedules service's claim no longer hands any back: it locks no schedule, see `ScheduleRepo.claimMany`.)
 * A claim may hand fires back as `held` (their schedule's row was locked by something that was not a claim of
 * them, so nobody may have them): those are claimed again, before new fires, after a backoff that doubles, at most
 * `HELD_MAX_TRIES` times and at most `maxHeld` at once; a fire past either bound is told to `onError` and dropped.
 */

/** One fire the engine handed out. */
export interface DueFire {
  readonly id: string;
  readonly fireTime: number;
  readonly kind: "scheduled" | "catchup";
}

/** A claimed fire, with the chat whose order it keeps. */
export interface ClaimedFire<C> {
  readonly fire: DueFire;
  readonly chatKey: string;
  readonly claim: C;
}

/** What a claim returns. */
export interface ClaimResult<C> {
  /** The fires this process won. */
  readonly claimed: Array<ClaimedFire<C>>;
  /**
   * Fires that nobody may have claimed because their schedule was locked by something else (a finish, an
   * edit): the pipeline claims them again shortly, with `retry` set.
   */
  readonly held?: readonly DueFire[];
}

/** What the pipeline drives. */
export interface FirePipelineOptions<C, R> {
  /**
   * Claim a batch; fires another process has, or whose schedule is no longer active, are left out. `retry`: these
   * fires were `held` before (the claim may wait, briefly, for their schedules' locks).
   */
  claim(fires: readonly DueFire[], how: { retry: boolean }): Promise<ClaimResult<C>>;
  /** Run one claimed fire; resolves to what `record` writes. Must not reject (errors are outcomes). */
  run(claimed: ClaimedFire<C>): Promise<R>;
  /** Record a batch of outcomes. */
  record(results: readonly R[]): Promise<void>;
  /**
   * Told when a claim fails (its fires are claimed again like held ones) or a held fire is given up, when a record
   * fails (it is retried) or when a run passes its deadline.
   */
  onError(error: unknown, stage: "claim" | "record" | "run"): void;
  /** Longest a run may take before its outcome is recorded from `failedOutcome` (default: none). */
  deadlineMs?: number;
  /** The outcome recorded for a run still going at its deadline, or one that rejected (`why` says which). */
  failedOutcome?(claimed: ClaimedFire<C>, why: string): R;
  /** What is recorded when a run settles after its deadline (default: its result as it is). */
  lateOutcome?(result: R): R;
  /** Most fires claimed by one statement. Default 256. */
  batchSize?: number;
  /** Most chats whose fires run at once. Default 64. */
  concurrency?: number;
  /** The first wait before a held fire is claimed again; it doubles with each try. Default 50 ms. */
  heldFirstMs?: number;
  /** Most held fires waiting to be claimed again; more are given up at once (told to `onError`). Default 10,000. */
  maxHeld?: number;
}

/** The firing pipeline (see the module doc). */
export class FirePipeline<C, R> {
  readonly #o: FirePipelineOptions<C, R>;
  readonly #batchSize: number;
  readonly #concurrency: number;
  readonly #heldFirstMs: number;
  readonly #maxHeld: number;
  #due: DueFire[] = [];
  #dueHead = 0;
  #isClaiming = false;
  /** Claimed fires waiting for their lane. */
  #waiting = 0;
  /** Per chat, claimed fires not yet run, in order; a chat is in `#ready` only while it is not running. */
  readonly #lanes = new Map<string, Array<ClaimedFire<C>>>();
  #ready: string[] = [];
  #readyHead = 0;
  #running = 0;
  #results: R[] = [];
  #isRecording = false;
  #isRecordQueued = false;
  /** The retry of a failed record, while it waits. */
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #recordFailures = 0;
  #isClosed = false;
  /** Held fires waiting to be claimed again, with their tries so far and when they are due again (`Date.now`). */
  #held: Array<{ fire: DueFire; tries: number; atMs: number }> = [];
  #heldTimer: ReturnType<typeof setTimeout> | undefined;
  /** Held fires due again, claimed before new ones. */
  #retryDue: Array<{ fire: DueFire; tries: number }> = [];
  #whenIdle: Promise<void> | undefined;
  #resolveIdle: (() => void) | undefined;
  /** Claim statements run, for the benchmark and tests. */
  claimBatches = 0;
  /** Record statements run. */
  recordBatches = 0;
  /** Record statements that failed (each was retried). */
  recordRetries = 0;
  /** Runs that passed their deadline. */
  overdueRuns = 0;
  /** Fires claimed again: handed back as held, or of a claim that failed as a whole. */
  heldRetries = 0;
  /** Held fires given up (tried `HELD_MAX_TRIES` times, or over `maxHeld`); each was told to `onError`. */
  heldLost = 0;

  constructor(options: FirePipelineOptions<C, R>) {
    this.#o = options;
    this.#batchSize = options.batchSize ?? 256;
    this.#concurrency = options.concurrency ?? 64;
    this.#heldFirstMs = options.heldFirstMs ?? 50;
    this.#maxHeld = options.maxHeld ?? 10_000;
  }

  /** Hand over a due fire. */
  push(fire: DueFire): void {
    this.#due.push(fire);
    this.#busy();
    this.#claimNext();
  }

  /**
   * Stop retrying failed records for long: from now on a record is tried a few more times, then given up (its
   * runs stay `running` until a sweeper closes them). For shutdown, so `idle` settles while the store is down.
   */
  close(): void {
    this.#isClosed = true;
  }

  /** Resolves when every fire handed over has been claimed, run and recorded. */
  idle(): Promise<void> {
    return this.#whenIdle ?? Promise.resolve();
  }

  #busy(): void {
    if (this.#whenIdle !== undefined) return;
    this.#whenIdle = new Promise((resolve) => {
      this.#resolveIdle = resolve;
    });
  }

  #checkIdle(): void {
    if (
      this.#dueHead < this.#due.length ||
      this.#isClaiming ||
      this.#waiting > 0 ||
      this.#running > 0 ||
      this.#results.length > 0 ||
      this.#isRecording ||
      this.#retryTimer !== undefined ||
      this.#held.length > 0 ||
      this.#retryDue.length > 0
    )
      return;
    const resolve = this.#resolveIdle;
    this.#whenIdle = undefined;
    this.#resolveIdle = undefined;
    resolve?.();
  }

  #claimNext(): void {
    const hasRetries = this.#retryDue.length > 0;
    if (
      this.#isClaiming ||
      (!hasRetries && this.#dueHead >= this.#due.length) ||
      this.#waiting >= this.#concurrency * 4
    )
      return;
    let batch: DueFire[];
    let tries: Map<DueFire, number> | undefined;
    if (hasRetries) {
      const taken = this.#retryDue.splice(0, this.#batchSize);
      batch = taken.map((h) => h.fire);
      tries = new Map(taken.map((h) => [h.fire, h.tries]));
      this.heldRetries += batch.length;
    } else {
      const end = Math.min(this.#due.length, this.#dueHead + this.#batchSize);
      batch = this.#due.slice(this.#dueHead, end);
      this.#dueHead = end;
      if (this.#dueHead === this.#due.length) {
        this.#due = [];
        this.#dueHead = 0;
      }
    }
    this.#isClaiming = true;
    this.claimBatches++;
    this.#o
      .claim(batch, { retry: hasRetries })
      .then(
        ({ claimed, held }) => {
          for (const item of claimed) this.#enqueue(item);
          this.#startLanes();
          for (const fire of held ?? []) this.#hold(fire, (tries?.get(fire) ?? 0) + 1);
        },
        (error: unknown) => {
          this.#o.onError(error, "claim");
          // The claim's transaction claimed nothing (its wait for a lock timed out, a deadlock, the store away):
          // every fire of it is tried again, within the bounds.
          for (const fire of batch) this.#hold(fire, (tries?.get(fire) ?? 0) + 1);
        },
      )
      .finally(() => {
        this.#isClaiming = false;
        this.#claimNext();
        this.#checkIdle();
      });
  }

  /** Keep a held fire to be claimed again after a backoff, within the bounds on tries and on how many wait. */
  #hold(fire: DueFire, tries: number): void {
    if (tries > HELD_MAX_TRIES || this.#held.length + this.#retryDue.length >= this.#maxHeld) {
      this.heldLost++;
      this.#o.onError(
        new Error(
          tries > HELD_MAX_TRIES
            ? `schedule ${fire.id}'s fire at ${fire.fireTime} was not claimed: its schedule stayed locked through ${HELD_MAX_TRIES} tries`
            : `schedule ${fire.id}'s fire at ${fire.fireTime} was not claimed: ${this.#maxHeld} fires already wait to be tried again`,
        ),
        "claim",
      );
      return;
    }
    this.#held.push({ fire, tries, atMs: Date.now() + this.#heldFirstMs * 2 ** (tries - 1) });
    this.#armHeld();
  }

  #armHeld(): void {
    if (this.#heldTimer !== undefined || this.#held.length === 0) return;
    let first = Number.POSITIVE_INFINITY;
    for (const h of this.#held) first = Math.min(first, h.atMs);
    this.#heldTimer = setTimeout(
      () => {
        this.#heldTimer = undefined;
        const now = Date.now();
        const due = this.#held.filter((h) => h.atMs <= now);
        this.#held = this.#held.filter((h) => h.atMs > now);
        for (const h of due) this.#retryDue.push({ fire: h.fire, tries: h.tries });
        this.#armHeld();
        this.#claimNext();
      },
      Math.max(0, first - Date.now()),
    );
  }

  #enqueue(item: ClaimedFire<C>): void {
    this.#waiting++;
    const lane = this.#lanes.get(item.chatKey);
    if (lane !== undefined) {
      lane.push(item);
      return;
    }
    this.#lanes.set(item.chatKey, [item]);
    this.#ready.push(item.chatKey);
  }

  #startLanes(): void {
    while (this.#running < this.#concurrency && this.#readyHead < this.#ready.length) {
      const chatKey = this.#ready[this.#readyHead++]!;
      this.#runLane(chatKey);
    }
    if (this.#readyHead === this.#ready.length) {
      this.#ready = [];
      this.#readyHead = 0;
    }
  }

  #runLane(chatKey: string): void {
    const lane = this.#lanes.get(chatKey)!;
    const item = lane.shift()!;
    this.#waiting--;
    this.#running++;
    let work: Promise<R>;
    try {
      work = this.#o.run(item);
    } catch (error) {
      work = Promise.reject(error);
    }
    let isDone = false;
    let isOverdue = false;
    const laneDone = (): void => {
      if (isDone) return;
      isDone = true;
      this.#running--;
      if (lane.length === 0) this.#lanes.delete(chatKey);
      else this.#ready.push(chatKey); // behind the chats waiting: fair across chats
      this.#startLanes();
      this.#claimNext();
      this.#checkIdle();
    };
    const deadlineMs = this.#o.deadlineMs;
    const failedOutcome = this.#o.failedOutcome;
    const deadline =
      deadlineMs === undefined || failedOutcome === undefined
        ? undefined
        : setTimeout(() => {
            isOverdue = true;
            this.overdueRuns++;
            this.#o.onError(new Error(`a schedule run passed its deadline of ${deadlineMs} ms`), "run");
            this.#addResult(failedOutcome(item, `no outcome within ${deadlineMs} ms (deadline)`));
            laneDone();
          }, deadlineMs);
    deadline?.unref?.();
    work
      .then(
        // After a deadline: the real outcome, recorded over the first.
        (result) =>
          this.#addResult(isOverdue && this.#o.lateOutcome !== undefined ? this.#o.lateOutcome(result) : result),
        (error: unknown) => {
          this.#o.onError(error, "run");
          if (failedOutcome !== undefined) this.#addResult(failedOutcome(item, `the run failed: ${String(error)}`));
        },
      )
      .finally(() => {
        if (deadline !== undefined) clearTimeout(deadline);
        laneDone(); // already done when overdue: its late outcome is queued above
        if (isOverdue) this.#checkIdle();
      });
  }

  #addResult(result: R): void {
    this.#results.push(result);
    this.#queueRecord();
  }

  /** Outcomes of one event-loop turn are written together; one write at a time. */
  #queueRecord(): void {
    if (this.#isRecordQueued || this.#isRecording || this.#retryTimer !== undefined) return;
    this.#isRecordQueued = true;
    setImmediate(() => {
      this.#isRecordQueued = false;
      this.#record();
    });
  }

  #record(): void {
    if (this.#isRecording || this.#retryTimer !== undefined || this.#results.length === 0) {
      this.#checkIdle();
      return;
    }
    const batch = this.#results.splice(0, 1_024);
    this.#isRecording = true;
    this.recordBatches++;
    this.#o.record(batch).then(
      () => {
        this.#isRecording = false;
        this.#recordFailures = 0;
        if (this.#results.length > 0) this.#record();
        else this.#checkIdle();
      },
      (error: unknown) => {
        this.#isRecording = false;
        this.#recordFailures++;
        this.recordRetries++;
        this.#o.onError(error, "record");
        if (this.#isClosed && this.#recordFailures > GIVE_UP_AFTER_CLOSE) {
          this.#recordFailures = 0; // given up: the sweeper closes these runs
          if (this.#results.length > 0) this.#record();
          else this.#checkIdle();
          return;
        }
        // Back in front, in order, and tried again: an outcome is never dropped on a failed write.
        this.#results = batch.concat(this.#results);
        const waitMs = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** Math.min(this.#recordFailures - 1, 16));
        this.#retryTimer = setTimeout(() => {
          this.#retryTimer = undefined;
          this.#record();
        }, waitMs);
      },
    );
  }
}

/** The first wait before a failed record is tried again; it doubles up to `RETRY_MAX_MS`. */
const RETRY_FIRST_MS = 50;
const RETRY_MAX_MS = 5_000;
/**
 * Tries of a held fire (by default 50 ms to 1.6 s apart, each waiting up to the claim's lock timeout) before it is
 * given up.
 */
export const HELD_MAX_TRIES = 6;
/** Tries of a failed record after `close` before it is given up. */
const GIVE_UP_AFTER_CLOSE = 3;
