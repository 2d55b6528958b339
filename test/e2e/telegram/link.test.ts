/**
 * One person across platforms, over the real Telegram adapter and its stand-in plus a second platform (the test
 * adapter) in the same bot: /link gives a code on one side, /link <code> on the other joins them; ownership from
 * config then follows the person, nothing else does; /unlink undoes it; both are audited.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Core } from "../../../bot/index.ts";
import { TestAdapter } from "../../helpers/test-adapter.ts";
import { startTelegramBot, type TelegramBot } from "./bot.ts";

let bot: TelegramBot | undefined;
let other: TestAdapter;

afterEach(async () => {
  await bot?.stop();
  bot = undefined;
});

describe("/link across Telegram and another platform", () => {
  it("links with a one-time code confirmed from both sides, makes the owner an owner on both, and unlinks", async () => {
    let core!: Core;
    other = new TestAdapter("chat2");
    bot = await startTelegramBot({
      set: { "bot.owners": ["telegram:7"] },
      beforeStart(c) {
        core = c;
      },
    });
    const { standIn } = bot;
    const tg = () => standIn.messagesIn(7).map((m) => m.text);
    const say2 = async (text: string) => {
      await core.router.process(other.inbound(text, { userId: "ada", chatKind: "dm", chatId: "dm-ada" }));
      return other.textsIn("dm-ada").at(-1) ?? "";
    };
    // Before: a stranger on the second platform, refused a privileged command.
    expect(await say2("/whoami")).toMatch(/Role here: \*\*member\*\*/);
    standIn.queueMessage({ chatId: 7, userId: 7, text: "/link" });
    await standIn.waitFor(() => tg().some((t) => t.startsWith("Your link code is")), 10_000, "link code");
    const code = /Your link code is (\d{6})/.exec(tg().find((t) => t.startsWith("Your link code is"))!)![1]!;
    expect(await say2("/link 000000")).toBe(
      "That code is unknown or has expired. Send /link on the other platform for a new one.",
    );
    expect(await say2(`/link ${code}`)).toBe("Linked: chat2:ada, telegram:7 are one person now. /unlink undoes it.");
    expect(await say2(`/link ${code}`)).toMatch(/unknown or has expired/); // one time only
    const whoami = await say2("/whoami");
    expect(whoami).toMatch(/Role here: \*\*owner\*\*/);
    expect(whoami).toContain("Linked with: `telegram:7`");
    standIn.queueMessage({ chatId: 7, userId: 7, text: "/whoami" });
    await standIn.waitFor(() => tg().some((t) => t.includes("Linked with: chat2:ada")), 10_000, "whoami on telegram");
    expect(await say2("/unlink")).toBe("chat2:ada is no longer linked.");
    expect(await say2("/whoami")).toMatch(/Role here: \*\*member\*\*/);
    const audit = await core.store.audit.list("*", { limit: 10 });
    expect(audit.map((a) => `${a.actor} ${a.action}`)).toEqual(
      expect.arrayContaining(["chat2:ada principal.link", "chat2:ada principal.unlink"]),
    );
  }, 60_000);

  it("does not link two identities of one platform", async () => {
    let core!: Core;
    other = new TestAdapter("chat2");
    bot = await startTelegramBot({
      beforeStart(c) {
        core = c;
      },
    });
    await core.router.process(other.inbound("/link", { userId: "a", chatKind: "dm", chatId: "a" }));
    const code = /(\d{6})/.exec(other.textsIn("a").at(-1)!)![1]!;
    await core.router.process(other.inbound(`/link ${code}`, { userId: "b", chatKind: "dm", chatId: "b" }));
    expect(other.textsIn("b").at(-1)).toBe("Use the code on another platform than the one that gave it.");
  }, 60_000);
});
