/**
 * Delivery dedupe: true the first time a delivery is seen, false for a redelivery within the dedupe window.
 *
 * On Redis it is one atomic `SET NX PX` per delivery id, shared by every process. In memory, a delivery that
 * carries a `sequence` (a number the platform raises with every delivery, such as Telegram's `update_id`) is
 * checked against a sliding window of bits over the most recent sequence numbers: no string kept per message, no
 * map that grows with traffic. Anything the window cannot answer (no sequence, or one far behind the newest) falls
 * back to remembering the delivery id as a compact fingerprint (`DeliveryMarks`: time-bucketed tables, bounded by
 * count and by age), one set per platform.
 */
import type Keyv from "keyv";
import type { Clock } from "../core.ts";
import { onceChecker } from "../ephemeral.ts";
import type { Inbound } from "../model.ts";
import { DeliveryMarks } from "./delivery-marks.ts";

/** What dedupe needs of a message. */
export type DeliveryKey = Pick<Inbound, "platform" | "deliveryId" | "sequence" | "receivedAt">;

/** The dedupe check the router runs for every message. */
export type DeliveryCheck = (delivery: DeliveryKey) => boolean | Promise<boolean>;

/** Sequence numbers a window remembers, a power of two (8 KiB of bits). */
export const SEQUENCE_WINDOW_SIZE = 1 << 16;

/**
 * The sequence numbers seen among the newest `SEQUENCE_WINDOW_SIZE` of one source, as bits. `mark` answers
 * `undefined` when a number is older than the window covers, so the caller checks it another way.
 */
export class SequenceWindow {
  readonly #bits = new Int32Array(SEQUENCE_WINDOW_SIZE >>> 5);
  readonly #ttlMs: number;
  /** The newest sequence number seen; NaN before the first. */
  #newest = Number.NaN;
  #newestAtMs = 0;

  /** `ttlMs`: after this long without a newer number the window forgets everything (ids may restart lower). */
  constructor(ttlMs: number) {
    this.#ttlMs = ttlMs;
  }

  /** True when `seq` is new (and now marked), false when already marked, undefined when older than the window. */
  mark(seq: number, nowMs: number): boolean | undefined {
    const newest = this.#newest;
    if (seq > newest) {
      this.#advance(seq);
      this.#newestAtMs = nowMs;
      return true;
    }
    if (Number.isNaN(newest) || nowMs - this.#newestAtMs > this.#ttlMs) {
      // First number, or nothing newer for a whole dedupe window: what the bits hold has expired. Telegram, for
      // one, restarts its update ids at a random number after a week without updates.
      this.#newest = Number.NaN;
      this.#advance(seq);
      this.#newestAtMs = nowMs;
      return true;
    }
    if (newest - seq >= SEQUENCE_WINDOW_SIZE) return undefined;
    const slot = seq % SEQUENCE_WINDOW_SIZE;
    const word = slot >>> 5;
    const bit = 1 << (slot & 31);
    if ((this.#bits[word]! & bit) !== 0) return false;
    this.#bits[word]! |= bit;
    return true;
  }

  /** Forget that `seq` was seen (its handling could not be recorded): a redelivery of it counts as new. */
  unmark(seq: number): void {
    if (Number.isNaN(this.#newest) || seq > this.#newest || this.#newest - seq >= SEQUENCE_WINDOW_SIZE) return;
    const slot = seq % SEQUENCE_WINDOW_SIZE;
    this.#bits[slot >>> 5]! &= ~(1 << (slot & 31));
  }

  /** Move the newest number to `seq`, clearing the slots of the numbers skipped on the way. */
  #advance(seq: number): void {
    const bits = this.#bits;
    const from = this.#newest;
    if (Number.isNaN(from) || seq - from >= SEQUENCE_WINDOW_SIZE) bits.fill(0);
    else {
      for (let n = from + 1; n < seq; n++) {
        const slot = n % SEQUENCE_WINDOW_SIZE;
        bits[slot >>> 5]! &= ~(1 << (slot & 31));
      }
    }
    const slot = seq % SEQUENCE_WINDOW_SIZE;
    bits[slot >>> 5]! |= 1 << (slot & 31);
    this.#newest = seq;
  }
}

/** Options for `deliveryDedupe`. */
export interface DedupeOptions {
  /** Most delivery-id marks held per platform in memory. Default 1,000,000 (≤ 16 MB). */
  maxMarks?: number;
  /** The clock for delivery-id marks. Default the system clock. */
  clock?: Clock;
}

/** The in-memory dedupe's state, for tests and the heap benchmark. */
export interface DedupeState {
  /** Delivery-id marks per platform. */
  readonly marks: ReadonlyMap<string, DeliveryMarks>;
}

/**
 * The router's dedupe over `kv` for `ttlMs`: sequence windows per platform when `kv` is in memory (falling back
 * to delivery-id marks per platform), delivery ids alone on a shared store.
 */
export function deliveryDedupe(kv: Keyv, ttlMs: number, options: DedupeOptions = {}): DeliveryCheck & DedupeState {
  const marks = new Map<string, DeliveryMarks>();
  if (!(kv.store instanceof Map)) {
    const byId = onceChecker(kv, "dedupe:", ttlMs);
    return Object.assign((delivery: DeliveryKey) => byId(delivery.deliveryId), { marks });
  }
  const maxMarks = options.maxMarks ?? 1_000_000;
  const clock = options.clock;
  const byId = (delivery: DeliveryKey): boolean => {
    let platformMarks = marks.get(delivery.platform);
    if (platformMarks === undefined) {
      platformMarks = new DeliveryMarks({ ttlMs, maxMarks });
      marks.set(delivery.platform, platformMarks);
    }
    return platformMarks.mark(delivery.deliveryId, clock === undefined ? Date.now() : clock.now());
  };
  const windows = new Map<string, SequenceWindow>();
  const check = (delivery: DeliveryKey): boolean => {
    const seq = delivery.sequence;
    if (seq === undefined || !Number.isSafeInteger(seq) || seq < 0) return byId(delivery);
    let window = windows.get(delivery.platform);
    if (window === undefined) windows.set(delivery.platform, (window = new SequenceWindow(ttlMs)));
    // The window's times are the deliveries' own (`receivedAt`, stamped by one adapter): no clock read here.
    return window.mark(seq, delivery.receivedAt) ?? byId(delivery);
  };
  return Object.assign(check, { marks });
}
