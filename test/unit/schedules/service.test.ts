import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Store } from "../../../bot/index.ts";
import { memoryStore } from "../../../bot/storage/open.ts";
import { describeSchedule } from "../../../schedules/command.ts";
import { FakeTime } from "./fake-time.ts";
import { idOf, runsOf, startHarness, type Harness } from "./harness.ts";

const iso = (ms: number) => new Date(ms).toISOString();
// Friday 2026-03-27 12:00 UTC; Berlin goes from CET (+1) to CEST (+2) on Sunday 2026-03-29 at 01:00 UTC.
const FRI_MARCH = Date.UTC(2026, 2, 27, 12, 0);

let open: Harness[] = [];
// One embedded store for the file; each test starts from empty tables.
let store: Store;
beforeAll(async () => {
  store = await memoryStore();
});
afterAll(async () => {
  await store.close();
});
beforeEach(async () => {
  await store.sql.query("DELETE FROM kv WHERE namespace = 'schedules'").catch(() => undefined);
  // Emptied tables on the embedded store number their rows from 1 again.
  await store.sql.query("DELETE FROM schedule_runs; DELETE FROM schedules").catch(() => undefined);
});
afterEach(async () => {
  for (const h of open.reverse()) await h.stop();
  open = [];
});

async function harness(o: Omit<Parameters<typeof startHarness>[0], "store">): Promise<Harness> {
  const h = await startHarness({ ...o, store });
  open.push(h);
  return h;
}

describe("schedules through the router", () => {
  it("fires at 09:00 Berlin wall-clock time on both sides of the spring-forward change, as the creator", async () => {
    const h = await harness({ time: new FakeTime(FRI_MARCH) });
    const [answer] = await h.say('/schedule add "0 9 * * *" /ping hello');
    expect(answer).toContain("At 09:00");
    expect(answer).toContain("Europe/Berlin");
    await h.advanceTo(Date.UTC(2026, 3, 1, 0, 0));
    expect(h.pings.map((p) => iso(p.atMs))).toEqual([
      "2026-03-28T08:00:00.000Z", // CET
      "2026-03-29T07:00:00.000Z", // CEST from here on
      "2026-03-30T07:00:00.000Z",
      "2026-03-31T07:00:00.000Z",
    ]);
    expect(
      h.pings.every((p) => p.origin === "schedule" && p.userId === "alice" && p.chatId === "c1" && p.args === "hello"),
    ).toBe(true);
    expect(h.pings[0]!.deliveryId).toBe(`schedule:${idOf(answer)}:${Date.UTC(2026, 2, 28, 8, 0)}`);
    const runs = await runsOf(h, idOf(answer));
    expect(runs.map((r) => `${r.kind}:${r.outcome}`)).toEqual(Array(4).fill("scheduled:ok"));
  });

  it("fires a 02:30 schedule once, shifted to 03:30, on the day 02:30 does not exist", async () => {
    const h = await harness({ time: new FakeTime(Date.UTC(2026, 2, 28, 12, 0)) });
    await h.say('/schedule add "30 2 * * *" /ping');
    await h.advanceTo(Date.UTC(2026, 2, 30, 12, 0));
    // 02:30 is skipped by the clocks on the 29th: it runs at 03:30 CEST, the same moment on the real clock.
    expect(h.pings.map((p) => iso(p.atMs))).toEqual(["2026-03-29T01:30:00.000Z", "2026-03-30T00:30:00.000Z"]);
  });

  it("fires a 02:30 schedule once, at the first occurrence, on the day clocks go back", async () => {
    const autumn = await harness({ time: new FakeTime(Date.UTC(2026, 9, 24, 12, 0)) });
    await autumn.say('/schedule add "30 2 * * *" /ping');
    await autumn.advanceTo(Date.UTC(2026, 9, 26, 12, 0));
    // Clocks go back from 03:00 CEST to 02:00 CET on the 25th: 02:30 happens twice and runs at the first.
    expect(autumn.pings.map((p) => iso(p.atMs))).toEqual(["2026-10-25T00:30:00.000Z", "2026-10-26T01:30:00.000Z"]);
  });

  it("keeps an every-30-minutes rhythm through the repeated hour in autumn", async () => {
    const h = await harness({ time: new FakeTime(Date.UTC(2026, 9, 24, 23, 50)) });
    await h.say('/schedule add "*/30 * * * *" /ping');
    await h.advanceTo(Date.UTC(2026, 9, 25, 2, 5));
    expect(h.pings.map((p) => iso(p.atMs).slice(11, 16))).toEqual(["00:00", "00:30", "01:00", "01:30", "02:00"]);
  });

  it("still fires a schedule when the bot restarts before its fire time", async () => {
    const time = new FakeTime(FRI_MARCH);
    const first = await startHarness({ time, store });
    const id = idOf((await first.say('/schedule add "0 9 * * *" /ping'))[0]);
    await first.stop();
    await time.advanceTo(Date.UTC(2026, 2, 27, 20, 0));
    const second = await harness({ time, processId: "p2" });
    await second.advanceTo(Date.UTC(2026, 2, 28, 12, 0));
    expect(second.pings.map((p) => iso(p.atMs))).toEqual(["2026-03-28T08:00:00.000Z"]);
    expect((await runsOf(second, id)).map((r) => `${r.kind}:${r.outcome}:${iso(r.fireTime)}`)).toEqual([
      "scheduled:ok:2026-03-28T08:00:00.000Z",
    ]);
  });

  it("after a restart past missed fires, skips them by default and runs one catch-up with --missed once", async () => {
    const time = new FakeTime(FRI_MARCH);
    const first = await startHarness({ time, store });
    const skipId = idOf((await first.say('/schedule add "0 9 * * *" /ping skip'))[0]);
    const onceId = idOf((await first.say('/schedule add "0 9 * * *" --missed once /ping once'))[0]);
    await first.stop();
    // Down from Friday to Monday noon: the 28th, 29th and 30th at 09:00 were missed.
    await time.advanceTo(Date.UTC(2026, 2, 30, 12, 0));
    const second = await harness({ time, processId: "p2" });
    await second.settle();
    expect(second.pings.map((p) => `${p.args}@${iso(p.atMs)}`)).toEqual(["once@2026-03-30T12:00:00.000Z"]);
    const skipRuns = await runsOf(second, skipId);
    expect(skipRuns).toEqual([
      {
        kind: "missed",
        outcome: "missed",
        fireTime: Date.UTC(2026, 2, 30, 7, 0),
        detail: "3 fires missed while no process was running",
      },
    ]);
    expect((await runsOf(second, onceId)).map((r) => `${r.kind}:${r.outcome}:${iso(r.fireTime)}`)).toEqual([
      "catchup:ok:2026-03-30T07:00:00.000Z",
    ]);
    // The catch-up counts as a run: list and runs both show it, with times in one named zone.
    const [list] = await second.say("/schedule list");
    expect(list).not.toMatch(new RegExp(`#${onceId}[^\\n]*never ran`));
    expect(list).toMatch(new RegExp(`#${onceId}[^\\n]*last: ok \\(2026-03-30 14:00\\)`));
    expect(list).toContain("(times in Europe/Berlin)");
    const [runs] = await second.say(`/schedule runs ${onceId}`);
    expect(runs).toContain("(times in Europe/Berlin)");
    expect(runs).toContain("2026-03-30 09:00 catchup: ok");
    // Both go on normally afterwards.
    await second.advanceTo(Date.UTC(2026, 2, 31, 12, 0));
    expect(
      second.pings
        .map((p) => `${p.args}@${iso(p.atMs)}`)
        .slice(1)
        .sort(),
    ).toEqual(["once@2026-03-31T07:00:00.000Z", "skip@2026-03-31T07:00:00.000Z"]);
  });

  it("closes runs left unfinished by an ended process as errors at the next start, never as done", async () => {
    const time = new FakeTime(FRI_MARCH);
    const first = await startHarness({ time, store });
    const id = idOf((await first.say('/schedule add "0 9 * * *" /ping'))[0]);
    await first.stop();
    // A process claimed the 09:00 fire and died before finishing it.
    await store.sql.query(
      "INSERT INTO schedule_runs (schedule_id, fire_time, kind, started_at, outcome, process) VALUES ($1, $2, 'scheduled', $2, 'running', 'dead')",
      [id, Date.UTC(2026, 2, 28, 8, 0)],
    );
    await time.advanceTo(Date.UTC(2026, 2, 28, 12, 0));
    const second = await harness({ time, processId: "p2" });
    expect(await runsOf(second, id)).toEqual([
      {
        kind: "scheduled",
        outcome: "error",
        fireTime: Date.UTC(2026, 2, 28, 8, 0),
        detail: "the process running it ended during the run",
      },
    ]);
    expect(second.pings).toEqual([]); // that fire is not run again
  });

  it("does not fire a paused schedule, and fires again after resume", async () => {
    const h = await harness({ time: new FakeTime(FRI_MARCH) });
    const id = idOf((await h.say('/schedule add "0 9 * * *" /ping'))[0]);
    expect((await h.say(`/schedule pause ${id}`))[0]).toContain("Paused");
    await h.advanceTo(Date.UTC(2026, 2, 29, 12, 0));
    expect(h.pings).toEqual([]);
    expect(await runsOf(h, id)).toEqual([]);
    expect((await h.say("/schedule list"))[0]).toContain("paused");
    await h.say(`/schedule resume ${id}`);
    await h.advanceTo(Date.UTC(2026, 2, 30, 12, 0));
    expect(h.pings.map((p) => iso(p.atMs))).toEqual(["2026-03-30T07:00:00.000Z"]);
  });

  it("re-checks permissions at fire time: a creator who lost the right is skipped and the chat is told", async () => {
    const h = await harness({ time: new FakeTime(FRI_MARCH) });
    const id = idOf((await h.say('/schedule add "0 9 * * *" /ping'))[0]);
    await h.advanceTo(Date.UTC(2026, 2, 28, 12, 0));
    expect(h.pings).toHaveLength(1);
    h.adapter.roles.delete("c1/alice"); // alice left the group: she is a guest now
    const before = h.adapter.sent.length;
    await h.advanceTo(Date.UTC(2026, 2, 29, 12, 0));
    expect(h.pings).toHaveLength(1);
    const told = h.adapter.sent.slice(before).map((s) => s.text);
    expect(told).toHaveLength(1);
    expect(told[0]).toMatch(new RegExp(`Schedule #${id} skipped: alice may no longer run /ping`));
    const runs = await runsOf(h, id);
    expect(runs.map((r) => `${r.kind}:${r.outcome}`)).toEqual(["scheduled:ok", "scheduled:skipped"]);
    expect(runs[1]!.detail).toMatch(/^permission: /);
  });

  it("records a manual run like a scheduled one", async () => {
    const h = await harness({ time: new FakeTime(FRI_MARCH) });
    const id = idOf((await h.say('/schedule add "0 9 * * *" /ping manual'))[0]);
    const answers = await h.say(`/schedule run ${id}`);
    expect(answers[0]).toContain(`Running schedule #${id}`);
    expect(answers).toContain("pong manual");
    expect(h.pings).toHaveLength(1);
    expect(h.pings[0]!.origin).toBe("schedule");
    const runs = await runsOf(h, id);
    expect(runs).toEqual([{ kind: "manual", outcome: "ok", fireTime: FRI_MARCH, detail: null }]);
    expect((await h.say("/schedule list"))[0]).toMatch(/last: ok/);
  });

  it("lists schedules in words with their next run in the chat's zone", async () => {
    const h = await harness({ time: new FakeTime(FRI_MARCH) });
    await h.say('/schedule add "*/1 * * * *" /ping');
    await h.say('/schedule add "0 9 * * 1-5" --tz America/New_York /ping');
    const [list] = await h.say("/schedule list");
    expect(list).toContain("Every minute");
    expect(list).toContain("next 2026-03-27 13:01"); // Berlin, UTC+1
    expect(list).toContain("At 09:00, Monday through Friday");
    expect(list).toContain("America/New_York");
    expect(list).toContain("next 2026-03-27 14:00;"); // 09:00 in New York, shown in the chat's zone
    expect(list).toContain("(times in Europe/Berlin)");
  });

  it("audits adding, pausing, resuming and deleting a schedule and the chat's zone, and /audit shows before and after", async () => {
    const h = await harness({ time: new FakeTime(FRI_MARCH) });
    await store.sql.query("DELETE FROM audit_log"); // the file shares one store
    const id = idOf((await h.say('/schedule add "0 9 * * *" /ping audited'))[0]);
    await h.say(`/schedule pause ${id}`);
    await h.say(`/schedule resume ${id}`);
    await h.say(`/schedule delete ${id}`);
    await h.say("/confirm"); // /schedule delete asks its requester to confirm
    await h.say("/schedule tz set Asia/Tokyo", { userId: "boss" });
    // The confirmation /schedule delete asked for is audited too (request.*); the schedule's own entries:
    const entries = (await store.audit.list("test:c1", { limit: 20 }))
      .reverse()
      .filter((e) => e.action.startsWith("schedule."));
    expect(entries.map((e) => `${e.actor} ${e.action} ${e.target ?? ""}`)).toEqual([
      `test:alice schedule.add ${id}`,
      `test:alice schedule.pause ${id}`,
      `test:alice schedule.resume ${id}`,
      `test:alice schedule.delete ${id}`,
      "test:boss schedule.tz ",
    ]);
    expect(entries[1]).toMatchObject({ before: { state: "active" }, after: { state: "paused" } });
    expect(entries[4]).toMatchObject({ before: { timeZone: "Europe/Berlin" }, after: { timeZone: "Asia/Tokyo" } });
    const [audit] = await h.say("/audit", { userId: "boss" });
    expect(audit).toContain(`test:alice schedule.pause ${id}: {"state":"active"} → {"state":"paused"}`);
    expect(audit).toContain('schedule.tz: {"timeZone":"Europe/Berlin"} → {"timeZone":"Asia/Tokyo"}');
  });

  it("shows a fire that has been claimed but not finished as running, not as never ran", async () => {
    const h = await harness({ time: new FakeTime(FRI_MARCH) });
    const id = idOf((await h.say('/schedule add "0 9 * * *" /ping'))[0]);
    // What a claimed fire leaves until it finishes (a catch-up waiting for its adapter at start).
    await store.sql.query("UPDATE schedules SET last_fire_at = $2 WHERE id = $1", [id, Date.UTC(2026, 2, 27, 8, 0)]);
    const s = await h.plugin.service.get(id, "test:c1");
    expect(describeSchedule(h.plugin.service, s)).toContain(
      "last: running since 2026-03-27 09:00 (times in Europe/Berlin)",
    );
  });

  it("moves schedules that follow the chat's zone when /schedule tz changes it", async () => {
    const h = await harness({ time: new FakeTime(FRI_MARCH) });
    await h.say('/schedule add "0 9 * * *" /ping');
    expect((await h.say("/schedule tz", { userId: "boss" }))[0]).toContain("Europe/Berlin");
    expect((await h.say("/schedule tz set asia/tokyo", { userId: "boss" }))[0]).toContain("Asia/Tokyo");
    await h.advanceTo(Date.UTC(2026, 2, 28, 12, 0));
    expect(h.pings.map((p) => iso(p.atMs))).toEqual(["2026-03-28T00:00:00.000Z"]);
  });

  it("deletes a schedule so it never fires, and keeps one-shots to one run", async () => {
    const h = await harness({ time: new FakeTime(FRI_MARCH) });
    const id = idOf((await h.say('/schedule add "0 9 * * *" /ping'))[0]);
    // /schedule delete asks its requester to confirm first.
    expect((await h.say(`/schedule delete ${id}`))[0]).toMatch(/^This will run `\/schedule delete \d+`/);
    expect(await h.say("/confirm")).toContain(`Deleted schedule #${id}.`);
    const once = idOf((await h.say("/schedule in 10m /ping once"))[0]);
    const at = idOf((await h.say("/schedule at 2026-03-27 14:00 /ping at"))[0]);
    await h.advanceTo(Date.UTC(2026, 2, 29, 12, 0));
    expect(h.pings.map((p) => `${p.args}@${iso(p.atMs)}`)).toEqual([
      "once@2026-03-27T12:10:00.000Z",
      "at@2026-03-27T13:00:00.000Z",
    ]);
    expect((await h.plugin.service.get(once)).state).toBe("done");
    expect((await runsOf(h, at)).map((r) => r.outcome)).toEqual(["ok"]);
    expect((await h.say("/schedule list"))[0]).toContain("No schedules");
  });

  it("lets only the creator or an admin change someone's schedule", async () => {
    const h = await harness({ time: new FakeTime(FRI_MARCH) });
    h.adapter.roles.set("c1/bob", "member");
    const id = idOf((await h.say('/schedule add "0 9 * * *" /ping'))[0]);
    await h.say(`/schedule delete ${id}`, { userId: "bob" });
    expect((await h.say("/confirm", { userId: "bob" })).join("\n")).toContain("only they or an admin");
    expect((await h.say(`/schedule pause ${id}`, { userId: "boss" }))[0]).toContain("Paused");
  });
});

describe("bad input to /schedule", () => {
  it("explains an invalid cron expression with the reason and examples, and stores nothing", async () => {
    const h = await harness({ time: new FakeTime(FRI_MARCH) });
    const [answer] = await h.say('/schedule add "61 * * * *" /ping');
    expect(answer).toContain("61 is a invalid expression for minute");
    expect(answer).toContain('"0 9 * * 1-5"');
    expect(await h.plugin.service.repo.list()).toEqual([]);
  });

  it("refuses schedules more frequent than the operator's minimum interval", async () => {
    const h = await harness({ time: new FakeTime(FRI_MARCH) });
    const [answer] = await h.say('/schedule add "*/10 * * * * *" /ping');
    expect(answer).toContain("would run every 10s; the minimum here is every 1m");
    const relaxed = await harness({ time: new FakeTime(FRI_MARCH), set: { "schedules.minIntervalMs": 5_000 } });
    expect((await relaxed.say('/schedule add "*/10 * * * * *" /ping'))[0]).toContain("Scheduled");
  });

  it("refuses an unknown command at creation, with a suggestion", async () => {
    const h = await harness({ time: new FakeTime(FRI_MARCH) });
    const [answer] = await h.say('/schedule add "0 9 * * *" /pnig');
    expect(answer).toContain("There is no command /pnig. Did you mean /ping");
    expect((await h.say('/schedule add "0 9 * * *" /schedule list'))[0]).toContain("cannot run /schedule");
    expect((await h.say('/schedule add "0 9 * * *" ping'))[0]).toContain("Missing the command to run");
  });

  it("caps schedules per chat", async () => {
    const h = await harness({ time: new FakeTime(FRI_MARCH), set: { "schedules.maxPerChat": 2 } });
    await h.say('/schedule add "0 9 * * *" /ping');
    await h.say('/schedule add "0 10 * * *" /ping');
    expect((await h.say('/schedule add "0 11 * * *" /ping'))[0]).toContain("already has 2 schedules (the limit is 2)");
    expect(await h.plugin.service.repo.list()).toHaveLength(2);
  });

  it("refuses unknown zones, past times and garbled times", async () => {
    const h = await harness({ time: new FakeTime(FRI_MARCH) });
    expect((await h.say('/schedule add "0 9 * * *" --tz Mars/Olympus /ping'))[0]).toContain(
      'Unknown time zone "Mars/Olympus"',
    );
    expect((await h.say("/schedule at 2026-03-01 09:00 /ping"))[0]).toContain("in the past");
    expect((await h.say("/schedule at 2026-02-30 09:00 /ping"))[0]).toContain("is not a time I understand");
    expect((await h.say("/schedule in soon /ping"))[0]).toContain("is not a time I understand");
    expect((await h.say("/schedule pause 999"))[0]).toContain("no schedule #999");
    expect(await h.plugin.service.repo.list()).toEqual([]);
  });
});
