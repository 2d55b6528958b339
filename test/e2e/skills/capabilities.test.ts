/**
 * Capabilities and lifecycle through the real router: storage scoping and quota, fetch through a skill, secret
 * settings, re-approval after an update, command clashes, LLM tools, the llm capability hook.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSchedulesPlugin } from "../../../schedules/index.ts";
import { createSkillsPlugin, type SkillsPlugin } from "../../../skills/index.ts";
import { writeSkillVariant } from "../../helpers/fixture-skill.ts";
import { startTestBot, type TestBot } from "../../helpers/app.ts";

const FIXTURES = resolve(import.meta.dirname, "../../fixtures/skills");

describe("skill capabilities and lifecycle", () => {
  let bot: TestBot;
  let plugin: SkillsPlugin;
  let dataDir: string;
  let server: Server;
  let port: number;
  const logLines: string[] = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "sb-caps-"));
    server = createServer((req, res) => {
      if (req.url === "/redirect") res.writeHead(302, { location: "http://169.254.169.254/" }).end();
      else res.writeHead(200).end(`pong ${req.headers.host}`);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
    bot = await startTestBot({
      set: {
        "bot.dataDir": dataDir,
        "log.level": "info",
        "limits.perUser": { burst: 10_000, perMinute: 100_000 },
        "limits.perChat": { burst: 10_000, perMinute: 100_000 },
        "skills.fetch": { allowHttp: true, allowAddresses: ["127.0.0.1"] },
        "skills.maxInFlightPerSkill": 2,
      },
      log: (await import("../../../bot/logger.ts")).createLogger({
        level: "info",
        format: "json",
        destination: {
          write: (s: string) => {
            logLines.push(s);
            return true;
          },
        } as unknown as NodeJS.WritableStream,
      }),
      plugins: [
        async (core) => (plugin = await createSkillsPlugin(core, { env: { SWITCHBOARD_SECRET_KEY: "test-key" } })),
        (core) => createSchedulesPlugin(core),
      ],
    });
    // A declared host means its scheme's port only: the loopback server's port is declared as host:port.
    const fetcher = join(dataDir, "fetcher");
    cpSync(join(FIXTURES, "fetcher"), fetcher, { recursive: true });
    const fetcherPkg = JSON.parse(readFileSync(join(fetcher, "package.json"), "utf8")) as {
      switchboard: { permissions: { network: string[] } };
    };
    const declared = fetcherPkg.switchboard.permissions.network;
    fetcherPkg.switchboard.permissions.network = [...declared, ...declared.map((h) => `${h}:${port}`)];
    writeFileSync(join(fetcher, "package.json"), JSON.stringify(fetcherPkg));
    await plugin.service.load(fetcher, { source: "installed" });
    for (const name of ["storer", "storer-two"])
      await plugin.service.load(join(FIXTURES, name), { source: "installed" });
    for (const chat of ["s1", "s2", "f1"]) {
      for (const name of ["fetcher", "storer", "storer-two"])
        await plugin.service.enable(`test:${chat}`, name, "test:owner");
    }
  }, 120_000);

  afterAll(async () => {
    await bot?.stop();
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    rmSync(dataDir, { recursive: true, force: true });
  });

  const say = (text: string, chatId: string, role: "member" | "admin" = "member") =>
    bot.app.core.router.process(bot.adapter.inbound(text, { chatId, role }));
  const last = (chatId: string) => bot.adapter.textsIn(chatId).at(-1) ?? "";

  it("scopes storage to (skill, chat)", async () => {
    await say("/put shared 10", "s1");
    expect(last("s1")).toBe("stored shared");
    await say("/peek shared", "s1");
    expect(last("s1")).toBe("value 10 chars; keys shared");
    await say("/peek shared", "s2");
    expect(last("s2")).toBe("value (none); keys ");
    await say("/peek2 shared", "s1");
    expect(last("s1")).toBe("value (none); keys ");
  });

  it("refuses writes beyond the storage quota and keeps what was stored", async () => {
    await say("/put big 2000", "s1");
    expect(last("s1")).toMatch(/^error E_QUOTA_EXCEEDED: storage quota of 1 KB/);
    await say("/peek shared", "s1");
    expect(last("s1")).toBe("value 10 chars; keys shared");
  });

  it("fetches only what the operator allows, through the skill", async () => {
    await say(`/get http://127.0.0.1:${port}/ping`, "f1");
    expect(last("f1")).toBe(`status 200 body pong 127.0.0.1:${port} url http://127.0.0.1:${port}/ping`);
    await say(`/get http://localhost:${port}/ping`, "f1");
    expect(last("f1")).toMatch(/^status 200|^error E_SKILL_DENIED/); // localhost may resolve to ::1, which is not allowed
    await say("/get http://169.254.169.254/latest/meta-data/", "f1");
    expect(last("f1")).toMatch(/^error E_SKILL_DENIED: fetch to 169\.254\.169\.254 is not allowed/);
    await say(`/get http://127.0.0.1:${port}/redirect`, "f1");
    expect(last("f1")).toMatch(/^error E_SKILL_DENIED/);
    await say("/get https://api.github.com/", "f1");
    expect(last("f1")).toMatch(
      /^error E_SKILL_DENIED: fetch to api\.github\.com is not allowed: the skill did not declare it/,
    );
    await say(`/get http://127.0.0.1:${port}/ping X-Evil a`, "f1");
    expect(last("f1")).toMatch(/^status 200/);
  });

  it("keeps secret settings encrypted, masked and out of the log", async () => {
    const dir = writeSkillVariant({
      from: join(FIXTURES, "storer"),
      to: join(dataDir, "secretive"),
      name: "switchboard-skill-secretive",
      switchboard: {
        commands: [{ name: "whoami-secret", description: "Show settings" }],
        settings: {
          properties: { token: { type: "string", secret: true }, greeting: { type: "string", default: "hi" } },
        },
      },
      code: "var skill = { commands: { 'whoami-secret': async function (ctx) { var s = await ctx.settings.get(); return s.greeting + ' ' + s.token.length; } } };",
    });
    await plugin.service.load(dir, { source: "installed" });
    await plugin.service.enable("test:sec", "secretive", "test:owner");
    await plugin.service.setSetting("test:sec", "secretive", {
      key: "token",
      value: "s3cr3t-value",
      actorUserKey: "test:owner",
    });
    await expect(
      plugin.service.setSetting("test:sec", "secretive", { key: "nope", value: "x", actorUserKey: "test:owner" }),
    ).rejects.toMatchObject({
      code: "E_BAD_ARGS",
    });
    expect(await plugin.service.getSettings("test:sec", "secretive")).toEqual({ token: "••••••", greeting: "hi" });
    const raw = await bot.app.core.store.kv.get<Record<string, unknown>>("skills.settings", "test:sec", "secretive");
    expect(JSON.stringify(raw)).not.toContain("s3cr3t-value");
    await say("/whoami-secret", "sec");
    expect(last("sec")).toBe("hi 12");
    // Another skill in the same chat sees none of it.
    await plugin.service.enable("test:sec", "storer", "test:owner");
    expect(await plugin.service.getSettings("test:sec", "storer")).toEqual({});
    // Each change is audited with the value before and after; a secret only as set or not.
    await plugin.service.setSetting("test:sec", "secretive", {
      key: "greeting",
      value: "hello",
      actorUserKey: "test:owner",
    });
    await plugin.service.setSetting("test:sec", "secretive", {
      key: "token",
      value: "other",
      actorUserKey: "test:owner",
    });
    const changes = (await bot.app.core.store.audit.list("test:sec"))
      .filter((a) => a.action === "skills.setting")
      .reverse()
      .map((a) => [a.target, a.before, a.after]);
    expect(changes).toEqual([
      ["secretive.token", { value: null }, { value: "(secret)" }],
      ["secretive.greeting", { value: "hi" }, { value: "hello" }],
      ["secretive.token", { value: "(secret)" }, { value: "(secret)" }],
    ]);
    // The chat gets a policy making u1 its admin, so /audit answers there.
    await bot.app.core.permissions.updatePolicy("test:sec", { actor: "test:owner", action: "perms.role" }, (p) => {
      p.roleOverrides["test:u1"] = "admin";
    });
    await say("/audit", "sec");
    expect(last("sec")).toContain('test:owner skills.setting secretive.greeting: {"value":"hi"} → {"value":"hello"}');
    const audit = await bot.app.core.store.audit.list("test:sec");
    expect(JSON.stringify(audit)).not.toContain("s3cr3t-value");
    expect(JSON.stringify(audit)).not.toContain('"other"');
    expect(logLines.join("")).not.toContain("s3cr3t-value");
  });

  it("needs re-approval when an update asks for more, and runs again once approved", async () => {
    const dir = join(dataDir, "growing");
    cpSync(join(FIXTURES, "storer"), dir, { recursive: true });
    const write = (version: string, network: string[]) => {
      const pkg = JSON.parse(readFileSync(join(FIXTURES, "storer", "package.json"), "utf8")) as Record<
        string,
        unknown
      > & { switchboard: Record<string, unknown> };
      pkg.name = "switchboard-skill-growing";
      pkg.version = version;
      pkg.switchboard.commands = [{ name: "grow", description: "Grow" }];
      pkg.switchboard.permissions = { storage: true, network };
      writeFileSync(join(dir, "package.json"), JSON.stringify(pkg));
      writeFileSync(
        join(dir, "index.js"),
        `var skill = { commands: { grow: function () { return "v${version}"; } } };`,
      );
    };
    write("1.0.0", []);
    await plugin.service.load(dir, { source: "installed" });
    await plugin.service.enable("test:g1", "growing", "test:owner");
    await say("/grow", "g1");
    expect(last("g1")).toBe("v1.0.0");
    write("2.0.0", ["api.example.com"]);
    await plugin.service.load(dir, { source: "installed" });
    expect(plugin.service.state("test:g1", "growing")).toBe("needs-reapproval");
    expect(plugin.service.pendingPermissions("test:g1", "growing")).toEqual(["network api.example.com"]);
    expect(plugin.service.enabledIn("test:g1")).not.toContain("growing");
    await say("/grow", "g1");
    expect(last("g1")).not.toBe("v2.0.0");
    await plugin.service.enable("test:g1", "growing", "test:owner");
    await say("/grow", "g1");
    expect(last("g1")).toBe("v2.0.0");
    expect(plugin.service.grantsFor("test:g1", "growing")?.network).toEqual(["api.example.com"]);
  });

  it("refuses skills whose commands clash with a built-in or another skill", async () => {
    await expect(plugin.service.load(join(FIXTURES, "clash-builtin"), { source: "installed" })).rejects.toMatchObject({
      code: "E_CONFLICT",
      chatMessage: expect.stringContaining("/help is already provided by builtin"),
    });
    await expect(plugin.service.load(join(FIXTURES, "clash-skill"), { source: "installed" })).rejects.toMatchObject({
      code: "E_CONFLICT",
      chatMessage: expect.stringContaining("/dice is already provided by skill:dice"),
    });
    expect(bot.app.core.commands.get("help")?.source).toBe("builtin");
    expect(plugin.service.get("clash-skill")).toBeUndefined();
  });

  it("refuses invalid packages with a clear error and loads the rest of a folder", async () => {
    await expect(plugin.service.load(join(FIXTURES, "bad-manifest"), { source: "installed" })).rejects.toMatchObject({
      code: "E_SKILL_INVALID",
    });
    await expect(plugin.service.load(join(dataDir, "missing"), { source: "installed" })).rejects.toMatchObject({
      code: "E_SKILL_INVALID",
    });
    const loaded = await plugin.service.loadInstalled(FIXTURES);
    expect(loaded.map((s) => s.name)).toEqual(expect.arrayContaining(["hostile", "fetcher", "storer"]));
    expect(plugin.service.get("bad")).toBeUndefined();
  });

  it("offers skill tools to the LLM layer only where the skill is enabled", async () => {
    await plugin.service.enable("test:t1", "dice", "test:owner");
    const tools = bot.app.core.tools.list("test:t1");
    const roll = tools.find((t) => t.name === "dice__roll");
    expect(roll).toMatchObject({ skill: "dice", defaultRole: "member", parameters: { type: "object" } });
    expect(bot.app.core.tools.list("test:nowhere").some((t) => t.name === "remind__list_reminders")).toBe(false);
    const inbound = bot.adapter.inbound("roll for me", { chatId: "t1" });
    const out = await bot.app.core.tools.call(
      "dice__roll",
      { dice: "3d4" },
      { inbound, chatKey: "test:t1", userKey: "test:u1", role: "member", signal: new AbortController().signal },
    );
    const parsed = JSON.parse(out) as { roll: string; dice: number[]; total: number };
    expect(parsed.roll).toBe("3d4");
    expect(parsed.dice).toHaveLength(3);
  });

  it("forwards the llm capability when another module provides it, and says so when none does", async () => {
    const dir = join(dataDir, "asker");
    cpSync(join(FIXTURES, "storer"), dir, { recursive: true });
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
      name: string;
      switchboard: Record<string, unknown>;
    };
    pkg.name = "switchboard-skill-asker";
    pkg.switchboard.commands = [{ name: "ask", description: "Ask" }];
    pkg.switchboard.permissions = { llm: true };
    writeFileSync(join(dir, "package.json"), JSON.stringify(pkg));
    writeFileSync(
      join(dir, "index.js"),
      "var skill = { commands: { ask: async function (ctx) { try { var r = await ctx.llm.complete({ prompt: ctx.rawArgs }); return 'llm: ' + r.text; } catch (e) { return 'error ' + e.code + ': ' + e.message; } } } };",
    );
    await plugin.service.load(dir, { source: "installed" });
    for (const chat of ["l1", "b1", "b2"]) await plugin.service.enable(`test:${chat}`, "asker", "test:owner");
    await say("/ask hello", "l1");
    expect(last("l1")).toBe("error E_CAPABILITY_UNAVAILABLE: the llm capability is not available on this bot");
    const calls: unknown[] = [];
    const remove = bot.app.core.capabilities.provide("llm", async (call) => {
      calls.push({ skill: call.skill, chatKey: call.chatKey, args: call.args });
      return { text: "hi back" };
    });
    await say("/ask hello", "l1");
    remove();
    expect(last("l1")).toBe("llm: hi back");
    expect(calls).toEqual([{ skill: "asker", chatKey: "test:l1", args: { prompt: "hello" } }]);
  });

  it("bounds the calls of one skill in flight and refuses the rest as busy", async () => {
    const release: Array<() => void> = [];
    const remove = bot.app.core.capabilities.provide(
      "llm",
      () => new Promise((r) => release.push(() => r({ text: "late" }))),
    );
    const first = say("/ask one", "b1");
    const second = say("/ask two", "b2");
    while (release.length < 2) await new Promise((r) => setTimeout(r, 20));
    await plugin.service.enable("test:b3", "asker", "test:owner");
    await say("/ask three", "b3");
    expect(last("b3")).toBe("The skill asker is busy; try again in a moment.");
    for (const r of release) r();
    await Promise.all([first, second]);
    remove();
    expect(last("b1")).toBe("llm: late");
    expect(last("b2")).toBe("llm: late");
  });

  it("picks up grants written by another process when it re-reads them", async () => {
    expect(plugin.service.state("test:elsewhere", "storer")).toBe("disabled");
    await bot.app.core.store.sql.query(
      "INSERT INTO skill_grants (chat_key, skill, enabled, version, permissions, granted_by, granted_at) VALUES ($1, $2, true, $3, $4, $5, $6)",
      [
        "test:elsewhere",
        "storer",
        "1.0.0",
        JSON.stringify({
          network: [],
          storage: { quotaKb: 1 },
          schedules: false,
          llm: false,
          messages: { otherChats: false, mentions: false },
        }),
        "test:other-process",
        Date.now(),
      ],
    );
    await plugin.service.loadGrants();
    expect(plugin.service.state("test:elsewhere", "storer")).toBe("enabled");
    expect(plugin.service.state("test:s1", "storer")).toBe("enabled");
  });

  it("creates and lists its own schedules through the schedules module's capability", async () => {
    const dir = join(dataDir, "planner");
    cpSync(join(FIXTURES, "storer"), dir, { recursive: true });
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
      name: string;
      switchboard: Record<string, unknown>;
    };
    pkg.name = "switchboard-skill-planner";
    pkg.switchboard.commands = [{ name: "plan", description: "Plan" }];
    pkg.switchboard.permissions = { schedules: true };
    writeFileSync(join(dir, "package.json"), JSON.stringify(pkg));
    writeFileSync(
      join(dir, "index.js"),
      "var skill = { commands: { plan: async function (ctx) { try { var s = await ctx.schedule.create({ at: 'in 10m', command: '/plan' }); var all = await ctx.schedule.list(); return 'scheduled ' + s.command + ' ' + all.length; } catch (e) { return 'error ' + e.code + ': ' + e.message; } } } };",
    );
    await plugin.service.load(dir, { source: "installed" });
    await plugin.service.enable("test:p1", "planner", "test:owner");
    await say("/plan", "p1", "admin");
    expect(last("p1")).toBe("scheduled /plan 1");
  });

  it("clamps the limits a manifest asks for to the operator's maximums", async () => {
    const dir = join(dataDir, "greedy");
    cpSync(join(FIXTURES, "storer"), dir, { recursive: true });
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
      name: string;
      switchboard: Record<string, unknown>;
    };
    pkg.name = "switchboard-skill-greedy";
    pkg.switchboard.commands = [{ name: "greedy", description: "Wants a lot" }];
    pkg.switchboard.limits = { memoryMb: 4096, cpuMs: 600_000, timeoutMs: 600_000 };
    writeFileSync(join(dir, "package.json"), JSON.stringify(pkg));
    const loaded = await plugin.service.load(dir, { source: "installed" });
    const c = bot.app.core.config.skills;
    expect(loaded.spec).toMatchObject({ memoryMb: c.maxMemoryMb, cpuMs: c.maxCpuMs, timeoutMs: c.maxTimeoutMs });
  });
});
