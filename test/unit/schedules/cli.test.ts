import { PassThrough } from "node:stream";
import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Store } from "../../../bot/index.ts";
import { createApp } from "../../../bot/app/app.ts";
import { createLogger } from "../../../bot/logger.ts";
import { memoryStore } from "../../../bot/storage/open.ts";
import { parseConfig } from "../../../config/index.ts";
import { configSchema } from "../../../config/index.ts";
import { createSchedulesPlugin } from "../../../schedules/index.ts";
import { registerSchedulesCli } from "../../../schedules/cli.ts";

let store: Store;
beforeAll(async () => {
  store = await memoryStore();
});
afterAll(async () => {
  await store.close();
});

/** Run `switchboard schedules …` against the shared store; returns stdout. */
async function cli(...args: string[]): Promise<string> {
  const out = new PassThrough();
  let text = "";
  out.on("data", (c: Buffer) => (text += c.toString("utf8")));
  const program = new Command("switchboard").exitOverride();
  registerSchedulesCli(program, {
    out,
    err: new PassThrough(),
    openApp: () =>
      createApp({
        config: parseConfig({
          http: { enabled: false },
          log: { level: "silent" },
          schedules: { defaultTimeZone: "UTC" },
        }),
        log: createLogger({ level: "silent", format: "json" }),
        console: false,
        platformAdapters: false,
        store,
        plugins: [
          (core) => {
            core.commands.register({
              name: "report",
              description: "r",
              defaultRole: "member",
              source: "builtin",
              handler: () => "ok",
            });
            return { name: "report" };
          },
          (core) => createSchedulesPlugin(core),
        ],
      }),
  });
  await program.parseAsync(["node", "switchboard", "schedules", ...args]);
  return text;
}

describe("switchboard schedules", () => {
  it("adds, lists, pauses, resumes and deletes schedules", async () => {
    expect(await cli("list")).toBe("no schedules\n");
    expect(await cli("add", "--chat", "telegram:-100", "--as", "42", "0 9 * * 1-5", "/report daily")).toMatch(
      /^added #1 At 09:00, Monday through Friday/,
    );
    expect(await cli("add", "--chat", "telegram:-100", "--as", "42", "--at", "in 2d", "/report once")).toMatch(
      /^added #2 once at \d{4}-\d{2}-\d{2} \d{2}:\d{2}/,
    );
    const list = await cli("list", "--chat", "telegram:-100");
    expect(list.split("\n").filter(Boolean)).toHaveLength(2);
    expect(list).toContain("telegram:-100 active #1 At 09:00, Monday through Friday (0 9 * * 1-5), UTC: /report daily");
    expect(await cli("pause", "1")).toBe("paused #1\n");
    expect(await cli("list")).toContain("telegram:-100 paused #1");
    expect(await cli("resume", "1")).toBe("resumed #1\n");
    expect(await cli("delete", "2")).toBe("deleted #2\n");
    expect((await cli("list")).split("\n").filter(Boolean)).toHaveLength(1);
  });

  it("refuses bad input with the reason and changes nothing", async () => {
    const before = await cli("list");
    await expect(cli("add", "--chat", "telegram:-100", "--as", "42", "0 25 * * *", "/report")).rejects.toThrow(
      /25 is a invalid expression for hour/,
    );
    await expect(cli("add", "--chat", "telegram:-100", "--as", "42", "0 9 * * *", "/nothing")).rejects.toThrow(
      /unknown command \/nothing/,
    );
    await expect(
      cli("add", "--chat", "telegram:-100", "--as", "42", "--kind", "room", "0 9 * * *", "/report"),
    ).rejects.toThrow(/--kind/);
    await expect(cli("pause", "77")).rejects.toThrow(/no schedule 77/);
    expect(await cli("list")).toBe(before);
  });
});

describe("schedules config", () => {
  it("has defaults, accepts a zone and refuses unknown keys and zones", () => {
    const base = configSchema.shape.schedules;
    expect(base.parse(undefined)).toEqual({
      enabled: true,
      minIntervalMs: 60_000,
      maxPerChat: 50,
      maxPerChatPerSkill: 10,
      missedRunDefault: "skip",
      pollIntervalMs: 5_000,
    });
    expect(base.parse({ defaultTimeZone: "Europe/Berlin" }).defaultTimeZone).toBe("Europe/Berlin");
    expect(base.safeParse({ defaultTimeZone: "Mars/Olympus" }).success).toBe(false);
    expect(base.safeParse({ minIntervalMs: 10 }).success).toBe(false);
    expect(base.safeParse({ maxPerChat: 5, surprise: true }).success).toBe(false);
  });
});
