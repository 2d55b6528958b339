/** The command tree through the real router: every node authorised, typed arguments checked, usage generated. */
import { afterEach, describe, expect, it } from "vitest";
import { startTestBot, type TestBot } from "../../helpers/app.ts";

let bot: TestBot | undefined;

afterEach(async () => {
  await bot?.stop();
  bot = undefined;
});

async function say(b: TestBot, text: string, o: Parameters<TestBot["adapter"]["say"]>[1] = {}): Promise<string> {
  await b.adapter.say(text, o);
  await b.app.core.router.drain();
  return b.adapter.textsIn(o.chatId).at(-1) ?? "";
}

describe("command tree in the router", () => {
  it("checks each subcommand's own role: an admin may change the chat, only an owner the bot-wide DM policy", async () => {
    bot = await startTestBot({ set: { "bot.owners": ["test:boss"] } });
    await say(bot, "/perms platform-admins on", { userId: "boss" }); // the chat gets a policy
    expect(await say(bot, "/perms dm closed", { userId: "ann", role: "admin" })).toBe(
      "You can't run /perms dm here: it needs the owner role and you are admin.",
    );
    expect(await say(bot, "/audit all", { userId: "ann", role: "admin" })).toBe(
      "You can't run /audit all here: it needs the owner role and you are admin.",
    );
    expect(await say(bot, "/perms dm closed", { userId: "boss" })).toBe("DMs to the bot are now closed.");
  });

  it("lets a policy open one subcommand without opening its siblings", async () => {
    bot = await startTestBot({ set: { "bot.owners": ["test:boss"] } });
    expect(await say(bot, "/perms set perms.show member", { userId: "boss" })).toBe("/perms show now needs member.");
    // The command itself still needs admin: both nodes are checked.
    expect(await say(bot, "/perms show", { userId: "mo", role: "member" })).toMatch(/can't run \/perms here/);
    await say(bot, "/perms set perms member", { userId: "boss" });
    // A subcommand can be named by its path in quotes as well as by its key.
    expect(await say(bot, '/perms set "perms allow" admin', { userId: "boss" })).toBe("/perms allow now needs admin.");
    expect(await say(bot, "/perms show", { userId: "mo", role: "member" })).toMatch(/Policy for this chat/);
    expect(await say(bot, "/perms deny boss", { userId: "mo", role: "member" })).toBe(
      "You can't run /perms deny here: it needs the admin role and you are member.",
    );
  });

  it("refuses arguments that do not fit, and unknown subcommands, with the generated usage", async () => {
    bot = await startTestBot({ set: { "bot.owners": ["test:boss"] } });
    expect(await say(bot, "/perms set status wizard", { userId: "boss" })).toMatch(
      /<role> is one of owner, admin, member, guest, default/,
    );
    expect(await say(bot, "/perms set", { userId: "boss" })).toMatch(/Missing <command>/);
    expect(await say(bot, "/perms frobnicate", { userId: "boss" })).toMatch(
      /\/perms has no subcommand "frobnicate"[\s\S]*\/perms set/,
    );
    expect(await say(bot, "/perms set skills.nope admin", { userId: "boss" })).toMatch(/There is no \/skills nope/);
  });

  it("explains a subcommand with /help, with the role it needs", async () => {
    bot = await startTestBot({ set: { "bot.owners": ["test:boss"] } });
    await say(bot, "/perms platform-admins on", { userId: "boss" });
    const help = await say(bot, "/help perms dm", { userId: "ann", role: "admin" });
    expect(help).toContain("/perms dm");
    expect(help).toContain("Needs: owner (you are admin, so you can't run it here)");
    const perms = await say(bot, "/help perms", { userId: "ann", role: "admin" });
    expect(perms).toMatch(/Subcommands:[\s\S]*`\/perms set <command> <owner\|admin\|member\|guest\|default>`/);
    expect(perms).toMatch(/\/perms dm .*\(not for you here\)/);
  });
});
