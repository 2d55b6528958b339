/**
 * Two-person approval at the console: the real console adapter (its line reader on a stream) in a bot where a
 * second person speaks in the console's chat. The operator's scripted lines confirm in order; a command that
 * needs an approval is refused to its own requester and runs once someone else with the role approves.
 */
import { PassThrough } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { CONSOLE_CHAT_ID } from "../../../adapters/console/console-adapter.ts";
import { startTestBot, type TestBot } from "../../helpers/app.ts";

let bot: TestBot | undefined;

afterEach(async () => {
  await bot?.stop();
  bot = undefined;
});

describe("two-person approval at the console", () => {
  it("refuses the operator's own approval and runs the command after another admin approves", async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    let printed = "";
    output.on("data", (d: Buffer) => {
      printed += d.toString();
    });
    bot = await startTestBot({ console: { input, output, interactive: false }, exitOnConsoleEnd: false });
    // Written at once, as a pipe would: each /confirm waits for the command before it.
    input.write(
      ["/perms role second admin", "/confirm", '/perms approvals "perms set" 1', "/perms set whoami admin", "/approve"]
        .map((l) => `${l}\n`)
        .join(""),
    );
    await expect.poll(() => printed).toContain("You can't approve your own request; someone else must.");
    expect(printed).toContain("console:second is now admin in this chat.");
    const id = /\/approve ([0-9a-f]{8})/.exec(printed)?.[1];
    expect(id, printed).toBeDefined();
    expect(printed).not.toContain("/whoami now needs admin.");
    // The second person, in the console's chat.
    const approval = {
      ...bot.adapter.inbound(`/approve ${id}`, { userId: "second", chatKind: "dm", chatId: CONSOLE_CHAT_ID }),
      platform: "console",
    };
    await bot.app.core.router.process(approval);
    await bot.app.core.router.drain();
    expect(bot.adapter.textsIn(CONSOLE_CHAT_ID)).toContain("/whoami now needs admin.");
    const actions = (await bot.app.core.store.audit.list(`console:${CONSOLE_CHAT_ID}`, { limit: 20 })).map(
      (a) => `${a.actor} ${a.action}`,
    );
    expect(actions).toEqual(
      expect.arrayContaining([
        "console:operator request.ask",
        "console:operator request.refuse",
        "console:second request.approve",
        "console:second request.run",
        "console:operator perms.set",
      ]),
    );
    input.end();
  });
});
