import { describe, expect, it } from "vitest";
import { EditThrottle, EditThrottles } from "../../../../adapters/shared/index.ts";

describe("EditThrottle", () => {
  it("coalesces rapid updates to the latest text and ends with the whole text", async () => {
    const applied: string[] = [];
    const throttle = new EditThrottle({ minIntervalMs: 50, apply: async (t) => void applied.push(t) });
    const all: Promise<void>[] = [];
    let text = "";
    for (let i = 0; i < 40; i++) {
      text += `tok${i} `;
      all.push(throttle.update(text));
    }
    await Promise.all(all);
    expect(applied[applied.length - 1]).toBe(text);
    expect(applied.length).toBeLessThanOrEqual(3);
    expect(throttle.edits).toBe(applied.length);
  });

  it("spaces edits by the interval", async () => {
    const at: number[] = [];
    const throttle = new EditThrottle({ minIntervalMs: 80, apply: async () => void at.push(Date.now()) });
    await throttle.update("a");
    await throttle.update("b");
    await throttle.update("c");
    expect(at).toHaveLength(3);
    expect(at[2]! - at[0]!).toBeGreaterThanOrEqual(150);
  });

  it("skips an edit that would not change the text, and rejects waiters when the edit fails", async () => {
    let calls = 0;
    const throttle = new EditThrottle({
      minIntervalMs: 0,
      apply: async (t) => {
        calls++;
        if (t === "bad") throw new Error("refused");
      },
    });
    await throttle.update("same");
    await throttle.update("same");
    expect(calls).toBe(1);
    await expect(throttle.update("bad")).rejects.toThrow("refused");
  });
});

describe("EditThrottles", () => {
  it("throttles per message key", async () => {
    const applied: string[] = [];
    const throttles = new EditThrottles(30);
    await Promise.all([
      throttles.edit("m1", "a1", async (t) => void applied.push(t)),
      throttles.edit("m2", "b1", async (t) => void applied.push(t)),
      throttles.edit("m1", "a2", async (t) => void applied.push(t)),
    ]);
    expect(applied).toContain("b1");
    expect(applied[applied.length - 1] === "a2" || applied.includes("a2")).toBe(true);
    expect(applied.indexOf("a2")).toBeGreaterThan(applied.indexOf("a1"));
    throttles.cancelAll();
  });
});
