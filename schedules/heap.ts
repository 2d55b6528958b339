/** A binary min-heap of `(atMs, id, generation)` entries; stale entries are skipped by the caller (lazy delete). */

/** One heap entry: fire `id` at `atMs`, valid while the schedule's generation is still `gen`. */
export interface HeapEntry {
  atMs: number;
  id: string;
  gen: number;
}

/** Min-heap ordered by `atMs`. */
export class MinHeap {
  readonly #items: HeapEntry[] = [];

  get size(): number {
    return this.#items.length;
  }

  /** The earliest entry without removing it. */
  peek(): HeapEntry | undefined {
    return this.#items[0];
  }

  push(entry: HeapEntry): void {
    const items = this.#items;
    items.push(entry);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent]!.atMs <= entry.atMs) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = entry;
  }

  /** Remove and return the earliest entry. */
  pop(): HeapEntry | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let i = 0;
    const n = items.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const child = r < n && items[r]!.atMs < items[l]!.atMs ? r : l;
      if (items[child]!.atMs >= last.atMs) break;
      items[i] = items[child]!;
      i = child;
    }
    items[i] = last;
    return top;
  }

  /** Drop everything. */
  clear(): void {
    this.#items.length = 0;
  }
}
