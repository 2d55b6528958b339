/** The skill host process and its supervisor, without the bot: lifecycle, limits, contexts, crashes. */
import { readdirSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HostSkillSpec } from "../../../skills/host/protocol.ts";
import { OWN_HOST_RSS_BASE_MB, SkillHostSupervisor } from "../../../skills/runtime/supervisor.ts";

const noCap = async (): Promise<string> => '{"ok":true,"value":null}';

function spec(key: string, code: string, overrides: Partial<HostSkillSpec> = {}): HostSkillSpec {
  return {
    key,
    name: key.split("@")[0]!,
    code,
    memoryMb: 16,
    cpuMs: 500,
    timeoutMs: 2_000,
    maxResultChars: 10_000,
    maxCapArgChars: 10_000,
    maxCapCalls: 200,
    maxContexts: 2,
    idleMs: 60_000,
    ...overrides,
  };
}

const COUNTER =
  "var n = 0; var skill = { commands: { count: function (ctx) { n++; return ctx.chat.id + ':' + n; } } };";

describe("skill host", () => {
  let supervisor: SkillHostSupervisor;
  const restarts: string[] = [];

  beforeAll(async () => {
    supervisor = new SkillHostSupervisor({
      poolSize: 1,
      permissionModel: true,
      hostGraceMs: 3_000,
      onCrash: (crash) => restarts.push(crash.reason),
    });
    await supervisor.start();
  });

  afterAll(async () => {
    await supervisor.stop();
  });

  const input = (chat: string) => JSON.stringify({ args: [], rawArgs: "", chat: { id: chat } });

  it("starts an isolate on first use and keeps one context per chat", async () => {
    const s = spec("counter@1.0.0", COUNTER);
    supervisor.load(s);
    const first = await supervisor.call(s, "a", { kind: "command", name: "count", input: input("a"), onCap: noCap });
    expect(first).toMatchObject({ ok: true, cold: true, value: '{"ok":true,"value":"a:1"}' });
    expect(
      await supervisor.call(s, "a", { kind: "command", name: "count", input: input("a"), onCap: noCap }),
    ).toMatchObject({
      ok: true,
      cold: false,
      value: '{"ok":true,"value":"a:2"}',
    });
    expect(
      await supervisor.call(s, "b", { kind: "command", name: "count", input: input("b"), onCap: noCap }),
    ).toMatchObject({
      ok: true,
      value: '{"ok":true,"value":"b:1"}',
    });
    const stats = await supervisor.stats();
    expect(stats[0]!.skills.find((k) => k.key === "counter@1.0.0")).toMatchObject({ live: true, contexts: 2 });
  });

  it("evicts the least recently used chat context past the limit", async () => {
    const s = spec("counter@1.0.0", COUNTER);
    await supervisor.call(s, "c", { kind: "command", name: "count", input: input("c"), onCap: noCap });
    // "a" was least recently used: it starts over.
    expect(
      await supervisor.call(s, "a", { kind: "command", name: "count", input: input("a"), onCap: noCap }),
    ).toMatchObject({
      ok: true,
      value: '{"ok":true,"value":"a:1"}',
    });
  });

  it("disposes an idle isolate and starts a fresh one on the next call", async () => {
    const s = spec("idle@1.0.0", COUNTER, { idleMs: 100 });
    supervisor.load(s);
    await supervisor.call(s, "a", { kind: "command", name: "count", input: input("a"), onCap: noCap });
    let live = true;
    for (let i = 0; i < 100 && live; i++) {
      await new Promise((r) => setTimeout(r, 50));
      live = (await supervisor.stats())[0]!.skills.find((k) => k.key === "idle@1.0.0")!.live;
    }
    expect(live).toBe(false);
    expect(
      await supervisor.call(s, "a", { kind: "command", name: "count", input: input("a"), onCap: noCap }),
    ).toMatchObject({
      ok: true,
      cold: true,
      value: '{"ok":true,"value":"a:1"}',
    });
  });

  it("stops a never-settling call at the wall-clock budget and recovers", async () => {
    const s = spec(
      "never@1.0.0",
      "var skill = { commands: { wait: function () { return new Promise(function () {}); }, ok: function () { return 'ok'; } } };",
      { timeoutMs: 300 },
    );
    supervisor.load(s);
    expect(
      await supervisor.call(s, "a", { kind: "command", name: "wait", input: input("a"), onCap: noCap }),
    ).toMatchObject({
      ok: false,
      failure: "timeout",
    });
    expect(
      await supervisor.call(s, "a", { kind: "command", name: "ok", input: input("a"), onCap: noCap }),
    ).toMatchObject({ ok: true, cold: true });
  });

  it("cancels a call when its signal aborts: the caller is answered at once and the isolate is stopped", async () => {
    const s = spec(
      "stoppable@1.0.0",
      "var skill = { commands: { wait: function () { return new Promise(function () {}); }, ok: function () { return 'ok'; } } };",
      { timeoutMs: 60_000 },
    );
    supervisor.load(s);
    const controller = new AbortController();
    const call = supervisor.callWith(s, {
      chatKey: "a",
      kind: "command",
      name: "wait",
      input: input("a"),
      onCap: noCap,
      signal: controller.signal,
    });
    // Wait until the host runs it: its isolate is live.
    for (let i = 0; i < 200; i++) {
      const live = (await supervisor.stats())[0]!.skills.find((k) => k.key === "stoppable@1.0.0")?.live;
      if (live === true) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    controller.abort();
    expect(await call).toMatchObject({ ok: false, failure: "cancelled" });
    // The host disposed the isolate (it did not just stop waiting for it); the next call starts a fresh one.
    let live = true;
    for (let i = 0; i < 200 && live; i++) {
      live = (await supervisor.stats())[0]!.skills.find((k) => k.key === "stoppable@1.0.0")!.live;
      if (live) await new Promise((r) => setTimeout(r, 20));
    }
    expect(live).toBe(false);
    expect(
      await supervisor.call(s, "a", { kind: "command", name: "ok", input: input("a"), onCap: noCap }),
    ).toMatchObject({ ok: true, cold: true });
  });

  it("stops CPU spins, including in the continuation after a capability answer", async () => {
    const s = spec(
      "spin@1.0.0",
      "var skill = { commands: { later: async function (ctx) { await ctx.storage.get('k'); for (;;) {} } } };",
      { cpuMs: 200 },
    );
    supervisor.load(s);
    expect(
      await supervisor.call(s, "a", { kind: "command", name: "later", input: input("a"), onCap: noCap }),
    ).toMatchObject({
      ok: false,
      failure: "cpu",
    });
  });

  it("answers a handler that returned, when a denial it never awaited arrives while the host takes its result", async () => {
    // The handler asks for a send it never awaits and spins long enough for the denial to come back while it still
    // runs, then leaves a rejection behind and returns. The host hears of the left-behind rejection first, takes the
    // kept result next; the denial's own unhandled rejection lands between the two and must not stop the isolate.
    const s = spec(
      "loose@1.0.0",
      "var skill = { commands: { go: function (ctx) { ctx.send('x:y', 'hi'); var t = Date.now(); while (Date.now() - t < 60) {} Promise.reject(new Error('left behind')); return 'returned'; } } };",
      { cpuMs: 1_000 },
    );
    supervisor.load(s);
    const deny = async (): Promise<string> => '{"ok":false,"error":{"code":"E_SKILL_DENIED","message":"no"}}';
    for (let i = 0; i < 3; i++) {
      const r = await supervisor.call(s, "a", { kind: "command", name: "go", input: input("a"), onCap: deny });
      expect(r).toMatchObject({ ok: true, value: '{"ok":true,"value":"returned"}' });
    }
  });

  it("answers a handler that returns after a rejection it left behind was reported, not the rejection", async () => {
    // The rejection is reported at the end of the handler's first task, before it awaits a capability and long
    // before it returns: the host hears "threw" while the handler still runs, and must wait for its own result.
    // The second handler throws later, after the same early report: its own error is the answer.
    const s = spec(
      "early@1.0.0",
      "var skill = { commands: { go: async function (ctx) { Promise.reject(new Error('left behind')); var v = await ctx.storage.get('k'); return 'returned ' + v; }, fail: async function (ctx) { Promise.reject(new Error('left behind')); await ctx.storage.get('k'); throw new Error('its own'); } } };",
    );
    supervisor.load(s);
    const answer = async (): Promise<string> => '{"ok":true,"value":"v"}';
    for (let i = 0; i < 3; i++) {
      const r = await supervisor.call(s, "a", { kind: "command", name: "go", input: input("a"), onCap: answer });
      expect(r).toMatchObject({ ok: true, value: '{"ok":true,"value":"returned v"}' });
    }
    const failed = await supervisor.call(s, "a", { kind: "command", name: "fail", input: input("a"), onCap: answer });
    expect(failed).toMatchObject({ ok: false, failure: "threw" });
    expect(JSON.stringify(failed)).toContain("its own");
    expect(JSON.stringify(failed)).not.toContain("left behind");
    // One that never settles after the early report ends at its wall clock, named as such.
    const stuck = spec(
      "early-stuck@1.0.0",
      "var skill = { commands: { go: async function () { Promise.reject(new Error('left behind')); await new Promise(function () {}); } } };",
      { timeoutMs: 400 },
    );
    supervisor.load(stuck);
    expect(
      await supervisor.call(stuck, "a", { kind: "command", name: "go", input: input("a"), onCap: answer }),
    ).toMatchObject({ ok: false, failure: "timeout" });
  });

  it("forwards one call past a capability group's budget and refuses the rest of a burst inside the isolate", async () => {
    const s = spec(
      "burst@1.0.0",
      "var skill = { commands: { go: async function (ctx) { var ps = []; for (var i = 0; i < 500; i++) ps.push(ctx.llm.complete({ prompt: 'x' }).then(function () { return 'ok'; }, function (e) { return e.code; })); var out = await Promise.all(ps); var n = {}; out.forEach(function (k) { n[k] = (n[k] || 0) + 1; }); await ctx.storage.get('k'); return JSON.stringify(n); } } };",
      { capGroups: [{ names: ["llm"], max: 3, label: "LLM calls" }] },
    );
    supervisor.load(s);
    const crossedBefore = (await supervisor.stats())[0]!.crossed;
    const reached: string[] = [];
    let refusedByHost = 0;
    const r = await supervisor.call(s, "a", {
      kind: "command",
      name: "go",
      input: input("a"),
      onRefused: (count) => {
        refusedByHost += count;
      },
      onCap: async (name) => {
        reached.push(name);
        // The bot's own budget: three model calls, then a refusal.
        return name === "llm" && reached.filter((n) => n === "llm").length > 3
          ? '{"ok":false,"error":{"code":"E_SKILL_BUDGET","message":"over its budget"}}'
          : '{"ok":true,"value":null}';
      },
    });
    expect(r).toMatchObject({ ok: true, value: JSON.stringify({ ok: true, value: '{"ok":3,"E_SKILL_BUDGET":497}' }) });
    // Three calls and the one the bot refuses; other capabilities still reach the bot.
    expect(reached).toEqual(["llm", "llm", "llm", "llm", "storage.get"]);
    expect(refusedByHost).toBe(496);
    // The burst is refused inside the isolate: the refused calls never reach the host's thread either (each that
    // did was a task there and an answer back into the isolate).
    expect((await supervisor.stats())[0]!.crossed - crossedBefore).toBe(5);
  });

  it("drops, inside the isolate, an answer that reaches work a returned handler left behind", async () => {
    // The handler asks for a setting it never awaits and spins until the answer is queued behind it; the
    // continuation would then loop for the whole CPU budget and take the next call down with it.
    const s = spec(
      "leftover@1.0.0",
      "var skill = { commands: { go: function (ctx) { (async function () { await ctx.storage.get('k'); for (;;) {} })(); var t = Date.now(); while (Date.now() - t < 60) {} return 'returned'; }, ok: function () { return 'still here'; } } };",
      { cpuMs: 300 },
    );
    supervisor.load(s);
    const lateBefore = (await supervisor.stats()).reduce((n, h) => n + h.late, 0);
    const first = await supervisor.call(s, "a", { kind: "command", name: "go", input: input("a"), onCap: noCap });
    expect(first).toMatchObject({ ok: true, value: '{"ok":true,"value":"returned"}' });
    const next = await supervisor.call(s, "a", { kind: "command", name: "ok", input: input("a"), onCap: noCap });
    expect(next).toMatchObject({ ok: true, value: '{"ok":true,"value":"still here"}' });
    const lateAfter = (await supervisor.stats()).reduce((n, h) => n + h.late, 0);
    expect(lateAfter).toBeGreaterThan(lateBefore);
  });

  it("reports a skill whose top level throws, and one that names no such handler", async () => {
    const broken = spec("broken@1.0.0", "throw new Error('boom at load');");
    supervisor.load(broken);
    const r = await supervisor.call(broken, "a", { kind: "command", name: "x", input: input("a"), onCap: noCap });
    expect(r).toMatchObject({ ok: false, failure: "threw" });
    expect(JSON.stringify(r)).toContain("boom at load");
    const s = spec("counter@1.0.0", COUNTER);
    const missing = await supervisor.call(s, "a", { kind: "command", name: "nope", input: input("a"), onCap: noCap });
    expect(missing).toMatchObject({ ok: false, failure: "threw" });
    expect(JSON.stringify(missing)).toContain("no command handler named");
  });

  it("refuses calls for a skill it does not hold", async () => {
    const s = spec("ghost@1.0.0", COUNTER);
    expect(
      await supervisor.call(s, "a", { kind: "command", name: "count", input: input("a"), onCap: noCap }),
    ).toMatchObject({
      ok: false,
      failure: "not-loaded",
    });
  });

  it("fails in-flight calls when the host dies and restarts it with every skill", async () => {
    const s = spec(
      "never2@1.0.0",
      "var skill = { commands: { wait: function () { return new Promise(function () {}); } } };",
      { timeoutMs: 10_000 },
    );
    supervisor.load(s);
    const pid = supervisor.pids()[0];
    const pending = supervisor.call(s, "a", { kind: "command", name: "wait", input: input("a"), onCap: noCap });
    await new Promise((r) => setTimeout(r, 100));
    supervisor.killHost(0);
    expect(await pending).toMatchObject({ ok: false, failure: "crashed", message: expect.stringContaining("SIGKILL") });
    expect(restarts.length).toBeGreaterThanOrEqual(1);
    // The restart's fork is spent from this call's wall clock: room for a loaded machine's.
    const counter = spec("counter@1.0.0", COUNTER, { timeoutMs: 10_000 });
    expect(
      await supervisor.call(counter, "a", { kind: "command", name: "count", input: input("a"), onCap: noCap }),
    ).toMatchObject({
      ok: true,
      value: '{"ok":true,"value":"a:1"}',
    });
    expect(supervisor.pids()[0]).not.toBe(pid);
  });

  it.skipIf(process.platform !== "linux")("runs the host with no environment and under Node's permission model", () => {
    process.env.SWITCHBOARD_TEST_SECRET = "do-not-leak";
    try {
      const pid = supervisor.pids()[0]!;
      const environ = readFileSync(`/proc/${pid}/environ`, "utf8");
      expect(environ).not.toContain("do-not-leak");
      // Only what Node itself sets for the IPC channel.
      expect(
        environ
          .split("\0")
          .filter(Boolean)
          .every((v) => v.startsWith("NODE_CHANNEL_")),
      ).toBe(true);
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      expect(cmdline).toEqual(expect.arrayContaining(["--no-node-snapshot", "--permission"]));
      expect(cmdline.some((a) => a.startsWith("--allow-fs-write") || a === "--allow-child-process")).toBe(false);
    } finally {
      delete process.env.SWITCHBOARD_TEST_SECRET;
    }
  });
});

/** The niceness of every thread of a process (Linux `/proc`). */
function threadNiceness(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
    // Fields after the command name: state is field 3, niceness field 19.
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
  });
}

describe.skipIf(process.platform !== "linux")("skill host priority", () => {
  let supervisor: SkillHostSupervisor;

  beforeAll(() => {
    supervisor = new SkillHostSupervisor({ poolSize: 1, permissionModel: true, hostGraceMs: 3_000, nice: 10 });
  });

  afterAll(async () => {
    await supervisor.stop();
  });

  const input = JSON.stringify({ args: [], rawArgs: "", chat: { id: "a" } });

  it("runs built-ins at the bot's priority and every other skill's host, each thread of it, at the lower one", async () => {
    // A cold host's fork is spent from the call's wall clock: room for a loaded machine's.
    const builtin = spec("builtin-dice@1.0.0", COUNTER, { timeoutMs: 10_000 });
    const outside = spec("outside@1.0.0", COUNTER, { timeoutMs: 10_000 });
    supervisor.load(builtin, { isolated: false, builtin: true });
    supervisor.load(outside, { isolated: true });
    for (const s of [builtin, outside])
      expect(await supervisor.call(s, "a", { kind: "command", name: "count", input, onCap: noCap })).toMatchObject({
        ok: true,
      });
    const shared = supervisor.hostFor("builtin-dice").pid!;
    const isolated = supervisor.hostFor("outside").pid!;
    expect(shared).not.toBe(isolated);
    // Node's own threads (V8 workers, libuv) and isolated-vm's included: each inherits its creator's niceness.
    expect(new Set(threadNiceness(shared))).toEqual(new Set([0]));
    expect(threadNiceness(isolated).length).toBeGreaterThan(1);
    expect(new Set(threadNiceness(isolated))).toEqual(new Set([10]));
    // A skill from outside placed in the shared host (no host of its own) makes that host yield too.
    const guest = spec("guest@1.0.0", COUNTER);
    supervisor.load(guest, { isolated: false });
    expect(new Set(threadNiceness(shared))).toEqual(new Set([10]));
    expect(await supervisor.call(guest, "a", { kind: "command", name: "count", input, onCap: noCap })).toMatchObject({
      ok: true,
    });
    expect(new Set(threadNiceness(shared))).toEqual(new Set([10]));
  });
});

describe("skill host crash backoff", () => {
  const crashes: string[] = [];
  let supervisor: SkillHostSupervisor;
  const STABLE_MS = 5_000;

  beforeAll(async () => {
    supervisor = new SkillHostSupervisor({
      poolSize: 1,
      permissionModel: true,
      hostGraceMs: 3_000,
      stableMs: STABLE_MS,
      onCrash: (crash) => crashes.push(crash.reason),
    });
    await supervisor.start();
  });

  afterAll(async () => {
    await supervisor.stop();
  });

  // The backoff and the restart's fork are spent from the call's wall clock: 10 s holds any backoff (5 s at most)
  // and a loaded machine's fork. The call that must find a backoff over its budget asks for 3 s.
  const counter = spec("backoff@1.0.0", COUNTER, { timeoutMs: 10_000 });
  const count = (timeoutMs = counter.timeoutMs) =>
    supervisor.call({ ...counter, timeoutMs }, "a", {
      kind: "command",
      name: "count",
      input: JSON.stringify({ args: [], rawArgs: "", chat: { id: "a" } }),
      onCap: noCap,
    });
  async function crash(): Promise<void> {
    const before = crashes.length;
    supervisor.killHost(0);
    await expect.poll(() => crashes.length, { timeout: 10_000 }).toBe(before + 1);
  }

  it("grows with crashes in a row and starts over once a host has run for stableMs", async () => {
    supervisor.load(counter);
    // Six crashes in a row: the backoff waits 50 ms, 100 ms … 1.6 s, each within a 3 s budget.
    for (let i = 0; i < 6; i++) {
      expect(await count()).toMatchObject({ ok: true });
      await crash();
    }
    expect(await count()).toMatchObject({ ok: true });
    await crash();
    // The seventh in a row: a 3.2 s backoff, over a 3 s budget, so the call is refused at once.
    expect(await count(3_000)).toMatchObject({
      ok: false,
      failure: "crashed",
      message: expect.stringContaining("restarting"),
    });
    await new Promise((r) => setTimeout(r, 3_300));
    expect(await count()).toMatchObject({ ok: true });
    // This host runs past stableMs before it crashes: the next backoff is the first one again (50 ms), not 5 s.
    await new Promise((r) => setTimeout(r, STABLE_MS + 200));
    await crash();
    expect(await count()).toMatchObject({ ok: true });
  }, 60_000);
});

describe("a cold host of its own", () => {
  let supervisor: SkillHostSupervisor;

  beforeAll(() => {
    supervisor = new SkillHostSupervisor({ poolSize: 1, permissionModel: true, hostGraceMs: 3_000 });
  });

  afterAll(async () => {
    await supervisor.stop();
  });

  it("spends the call's wall clock on its fork: a host that is not up within the budget fails the call in time", async () => {
    const count = (s: HostSkillSpec) =>
      supervisor.call(s, "a", {
        kind: "command",
        name: "count",
        input: JSON.stringify({ args: [], rawArgs: "", chat: { id: "a" } }),
        onCap: noCap,
      });
    // Another skill's first call starts the spawner that forks the hosts of their own: what follows times a fork.
    const other = spec("spawnfirst@1.0.0", COUNTER, { timeoutMs: 10_000 });
    supervisor.load(other, { isolated: true });
    expect(await count(other)).toMatchObject({ ok: true });
    const s = spec("coldfork@1.0.0", COUNTER, { timeoutMs: 300 });
    supervisor.load(s, { isolated: true });
    const t0 = Date.now();
    const first = count(s);
    // The call has the skill's own host forked just now (the spawner reports its pid; the shared host is pids()[0]);
    // hold it before it is up, for longer than the call's whole budget, as a fork on a loaded machine can take.
    await expect.poll(() => supervisor.pids()[2], { interval: 1, timeout: 1_000 }).toBeTypeOf("number");
    const pid = supervisor.pids()[2]!;
    process.kill(pid, "SIGSTOP");
    const held = new Promise((r) => setTimeout(r, 1_500)).then(() => process.kill(pid, "SIGCONT"));
    expect(await first).toMatchObject({
      ok: false,
      failure: "timeout",
      message: expect.stringContaining("while the skill host started"),
    });
    // Answered while the host was still held, not once it came up.
    expect(Date.now() - t0).toBeLessThan(1_500);
    await held;
    // The start went on: the host comes up and the next call runs.
    await expect.poll(async () => (await count(s)).ok, { timeout: 10_000 }).toBe(true);
  }, 30_000);
});

/** The parent process id of a process (Linux `/proc`). */
function parentOf(pid: number): number {
  return Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
}

describe.skipIf(process.platform !== "linux")("the host spawner", () => {
  let supervisor: SkillHostSupervisor;
  const crashes: Array<{ group: string; reason: string }> = [];
  const input = JSON.stringify({ args: [], rawArgs: "", chat: { id: "a" } });

  beforeAll(async () => {
    supervisor = new SkillHostSupervisor({
      poolSize: 1,
      permissionModel: true,
      hostGraceMs: 3_000,
      onCrash: (crash) => crashes.push(crash),
    });
    await supervisor.start();
  });

  afterAll(async () => {
    await supervisor.stop();
  });

  it("forks every host of its own, restarts included, so the bot process forks only the shared hosts", async () => {
    const s = spec("spawned@1.0.0", COUNTER, { timeoutMs: 10_000 });
    supervisor.load(s, { isolated: true });
    // No spawner until a host of its own is needed.
    expect(supervisor.spawnerPid).toBeUndefined();
    expect(await supervisor.call(s, "a", { kind: "command", name: "count", input, onCap: noCap })).toMatchObject({
      ok: true,
      value: '{"ok":true,"value":"a:1"}',
    });
    const spawner = supervisor.spawnerPid!;
    const [shared, own] = supervisor.pids() as [number, number];
    expect(parentOf(shared)).toBe(process.pid);
    expect(parentOf(spawner)).toBe(process.pid);
    expect(parentOf(own)).toBe(spawner);
    // The spawner runs with no environment and under the hosts' permission model, with leave to fork.
    const cmdline = readFileSync(`/proc/${spawner}/cmdline`, "utf8").split("\0");
    expect(cmdline).toEqual(expect.arrayContaining(["--permission", "--allow-child-process"]));
    expect(readFileSync(`/proc/${spawner}/environ`, "utf8")).not.toContain("PATH=");
    // A crash of that host: reported as before, and its restart is the spawner's fork too.
    supervisor.killHost(1);
    await expect.poll(() => crashes.length, { timeout: 10_000 }).toBe(1);
    expect(crashes[0]).toMatchObject({ group: "skill:spawned", reason: "signal SIGKILL" });
    expect(await supervisor.call(s, "a", { kind: "command", name: "count", input, onCap: noCap })).toMatchObject({
      ok: true,
      value: '{"ok":true,"value":"a:1"}',
    });
    const again = supervisor.pids()[1]!;
    expect(again).not.toBe(own);
    expect(parentOf(again)).toBe(spawner);
  }, 30_000);

  it("fails the calls of its hosts when it dies, and the next call starts it and the host again", async () => {
    const wait = spec(
      "spawnwait@1.0.0",
      "var skill = { commands: { wait: function () { return new Promise(function () {}); } } };",
      {
        timeoutMs: 10_000,
      },
    );
    supervisor.load(wait, { isolated: true });
    await supervisor.hostFor("spawnwait").start();
    const pending = supervisor.call(wait, "a", { kind: "command", name: "wait", input, onCap: noCap });
    const host = supervisor.pids()[2]!;
    const spawner = supervisor.spawnerPid!;
    // Let the call reach the host before its spawner goes.
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    process.kill(spawner, "SIGKILL");
    expect(await pending).toMatchObject({
      ok: false,
      failure: "crashed",
      message: "the skill host stopped (its spawner process stopped)",
    });
    expect(Date.now() - t0).toBeLessThan(2_000);
    // Its hosts leave with it (their channel to it closed).
    await expect
      .poll(
        () => {
          try {
            process.kill(host, 0);
            return true;
          } catch {
            return false;
          }
        },
        { timeout: 5_000 },
      )
      .toBe(false);
    const s = spec("spawned@1.0.0", COUNTER, { timeoutMs: 10_000 });
    expect(await supervisor.call(s, "a", { kind: "command", name: "count", input, onCap: noCap })).toMatchObject({
      ok: true,
    });
    expect(supervisor.spawnerPid).not.toBe(spawner);
    expect(parentOf(supervisor.pids()[1]!)).toBe(supervisor.spawnerPid);
    // Not a crash of the skills it held: nothing counted towards their quarantine.
    expect(crashes.map((c) => c.group)).toEqual(["skill:spawned"]);
  }, 30_000);
});

describe("the resident-size cap of a host of its own", () => {
  let supervisor: SkillHostSupervisor;
  const crashes: Array<{ reason: string; failure: string }> = [];
  const FILL =
    "var skill = { commands: { fill: function () { return 'n' + new Array(1024 * 1024 * 60).fill().length; } } };";

  beforeAll(() => {
    supervisor = new SkillHostSupervisor({
      poolSize: 1,
      permissionModel: true,
      hostGraceMs: 3_000,
      maxRssMb: 256,
      onCrash: (crash) => crashes.push(crash),
    });
  });

  afterAll(async () => {
    await supervisor.stop();
  });

  it("is its skill's memory limit + OWN_HOST_RSS_BASE_MB, within hostMaxRssMb; a shared host keeps hostMaxRssMb", () => {
    supervisor.load(spec("capped@1.0.0", COUNTER, { memoryMb: 32 }), { isolated: true });
    expect(supervisor.hostFor("capped").rssCapMb).toBe(OWN_HOST_RSS_BASE_MB + 32);
    supervisor.load(spec("roomy@1.0.0", COUNTER, { memoryMb: 512 }), { isolated: true });
    expect(supervisor.hostFor("roomy").rssCapMb).toBe(256);
    supervisor.load(spec("sharer@1.0.0", COUNTER, { memoryMb: 32 }));
    expect(supervisor.hostFor("sharer").rssCapMb).toBe(256);
  });

  it("stops a fill its isolate's limit does not interrupt at the cap, at once, and names the memory as the cause", async () => {
    const s = spec("filler@1.0.0", FILL, { memoryMb: 32, cpuMs: 200, timeoutMs: 5_000 });
    supervisor.load(s, { isolated: true });
    const t0 = Date.now();
    const result = await supervisor.call(s, "a", {
      kind: "command",
      name: "fill",
      input: JSON.stringify({ args: [], rawArgs: "", chat: { id: "a" } }),
      onCap: noCap,
    });
    // Before: the host's process.exit() ran on while the fill did and died in SIGSEGV ("crashed"), or the 256 MB
    // shared cap let it run into the wall clock.
    expect(result).toMatchObject({
      ok: false,
      failure: "memory",
      message: "the skill host stopped (over its memory cap)",
    });
    expect(Date.now() - t0).toBeLessThan(4_000);
    expect(crashes.at(-1)).toMatchObject({ group: "skill:filler", reason: "over its memory cap", failure: "memory" });
  }, 30_000);
});
