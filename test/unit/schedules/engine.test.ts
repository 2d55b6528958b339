import { describe, expect, it } from "vitest";
import { FireEngine } from "../../../schedules/index.ts";
import { TimeHeap } from "../../../schedules/heap.ts";
import { FakeTime } from "./fake-time.ts";

const T0 = Date.UTC(2026, 0, 1);

function engineOn(time: FakeTime, nextAfter: (id: string, after: number) => number | undefined) {
  const log: string[] = [];
  const engine = new FireEngine({
    clock: time,
    timers: time,
    onFire: (id, at) => log.push(`fire ${id}@${at - T0}`),
    nextAfter: (id, after) => {
      log.push(`next ${id}`);
      return nextAfter(id, after);
    },
    maxWaitMs: 3_600_000,
  });
  return { engine, log };
}

describe("min-heap", () => {
  it("pops in time order", () => {
    const heap = new TimeHeap();
    const times = Array.from({ length: 500 }, (_, i) => (i * 7919) % 1000);
    for (const t of times) heap.push(t);
    const popped: number[] = [];
    for (let e = heap.pop(); e !== undefined; e = heap.pop()) popped.push(e);
    expect(popped).toEqual([...times].sort((a, b) => a - b));
  });
});

describe("fire engine", () => {
  it("fires every schedule at its time from a single timer", async () => {
    const time = new FakeTime(T0);
    const { engine, log } = engineOn(time, (id, after) => after + Number(id) * 1000);
    engine.start();
    for (const id of ["1", "2", "3"]) engine.set(id, T0 + Number(id) * 1000);
    expect(time.pendingCount).toBe(1);
    await time.advance(6_500, () => engine.idle());
    const byTime = (l: string) => `${l.split("@")[1]!.padStart(6, "0")} ${l}`;
    expect(
      log
        .filter((l) => l.startsWith("fire"))
        .map(byTime)
        .sort(),
    ).toEqual(
      [
        "fire 1@1000",
        "fire 1@2000",
        "fire 2@2000",
        "fire 1@3000",
        "fire 3@3000",
        "fire 1@4000",
        "fire 2@4000",
        "fire 1@5000",
        "fire 1@6000",
        "fire 2@6000",
        "fire 3@6000",
      ]
        .map(byTime)
        .sort(),
    );
    expect(time.pendingCount).toBe(1);
  });

  it("hands out a whole burst before computing any next time", async () => {
    const time = new FakeTime(T0);
    const { engine, log } = engineOn(time, (_id, after) => after + 60_000);
    engine.start();
    for (let i = 0; i < 5_000; i++) engine.set(String(i), T0 + 1_000);
    await time.advance(1_000, () => engine.idle());
    const firstNext = log.findIndex((l) => l.startsWith("next"));
    expect(log.slice(0, firstNext)).toHaveLength(5_000);
    expect(log.slice(firstNext).every((l) => l.startsWith("next"))).toBe(true);
    expect(engine.nextOf("4999")).toBe(T0 + 61_000);
  });

  it("forgets removed schedules, uses only the latest time of a rescheduled one, and drops finished ones", async () => {
    const time = new FakeTime(T0);
    const { engine, log } = engineOn(time, (id, after) => (id === "once" ? undefined : after + 10_000));
    engine.start();
    engine.set("gone", T0 + 1_000);
    engine.set("moved", T0 + 1_000);
    engine.set("once", T0 + 2_000);
    engine.remove("gone");
    engine.set("moved", T0 + 3_000);
    await time.advance(5_000, () => engine.idle());
    expect(log.filter((l) => l.startsWith("fire"))).toEqual(["fire once@2000", "fire moved@3000"]);
    expect(engine.size).toBe(1);
  });

  it("keeps firing the others when one fire throws", async () => {
    const time = new FakeTime(T0);
    const fired: string[] = [];
    const errors: string[] = [];
    const engine = new FireEngine({
      clock: time,
      timers: time,
      onFire: (id) => {
        if (id === "bad") throw new Error("boom");
        fired.push(id);
      },
      nextAfter: () => undefined,
      onError: (_e, id) => errors.push(id),
    });
    engine.start();
    for (const id of ["a", "bad", "b"]) engine.set(id, T0 + 1_000);
    await time.advance(2_000, () => engine.idle());
    expect(fired.sort()).toEqual(["a", "b"]);
    expect(errors).toEqual(["bad"]);
  });

  it("skips what fell far behind instead of firing it late again and again", async () => {
    const time = new FakeTime(T0);
    const { engine, log } = engineOn(time, (_id, after) => Math.floor(after / 1000) * 1000 + 1000);
    engine.set("s", T0 + 1_000);
    // The process stalls for a minute (simulated: the engine only gets to run at 60.5 s): it fires once, late.
    await time.advanceTo(T0 + 60_500);
    engine.start();
    await time.advance(0, () => engine.idle());
    expect(log.filter((l) => l.startsWith("fire"))).toEqual(["fire s@1000"]);
    expect(engine.nextOf("s")).toBe(T0 + 61_000);
  });
});
