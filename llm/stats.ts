/**
 * Per-model call records, buffered: a turn never waits for its statistics to be written. The buffer is flushed
 * every `flushIntervalMs`, before statistics are read, and at shutdown.
 */
import type { Logger } from "pino";
import type { CallRecord, LlmStore, ModelStats } from "./store.ts";

/** Buffers call records and writes them in batches. */
export class CallStats {
  readonly #store: LlmStore;
  readonly #log: Logger | undefined;
  readonly #track: <T>(p: Promise<T>) => Promise<T>;
  #buffer: CallRecord[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  constructor(options: {
    store: LlmStore;
    log?: Logger;
    track?: <T>(p: Promise<T>) => Promise<T>;
    flushIntervalMs?: number;
  }) {
    this.#store = options.store;
    this.#log = options.log;
    this.#track = options.track ?? ((p) => p);
    const interval = options.flushIntervalMs ?? 1_000;
    this.#timer = setInterval(() => void this.flush(), interval);
    this.#timer.unref?.();
  }

  /** Add one call record. */
  record(call: CallRecord): void {
    this.#buffer.push(call);
  }

  /** Write what is buffered. Never rejects (a failed write is logged and the records dropped). */
  flush(): Promise<void> {
    if (this.#buffer.length === 0) return this.#flushing;
    const batch = this.#buffer;
    this.#buffer = [];
    this.#flushing = this.#track(
      this.#flushing
        .then(() => this.#store.recordCalls(batch))
        .catch((error: unknown) => {
          this.#log?.warn({ err: error, records: batch.length }, "could not record LLM calls");
        }),
    );
    return this.#flushing;
  }

  /** Statistics since `sinceMs`, including what is still buffered. */
  async read(sinceMs: number): Promise<ModelStats[]> {
    await this.flush();
    return this.#store.modelStats(sinceMs);
  }

  /** Flush and stop the timer. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }
}
