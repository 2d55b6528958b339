/** Built-in skills through the real router: commands, help, roles, storage, enablement. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSkillsPlugin, type SkillsPlugin } from "../../../skills/index.ts";
import { startTestBot, type TestBot } from "../../helpers/app.ts";

describe("built-in skills through the router", () => {
  let bot: TestBot;
  let plugin: SkillsPlugin;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "sb-skills-"));
    bot = await startTestBot({
      set: { "bot.dataDir": dataDir },
      plugins: [async (core) => (plugin = await createSkillsPlugin(core))],
    });
  });

  afterAll(async () => {
    await bot.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const say = (text: string, o: Parameters<TestBot["adapter"]["inbound"]>[1] = {}) =>
    bot.app.core.router.process(bot.adapter.inbound(text, { role: "member", ...o }));
  const last = (chatId = "c1") => bot.adapter.textsIn(chatId).at(-1) ?? "";

  it("answers /dice 2d6 with two dice and their total", async () => {
    await say("/dice 2d6");
    const text = last();
    const m = /2d6: (\d) \+ (\d) = \*\*(\d+)\*\*/.exec(text);
    expect(m, text).not.toBeNull();
    expect(Number(m![1]) + Number(m![2])).toBe(Number(m![3]));
  });

  it("explains bad dice notation instead of failing", async () => {
    await say("/dice banana");
    expect(last()).toContain("can't read");
  });

  it("lists skill commands in /help", async () => {
    await say("/help");
    expect(last()).toContain("dice");
    expect(last()).toContain("poll");
  });

  it("runs a poll kept in storage per chat", async () => {
    await say('/poll "Lunch?" pizza sushi', { chatId: "p1" });
    expect(last("p1")).toContain("**Poll:** Lunch?");
    await say("/vote 2", { chatId: "p1", userId: "u2" });
    expect(last("p1")).toMatch(/2\. sushi: 1/);
    await say("/poll", { chatId: "p2" });
    expect(last("p2")).toContain("No poll is open");
  });

  it("does not run a skill that is not enabled in the chat", async () => {
    await say("/remind buy milk", { chatId: "r1" });
    expect(last("r1")).not.toContain("Noted");
  });

  it("runs remind once enabled, and stops after disable", async () => {
    await plugin.service.enable("test:r2", "remind", "test:admin");
    await say("/remind buy milk", { chatId: "r2" });
    expect(last("r2")).toContain("Noted (#1): buy milk");
    await say("/remind list", { chatId: "r2" });
    expect(last("r2")).toContain("1. buy milk");
    await plugin.service.disable("test:r2", "remind", "test:admin");
    await say("/remind list", { chatId: "r2" });
    expect(last("r2")).not.toContain("buy milk");
    const audit = await bot.app.core.store.audit.list("test:r2");
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(["skills.enable", "skills.disable"]));
  });
});
