/**
 * The security suite: hostile skills from test/fixtures/skills/hostile, each contained with a clear error while
 * the bot keeps answering other chats. Runs through the real router, skill host process and isolates.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSkillsPlugin, type SkillsPlugin } from "../../../skills/index.ts";
import { writeSkillVariant } from "../../helpers/fixture-skill.ts";
import { startTestBot, type TestBot } from "../../helpers/app.ts";

const FIXTURES = resolve(import.meta.dirname, "../../fixtures/skills");

describe("hostile skills are contained", () => {
  let bot: TestBot;
  let plugin: SkillsPlugin;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "sb-hostile-"));
    // A slow spinner: the hostile skill with a long CPU budget, for the latency test.
    const spinner = writeSkillVariant({
      from: join(FIXTURES, "hostile"),
      to: join(dataDir, "spinner"),
      name: "switchboard-skill-spinner",
      switchboard: {
        commands: [
          { name: "spin", description: "Spin" },
          { name: "sleep", description: "Never answer" },
        ],
        tools: [],
        limits: { memoryMb: 16, cpuMs: 8000, timeoutMs: 15000 },
      },
      code: "var skill = { commands: { spin: function () { for (;;) {} }, sleep: function () { return new Promise(function () {}); } } };",
    });
    bot = await startTestBot({
      set: {
        "bot.dataDir": dataDir,
        "skills.maxRepliesPerInvocation": 5,
        "skills.maxCpuMs": 8000,
        // Each attack is to meet the limit it targets (reply size, stack depth…); under the 200 ms default a slow
        // shared machine can stop the bigger ones on CPU time first, which is contained too but not this test's case.
        "skills.defaultCpuMs": 1000,
        "limits.perUser": { burst: 10_000, perMinute: 100_000 },
        "limits.perChat": { burst: 10_000, perMinute: 100_000 },
        // The backoff test crashes one skill's host four times; quarantine has its own test (containment).
        "skills.quarantineAfterCrashes": 100,
      },
      plugins: [async (core) => (plugin = await createSkillsPlugin(core))],
    });
    await plugin.service.load(join(FIXTURES, "hostile"), { source: "installed" });
    await plugin.service.load(spinner, { source: "installed" });
    for (const chat of ["h1", "h2", "h3", "h4", "spin", "sleep"]) {
      await plugin.service.enable(
        `test:${chat}`,
        chat === "spin" || chat === "sleep" ? "spinner" : "hostile",
        "test:owner",
      );
    }
  }, 120_000);

  afterAll(async () => {
    await bot?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const say = (text: string, chatId = "h1", role: "member" | "admin" = "member") =>
    bot.app.core.router.process(bot.adapter.inbound(text, { chatId, role }));
  const last = (chatId = "h1") => bot.adapter.textsIn(chatId).at(-1) ?? "";

  async function expectOthersAnswer(): Promise<void> {
    await say("/dice 1d6", "other");
    expect(last("other")).toMatch(/1d6: \d = \*\*\d\*\*/);
    await say("/evil ok");
    expect(last()).toBe("still here");
  }

  // A memory limit is met in the isolate (its heap limit) or, when the host's resident size passes its cap first
  // (its skill's limit + 112 MB, checked every 25 ms; under load the isolate's own check can come later), by the
  // host: "went over its memory limit (its host process was stopped)". Both are the memory limit, named as such.
  const MEM = "memory limit( \\(its host process was stopped\\))?";
  const contained: Array<[string, RegExp]> = [
    ["loop", /hostile went over its (CPU )?time limit and was stopped/],
    ["asyncloop", /hostile went over its (CPU )?time limit and was stopped/],
    ["chain", new RegExp(`hostile went over its (CPU time limit|time limit|${MEM}) and was stopped`)],
    ["microflood", new RegExp(`hostile went over its (CPU time limit|time limit|${MEM}) and was stopped`)],
    ["never", /hostile went over its time limit and was stopped/],
    ["heapbomb", new RegExp(`hostile went over its (${MEM}|CPU time limit) and was stopped`)],
    ["stringbomb", new RegExp(`hostile (went over its (${MEM}|CPU time limit)|failed) and was stopped`)],
    ["bufferbomb", new RegExp(`hostile (went over its (${MEM}|CPU time limit)|failed) and was stopped`)],
    ["bigreply", /hostile returned too much data and was stopped/],
    // The stack overflow, or on a loaded machine the manifest's 300 ms CPU budget first (the isolate's thread
    // runs at niceness 10: a full suite on two cores took one over 300 ms).
    ["recursion", /hostile (failed|went over its CPU time limit) and was stopped/],
    ["regex", /hostile went over its CPU time limit and was stopped/],
    ["throwstr", /hostile failed and was stopped/],
    ["thrownum", /hostile failed and was stopped/],
    ["thrownull", /hostile failed and was stopped/],
    ["throwobj", /hostile failed and was stopped/],
    ["throwproxy", /hostile failed and was stopped/],
    ["getter", /hostile went over its CPU time limit and was stopped/],
    ["cycle", /hostile failed and was stopped/],
    ["bigint", /hostile failed and was stopped/],
  ];

  it.each(contained)("contains /evil %s with a clear error and keeps serving", async (attack, expected) => {
    await say(`/evil ${attack}`);
    expect(last()).toMatch(expected);
    await expectOthersAnswer();
  });

  it("records stopped invocations in the audit log and metrics", async () => {
    await say("/evil loop", "h2");
    const audit = await bot.app.core.store.audit.list("test:h2");
    expect(audit.some((a) => a.action === "skill.limit" && a.actor === "skill:hostile")).toBe(true);
    const metrics = await bot.app.core.metrics.registry.getSingleMetricAsString("switchboard_skill_failures_total");
    expect(metrics).toMatch(/skill="hostile",reason="cpu"} [1-9]/);
  });

  it("reads a getter-built result as data", async () => {
    await say("/evil getterok");
    expect(last()).toBe("from a getter");
  });

  it("offers no host objects, Node APIs or WebAssembly to skill code", async () => {
    await say("/evil probe");
    const report = JSON.parse(last()) as Record<string, unknown>;
    expect(report).toMatchObject({
      process: "undefined",
      require: "undefined",
      module: "undefined",
      globalKeys: [],
      ctorChain: "undefined",
      fnThis: "isolate",
    });
    await say("/evil wasm");
    expect(last()).toBe("no WebAssembly");
  });

  it("gives no way out through the capability object, import() or stack frames", async () => {
    await say("/evil probectx");
    const report = JSON.parse(last()) as {
      replyCtor: string;
      storageCtor: string;
      dynamicImport: string;
      files: string[];
      ctxKeys: string[];
    };
    expect(report.replyCtor).toBe("undefined");
    expect(report.storageCtor).toBe("undefined");
    expect(report.dynamicImport).not.toBe("worked");
    const joined = report.files.join(" ");
    expect(joined).not.toMatch(/\/work\/|node_modules|\.ts\b|skills\/host|file:\/\//);
    expect(report.ctxKeys).not.toContain("capRaw");
  });

  it("does not let capability arguments or results pollute prototypes", async () => {
    await say("/evil pollute");
    expect(last()).toBe("polluted?");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty("polluted");
  });

  it("denies capabilities the skill never declared, clearly", async () => {
    await say("/evil fetch", "h3");
    expect(last("h3")).toBe("network access was not declared by this skill");
    await say("/evil storage", "h3");
    expect(last("h3")).toBe("storage was not declared by this skill");
    await say("/evil send", "h3");
    expect(last("h3")).toBe("sending to other chats was not declared by this skill");
    await say("/evil llm", "h3");
    expect(last("h3")).toBe("LLM calls were not declared by this skill");
    expect(bot.adapter.textsIn("other")).not.toContain("hello from elsewhere");
    const audit = await bot.app.core.store.audit.list("test:h3");
    expect(audit.filter((a) => a.action === "skill.denied").length).toBeGreaterThanOrEqual(4);
  });

  it("caps replies per invocation and their size", async () => {
    const before = bot.adapter.textsIn("h4").length;
    await say("/evil manyreplies", "h4");
    const spam = bot.adapter
      .textsIn("h4")
      .slice(before)
      .filter((t) => t.startsWith("spam"));
    expect(spam.length).toBe(5);
    await say("/evil longreply", "h4");
    expect(last("h4")).toMatch(/limited to \d+ characters/);
  });

  it("neutralises mass mentions", async () => {
    await say("/evil mention", "h4");
    const sent = bot.adapter.textsIn("h4").find((t) => t.includes("look"))!;
    expect(sent).not.toMatch(/@everyone|@here|<!channel>|<!here/);
    expect(sent).toContain("@\u200beveryone");
  });

  it("keeps each chat's state apart", async () => {
    await say("/evil leak", "h1");
    await say("/evil leak", "h1");
    expect(last("h1")).toBe("test:h1,test:h1");
    await say("/evil leak", "h2");
    expect(last("h2")).toBe("test:h2");
  });

  it("refuses a capability object kept from an earlier invocation", async () => {
    await say("/evil keep", "h1");
    await say("/evil reuse", "h1");
    expect(last("h1")).toMatch(
      /^refused: capability used outside its invocation|^refused: the invocation has finished/,
    );
  });

  it("survives finalizers that spin", async () => {
    await say("/evil finalizer", "h2");
    await say("/evil ok", "h2");
    expect(bot.adapter.textsIn("h2").at(-1)).toMatch(/still here|was stopped/);
    await expectOthersAnswer();
  });

  it("runs an admin-only skill command for no member", async () => {
    await say("/evil-admin", "h1", "member");
    expect(last("h1")).not.toBe("admin-only ran");
    expect(last("h1")).toMatch(/permission|policy/i);
  });

  it("answers another chat while one skill spins at its CPU limit", async () => {
    const spinning = say("/spin", "spin");
    // Let the spin reach the isolate before measuring.
    await new Promise((r) => setTimeout(r, 200));
    const started = performance.now();
    await say("/dice 2d6", "latency");
    const latencyMs = performance.now() - started;
    expect(last("latency")).toMatch(/2d6: \d \+ \d = \*\*\d+\*\*/);
    // The dice answered while the spinner was still spinning.
    expect(bot.adapter.textsIn("spin")).toHaveLength(0);
    await spinning;
    expect(last("spin")).toMatch(/spinner went over its (CPU )?time limit/);
    console.info(`[skills] dice latency while another skill spins: ${latencyMs.toFixed(1)} ms`);
  });

  it("fails in-flight calls clearly when the host process dies, then restarts it", async () => {
    const pending = say("/sleep", "sleep");
    await new Promise((r) => setTimeout(r, 500));
    plugin.supervisor.hostFor("spinner").kill();
    await pending;
    expect(last("sleep")).toMatch(/spinner crashed \(its host process was stopped\) and was stopped/);
    await say("/dice 1d6", "other");
    expect(last("other")).toMatch(/1d6: \d/);
    const audit = await bot.app.core.store.audit.list("test:sleep");
    expect(audit.some((a) => a.action === "skill.failed")).toBe(true);
  });

  it("tells the chat a call did not run while the skill's host waits out its crash backoff", async () => {
    // A skill whose wall clock (40 ms) is shorter than the first restart backoff (50 ms).
    const dir = writeSkillVariant({
      from: join(FIXTURES, "hostile"),
      to: join(dataDir, "brittle"),
      name: "switchboard-skill-brittle",
      switchboard: {
        commands: [{ name: "brittle", description: "Answer at once" }],
        tools: [],
        limits: { memoryMb: 16, timeoutMs: 40 },
      },
      code: 'var skill = { commands: { brittle: function () { return "up"; } } };',
    });
    await plugin.service.load(dir, { source: "installed" });
    await plugin.service.enable("test:brittle", "brittle", "test:owner");
    // Crash its host four times in a row (each restart waits 50, 100, 200 ms, doubling), so the next restart waits
    // 400 ms: ten times the skill's whole wall clock. Its first calls after each restart may spend the 40 ms on
    // forking its host; the host comes up all the same.
    const host = plugin.supervisor.hostFor("brittle");
    for (let crash = 0; crash < 4; crash++) {
      await expect
        .poll(
          async () => {
            await say("/brittle", "brittle");
            return last("brittle");
          },
          { timeout: 15_000 },
        )
        .toBe("up");
      host.kill();
      await expect.poll(() => host.isRunning, { timeout: 5_000 }).toBe(false);
    }
    await say("/brittle", "brittle");
    expect(last("brittle")).toBe(
      "The skill brittle did not run: its host crashed before and is starting again. Try again in a few seconds.",
    );
  });

  it("contains a hostile tool called by the LLM layer the same way", async () => {
    const inbound = bot.adapter.inbound("use the tool", { chatId: "h4" });
    const ctx = {
      inbound,
      chatKey: "test:h4",
      userKey: "test:u1",
      role: "member" as const,
      signal: new AbortController().signal,
    };
    expect(bot.app.core.tools.list("test:h4").map((t) => t.name)).toContain("hostile__attack");
    await expect(bot.app.core.tools.call("hostile__attack", { name: "loop" }, ctx)).rejects.toMatchObject({
      code: "E_SKILL_LIMIT",
    });
    expect(await bot.app.core.tools.call("hostile__attack", { name: "ok" }, ctx)).toBe("still here");
    await expect(
      bot.app.core.tools.call("hostile__attack", { name: "ok" }, { ...ctx, chatKey: "test:not-enabled" }),
    ).rejects.toMatchObject({ code: "E_NOT_FOUND" });
  });
});
