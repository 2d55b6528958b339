/**
 * A skill that listens, through the real Telegram adapter (grammY) against the stand-in: it hears the group that
 * granted it and not the one that did not, and its hang does not hold up the command reply in the same chat.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSkillsPlugin, type SkillsPlugin } from "../../../skills/index.ts";
import { startTelegramBot, type TelegramBot } from "./bot.ts";

const FIXTURE = resolve(import.meta.dirname, "../../fixtures/skills/listener");
const GRANTED = -100_111;
const OTHER = -100_222;

describe("a listening skill on Telegram", () => {
  let bot: TelegramBot;
  let plugin: SkillsPlugin;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "sb-tg-listen-"));
    bot = await startTelegramBot({
      set: { "bot.dataDir": dataDir, "skills.builtins": false },
      plugins: [async (core) => (plugin = await createSkillsPlugin(core))],
    });
    await plugin.service.load(FIXTURE, { source: "installed" });
    await plugin.service.enable(`telegram:${GRANTED}`, "listener", "telegram:1");
    await plugin.service.enable(`telegram:${OTHER}`, "listener", "telegram:1");
    // The other group enabled it before it asked to see every message: its grant lacks that, so it must approve again.
    await bot.app.core.store.sql.query("UPDATE skill_grants SET permissions = $1 WHERE chat_key = $2", [
      JSON.stringify({ network: [], storage: true, schedules: false, llm: false, messages: { read: false } }),
      `telegram:${OTHER}`,
    ]);
    await plugin.service.loadGrants();
  }, 60_000);

  afterAll(async () => {
    await bot?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const texts = (chatId: number) => bot.standIn.messagesIn(chatId).map((m) => m.text);

  it("hears the group that granted it, and only that one", async () => {
    await bot.standIn.waitFor(() => texts(GRANTED).includes("Listening."), 15_000, "the greeting");
    expect(plugin.service.state(`telegram:${OTHER}`, "listener")).toBe("needs-reapproval");
    bot.standIn.queueMessage({ chatId: OTHER, chatType: "group", userId: 7, text: "we deploy api now" });
    bot.standIn.queueMessage({ chatId: GRANTED, chatType: "group", userId: 7, text: "we deploy api now" });
    await bot.standIn.waitFor(
      () => texts(GRANTED).includes("Heard a deploy of api (event/message)"),
      15_000,
      "the listener's answer",
    );
    expect(texts(OTHER).some((t) => t.startsWith("Heard"))).toBe(false);
  }, 60_000);

  it("answers a command at once while the listener that saw it hangs", async () => {
    bot.standIn.queueMessage({ chatId: GRANTED, chatType: "group", userId: 7, text: "/heard deploy hang" });
    await bot.standIn.waitFor(() => texts(GRANTED).some((t) => t.startsWith("heard: ")), 15_000, "the command reply");
    // The hang ends at the listener's time limit, counted, and nothing about it reaches the chat.
    const failed = async () => {
      const metric = await bot.app.core.metrics.registry.getSingleMetric("switchboard_skill_events_total")?.get();
      return (metric?.values ?? []).some((v) => v.labels.outcome === "failed" && v.value > 0);
    };
    const end = Date.now() + 15_000;
    while (!(await failed()) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    expect(await failed()).toBe(true);
    expect(texts(GRANTED).some((t) => /stopped|limit|failed/.test(t))).toBe(false);
  }, 60_000);
});
