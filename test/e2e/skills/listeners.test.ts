/**
 * Skills that listen, through the real router, skill host and schedules: a listening skill hears messages only in
 * chats that granted it; its failure, CPU spin or hang neither blocks nor answers into the chat, and the command
 * reply still comes; reactions, hook deliveries, schedule fires and lifecycle changes reach it.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { playScript } from "@switchboard/skill-sdk/cli";
import { createRuntimeRunner } from "../../../marketplace/author/conversation.ts";
import { createSchedulesPlugin } from "../../../schedules/index.ts";
import { createSkillsPlugin, type SkillsPlugin } from "../../../skills/index.ts";
import { startTestBot, type TestBot } from "../../helpers/app.ts";

const FIXTURE = resolve(import.meta.dirname, "../../fixtures/skills/listener");

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("skills that listen", () => {
  let bot: TestBot;
  let plugin: SkillsPlugin;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "sb-listen-"));
    bot = await startTestBot({
      set: {
        "bot.dataDir": dataDir,
        "skills.builtins": false,
        "limits.perUser": { burst: 1_000, perMinute: 100_000 },
        "limits.perChat": { burst: 1_000, perMinute: 100_000 },
      },
      plugins: [
        async (core) => (plugin = await createSkillsPlugin(core)),
        (core) => createSchedulesPlugin(core, { processId: "listen-test" }),
      ],
    });
    await plugin.service.load(FIXTURE, { source: "installed" });
  }, 60_000);

  afterAll(async () => {
    await bot.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const say = (text: string, o: Parameters<TestBot["adapter"]["inbound"]>[1] = {}) =>
    bot.app.core.router.process(bot.adapter.inbound(text, { role: "admin", ...o }));
  const texts = (chatId: string) => bot.adapter.textsIn(chatId);
  const heard = async (chatId: string) =>
    ((await bot.app.core.store.kv.get("skill:listener", `test:${chatId}`, "heard")) as string[] | undefined) ?? [];
  const events = async (outcome: string) => {
    const metric = await bot.app.core.metrics.registry.getSingleMetric("switchboard_skill_events_total")?.get();
    return (metric?.values ?? [])
      .filter((v) => v.labels.skill === "listener" && v.labels.outcome === outcome)
      .reduce((n, v) => n + v.value, 0);
  };

  it("hears messages only in the chat that granted it, after the lifecycle greeting", async () => {
    await plugin.service.enable("test:granted", "listener", "test:admin");
    // The enabled lifecycle event answers with the setting's default, through the adapter.
    await until("the greeting", () => texts("granted").includes("Listening."));
    await say("time to deploy api", { chatId: "granted" });
    await say("time to deploy api", { chatId: "elsewhere" });
    await say("nothing to see", { chatId: "granted" });
    await until("the listener's answer", () => texts("granted").includes("Heard a deploy of api (event/message)"));
    await until("the storage note", async () => (await heard("granted")).includes("message api from u1"));
    expect(texts("elsewhere")).toEqual([]);
    expect(await heard("elsewhere")).toEqual([]);
    // Commands are heard too, after they were handed to the skill (their reply is not held up).
    await say("/heard deploy db", { chatId: "granted" });
    expect(texts("granted").some((t) => t.startsWith("heard: "))).toBe(true);
    await until("the command heard", () => texts("granted").includes("Heard a deploy of db (event/message)"));
  }, 60_000);

  it("does not hear a chat where the skill runs without a grant to read messages", async () => {
    // A grant recorded before the skill asked for messages.read: the chat must approve it again.
    await bot.app.core.store.sql.query(
      `INSERT INTO skill_grants (chat_key, skill, enabled, version, permissions, granted_by, granted_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [
        "test:old-grant",
        "listener",
        true,
        "0.9.0",
        JSON.stringify({ network: [], storage: true, schedules: false, llm: false, messages: {} }),
        "test:admin",
        Date.now(),
      ],
    );
    await plugin.service.loadGrants();
    expect(plugin.service.state("test:old-grant", "listener")).toBe("needs-reapproval");
    expect(plugin.service.pendingPermissions("test:old-grant", "listener")).toEqual([
      "sees every message in this chat",
    ]);
    const before = await events("ok");
    await say("deploy api", { chatId: "old-grant" });
    await say("deploy api", { chatId: "granted" });
    await until("the granted chat's answer", async () => (await events("ok")) > before);
    expect(texts("old-grant").some((t) => t.startsWith("Heard"))).toBe(false);
  }, 60_000);

  it("keeps a listener's failure, CPU spin and hang out of the chat and off the command's path", async () => {
    const failedBefore = await events("failed");
    const before = texts("granted").length;
    for (const what of ["crash", "spin", "hang"]) {
      await say(`/heard deploy ${what}`, { chatId: "granted" });
      // The command answered; the listener that saw the same message runs after it.
      expect(texts("granted").at(-1)).toMatch(/^heard: /);
    }
    await until("three listener failures counted", async () => (await events("failed")) >= failedBefore + 3);
    const after = texts("granted").slice(before);
    expect(after.filter((t) => t.startsWith("heard: "))).toHaveLength(3);
    expect(after.some((t) => /failed|stopped|limit/.test(t))).toBe(false);
    // The skill goes on: the next message is heard and answered.
    await say("deploy web", { chatId: "granted" });
    await until("the next answer", () => texts("granted").includes("Heard a deploy of web (event/message)"));
  }, 60_000);

  it("hears reactions, hook deliveries, schedule fires and settings changes", async () => {
    const reaction = bot.adapter.inbound("", { chatId: "granted" });
    reaction.reaction = { emoji: "👍", added: true, messageId: "m1" };
    const sentBefore = bot.adapter.sent.length;
    await bot.app.core.router.process(reaction);
    await until("the reaction", async () => (await heard("granted")).includes("reaction 👍 on m1"));
    // A reaction is not a message: nothing answered it.
    expect(bot.adapter.sent.slice(sentBefore).some((s) => s.chatId === "granted" && s.text !== "")).toBe(false);

    bot.app.core.events.publish({
      type: "hook",
      chatKey: "test:granted",
      target: { platform: "test", chatId: "granted" },
      hook: { id: "h1", name: "ci", template: "generic" },
      deliveryId: "d1",
      payload: { status: "failed" },
      text: "CI failed",
    });
    await until("the hook", () => texts("granted").includes("Hook ci: failed"));

    await say("/schedule in 1h /heard", { chatId: "granted" });
    const made = texts("granted").at(-1) ?? "";
    const id = /#(\d+)/.exec(made)?.[1];
    expect(id, made).toBeDefined();
    await say(`/schedule run ${id}`, { chatId: "granted" });
    await until("the schedule fire", () => texts("granted").includes("Schedule fired: /heard")).catch((error) => {
      throw new Error(`${error}: ${JSON.stringify(texts("granted").slice(-5))}`);
    });

    await plugin.service.setSetting("test:granted", "listener", {
      key: "greeting",
      value: "Hello again.",
      actorUserKey: "test:admin",
    });
    await until("the settings change", () => texts("granted").includes("Settings now: Hello again."));
    await plugin.service.disable("test:granted", "listener", "test:admin");
    await until("the disabled event", async () => (await heard("granted")).includes("lifecycle disabled"));
    // Disabled: no longer heard, while a chat that granted it still is.
    await plugin.service.enable("test:granted2", "listener", "test:admin");
    await say("deploy later", { chatId: "granted" });
    await say("deploy later", { chatId: "granted2" });
    await until("the other chat's answer", () => texts("granted2").includes("Heard a deploy of later (event/message)"));
    expect(texts("granted").some((t) => t.includes("deploy of later"))).toBe(false);
  }, 60_000);

  it("refuses to load a skill whose pattern is hostile, naming the field", async () => {
    const dir = join(dataDir, "hostile-pattern");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "index.js"), "var skill = { events: { message: function () { return 'x'; } } };");
    for (const pattern of ["(a)\\1", "(?<=a)b", "(x+x+)+y{1001}"]) {
      writeFileSync(
        join(dir, "package.json"),
        JSON.stringify({
          name: "switchboard-skill-hostile-pattern",
          version: "1.0.0",
          keywords: ["switchboard-skill"],
          switchboard: {
            manifestVersion: 1,
            entry: "index.js",
            permissions: { messages: { read: true } },
            events: { messages: { pattern } },
          },
        }),
      );
      await expect(plugin.service.load(dir, { source: "installed" }), pattern).rejects.toMatchObject({
        code: "E_SKILL_INVALID",
        message: expect.stringContaining("switchboard.events.messages.pattern"),
      });
    }
    expect(plugin.service.get("hostile-pattern")).toBeUndefined();
  });

  it("says what it listens to in its info", () => {
    expect(plugin.service.describeLimits("listener")).toContain(
      "listens to every message matching (?i)\\bdeploy (\\w+), reactions, hooks ci, schedule fires, being enabled, disabled, settingsChanged",
    );
  });

  it("subscribes to the bus only while a listening skill is loaded", async () => {
    expect(bot.app.core.events.size).toBeGreaterThan(0);
    await plugin.service.unload("listener");
    expect(bot.app.core.events.size).toBe(0);
    await plugin.service.load(FIXTURE, { source: "installed" });
    expect(bot.app.core.events.size).toBeGreaterThan(0);
  });
});

describe("switchboard skill test in the bot's runtime", () => {
  it("feeds the script's events to the skill's handlers in its isolate", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "sb-listen-runner-"));
    try {
      const app = await startTestBot({
        set: { "bot.dataDir": dataDir, "skills.builtins": false },
        plugins: [(core) => createSkillsPlugin(core)],
      });
      const runner = createRuntimeRunner({ core: app.app.core, plugins: app.app.plugins, stop: () => app.stop() });
      const { results } = await playScript(runner, FIXTURE, {
        steps: [
          { hear: "please deploy api", expect: "Heard a deploy of api (event/message)" },
          { hear: "nothing to see", expectNothing: true },
          { hear: "deploy crash", expectContains: "listener crashed on purpose" },
          { react: "👀", expectNothing: true },
          { hook: "ci", payload: { status: "failed" }, expect: "Hook ci: failed" },
          { fire: "/heard", expect: "Schedule fired: /heard" },
          { lifecycle: "settingsChanged", expect: "Settings now: Listening." },
          { send: "/heard", expectContains: "reaction 👀 on 1" },
        ],
      });
      expect(results.map((r) => [r.step, r.ok, r.got])).toEqual([
        ["hear: please deploy api", true, "Heard a deploy of api (event/message)"],
        ["hear: nothing to see", true, undefined],
        ["hear: deploy crash", true, expect.stringContaining("listener crashed on purpose")],
        ["react: 👀", true, undefined],
        ['hook: ci {"status":"failed"}', true, "Hook ci: failed"],
        ["fire: /heard", true, "Schedule fired: /heard"],
        ["lifecycle: settingsChanged", true, "Settings now: Listening."],
        ["/heard", true, expect.stringContaining("message api from Tester | reaction 👀 on 1 | schedule /heard")],
      ]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
