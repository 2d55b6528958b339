/**
 * A skill replies with a file, end to end: the skill runs in its isolate, the file crosses as base64, the router
 * hands the reply to the real Telegram adapter (grammY), and the stand-in Bot API receives the upload.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSkillsPlugin, type SkillsPlugin } from "../../../skills/index.ts";
import { startTelegramBot, type TelegramBot } from "../telegram/bot.ts";

const FIXTURES = resolve(import.meta.dirname, "../../fixtures/skills");
const USER = 4711;

describe("skill file replies through Telegram", () => {
  let bot: TelegramBot;
  let plugin: SkillsPlugin;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "sb-files-"));
    bot = await startTelegramBot({
      set: { "bot.dataDir": dataDir, "bot.owners": [`telegram:${USER}`] },
      plugins: [
        async (core) => (plugin = await createSkillsPlugin(core, { env: { SWITCHBOARD_SECRET_KEY: "test-key" } })),
      ],
    });
    await plugin.service.load(join(FIXTURES, "filer"), { source: "installed" });
    await plugin.service.enable(`telegram:${USER}`, "filer", `telegram:${USER}`);
  }, 120_000);

  afterAll(async () => {
    await bot?.stop();
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  });

  /** Send a command in the DM and wait until the bot has answered it (a message or a file). */
  async function run(text: string): Promise<void> {
    const before = bot.standIn.messagesIn(USER).length + bot.standIn.files.length;
    bot.standIn.queueMessage({ chatId: USER, userId: USER, text });
    await bot.standIn.waitFor(
      () => bot.standIn.messagesIn(USER).length + bot.standIn.files.length > before,
      15_000,
      `an answer to ${text}`,
    );
  }

  it("sends a file a skill gave as bytes, after the reply's text, as a document", async () => {
    await run("/report");
    await bot.standIn.waitFor(() => bot.standIn.files.length === 1, 15_000, "the upload");
    const [file] = bot.standIn.files;
    expect(file).toMatchObject({ method: "sendDocument", chatId: String(USER), name: "report.csv" });
    expect(Buffer.from(file!.bytes).toString("utf8")).toBe("service,status\nweb,up\ndb,up\n");
    expect(bot.standIn.messagesIn(USER).at(-1)!.text).toBe("Today's report");
  });

  it("sends a small image a skill gave as base64 as a photo, with no empty text message", async () => {
    const messages = bot.standIn.messagesIn(USER).length;
    await run("/logo");
    const file = bot.standIn.files.at(-1)!;
    expect(file).toMatchObject({ method: "sendPhoto", name: "logo.png" });
    expect(Buffer.from(file.bytes).subarray(1, 4).toString("latin1")).toBe("PNG");
    expect(bot.standIn.messagesIn(USER)).toHaveLength(messages);
  });

  it("refuses a file whose name could be a path, telling the skill why", async () => {
    const files = bot.standIn.files.length;
    await run("/badfile");
    expect(bot.standIn.messagesIn(USER).at(-1)!.text).toMatch(/^error E_BAD_ARGS: a file needs a name/);
    expect(bot.standIn.files).toHaveLength(files);
  });
});
