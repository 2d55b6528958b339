/**
 * Telegram's command menus come from the one command tree, skills included: through the real adapter (grammY)
 * against the stand-in, a linked skill's command and the subcommands its manifest declares reach `setMyCommands`,
 * a built-in tree (`/perms`) names its subcommands, and an admin-only node stays in the administrators' menu.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSkillsPlugin } from "../../../skills/index.ts";
import { writeLinked } from "../../../skills/runtime/loader.ts";
import { writeSkill } from "../../fixtures/marketplace/packages.ts";
import { startTelegramBot, type TelegramBot } from "./bot.ts";

let bot: TelegramBot;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sb-tg-menus-"));
  const pkg = await writeSkill(join(dir, "pkg"), {
    name: "switchboard-skill-notes",
    version: "1.0.0",
    entrySource: 'var skill = (() => ({ default: { commands: { note: () => "ok" } } }))();\n',
    manifest: {
      commands: [
        {
          name: "note",
          description: "Keep notes",
          subcommands: [
            { name: "add", description: "Add a note" },
            { name: "clear", description: "Delete every note", defaultRole: "admin" },
          ],
        },
      ],
    },
  });
  await writeLinked(join(dir, "data"), [pkg]);
  bot = await startTelegramBot({
    set: { "bot.dataDir": join(dir, "data"), "skills.builtins": false },
    plugins: [async (core) => createSkillsPlugin(core)],
  });
}, 60_000);

afterAll(async () => {
  await bot?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("Telegram command menus from the command tree", () => {
  it("publishes a skill's command with its subcommands, and names a built-in tree's subcommands", async () => {
    const admins = JSON.stringify({ type: "all_chat_administrators" });
    const menu = (scope: string) => bot.standIn.commands.get(scope) ?? [];
    await bot.standIn.waitFor(
      () => menu("default").some((c) => c.command === "note") && menu(admins).some((c) => c.command === "perms"),
      30_000,
      "menus with the skill's command",
    );
    expect(menu("default")).toContainEqual({ command: "note", description: "Keep notes (add, clear)" });
    const perms = menu(admins).find((c) => c.command === "perms")!;
    expect(perms.description).toMatch(/\((?=.*\bshow\b)(?=.*\bset\b)(?=.*\bconfirm\b)(?=.*\bapprovals\b).*\)$/);
    // /perms needs an admin: only the administrators' menu has it.
    expect(menu("default").map((c) => c.command)).not.toContain("perms");
  }, 60_000);
});
