/**
 * Throttled edits of one message, for streaming replies: updates coalesce to the latest text, at most one edit
 * per interval goes out, and the last text given is always applied in the end (the final edit carries the whole
 * text).
 */

/** Options for an `EditThrottle`. */
export interface EditThrottleOptions {
  /** Least time between two edits of this message, in ms. */
  minIntervalMs: number;
  /** Apply one edit on the platform. */
  apply(text: string): Promise<void>;
  /** Clock, for tests. */
  now?(): number;
}

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

/** Coalesces edits of one message. Create one per streamed message (see `EditThrottles` for a keyed set). */
export class EditThrottle {
  readonly #options: EditThrottleOptions;
  #latest: string | undefined;
  #applied: string | undefined;
  #lastEditAt = Number.NEGATIVE_INFINITY;
  #running: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #waiters: Waiter[] = [];
  #edits = 0;

  constructor(options: EditThrottleOptions) {
    this.#options = options;
  }

  /** Edits sent so far. */
  get edits(): number {
    return this.#edits;
  }

  /**
   * Ask for the message to show `text`. Resolves once this text, or a later one that replaced it, is on the
   * platform; rejects when that edit failed.
   */
  update(text: string): Promise<void> {
    this.#latest = text;
    const done = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    this.#pump();
    return done;
  }

  /** Whether an edit is queued or running. */
  get isIdle(): boolean {
    return this.#running === undefined && this.#timer === undefined && this.#waiters.length === 0;
  }

  /** Stop a pending timer; pending updates are rejected. */
  cancel(reason: unknown = new Error("edit cancelled")): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const w of this.#waiters.splice(0)) w.reject(reason);
  }

  #now(): number {
    return this.#options.now?.() ?? Date.now();
  }

  #pump(): void {
    if (this.#running !== undefined || this.#timer !== undefined) return;
    if (this.#waiters.length === 0) return;
    const waitMs = this.#lastEditAt + this.#options.minIntervalMs - this.#now();
    if (waitMs > 0) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#pump();
      }, waitMs);
      return;
    }
    const text = this.#latest!;
    const waiters = this.#waiters.splice(0);
    if (text === this.#applied) {
      for (const w of waiters) w.resolve();
      return;
    }
    this.#lastEditAt = this.#now();
    this.#edits++;
    this.#running = this.#options
      .apply(text)
      .then(
        () => {
          this.#applied = text;
          for (const w of waiters) w.resolve();
        },
        (error: unknown) => {
          for (const w of waiters) w.reject(error);
        },
      )
      .finally(() => {
        this.#running = undefined;
        this.#pump();
      });
  }
}

/** A set of `EditThrottle`s keyed by message, dropped once idle. */
export class EditThrottles {
  readonly #throttles = new Map<string, EditThrottle>();
  readonly #minIntervalMs: number;

  constructor(minIntervalMs: number) {
    this.#minIntervalMs = minIntervalMs;
  }

  /** Throttled edit of the message `key`; `apply` does the platform call. */
  async edit(key: string, text: string, apply: (text: string) => Promise<void>): Promise<void> {
    let throttle = this.#throttles.get(key);
    if (throttle === undefined) {
      throttle = new EditThrottle({ minIntervalMs: this.#minIntervalMs, apply: (t) => this.#applyLatest(key, t) });
      this.#throttles.set(key, throttle);
    }
    this.#appliers.set(key, apply);
    try {
      await throttle.update(text);
    } finally {
      // Keep the throttle (and so the last edit time) for one interval after it goes idle.
      if (throttle.isIdle) this.#forgetLater(key, throttle);
    }
  }

  readonly #appliers = new Map<string, (text: string) => Promise<void>>();

  #applyLatest(key: string, text: string): Promise<void> {
    return this.#appliers.get(key)!(text);
  }

  #forgetLater(key: string, throttle: EditThrottle): void {
    const timer = setTimeout(() => {
      if (this.#throttles.get(key) === throttle && throttle.isIdle) {
        this.#throttles.delete(key);
        this.#appliers.delete(key);
      }
    }, this.#minIntervalMs);
    timer.unref();
  }

  /** Messages with a live throttle. */
  get size(): number {
    return this.#throttles.size;
  }

  /** Cancel every pending edit. */
  cancelAll(): void {
    for (const t of this.#throttles.values()) t.cancel();
    this.#throttles.clear();
    this.#appliers.clear();
  }
}
