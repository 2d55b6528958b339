/**
 * Delivery dedupe: the in-memory sequence window (bits over the newest numbers) and its fallback to delivery
 * ids, and the shared path on real Redis, where sequences are ignored and every process sees one answer.
 */
import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import {
  createEphemeral,
  deliveryDedupe,
  SEQUENCE_WINDOW_SIZE,
  SequenceWindow,
  type Keyv,
} from "../../../bot/index.ts";
import { REDIS_URL, serviceAvailable } from "../../helpers/services.ts";

const redisUp = await serviceAvailable("redis");
const TTL = 600_000;

describe("SequenceWindow", () => {
  it("answers true once per number, in or out of order", () => {
    const window = new SequenceWindow(TTL);
    const seen: (boolean | undefined)[] = [];
    for (const seq of [10, 12, 11, 12, 10, 13, 11]) seen.push(window.mark(seq, 0));
    expect(seen).toEqual([true, true, true, false, false, true, false]);
  });

  it("forgets the slots it skips when the newest number jumps ahead", () => {
    const window = new SequenceWindow(TTL);
    expect(window.mark(5, 0)).toBe(true);
    // 5 + SIZE shares 5's slot: the jump must clear it rather than report a duplicate.
    expect(window.mark(5 + SEQUENCE_WINDOW_SIZE, 0)).toBe(true);
    expect(window.mark(5, 0)).toBeUndefined(); // now older than the window covers
    expect(window.mark(6, 0)).toBe(true); // skipped over, never seen: new
    expect(window.mark(6, 0)).toBe(false);
    // A gap smaller than the window clears exactly the skipped slots.
    const small = new SequenceWindow(TTL);
    expect(small.mark(100, 0)).toBe(true);
    expect(small.mark(99, 0)).toBe(true);
    expect(small.mark(100 + SEQUENCE_WINDOW_SIZE - 1, 0)).toBe(true); // 99's slot is 99 + SIZE: not touched
    expect(small.mark(99, 0)).toBeUndefined();
    expect(small.mark(100, 0)).toBe(false);
  });

  it("answers undefined for a number older than the window, so the caller checks it another way", () => {
    const window = new SequenceWindow(TTL);
    window.mark(SEQUENCE_WINDOW_SIZE * 3, 0);
    expect(window.mark(SEQUENCE_WINDOW_SIZE * 3 - SEQUENCE_WINDOW_SIZE + 1, 0)).toBe(true);
    expect(window.mark(SEQUENCE_WINDOW_SIZE * 3 - SEQUENCE_WINDOW_SIZE, 0)).toBeUndefined();
  });

  it("starts afresh when nothing newer came for a whole TTL (ids may restart lower)", () => {
    const window = new SequenceWindow(1_000);
    expect(window.mark(500, 0)).toBe(true);
    expect(window.mark(400, 0)).toBe(true);
    expect(window.mark(400, 900)).toBe(false);
    // After the TTL the old marks are expired: a lower number (a restart) is new, then remembered.
    expect(window.mark(400, 2_000)).toBe(true);
    expect(window.mark(400, 2_001)).toBe(false);
    expect(window.mark(500, 2_002)).toBe(true);
  });
});

describe("deliveryDedupe in memory", () => {
  it("checks sequences with the window and falls back to delivery ids for the rest", () => {
    const first = deliveryDedupe(createEphemeral(), TTL);
    const marked = (): number => [...first.marks.values()].reduce((n, m) => n + m.size, 0);
    expect(first({ platform: "telegram", deliveryId: "telegram:7", sequence: 7, receivedAt: 0 })).toBe(true);
    expect(first({ platform: "telegram", deliveryId: "telegram:7", sequence: 7, receivedAt: 0 })).toBe(false);
    // Sequenced deliveries keep no per-id mark.
    expect(marked()).toBe(0);
    // Platforms have windows of their own.
    expect(first({ platform: "discord", deliveryId: "discord:7", sequence: 7, receivedAt: 0 })).toBe(true);
    // No sequence, or a bad one: by delivery id.
    expect(first({ platform: "slack", deliveryId: "slack:Ev1", receivedAt: 0 })).toBe(true);
    expect(first({ platform: "slack", deliveryId: "slack:Ev1", receivedAt: 0 })).toBe(false);
    expect(first({ platform: "telegram", deliveryId: "telegram:x", sequence: 1.5, receivedAt: 0 })).toBe(true);
    expect(first({ platform: "telegram", deliveryId: "telegram:x", sequence: 1.5, receivedAt: 0 })).toBe(false);
    expect(marked()).toBe(2);
  });

  it("a redelivery far behind the window is still caught when its id was remembered", () => {
    const kv = createEphemeral();
    const first = deliveryDedupe(kv, TTL);
    const newest = SEQUENCE_WINDOW_SIZE * 2;
    expect(first({ platform: "telegram", deliveryId: "telegram:new", sequence: newest, receivedAt: 0 })).toBe(true);
    expect(first({ platform: "telegram", deliveryId: "telegram:old", sequence: 1, receivedAt: 0 })).toBe(true);
    expect(first({ platform: "telegram", deliveryId: "telegram:old", sequence: 1, receivedAt: 0 })).toBe(false);
  });

  it("times the window's expiry by the deliveries' receivedAt", () => {
    const first = deliveryDedupe(createEphemeral(), 1_000);
    expect(first({ platform: "telegram", deliveryId: "telegram:9", sequence: 9, receivedAt: 0 })).toBe(true);
    expect(first({ platform: "telegram", deliveryId: "telegram:9", sequence: 9, receivedAt: 500 })).toBe(false);
    expect(first({ platform: "telegram", deliveryId: "telegram:9", sequence: 9, receivedAt: 5_000 })).toBe(true);
  });
});

describe.skipIf(!redisUp)("deliveryDedupe on Redis", () => {
  const opened: Keyv[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((kv) => kv.disconnect()));
  });

  it("ignores sequences and lets exactly one of two processes' checks through", async () => {
    const namespace = `sbtest-${randomUUID().slice(0, 8)}`;
    const a = createEphemeral({ redisUrl: REDIS_URL, namespace });
    const b = createEphemeral({ redisUrl: REDIS_URL, namespace });
    opened.push(a, b);
    const [checkA, checkB] = [deliveryDedupe(a, TTL), deliveryDedupe(b, TTL)];
    const delivery = {
      platform: "telegram",
      deliveryId: `telegram:${randomUUID()}`,
      sequence: 42,
      receivedAt: 0,
    } as const;
    const answers = await Promise.all([checkA(delivery), checkB(delivery), checkA(delivery)]);
    expect(answers.filter((x) => x === true)).toHaveLength(1);
    // Another id with the same sequence number is a different delivery on a shared store.
    expect(await checkB({ ...delivery, deliveryId: `telegram:${randomUUID()}` })).toBe(true);
  });
});

if (!redisUp) console.log("dedupe: Redis tests skipped; start Redis on 127.0.0.1:6379 to run them");
