/**
 * Every claimed fire ends with a written outcome: a fire that never settles is recorded as an error at its
 * deadline (and its chat's next fire goes on), and runs left `running` past their lease are closed by the
 * sweeper of a live process, not only at the next start.
 */
import { afterEach, describe, expect, it } from "vitest";
import { FakeTime } from "./fake-time.ts";
import { idOf, runsOf, startHarness, type Harness } from "./harness.ts";

// Friday 2026-03-27 12:00 UTC; chats follow Europe/Berlin (UTC+1 that day).
const FRI_MARCH = Date.UTC(2026, 2, 27, 12, 0);
let open: Harness | undefined;

afterEach(async () => {
  await open?.stop();
  open = undefined;
});

describe("schedule outcomes", () => {
  it("records a fire that never settles as an error at its deadline, and runs the chat's next fire", async () => {
    const time = new FakeTime(FRI_MARCH);
    const h = await startHarness({ time, pipeline: { fireDeadlineMs: 50 } });
    open = h;
    const hang = idOf((await h.say('/schedule add "0 9 * * *" /ping first'))[0]);
    const next = idOf((await h.say('/schedule add "1 9 * * *" /ping second'))[0]);
    // The platform's role look-up of the first fire never answers (no timeout of its own).
    let hung = 0;
    const lookUp = h.adapter.platformRoleOf.bind(h.adapter);
    h.adapter.platformRoleOf = (chatId, userId) => {
      if (hung++ === 0) return new Promise<never>(() => undefined);
      return lookUp(chatId, userId);
    };
    await h.advanceTo(Date.UTC(2026, 2, 28, 8, 2));
    expect(await runsOf(h, hang)).toEqual([
      {
        kind: "scheduled",
        outcome: "error",
        fireTime: Date.UTC(2026, 2, 28, 8, 0),
        detail: "no outcome within 50 ms (deadline)",
      },
    ]);
    expect(h.plugin.service.pipeline.overdueRuns).toBe(1);
    // The chat's lane went on: its next fire ran.
    expect(h.pings.map((p) => p.args)).toEqual(["second"]);
    expect((await runsOf(h, next)).map((r) => r.outcome)).toEqual(["ok"]);
  });

  it("closes runs left running past their lease while the process runs, and leaves younger ones", async () => {
    const time = new FakeTime(FRI_MARCH);
    const h = await startHarness({
      time,
      set: { "schedules.pollIntervalMs": 1_000 },
      pipeline: { runLeaseMs: 5 * 60_000, sweepIntervalMs: 60_000 },
    });
    open = h;
    const id = idOf((await h.say('/schedule add "0 9 * * *" /ping'))[0]);
    // Two fires claimed by a process that never wrote their outcomes: one 10 minutes ago, one just now.
    const sql = h.store.sql;
    for (const [fireTime, process] of [
      [FRI_MARCH - 10 * 60_000, "gone"],
      [FRI_MARCH - 1_000, "busy"],
    ] as const)
      await sql.query(
        "INSERT INTO schedule_runs (schedule_id, fire_time, kind, started_at, outcome, process) VALUES ($1, $2, 'scheduled', $2, 'running', $3)",
        [id, fireTime, process],
      );
    await h.advanceTo(FRI_MARCH + 61_000);
    const runs = await runsOf(h, id);
    expect(runs.map((r) => `${r.outcome}: ${r.detail}`)).toEqual([
      "error: no outcome was written within its lease: its process ended during the run or could not write it",
      "running: null",
    ]);
  });
});
