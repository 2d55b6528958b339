import { describe, expect, it } from "vitest";
import { FileShelf } from "../../../../adapters/web/index.ts";

describe("FileShelf", () => {
  const bytes = (n: number) => new Uint8Array(n);

  it("keeps a file for its chat only, and drops it past its age", () => {
    let now = 1_000;
    const shelf = new FileShelf({ limits: { maxFiles: 10, maxBytes: 1_000, ttlMs: 60_000 }, now: () => now });
    const file = shelf.put({ chatId: "a", name: "x", mimeType: "text/plain", data: bytes(5) });
    expect(file.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(shelf.get(file.id, "a")?.name).toBe("x");
    expect(shelf.get(file.id, "b")).toBeUndefined();
    now += 60_001;
    expect(shelf.get(file.id, "a")).toBeUndefined();
    expect(shelf.size).toBe(0);
    expect(shelf.bytes).toBe(0);
  });

  it("makes room by dropping the oldest files, by count and by bytes", () => {
    let now = 0;
    const shelf = new FileShelf({ limits: { maxFiles: 3, maxBytes: 100, ttlMs: 60_000 }, now: () => now++ });
    const ids = [1, 2, 3, 4].map((n) => shelf.put({ chatId: "a", name: `f${n}`, mimeType: "x/y", data: bytes(10) }).id);
    expect(shelf.size).toBe(3);
    expect(shelf.get(ids[0]!, "a")).toBeUndefined();
    const big = shelf.put({ chatId: "a", name: "big", mimeType: "x/y", data: bytes(85) });
    expect(shelf.bytes).toBeLessThanOrEqual(100);
    expect(shelf.get(big.id, "a")?.name).toBe("big");
    // 115 bytes: the two oldest go, the newest small one stays.
    expect([ids[1], ids[2], ids[3]].map((id) => shelf.get(id!, "a")?.name)).toEqual([undefined, undefined, "f4"]);
    expect(shelf.size).toBe(2);
  });
});
