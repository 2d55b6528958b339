/**
 * Delivery ids seen, compactly, for platforms whose deliveries carry no sequence number (Slack event ids,
 * Discord interaction ids). A map of id strings cost 60–85 bytes a mark and grew with traffic for the whole
 * dedupe window; here a mark is a 52-bit fingerprint of the id in an open-addressed table of doubles (8 bytes a
 * slot, at most half full: ≤ 16 bytes a mark, with no object per mark for the garbage collector to trace).
 *
 * Marks are kept in time buckets ("generations"): `generations` tables, the newest taking inserts; every
 * `ttlMs / (generations - 1)` the oldest table is dropped whole, so a mark is remembered for at least `ttlMs`
 * and at most `ttlMs · generations / (generations − 1)`. The count is bounded too: when the newest table holds
 * `maxMarks / generations` marks it is rotated early, which under a flood shortens how long the oldest marks
 * are kept rather than growing memory (`earlyRotations` counts it).
 *
 * A fingerprint can collide: two different ids with the same 52 bits make the second look like a redelivery.
 * With a million marks held, the chance for one message is about 10⁶ / 2⁵² ≈ 2·10⁻¹⁰.
 */

/** Options for `DeliveryMarks`. */
export interface DeliveryMarksOptions {
  /** The dedupe window: a mark is remembered at least this long, in ms. */
  ttlMs: number;
  /** Most marks held at once. */
  maxMarks: number;
  /** Time buckets (≥ 2). Default 4. */
  generations?: number;
}

const MIN_SLOTS = 1 << 10;
/** 2^32, to put two 32-bit hashes into one double. */
const TWO_POW_32 = 4_294_967_296;

/** One generation: a set of non-zero doubles, open-addressed with linear probing, grown by doubling. */
class FingerprintTable {
  slots = new Float64Array(MIN_SLOTS);
  count = 0;

  has(fp: number, lo: number): boolean {
    const slots = this.slots;
    const mask = slots.length - 1;
    for (let i = lo & mask; ; i = (i + 1) & mask) {
      const s = slots[i]!;
      if (s === fp) return true;
      if (s === 0) return false;
    }
  }

  add(fp: number, lo: number): void {
    if ((this.count + 1) * 2 > this.slots.length) this.#grow();
    this.#place(this.slots, fp, lo);
    this.count++;
  }

  #place(slots: Float64Array, fp: number, lo: number): void {
    const mask = slots.length - 1;
    let i = lo & mask;
    while (slots[i] !== 0) i = (i + 1) & mask;
    slots[i] = fp;
  }

  #grow(): void {
    const old = this.slots;
    const next = new Float64Array(old.length * 2);
    for (const fp of old) if (fp !== 0) this.#place(next, fp, (fp % TWO_POW_32) >>> 0);
    this.slots = next;
  }
}

/** Delivery ids seen within the dedupe window, bounded by count and by age (see the module doc). */
export class DeliveryMarks {
  readonly #tables: FingerprintTable[];
  readonly #rotateEveryMs: number;
  readonly #maxPerTable: number;
  #rotatedAtMs = Number.NaN;
  /** Rotations forced by the count bound before their time. */
  earlyRotations = 0;

  constructor(options: DeliveryMarksOptions) {
    const generations = options.generations ?? 4;
    if (!(generations >= 2)) throw new RangeError(`generations must be ≥ 2, got ${generations}`);
    if (!(options.maxMarks >= generations)) throw new RangeError(`maxMarks must be ≥ ${generations}`);
    this.#tables = Array.from({ length: generations }, () => new FingerprintTable());
    this.#rotateEveryMs = options.ttlMs / (generations - 1);
    this.#maxPerTable = Math.floor(options.maxMarks / generations);
  }

  /** True the first time `id` is seen (and now marked), false when it is marked. `nowMs` is the delivery's time. */
  mark(id: string, nowMs: number): boolean {
    if (Number.isNaN(this.#rotatedAtMs)) this.#rotatedAtMs = nowMs;
    else if (nowMs - this.#rotatedAtMs >= this.#rotateEveryMs) this.#rotateByTime(nowMs);
    // Two independent 32-bit hashes; the fingerprint is 52 bits of them, never 0 (0 marks an empty slot).
    let h1 = 0x811c9dc5;
    let h2 = 0x9747b28c;
    for (let i = 0; i < id.length; i++) {
      const c = id.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995);
      h2 ^= h2 >>> 15;
    }
    h1 ^= h1 >>> 16;
    h1 = Math.imul(h1, 0x85ebca6b);
    h1 ^= h1 >>> 13;
    const lo = h1 >>> 0;
    const fp = ((h2 >>> 12) + 1) * TWO_POW_32 + lo; // (2^20 values, never 0) · 2^32 + lo: an exact double
    const tables = this.#tables;
    for (let g = 0; g < tables.length; g++) if (tables[g]!.has(fp, lo)) return false;
    let newest = tables[tables.length - 1]!;
    if (newest.count >= this.#maxPerTable) {
      this.earlyRotations++;
      this.#rotate(nowMs);
      newest = tables[tables.length - 1]!;
    }
    newest.add(fp, lo);
    return true;
  }

  /** Marks held. */
  get size(): number {
    let n = 0;
    for (const table of this.#tables) n += table.count;
    return n;
  }

  /** Bytes held by the tables. */
  get bytes(): number {
    let n = 0;
    for (const table of this.#tables) n += table.slots.byteLength;
    return n;
  }

  #rotateByTime(nowMs: number): void {
    // After a long quiet spell every generation is past its time: drop them all at once.
    const steps = Math.min(this.#tables.length, Math.floor((nowMs - this.#rotatedAtMs) / this.#rotateEveryMs));
    for (let i = 0; i < steps; i++) this.#rotate(nowMs);
  }

  #rotate(nowMs: number): void {
    const tables = this.#tables;
    tables.shift();
    tables.push(new FingerprintTable());
    this.#rotatedAtMs = nowMs;
  }
}
