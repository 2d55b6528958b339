import { describe, expect, it } from "vitest";
import { MessageCounts } from "../../../bot/message-counts.ts";
import { memoryStore } from "../../../bot/storage/open.ts";
import type { SqlClient } from "../../../bot/storage/types.ts";

describe("MessageCounts", () => {
  it("adds each flush to the day's row per platform, so flushes and processes add up", async () => {
    const store = await memoryStore();
    try {
      const clock = { now: () => Date.parse("2026-12-01T10:00:00Z") };
      const a = new MessageCounts({ sql: store.sql, clock });
      const b = new MessageCounts({ sql: store.sql, clock });
      for (let i = 0; i < 3; i++) a.add("telegram", "in");
      a.add("telegram", "out");
      a.add("slack", "in");
      await a.flush();
      b.add("telegram", "in");
      await b.flush();
      await a.flush();
      expect(await a.read("2026-12-01", "2026-12-01")).toEqual([
        { day: "2026-12-01", platform: "slack", messagesIn: 1, messagesOut: 0 },
        { day: "2026-12-01", platform: "telegram", messagesIn: 4, messagesOut: 1 },
      ]);
      expect(await a.read("2026-12-02", "2026-12-31")).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it("keeps counts a failed flush could not write, and writes them with the next one", async () => {
    const store = await memoryStore();
    try {
      let isDown = true;
      const flaky: SqlClient = {
        driver: store.sql.driver,
        query: (text, params) => (isDown ? Promise.reject(new Error("down")) : store.sql.query(text, params)),
        transaction: (fn) => store.sql.transaction(fn),
      };
      const counts = new MessageCounts({ sql: flaky, clock: { now: () => Date.parse("2026-12-01T10:00:00Z") } });
      counts.add("discord", "in");
      await expect(counts.flush()).rejects.toThrow("down");
      counts.add("discord", "in");
      isDown = false;
      await counts.flush();
      expect(await counts.read("2026-12-01", "2026-12-01")).toEqual([
        { day: "2026-12-01", platform: "discord", messagesIn: 2, messagesOut: 0 },
      ]);
    } finally {
      await store.close();
    }
  });
});
