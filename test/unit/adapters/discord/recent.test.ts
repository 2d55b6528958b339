/** Two-generation memories: at least the last `capacity` keys, never more than twice that. */
import { describe, expect, it } from "vitest";
import { RecentMap, RecentSet } from "../../../../adapters/discord/recent.ts";

describe("RecentSet", () => {
  it("says whether a key is new and remembers at least the last `capacity` keys", () => {
    const seen = new RecentSet<number>(100);
    for (let i = 0; i < 1_000; i++) expect(seen.add(i)).toBe(true);
    for (let i = 900; i < 1_000; i++) expect(seen.add(i)).toBe(false);
    expect(seen.has(0)).toBe(false);
    let kept = 0;
    for (let i = 0; i < 1_000; i++) if (seen.has(i)) kept++;
    expect(kept).toBeGreaterThanOrEqual(100);
    expect(kept).toBeLessThanOrEqual(200);
  });
});

describe("RecentMap", () => {
  it("returns the latest value, keeps at least the last `capacity` keys, and forgets older ones", () => {
    const map = new RecentMap<string, number>(10);
    for (let i = 0; i < 25; i++) map.set(`k${i}`, i);
    map.set("k24", 240);
    expect(map.get("k24")).toBe(240);
    for (let i = 15; i < 24; i++) expect(map.get(`k${i}`)).toBe(i);
    expect(map.get("k0")).toBeUndefined();
    expect(map.has("k0")).toBe(false);
    expect(map.size).toBeLessThanOrEqual(20);
  });
});
