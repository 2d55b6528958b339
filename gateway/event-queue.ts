/**
 * The events of one streamed answer, between the model call (which pushes them as they come) and the response
 * (which pulls them): whatever queued up while the socket was busy goes out as one write.
 */
/** A queue of events between the model call and the response: pushed as they come, pulled by the stream. */
export class EventQueue implements AsyncIterable<string> {
  readonly #items: string[] = [];
  #ended = false;
  #error: { error: unknown } | undefined;
  #wake: (() => void) | undefined;

  push(item: string): void {
    this.#items.push(item);
    this.#wake?.();
  }

  end(): void {
    this.#ended = true;
    this.#wake?.();
  }

  fail(error: unknown): void {
    this.#error = { error };
    this.#wake?.();
  }

  /** The failure, for a stream that never started. */
  async failure(): Promise<unknown> {
    return this.#error?.error ?? new Error("the stream ended before it started");
  }

  async *[Symbol.asyncIterator](): AsyncIterator<string> {
    for (;;) {
      if (this.#items.length > 0) {
        // Everything queued goes out as one write.
        yield this.#items.splice(0).join("");
        continue;
      }
      if (this.#error !== undefined) throw this.#error.error;
      if (this.#ended) return;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = undefined;
    }
  }
}
