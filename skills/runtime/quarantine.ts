/**
 * Quarantine of skills that keep crashing their own host: `quarantineAfterCrashes` crashes within
 * `quarantineWindowMs` turn the skill off in every chat until an admin enables it again. The record is kept in
 * the key-value store (namespace `skills.quarantine`, scope `*`), so a restart does not let the skill back in.
 * Crash times are kept per skill, at most `quarantineAfterCrashes` of them, none older than the window.
 */
import type { KvRepo } from "../../bot/index.ts";

const NAMESPACE = "skills.quarantine";
const SCOPE = "*";

/** Why and when a skill was quarantined. */
export interface QuarantineRecord {
  at: number;
  crashes: number;
  reason: string;
}

/** Options for the quarantine. */
export interface QuarantineOptions {
  kv: KvRepo;
  afterCrashes: number;
  windowMs: number;
  now: () => number;
}

/** Crash counts and quarantined skills. */
export class Quarantine {
  readonly #options: QuarantineOptions;
  readonly #records = new Map<string, QuarantineRecord>();
  readonly #crashes = new Map<string, number[]>();

  constructor(options: QuarantineOptions) {
    this.#options = options;
  }

  /** Read the quarantined skills from the store. */
  async load(): Promise<void> {
    const entries = await this.#options.kv.list<QuarantineRecord>(NAMESPACE, SCOPE, { limit: 10_000 });
    this.#records.clear();
    for (const entry of entries) this.#records.set(entry.key, entry.value);
  }

  /** The record of a quarantined skill, or undefined. */
  get(name: string): QuarantineRecord | undefined {
    return this.#records.get(name);
  }

  /** Count a crash; returns the new record when this crash put the skill in quarantine. */
  async recordCrash(name: string, reason: string): Promise<QuarantineRecord | undefined> {
    if (this.#records.has(name)) return undefined;
    const now = this.#options.now();
    const recent = (this.#crashes.get(name) ?? []).filter((at) => now - at < this.#options.windowMs);
    recent.push(now);
    if (recent.length < this.#options.afterCrashes) {
      this.#crashes.set(name, recent.slice(-this.#options.afterCrashes));
      return undefined;
    }
    this.#crashes.delete(name);
    const record: QuarantineRecord = { at: now, crashes: recent.length, reason };
    this.#records.set(name, record);
    await this.#options.kv.set(NAMESPACE, SCOPE, { key: name, value: record });
    return record;
  }

  /** Let the skill run again (an admin enabled it); true when it was quarantined. */
  async clear(name: string): Promise<boolean> {
    this.#crashes.delete(name);
    if (!this.#records.delete(name)) return false;
    await this.#options.kv.delete(NAMESPACE, SCOPE, name);
    return true;
  }
}
