import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ActivityRecorder, RETENTION_DAYS } from "../../../bot/admin/activity.ts";
import { openStore, type Store } from "../../../bot/index.ts";
import { memoryStore } from "../../../bot/storage/open.ts";
import type { SqlClient } from "../../../bot/storage/types.ts";
import { POSTGRES_URL, serviceAvailable } from "../../helpers/services.ts";
import { pgAdmin } from "../../helpers/stores.ts";

const isPostgresUp = await serviceAvailable("postgres");

const DAY_MS = 86_400_000;
const command = (platform: string, name: string) => ({
  platform,
  command: { name, args: [], rawArgs: "" },
});

/** Each store the recorder writes to: the embedded one, and PostgreSQL in a schema of its own. */
const STORES: { name: string; open(): Promise<{ store: Store; drop(): Promise<void> }>; isUp: boolean }[] = [
  {
    name: "the embedded store",
    isUp: true,
    open: async () => {
      const store = await memoryStore();
      return { store, drop: () => store.close() };
    },
  },
  {
    name: "PostgreSQL",
    isUp: isPostgresUp,
    open: async () => {
      const schema = `activity_${randomBytes(4).toString("hex")}`;
      await pgAdmin(`CREATE SCHEMA ${schema}`);
      const url = new URL(POSTGRES_URL);
      url.searchParams.set("options", `-c search_path=${schema}`);
      const store = await openStore({ dataDir: "unused", databaseUrl: url.toString() });
      return {
        store,
        drop: async () => {
          await store.close();
          await pgAdmin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        },
      };
    },
  },
];

describe.each(STORES.filter((s) => s.isUp))("ActivityRecorder on $name", ({ open }) => {
  it("counts known commands (and a skill's under its skill) per day and platform, adding up across writes, and lists errors newest first", async () => {
    const { store, drop } = await open();
    try {
      const clock = { t: Date.parse("2026-12-01T10:00:00Z"), now: () => clock.t };
      const activity = new ActivityRecorder({
        sql: store.sql,
        clock,
        commandOf: (n) => (n === "typo" ? undefined : n === "roll" ? { skill: "dice" } : {}),
      });
      activity.inbound(command("slack", "deploy"));
      activity.inbound(command("slack", "deploy"));
      activity.inbound(command("telegram", "deploy"));
      activity.inbound(command("slack", "typo"));
      activity.inbound(command("slack", "roll"));
      activity.inbound({ platform: "slack" });
      activity.error("E_TIMEOUT");
      await activity.flush();
      clock.t += 1_000;
      activity.inbound(command("slack", "deploy"));
      activity.error("E_RATE_LIMITED");
      await activity.flush();

      const { rows } = await store.sql.query<{
        day: string;
        platform: string;
        kind: string;
        name: string;
        count: unknown;
      }>("SELECT day, platform, kind, name, count FROM activity_daily ORDER BY kind, platform, name");
      expect(rows.map((r) => ({ ...r, count: Number(r.count) }))).toEqual([
        { day: "2026-12-01", platform: "slack", kind: "command", name: "deploy", count: 3 },
        { day: "2026-12-01", platform: "slack", kind: "command", name: "roll", count: 1 },
        { day: "2026-12-01", platform: "telegram", kind: "command", name: "deploy", count: 1 },
        { day: "2026-12-01", platform: "*", kind: "error", name: "E_RATE_LIMITED", count: 1 },
        { day: "2026-12-01", platform: "*", kind: "error", name: "E_TIMEOUT", count: 1 },
        { day: "2026-12-01", platform: "slack", kind: "skill", name: "dice", count: 1 },
      ]);
      const errors = await store.sql.query<{ code: string }>("SELECT code FROM activity_errors ORDER BY at DESC");
      expect(errors.rows.map((r) => r.code)).toEqual(["E_RATE_LIMITED", "E_TIMEOUT"]);
    } finally {
      await drop();
    }
  });

  it("keeps the last 200 error events and drops daily rows past the retention", async () => {
    const { store, drop } = await open();
    try {
      const clock = { t: Date.parse("2026-12-01T10:00:00Z"), now: () => clock.t };
      const old = new Date(clock.t - (RETENTION_DAYS + 1) * DAY_MS).toISOString().slice(0, 10);
      await store.sql.query(
        "INSERT INTO activity_daily (day, kind, platform, name, count) VALUES ($1, 'command', 'slack', 'old', 5)",
        [old],
      );
      const activity = new ActivityRecorder({ sql: store.sql, clock, commandOf: () => ({}) });
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 100; i++) {
          clock.t += 1;
          activity.error(`E_${round}`);
        }
        await activity.flush();
      }
      const kept = await store.sql.query<{ n: unknown }>("SELECT count(*) AS n FROM activity_errors");
      expect(Number(kept.rows[0]!.n)).toBe(200);
      const oldest = await store.sql.query<{ code: string }>("SELECT code FROM activity_errors ORDER BY at LIMIT 1");
      expect(oldest.rows[0]!.code).toBe("E_1");
      const days = await store.sql.query<{ day: string }>("SELECT DISTINCT day FROM activity_daily");
      expect(days.rows.map((r) => r.day)).toEqual(["2026-12-01"]);
    } finally {
      await drop();
    }
  });
});

describe("ActivityRecorder when the database fails", () => {
  it("keeps counts a failed write could not store, and writes them with the next one", async () => {
    const store = await memoryStore();
    try {
      const clock = { now: () => Date.parse("2026-12-01T10:00:00Z") };
      let isDown = true;
      const sql: SqlClient = {
        driver: store.sql.driver,
        query: (text, params) => store.sql.query(text, params),
        transaction: (fn) => (isDown ? Promise.reject(new Error("database down")) : store.sql.transaction(fn)),
      };
      const activity = new ActivityRecorder({ sql, clock, commandOf: () => ({}) });
      activity.inbound(command("slack", "deploy"));
      await expect(activity.flush()).rejects.toThrow("database down");
      isDown = false;
      activity.inbound(command("slack", "deploy"));
      await activity.flush();
      const { rows } = await store.sql.query<{ count: unknown }>("SELECT count FROM activity_daily");
      expect(rows.map((r) => Number(r.count))).toEqual([2]);
    } finally {
      await store.close();
    }
  });
});
