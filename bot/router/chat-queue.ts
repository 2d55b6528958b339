/**
 * Per-conversation serial processing: work for one key runs one at a time, in arrival order; different keys
 * run in parallel. A key with nothing queued runs at once.
 */

/** Serial queues by key. */
export class KeyedQueue {
  readonly #tails = new Map<string, Promise<void>>();
  readonly #all = new Set<Promise<void>>();

  /** Run `task` after everything queued before it under `key`. The returned promise settles with it. */
  run(key: string, task: () => Promise<void>): Promise<void> {
    const previous = this.#tails.get(key);
    const next = previous === undefined ? task() : previous.then(task, task);
    const settled = next.then(noop, noop);
    this.#tails.set(key, settled);
    this.#all.add(settled);
    void settled.then(() => {
      this.#all.delete(settled);
      if (this.#tails.get(key) === settled) this.#tails.delete(key);
    });
    return next;
  }

  /** Keys with work queued or running. */
  get activeKeys(): number {
    return this.#tails.size;
  }

  /** Resolves when everything queued so far (and anything queued meanwhile) has settled. */
  async drain(): Promise<void> {
    while (this.#all.size > 0) await Promise.all([...this.#all]);
  }
}

function noop(): void {}
