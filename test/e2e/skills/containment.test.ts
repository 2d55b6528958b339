/**
 * Resource containment: each greedy case (test/fixtures/skills/greedy, allocbomb) runs through the real bot,
 * skill hosts and isolates while an observer chat runs `/dice 2d6` every 100 ms. The hostile chat gets a clear
 * error, nothing reaches a request count, port or model call beyond the grant, the observer keeps answering, and
 * the bot's resident size stays within 50 MB. Observer latencies are printed next to their baseline.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Containment, type ObserverFigures, startContainment } from "../../helpers/containment.ts";

describe("one skill's appetite stays that skill's", () => {
  let h: Containment;
  let baseline: ObserverFigures;

  beforeAll(async () => {
    h = await startContainment();
    await h.baseline(500);
    await h.run("warm", "/greedy ok");
    baseline = await h.baseline(2_000);
  }, 180_000);

  afterAll(async () => {
    await h?.stop();
  });

  const say = (text: string, chatId: string) =>
    h.bot.app.core.router.process(h.bot.adapter.inbound(text, { chatId, role: "admin" }));

  async function contained(name: string, text: string, options: { followUp?: boolean } = {}) {
    const figures = await h.run(name, text, options);
    const o = figures.observer;
    console.info(
      `[containment] ${name}: observer p99 ${o.p99Ms.toFixed(1)} ms (baseline ${baseline.p99Ms.toFixed(1)} ms), bot RSS +${figures.botRssGrowthMb.toFixed(1)} MB, loop stall ${figures.loopMaxMs.toFixed(0)} ms`,
    );
    expect(o.count).toBeGreaterThan(0);
    expect(o.failures, o.firstFailure).toBe(0);
    // The 2× target is reported, not asserted: on a shared machine the OS scheduler alone moves a 5 ms p99.
    expect(o.maxMs).toBeLessThan(1_500);
    expect(figures.botRssGrowthMb).toBeLessThan(50);
    return figures;
  }

  it("refuses a 5000-fetch flood past the fetch budget without queueing it", async () => {
    const f = await contained("fetch flood", `/greedy fetchflood ${h.floodUrl}`);
    expect(f.requests).toBeLessThanOrEqual(20);
    expect(f.reply).toMatch(/greedy .*over its budget: at most \d+ fetch requests/);
  }, 60_000);

  // Which bound trips first depends on how fast one call's round trip is on this machine (under 10 ms: the rate);
  // both are budgets, and test/unit/skills/budget.test.ts holds each one exactly.
  it("stops a capability-call flood at the call budget (per second, or in all)", async () => {
    const f = await contained("settings.get flood", "/greedy callflood");
    expect(f.reply).toMatch(/^calls \d+ then E_SKILL_BUDGET/);
    expect(Number(/^calls (\d+)/.exec(f.reply)?.[1])).toBeLessThanOrEqual(200);
    expect(f.reply).toMatch(
      /went over its budget: at most (100 capability calls per second|200 capability calls per invocation)/,
    );
  }, 60_000);

  it("stops a storage-write flood at the storage budget", async () => {
    const f = await contained("storage.set flood", "/greedy storeflood");
    expect(f.reply).toMatch(/^writes 20 then E_SKILL_BUDGET/);
    expect(f.kvOps).toBeLessThanOrEqual(20 * 3 + 5);
  }, 60_000);

  it("lets only the budgeted LLM calls reach the model, at once or in a row", async () => {
    const flood = await contained("LLM 500 at once", "/greedy llmflood");
    expect(flood.llmRequests).toBeLessThanOrEqual(3);
    expect(flood.reply).toMatch(/at most 3 LLM calls per invocation/);
    const seq = await contained("LLM 50 in a row", "/greedy llmseq");
    expect(seq.llmRequests).toBe(3);
    expect(seq.reply).toMatch(/^llm 3 then E_SKILL_BUDGET/);
  }, 60_000);

  it("ends an invocation when its promise settles: work left behind never runs", async () => {
    const lateBefore = (await h.plugin.supervisor.stats()).reduce((n, s) => n + s.late, 0);
    const f = await contained("work after return", "/greedy afterreturn", { followUp: true });
    expect(f.reply).toBe("returned");
    expect(h.bot.adapter.textsIn("hostile").at(-1)).toBe("still here");
    // The leftover loop would hold the isolate for the whole CPU budget (200 ms) before the next call could run.
    expect(f.nextCallMs).toBeLessThan(200);
    const lateAfter = (await h.plugin.supervisor.stats()).reduce((n, s) => n + s.late, 0);
    expect(lateAfter).toBeGreaterThan(lateBefore);
  }, 60_000);

  it("reaches a declared host on its scheme's port only", async () => {
    const f = await contained("other ports", `/greedy ports ${h.otherPorts.join(" ")}`);
    expect(f.otherPortConnections).toBe(0);
    expect(f.reply).toBe('ok 0 refused {"E_SKILL_DENIED":4}');
  }, 60_000);

  it("neutralises raw mentions, bidi and control characters, and links that hide their target", async () => {
    const f = await contained("reply hygiene", "/greedy hygiene");
    for (const raw of ["<@U0ADMIN>", "<!subteam^", "<@!1234>", "@alice", "\u202e", "\u001b", "\u0085"])
      expect(f.reply).not.toContain(raw);
    expect(f.reply).toContain("[your bank](https://evil.example/login) (evil.example)");
  }, 60_000);

  it("stops string doubling with a clear error", async () => {
    const f = await contained("string doubling", "/greedy strings");
    expect(f.reply).toMatch(/The skill greedy (failed and was stopped|went over its (memory|CPU time) limit)/);
  }, 60_000);

  // The ordering that once failed this case is held deterministically in test/unit/skills/host.test.ts.
  it("answers a handler that returned normally, whatever it left behind rejects", async () => {
    const f = await contained("unhandled rejection", "/greedy rejection");
    expect(f.reply).toBe("returned normally");
  }, 60_000);

  it("contains a 60 M-slot allocation in the skill's own host", async () => {
    // Its host up first: this case is the fill, not the fork and start of a cold host, which its 2 s wall clock
    // also pays (a suite of two workers on two cores once spent most of it there, and the time limit came first).
    await h.plugin.supervisor.hostFor("allocbomb").start();
    const f = await contained("allocation bomb", "/allocbomb");
    // The real cause: its host of its own (capped at its memory limit + 112 MB) passed that cap and was stopped
    // at once. Before, a 256 MB cap let the fill run into the 2 s wall clock, or the host's exit died in SIGSEGV
    // and the chat was told it crashed.
    expect(f.reply).toBe(
      "The skill allocbomb went over its memory limit (its host process was stopped) and was stopped.",
    );
    expect(f.invocationMs).toBeLessThan(1_900);
  }, 60_000);

  it("keeps another skill's in-flight calls when a skill host aborts", async () => {
    for (const chat of ["s1", "s2", "s3"]) await h.plugin.service.enable(`test:${chat}`, "greedy", "test:owner");
    const slow = ["s1", "s2", "s3"].map((chat) => say(`/greedy slow ${h.floodUrl}slow`, chat));
    const bomb = say("/allocbomb", "bomb-chat");
    await h.plugin.service.enable("test:bomb-chat", "allocbomb", "test:owner");
    const host = h.plugin.supervisor.hostFor("allocbomb");
    await waitFor(() => host.pid !== undefined);
    await new Promise((r) => setTimeout(r, 100));
    host.kill("SIGABRT");
    await Promise.all([...slow, bomb]);
    for (const chat of ["s1", "s2", "s3"]) expect(h.bot.adapter.textsIn(chat).at(-1)).toBe("slow slow");
  }, 60_000);

  it("quarantines a skill that keeps crashing its host until an admin enables it again", async () => {
    await h.plugin.service.enable("test:q", "allocbomb", "test:owner");
    const host = h.plugin.supervisor.hostFor("allocbomb");
    for (let i = 0; i < 3 && h.plugin.service.quarantined("allocbomb") === undefined; i++) {
      await waitFor(() => !host.isRunning);
      // Past the restart backoff, with the host up, the call is in flight (it runs for its 2 s budget).
      await new Promise((r) => setTimeout(r, 600));
      await host.start();
      const call = say("/allocbomb", "q");
      await new Promise((r) => setTimeout(r, 200));
      host.kill("SIGABRT");
      await call;
    }
    await waitFor(() => h.plugin.service.quarantined("allocbomb") !== undefined);
    expect(h.bot.adapter.textsIn("q").at(-1)).toMatch(/allocbomb crashed .*It kept crashing and is now turned off/);
    await say("/allocbomb", "q");
    expect(h.bot.adapter.textsIn("q").at(-1)).toMatch(
      /^The skill allocbomb is turned off: it crashed its host 3 times/,
    );
    const audit = await h.bot.app.core.store.audit.list("test:q");
    expect(audit.some((a) => a.action === "skill.quarantined" && a.target === "allocbomb")).toBe(true);
    await h.plugin.service.enable("test:q", "allocbomb", "test:owner");
    expect(h.plugin.service.quarantined("allocbomb")).toBeUndefined();
  }, 90_000);
});

async function waitFor(check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}
