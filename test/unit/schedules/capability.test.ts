import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { CapabilityCall, Store } from "../../../bot/index.ts";
import { memoryStore } from "../../../bot/storage/open.ts";
import { FakeTime } from "./fake-time.ts";
import { startHarness, type Harness } from "./harness.ts";

const T0 = Date.UTC(2026, 2, 27, 12, 0);
let store: Store;
let h: Harness | undefined;
beforeAll(async () => {
  store = await memoryStore();
});
afterAll(async () => {
  await store.close();
});
beforeEach(async () => {
  // Emptied tables on the embedded store number their rows from 1 again.
  await store.sql.query("DELETE FROM schedule_runs; DELETE FROM schedules").catch(() => undefined);
});
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

function call(args: unknown, skill = "remindme"): Promise<unknown> {
  const handler = h!.bot.app.core.capabilities.get("schedule");
  if (handler === undefined) throw new Error("schedule capability not provided");
  const c: CapabilityCall = {
    skill,
    chatKey: "test:c1",
    userKey: "test:alice",
    target: { platform: "test", chatId: "c1" },
    args,
    signal: new AbortController().signal,
  };
  return handler(c);
}

describe("the schedule capability for skills", () => {
  it("creates a schedule of the skill's own command in the calling chat that fires as the user", async () => {
    h = await startHarness({ time: new FakeTime(T0), store, set: { "schedules.defaultTimeZone": "UTC" } });
    const view = (await call({ action: "create", cron: "0 9 * * *", command: "/skillping standup" })) as {
      id: string;
      nextRunAt: number;
    };
    expect(view.nextRunAt).toBe(Date.UTC(2026, 2, 28, 9, 0));
    const once = (await call({ action: "create", at: "in 1h", command: "/skillping once" })) as { runAt: number };
    expect(once.runAt).toBe(T0 + 3_600_000);
    await h.advanceTo(Date.UTC(2026, 2, 28, 12, 0));
    expect(h.pings.map((p) => `${p.command} ${p.args} ${p.userId} ${p.origin}`)).toEqual([
      "skillping once alice schedule",
      "skillping standup alice schedule",
    ]);
    expect(((await call({ action: "list" })) as unknown[]).length).toBe(1);
    expect(await call({ action: "delete", id: view.id })).toEqual({ deleted: view.id });
    expect(await call({ action: "list" })).toEqual([]);
  });

  it("refuses hostile arguments and stores nothing", async () => {
    h = await startHarness({ time: new FakeTime(T0), store });
    for (const args of [
      null,
      "create",
      { action: "create", cron: 5, command: "/skillping" },
      { action: "create", command: "/skillping" },
      { action: "create", cron: "0 9 * * *", at: "in 1h", command: "/skillping" },
      { action: "create", cron: "0 9 * * *", command: "/skillping", chatKey: "test:other" },
      { action: "delete", id: "1; DROP TABLE schedules" },
      { action: "explode" },
    ]) {
      await expect(call(args), JSON.stringify(args)).rejects.toMatchObject({ code: "E_BAD_ARGS" });
    }
    await expect(call({ action: "create", cron: "* * * * * * * *", command: "/skillping" })).rejects.toMatchObject({
      code: "E_SCHEDULE_INVALID",
    });
    expect(await h.plugin.service.repo.list()).toEqual([]);
  });

  it("lets a skill schedule only its own commands and remove only its own schedules", async () => {
    h = await startHarness({ time: new FakeTime(T0), store });
    await expect(call({ action: "create", cron: "0 9 * * *", command: "/ping" })).rejects.toMatchObject({
      code: "E_SKILL_DENIED",
    });
    const [answer] = await h.say('/schedule add "0 9 * * *" /ping');
    const id = /#(\d+)/.exec(answer!)![1]!;
    await expect(call({ action: "delete", id })).rejects.toMatchObject({ code: "E_SKILL_DENIED" });
    expect((await h.plugin.service.get(id)).state).toBe("active");
  });

  it("holds each skill to its per-chat limit", async () => {
    h = await startHarness({ time: new FakeTime(T0), store, set: { "schedules.maxPerChatPerSkill": 2 } });
    await call({ action: "create", cron: "0 9 * * *", command: "/skillping a" });
    await call({ action: "create", cron: "0 10 * * *", command: "/skillping b" });
    await expect(call({ action: "create", cron: "0 11 * * *", command: "/skillping c" })).rejects.toMatchObject({
      code: "E_QUOTA_EXCEEDED",
    });
    expect(await h.plugin.service.repo.list()).toHaveLength(2);
  });
});
