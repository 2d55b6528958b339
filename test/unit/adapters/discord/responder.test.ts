/** The defer deadlines: one interval for every interaction in flight, due ones fire once, answered ones never. */
import { afterEach, describe, expect, it } from "vitest";
import { DeadlineSweeper, type Deadline } from "../../../../adapters/discord/responder.ts";

function entry(at: number, fired: string[], name: string): Deadline {
  return { deadlineAt: at, onDeadline: () => fired.push(name) };
}

describe("DeadlineSweeper", () => {
  let sweeper: DeadlineSweeper | undefined;
  afterEach(() => sweeper?.stop());

  it("fires due deadlines once, in order, and skips cancelled ones", async () => {
    sweeper = new DeadlineSweeper(10);
    const fired: string[] = [];
    const now = Date.now();
    const a = entry(now + 20, fired, "a");
    const b = entry(now + 20, fired, "b");
    const c = entry(now + 20, fired, "c");
    const late = entry(now + 10_000, fired, "late");
    for (const e of [a, b, c, late]) sweeper.add(e);
    b.deadlineAt = 0; // answered in time
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(fired).toEqual(["a", "c"]);
    expect(a.deadlineAt).toBe(0);
    expect(sweeper.size).toBe(1);
  });

  it("drops answered deadlines as new ones arrive instead of keeping them until due", () => {
    sweeper = new DeadlineSweeper(1_000);
    const fired: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      const e = entry(Date.now() + 60_000, fired, String(i));
      sweeper.add(e);
      e.deadlineAt = 0;
    }
    expect(sweeper.size).toBeLessThanOrEqual(1);
    expect(fired).toEqual([]);
  });
});
