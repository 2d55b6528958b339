import { describe, expect, it } from "vitest";
import { systemClock, turnClock } from "../../../bot/index.ts";

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const busyWait = (ms: number): void => {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    /* spin */
  }
};

describe("turnClock", () => {
  it("reads the system clock once per event-loop turn", async () => {
    const clock = turnClock(systemClock);
    await nextTurn();
    const first = clock.now();
    busyWait(5);
    expect(clock.now()).toBe(first); // same turn: the same reading, though time moved
    await Promise.resolve();
    expect(clock.now()).toBe(first); // microtasks belong to the turn
    await nextTurn();
    const later = clock.now();
    expect(later).toBeGreaterThanOrEqual(first + 5);
    expect(Math.abs(later - Date.now())).toBeLessThan(1_000);
  });

  it("leaves any other clock as it is", () => {
    let t = 0;
    const fake = { now: () => t };
    const clock = turnClock(fake);
    expect(clock).toBe(fake);
    t = 42;
    expect(clock.now()).toBe(42);
  });
});
