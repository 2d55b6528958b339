/**
 * A map bounded by count and by age: the router's per-chat and per-user state (policy cache, chats seen) lives
 * in these, so traffic over many chats costs a fixed amount of memory.
 *
 * Entries are kept in the order they were last written, which is also the order of their write times (the
 * clock only moves forward), so the oldest entry is always the first: an insert past `maxEntries` drops it,
 * and entries older than `maxAgeMs` are dropped from the head a few at a time as new ones come in. A read of an
 * entry past its age answers `undefined`, whether or not it has been dropped yet.
 */
export class AgedMap<V> {
  readonly #entries = new Map<string, { value: V; atMs: number }>();
  readonly #maxEntries: number;
  readonly #maxAgeMs: number;

  /** `maxEntries` ≥ 1; `maxAgeMs` ≥ 0 (0: nothing is ever read back; Infinity: count only). */
  constructor(options: { maxEntries: number; maxAgeMs: number }) {
    if (!(options.maxEntries >= 1)) throw new RangeError(`maxEntries must be ≥ 1, got ${options.maxEntries}`);
    if (!(options.maxAgeMs >= 0)) throw new RangeError(`maxAgeMs must be ≥ 0, got ${options.maxAgeMs}`);
    this.#maxEntries = options.maxEntries;
    this.#maxAgeMs = options.maxAgeMs;
  }

  /** The value written for `key` within `maxAgeMs` of `nowMs`, else undefined. */
  get(key: string, nowMs: number): V | undefined {
    const entry = this.#entries.get(key);
    return entry !== undefined && nowMs - entry.atMs < this.#maxAgeMs ? entry.value : undefined;
  }

  /** True when `key` was written within `maxAgeMs` of `nowMs`. */
  has(key: string, nowMs: number): boolean {
    const entry = this.#entries.get(key);
    return entry !== undefined && nowMs - entry.atMs < this.#maxAgeMs;
  }

  /** Write `key` as the newest entry, then drop what is past the count or the age. */
  set(key: string, value: V, nowMs: number): void {
    const entries = this.#entries;
    const old = entries.get(key);
    if (old !== undefined) {
      entries.delete(key); // moved to the end: the map's order stays the write order
      old.value = value;
      old.atMs = nowMs;
      entries.set(key, old);
    } else entries.set(key, { value, atMs: nowMs });
    this.#trim(nowMs);
  }

  delete(key: string): boolean {
    return this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }

  /** Entries held (those past their age but not yet dropped included). */
  get size(): number {
    return this.#entries.size;
  }

  /** Drop the oldest while over the count, and up to a few expired ones (amortised: one write, a few drops). */
  #trim(nowMs: number): void {
    const entries = this.#entries;
    let budget = 4;
    for (const [key, entry] of entries) {
      if (entries.size > this.#maxEntries || (budget-- > 0 && nowMs - entry.atMs >= this.#maxAgeMs)) {
        entries.delete(key);
      } else break;
    }
  }
}
