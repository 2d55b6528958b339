/**
 * Per-conversation serial processing: work for one key runs one at a time, in arrival order; different keys
 * run in parallel. A key with nothing queued runs its work at once.
 *
 * The core is promise-free: `admit` a job, the job starts, and it calls `release(key)` exactly once when it is
 * done (the router's messages work this way, so a message costs no promise of the queue's own). `run` and
 * `enqueue` are the same queue for promise-returning tasks.
 */

/** Work the queue starts; it must not throw, and must call `release(key)` once when finished (at once is fine). */
export interface QueuedJob {
  start(): void;
}

/** The jobs waiting behind a busy key's running one. */
class Lane {
  readonly waiting: QueuedJob[] = [];
  head = 0;
}

/** Serial queues by key. */
export class KeyedQueue {
  /** Busy keys: `null` when nothing waits behind the running job (no allocation for the usual case). */
  readonly #lanes = new Map<string, Lane | null>();
  /** Jobs queued or running. */
  #pending = 0;
  /** Jobs waiting behind a running one of their key (admitted, not started). */
  #waiting = 0;
  #drainWaiters: (() => void)[] = [];
  #spaceWaiters: { limit: number; waitingLimit: number; resolve: () => void }[] = [];
  /** Jobs released to start while another job's `start` is on the stack: started by that outer loop instead. */
  readonly #ready: QueuedJob[] = [];
  #starting = false;

  /** Queue `job` under `key`: it starts now when the key is idle, else after the jobs before it have released. */
  admit(key: string, job: QueuedJob): void {
    this.#pending++;
    const lane = this.#lanes.get(key);
    if (lane === undefined) {
      this.#lanes.set(key, null);
      this.#start(job);
    } else {
      this.#waiting++;
      if (lane === null) {
        const fresh = new Lane();
        fresh.waiting.push(job);
        this.#lanes.set(key, fresh);
      } else lane.waiting.push(job);
    }
  }

  /** The running job of `key` is finished: start the next one, or mark the key idle. */
  release(key: string): void {
    this.#pending--;
    const lane = this.#lanes.get(key);
    const hasNext = lane !== undefined && lane !== null && lane.head < lane.waiting.length;
    if (hasNext) this.#waiting--;
    if (this.#spaceWaiters.length > 0) this.#wakeSpaceWaiters();
    if (hasNext) {
      const next = lane.waiting[lane.head]!;
      lane.waiting[lane.head++] = undefined as unknown as QueuedJob;
      if (lane.head === lane.waiting.length) this.#lanes.set(key, null);
      this.#start(next);
      return;
    }
    this.#lanes.delete(key);
    if (this.#pending === 0 && this.#drainWaiters.length > 0) {
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  /** Run `task` after everything queued before it under `key`. The returned promise settles with it. */
  run(key: string, task: () => Promise<void>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.admit(key, {
        start: () => {
          settle(task).then(
            () => {
              this.release(key);
              resolve();
            },
            (error: unknown) => {
              this.release(key);
              reject(error);
            },
          );
        },
      });
    });
  }

  /**
   * Queue `task` like `run`, for a caller that does not wait for it: no promise is made for its outcome. The
   * task must handle its own errors (a rejection is only noted to advance the queue).
   */
  enqueue(key: string, task: () => Promise<void>): void {
    const release = (): void => this.release(key);
    this.admit(key, { start: () => void settle(task).then(release, release) });
  }

  /** Whether `key` has a job running (and maybe more waiting). */
  isBusy(key: string): boolean {
    return this.#lanes.has(key);
  }

  /** Whether a job waiting under `key` (not yet started) matches. */
  someWaiting(key: string, matches: (job: QueuedJob) => boolean): boolean {
    const lane = this.#lanes.get(key);
    if (lane === undefined || lane === null) return false;
    for (let i = lane.head; i < lane.waiting.length; i++) if (matches(lane.waiting[i]!)) return true;
    return false;
  }

  /** Keys with work queued or running. */
  get activeKeys(): number {
    return this.#lanes.size;
  }

  /** Jobs queued or running. */
  get pending(): number {
    return this.#pending;
  }

  /** Jobs waiting behind a running job of their key. */
  get waiting(): number {
    return this.#waiting;
  }

  /**
   * Resolves once fewer than `limit` jobs are queued or running and fewer than `waitingLimit` wait behind a
   * running one (at once when that is already so).
   */
  whenBelow(limit: number, waitingLimit = Number.POSITIVE_INFINITY): Promise<void> {
    if (this.#pending < limit && this.#waiting < waitingLimit) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#spaceWaiters.push({ limit, waitingLimit, resolve });
    });
  }

  /** Resolves when everything queued so far (and anything queued meanwhile) has settled. */
  drain(): Promise<void> {
    if (this.#pending === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#drainWaiters.push(resolve);
    });
  }

  /** Start a job; one released from inside another job's `start` waits for that to return (no deep recursion). */
  #start(job: QueuedJob): void {
    if (this.#starting) {
      this.#ready.push(job);
      return;
    }
    this.#starting = true;
    try {
      job.start();
      const ready = this.#ready;
      if (ready.length > 0) {
        for (let i = 0; i < ready.length; i++) ready[i]!.start();
        ready.length = 0;
      }
    } finally {
      this.#starting = false;
    }
  }

  #wakeSpaceWaiters(): void {
    const waiters = this.#spaceWaiters;
    let kept = 0;
    for (const waiter of waiters) {
      if (this.#pending < waiter.limit && this.#waiting < waiter.waitingLimit) waiter.resolve();
      else waiters[kept++] = waiter;
    }
    waiters.length = kept;
  }
}

/** A task's promise, with a synchronous throw turned into a rejection. */
function settle(task: () => Promise<void>): Promise<void> {
  try {
    return task();
  } catch (error) {
    return Promise.reject(error);
  }
}
