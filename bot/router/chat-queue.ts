/**
 * Per-conversation serial processing: work for one key runs one at a time, in arrival order; different keys
 * run in parallel. A key with nothing queued runs its task at once (no promise chain); only a busy key queues.
 */

/** A task waiting behind a busy key, with the settlement of the promise its caller holds. */
interface Waiting {
  task: () => Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** One busy key: what waits behind the running task (a bare task when nobody waits for its outcome). */
class Lane {
  readonly key: string;
  readonly waiting: (Waiting | (() => Promise<void>))[] = [];
  head = 0;
  /** Called when the running task settles, either way. */
  readonly next: () => void;

  constructor(key: string, next: (lane: Lane) => void) {
    this.key = key;
    this.next = () => next(this);
  }
}

/** Serial queues by key. */
export class KeyedQueue {
  readonly #lanes = new Map<string, Lane>();
  /** Tasks queued or running. */
  #pending = 0;
  #drainWaiters: (() => void)[] = [];
  #spaceWaiters: { limit: number; resolve: () => void }[] = [];
  /** The smallest limit anyone waits for; infinite when nobody waits. */
  #lowestWaitLimit = Number.POSITIVE_INFINITY;
  readonly #advance = (lane: Lane): void => this.#finished(lane);

  /** Run `task` after everything queued before it under `key`. The returned promise settles with it. */
  run(key: string, task: () => Promise<void>): Promise<void> {
    this.#pending++;
    const lane = this.#lanes.get(key);
    if (lane !== undefined) return new Promise<void>((resolve, reject) => { lane.waiting.push({ task, resolve, reject }); });
    const fresh = new Lane(key, this.#advance);
    this.#lanes.set(key, fresh);
    return start(fresh, task);
  }

  /**
   * Queue `task` like `run`, for a caller that does not wait for it: no promise is made for its outcome. The
   * task must handle its own errors (a rejection is only noted to advance the queue).
   */
  enqueue(key: string, task: () => Promise<void>): void {
    this.#pending++;
    const lane = this.#lanes.get(key);
    if (lane !== undefined) {
      lane.waiting.push(task);
      return;
    }
    const fresh = new Lane(key, this.#advance);
    this.#lanes.set(key, fresh);
    void start(fresh, task);
  }

  /** Keys with work queued or running. */
  get activeKeys(): number {
    return this.#lanes.size;
  }

  /** Tasks queued or running. */
  get pending(): number {
    return this.#pending;
  }

  /** Resolves once fewer than `limit` tasks are queued or running (at once when that is already so). */
  whenBelow(limit: number): Promise<void> {
    if (this.#pending < limit) return Promise.resolve();
    if (limit < this.#lowestWaitLimit) this.#lowestWaitLimit = limit;
    return new Promise<void>((resolve) => { this.#spaceWaiters.push({ limit, resolve }); });
  }

  /** Resolves when everything queued so far (and anything queued meanwhile) has settled. */
  drain(): Promise<void> {
    if (this.#pending === 0) return Promise.resolve();
    return new Promise<void>((resolve) => { this.#drainWaiters.push(resolve); });
  }

  #finished(lane: Lane): void {
    this.#pending--;
    if (this.#pending < this.#lowestWaitLimit) this.#wakeSpaceWaiters();
    if (lane.head < lane.waiting.length) {
      const item = lane.waiting[lane.head]!;
      lane.waiting[lane.head++] = undefined as unknown as Waiting;
      if (lane.head === lane.waiting.length) {
        lane.waiting.length = 0;
        lane.head = 0;
      }
      if (typeof item === "function") void start(lane, item);
      else start(lane, item.task).then(item.resolve, item.reject);
      return;
    }
    this.#lanes.delete(lane.key);
    if (this.#pending === 0 && this.#drainWaiters.length > 0) {
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  #wakeSpaceWaiters(): void {
    const waiters = this.#spaceWaiters;
    let kept = 0;
    let lowest = Number.POSITIVE_INFINITY;
    for (const waiter of waiters) {
      if (this.#pending < waiter.limit) waiter.resolve();
      else {
        waiters[kept++] = waiter;
        if (waiter.limit < lowest) lowest = waiter.limit;
      }
    }
    waiters.length = kept;
    this.#lowestWaitLimit = lowest;
  }
}

function start(lane: Lane, task: () => Promise<void>): Promise<void> {
  let work: Promise<void>;
  try {
    work = task();
  } catch (error) {
    work = Promise.reject(error);
  }
  work.then(lane.next, lane.next);
  return work;
}
