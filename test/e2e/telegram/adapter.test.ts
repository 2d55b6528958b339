import { afterEach, describe, expect, it } from "vitest";
import { startTelegram } from "../../stand-ins/telegram/harness.ts";

type Started = Awaited<ReturnType<typeof startTelegram>>;
const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`).join(" ");

describe("telegram adapter against the stand-in (recording sink)", () => {
  let t: Started | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it("continues a streamed text that outgrows 4096 in extra messages, reused by later edits", async () => {
    t = await startTelegram({ editIntervalMs: 0 });
    const { standIn, adapter } = t;
    const sent = await adapter.send({ platform: "telegram", chatId: "51" }, { text: "…" });
    await adapter.edit(sent, { text: words(1000) }); // ~4,900 characters: two messages
    expect(standIn.messagesIn(51)).toHaveLength(2);
    await adapter.edit(sent, { text: words(1100) });
    const messages = standIn.messagesIn(51);
    expect(messages).toHaveLength(2);
    expect(messages.map((m) => m.text).join(" ")).toBe(words(1100));
    expect(standIn.callsOf("editMessageText").length).toBeGreaterThanOrEqual(3);
  });

  it("quotes the message it answers in a group and acknowledges button presses", async () => {
    t = await startTelegram();
    const { standIn, sink } = t;
    standIn.setMember(-52, 52, "member");
    const update = standIn.queueMessage({ chatId: -52, chatType: "group", userId: 52, text: "/ping" });
    const inbound = await sink.waitFor(`telegram:${update.update_id}`);
    // The role is looked up in the conversation's turn (the router calls this), not before delivery.
    expect(inbound.user.platformRole).toBeUndefined();
    expect(await inbound.resolvePlatformRole?.()).toBe("member");
    await inbound.respond({ text: "pong", buttons: [[{ label: "Again", data: "/ping" }]] });
    const [reply] = standIn.messagesIn(-52);
    expect(reply!.replyTo).toBe(Number(inbound.messageId));
    expect(reply!.replyMarkup).toEqual({ inline_keyboard: [[{ text: "Again", callback_data: "/ping" }]] });

    const press = standIn.queueUpdate({
      callback_query: {
        id: "cq-1",
        from: { id: 52, is_bot: false, first_name: "Ada" },
        chat_instance: "c",
        data: "/ping",
        message: { message_id: reply!.messageId, date: 0, chat: { id: -52, type: "group", title: "G" } },
      },
    });
    const pressed = await sink.waitFor(`telegram:${press.update_id}`);
    expect(pressed).toMatchObject({
      origin: "button",
      command: { name: "ping" },
      user: { id: "52" },
    });
    expect(await pressed.resolvePlatformRole?.()).toBe("member");
    await standIn.waitFor(() => standIn.callsOf("answerCallbackQuery").length === 1, 5_000, "answerCallbackQuery");
    expect(standIn.callsOf("answerCallbackQuery")[0]!.body.callback_query_id).toBe("cq-1");
  });

  it("re-registers a webhook that has pending updates but delivers nothing", async () => {
    t = await startTelegram({
      mode: "webhook",
      webhookSecret: "sec",
      webhookUrl: "https://bot.example.com/hook",
      watchdogIntervalMs: 60_000,
    });
    const { standIn, adapter } = t;
    expect(standIn.callsOf("setWebhook")).toHaveLength(1);
    expect(await adapter.watchdog.checkNow()).toBeUndefined();
    standIn.queueMessage({ chatId: 53, userId: 53, text: "/ping" });
    expect(await adapter.watchdog.checkNow()).toMatch(/1 pending/);
    await standIn.waitFor(() => standIn.callsOf("setWebhook").length === 2, 5_000, "setWebhook again");
    expect(standIn.webhook).toEqual({ url: "https://bot.example.com/hook", secret: "sec" });
  });

  it("refuses to start a webhook without a secret", async () => {
    await expect(startTelegram({ mode: "webhook" })).rejects.toThrow(/webhookSecret/);
  });
});
