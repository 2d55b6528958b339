/**
 * The priority lane and /stop over the real Telegram adapter and its stand-in: while a slow command holds a chat,
 * /status is answered at once and /stop stops it (its abort signal fires); the chat then goes on in order.
 */
import { afterEach, describe, expect, it } from "vitest";
import { startTelegramBot, type TelegramBot } from "./bot.ts";

let bot: TelegramBot | undefined;

afterEach(async () => {
  await bot?.stop();
  bot = undefined;
});

describe("Telegram: priority lane and /stop", () => {
  it("answers /status while /slow holds the chat, then /stop stops /slow and the chat goes on", async () => {
    let aborted: unknown;
    let started = false;
    bot = await startTelegramBot({
      set: { "bot.owners": ["telegram:7"] },
      beforeStart(core) {
        core.commands.register({
          name: "slow",
          description: "works for a long time",
          defaultRole: "member",
          source: "builtin",
          handler: (ctx) =>
            new Promise<string>((resolve) => {
              started = true;
              ctx.signal.addEventListener("abort", () => {
                aborted = ctx.signal.reason;
                resolve("too late");
              });
            }),
        });
      },
    });
    const { standIn } = bot;
    const texts = () => standIn.messagesIn(7).map((m) => m.text);
    standIn.queueMessage({ chatId: 7, userId: 7, text: "/slow" });
    await standIn.waitFor(() => started, 10_000, "/slow to start");
    standIn.queueMessage({ chatId: 7, userId: 7, text: "/status" });
    await standIn.waitFor(() => texts().some((t) => /Switchboard .*, up /.test(t)), 10_000, "/status answer");
    expect(aborted).toBeUndefined(); // /status did not wait for /slow, nor stop it
    standIn.queueMessage({ chatId: 7, userId: 7, text: "/stop" });
    await standIn.waitFor(() => texts().includes("Stopped the running command."), 10_000, "/stop answer");
    expect(aborted).toMatchObject({ code: "E_STOPPED" });
    standIn.queueMessage({ chatId: 7, userId: 7, text: "/whoami" });
    await standIn.waitFor(() => texts().some((t) => t.startsWith("Platform: telegram")), 10_000, "/whoami answer");
    // The stopped command's own late answer never reached the chat.
    expect(texts()).not.toContain("too late");
  }, 60_000);

  it("confirms with the button by the same person, and runs a two-approval command after two other admins", async () => {
    bot = await startTelegramBot({
      set: { "bot.owners": ["telegram:7"], "limits.perChat": { burst: 100, perMinute: 6_000 } },
    });
    const { standIn } = bot;
    const group = -300;
    for (const [user, status] of [
      [8, "administrator"],
      [9, "administrator"],
      [10, "member"],
    ] as const)
      standIn.setMember(group, user, status);
    const texts = () => standIn.messagesIn(group).map((m) => m.text);
    const say = async (userId: number, text: string, expected: (t: string) => boolean) => {
      standIn.queueMessage({ chatId: group, chatType: "group", userId, text });
      await standIn.waitFor(() => texts().some(expected), 10_000, `answer to ${text}`);
    };
    await say(7, "/perms platform-admins on", (t) => t.startsWith("Platform admins are admins"));
    // Confirmation by button: the bot's message carries it; a press by someone else is refused.
    await say(7, "/perms role 10 admin", (t) => t.startsWith("This will run /perms role 10 admin"));
    const ask = standIn.messagesIn(group).find((m) => m.text.startsWith("This will run"))!;
    const data = (ask.replyMarkup as { inline_keyboard: Array<Array<{ callback_data: string }>> })
      .inline_keyboard[0]![0]!.callback_data;
    expect(data).toMatch(/^\/confirm [0-9a-f]{8}$/);
    const press = (userId: number) =>
      standIn.queueUpdate({
        callback_query: {
          id: `cq-${userId}-${Math.random()}`,
          from: { id: userId, is_bot: false, first_name: `U${userId}` },
          chat_instance: "c",
          data,
          message: { message_id: ask.messageId, date: 0, chat: { id: group, type: "group", title: "G" } },
        },
      });
    press(8);
    await standIn.waitFor(() => texts().some((t) => t.startsWith("Only telegram:7")), 10_000, "refusal");
    press(7);
    await standIn.waitFor(() => texts().includes("telegram:10 is now admin in this chat."), 10_000, "role change");
    // Two-person approval.
    await say(7, '/perms approvals "perms deny" 2', (t) => t.includes("now needs 2 approvals"));
    await say(8, "/perms deny 66", (t) => t.includes("2 other people with the admin role must approve"));
    const id = /\/approve ([0-9a-f]{8})/.exec(texts().find((t) => t.includes("/approve "))!)![1]!;
    await say(8, `/approve ${id}`, (t) => t === "You can't approve your own request; someone else must.");
    await say(9, `/approve ${id}`, (t) => t.includes("is waiting for 1 more approval"));
    await say(10, `/approve ${id}`, (t) => t === "telegram:66 is on the deny list.");
  }, 60_000);
});
