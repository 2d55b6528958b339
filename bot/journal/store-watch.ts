/**
 * Whether a store the bot needs is down, from a probe every interval (Redis and PostgreSQL, when configured):
 * the inbound journal holds new events while it is, and dispatches them once the probe answers again.
 */
import type { Logger } from "pino";
import type { Core } from "../core.ts";
import { probeStores } from "../readiness.ts";

/** A watch over the configured stores; `isDown` is the last probe's answer. */
export class StoreWatch {
  readonly #core: Pick<Core, "config" | "kv" | "store">;
  readonly #log: Logger;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #isProbing = false;
  /** What the last probe found down, or undefined when everything answered. */
  down: string | undefined;

  constructor(core: Pick<Core, "config" | "kv" | "store">, { log, intervalMs }: { log: Logger; intervalMs: number }) {
    this.#core = core;
    this.#log = log;
    this.#intervalMs = intervalMs;
  }

  /** True when some store is configured, so there is something to watch. */
  get isNeeded(): boolean {
    const storage = this.#core.config.storage;
    return storage.redisUrl !== undefined || storage.databaseUrl !== undefined;
  }

  get isDown(): boolean {
    return this.down !== undefined;
  }

  start(): void {
    if (!this.isNeeded || this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.probe(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Probe now (one at a time). */
  async probe(): Promise<void> {
    if (this.#isProbing) return;
    this.#isProbing = true;
    try {
      const failed = (await probeStores(this.#core)).filter((p) => !p.ok);
      const down = failed.length === 0 ? undefined : failed.map((p) => `${p.name}: ${p.error}`).join("; ");
      if (down !== this.down) {
        if (down === undefined) this.#log.info("stores answer again; held journal events go on");
        else this.#log.warn({ down }, "a store is down; new events are held in the journal");
      }
      this.down = down;
    } finally {
      this.#isProbing = false;
    }
  }
}
