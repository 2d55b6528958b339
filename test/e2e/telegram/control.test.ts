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
});
