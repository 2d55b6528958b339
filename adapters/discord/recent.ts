/**
 * Bounded memories of recent keys (redelivered interactions, interaction tokens) in two generations: writes go
 * to the current one; when it is full it becomes the previous one and the old previous one is dropped whole.
 * Keeps at least the last `capacity` keys written (at most twice that). Evicting one oldest entry per write
 * from a single `Map`/`Set` instead leaves deleted slots at its front that every `keys().next()` walks over
 * again, so a full memory gets slower per write.
 */
export class RecentMap<K, V> {
  readonly #capacity: number;
  #current = new Map<K, V>();
  #previous = new Map<K, V>();

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get(key: K): V | undefined {
    const value = this.#current.get(key);
    return value !== undefined || this.#current.has(key) ? value : this.#previous.get(key);
  }

  has(key: K): boolean {
    return this.#current.has(key) || this.#previous.has(key);
  }

  set(key: K, value: V): void {
    this.#current.set(key, value);
    if (this.#current.size >= this.#capacity) {
      this.#previous = this.#current;
      this.#current = new Map();
    }
  }

  /** Keys held (a key written in both generations counts twice). */
  get size(): number {
    return this.#current.size + this.#previous.size;
  }
}

/** `RecentMap` without values: `add` says whether the key is new. */
export class RecentSet<K> {
  readonly #capacity: number;
  #current = new Set<K>();
  #previous = new Set<K>();

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  has(key: K): boolean {
    return this.#current.has(key) || this.#previous.has(key);
  }

  /** Remember `key`; true when it was not already remembered. */
  add(key: K): boolean {
    if (this.#current.has(key) || this.#previous.has(key)) return false;
    this.#current.add(key);
    if (this.#current.size >= this.#capacity) {
      this.#previous = this.#current;
      this.#current = new Set();
    }
    return true;
  }
}
