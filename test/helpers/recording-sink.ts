/** A recording `InboundSink` for adapter tests. */
import type { Inbound } from "../../bot/index.ts";

/** A recording sink: every Inbound, and a way to wait for one by delivery id. */
export class RecordingSink {
  readonly received: Inbound[] = [];
  readonly #waiters = new Map<string, (inbound: Inbound) => void>();

  readonly sink = async (inbound: Inbound): Promise<void> => {
    this.received.push(inbound);
    this.#waiters.get(inbound.deliveryId)?.(inbound);
  };

  /** The Inbound with this delivery id, once it arrives. */
  waitFor(deliveryId: string, timeoutMs = 15_000): Promise<Inbound> {
    const seen = this.received.find((i) => i.deliveryId === deliveryId);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(deliveryId);
        reject(new Error(`no inbound ${deliveryId} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.set(deliveryId, (inbound) => {
        clearTimeout(timer);
        this.#waiters.delete(deliveryId);
        resolve(inbound);
      });
    });
  }
}
