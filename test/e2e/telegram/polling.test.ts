import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTelegramBot, type TelegramBot } from "./bot.ts";

const words = (n: number) => Array.from({ length: n }, (_, i) => `word${i}`).join(" ");
const LONG = words(1300); // > 10,000 characters

describe("telegram end to end (long polling, whole bot)", () => {
  let bot: TelegramBot;
  let streamed = "";

  beforeAll(async () => {
    bot = await startTelegramBot({
      set: { "permissions.newChats": "platform-admins", "limits.maxInboundChars": 500 },
      beforeStart(core) {
        core.commands.register({
          name: "long",
          description: "A very long reply",
          defaultRole: "guest",
          source: "test",
          handler: () => LONG,
        });
        core.commands.register({
          name: "stream",
          description: "A streamed reply",
          defaultRole: "guest",
          source: "test",
          handler: async (ctx) => {
            const sent = await ctx.reply("…");
            const edits: Promise<void>[] = [];
            let text = "";
            for (let i = 0; i < 40; i++) {
              text += `token${i} `;
              edits.push(ctx.edit(sent, text.trim()));
              await new Promise((r) => setTimeout(r, 10));
            }
            streamed = text.trim();
            await Promise.all(edits);
          },
        });
        core.commands.register({
          name: "deploy",
          description: "Deploy (admins)",
          defaultRole: "admin",
          source: "test",
          handler: () => "deploying",
        });
      },
    });
  });

  afterAll(async () => {
    await bot?.stop();
  });

  const repliesIn = async (chatId: number, count: number) => {
    await bot.standIn.waitFor(
      () => bot.standIn.messagesIn(chatId).length >= count,
      15_000,
      `${count} message(s) in chat ${chatId}`,
    );
    return bot.standIn.messagesIn(chatId);
  };

  it("answers /help through the real router with the command list", async () => {
    bot.standIn.queueMessage({ chatId: 11, userId: 11, text: "/help" });
    const [reply] = await repliesIn(11, 1);
    expect(reply!.parseMode).toBe("HTML");
    expect(reply!.raw).toContain("<b>Commands you can run here</b>");
    expect(reply!.text).toContain("/help");
    expect(reply!.text).toContain("/whoami");
    expect(bot.adapter.health()).toMatchObject({ platform: "telegram", state: "up" });
  });

  it("publishes the native command menu, admin commands only in the administrators' scope, and re-publishes on change", async () => {
    await bot.standIn.waitFor(() => bot.standIn.commands.size >= 2, 10_000, "setMyCommands");
    const everyone = bot.standIn.commands.get("default")!.map((c) => c.command);
    const admins = bot.standIn.commands.get(JSON.stringify({ type: "all_chat_administrators" }))!.map((c) => c.command);
    expect(everyone).toEqual(expect.arrayContaining(["help", "whoami", "long"]));
    expect(everyone).not.toContain("deploy");
    expect(admins).toEqual(expect.arrayContaining(["help", "deploy"]));

    bot.app.core.commands.register({
      name: "later",
      description: "Added at run time",
      defaultRole: "guest",
      source: "test",
      handler: () => "ok",
    });
    await bot.standIn.waitFor(
      () => (bot.standIn.commands.get("default") ?? []).some((c) => c.command === "later"),
      10_000,
      "re-published menu",
    );
  });

  it("handles /cmd@botname in a group and ignores commands for another bot", async () => {
    bot.standIn.setMember(-500, 12, "member");
    bot.standIn.queueMessage({ chatId: -500, chatType: "supergroup", userId: 12, text: "/whoami@some_other_bot" });
    bot.standIn.queueMessage({
      chatId: -500,
      chatType: "supergroup",
      userId: 12,
      text: `/whoami@${bot.standIn.botUsername}`,
    });
    const [reply] = await repliesIn(-500, 1);
    expect(reply!.text).toContain("12");
    await new Promise((r) => setTimeout(r, 300));
    expect(bot.standIn.messagesIn(-500)).toHaveLength(1);
  });

  it("replies in the same forum topic", async () => {
    bot.standIn.setMember(-600, 13, "member");
    bot.standIn.queueMessage({ chatId: -600, chatType: "supergroup", userId: 13, threadId: 77, text: "/help" });
    const [reply] = await repliesIn(-600, 1);
    expect(reply!.threadId).toBe(77);
  });

  it("honours a 429 retry_after and delivers once the wait is over", async () => {
    const before = bot.standIn.callsOf("sendMessage").length;
    bot.standIn.failNext("sendMessage", { kind: "retry-after", seconds: 1 });
    const started = Date.now();
    bot.standIn.queueMessage({ chatId: 14, userId: 14, text: "/help" });
    await repliesIn(14, 1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(bot.standIn.callsOf("sendMessage").length - before).toBe(2);
  });

  it("splits a 10,000-character reply into messages within 4096 that rebuild the whole text", async () => {
    expect(LONG.length).toBeGreaterThan(10_000);
    bot.standIn.queueMessage({ chatId: 15, userId: 15, text: "/long" });
    await repliesIn(15, 3);
    await new Promise((r) => setTimeout(r, 200));
    const parts = bot.standIn.messagesIn(15);
    expect(parts).toHaveLength(3);
    for (const p of parts) expect(p.text.length).toBeLessThanOrEqual(4096);
    expect(parts.map((p) => p.text).join(" ")).toBe(LONG);
  });

  it("streams a reply as throttled edits ending in the full text", async () => {
    bot.standIn.queueMessage({ chatId: 16, userId: 16, text: "/stream" });
    await repliesIn(16, 1);
    await bot.standIn.waitFor(
      () => streamed !== "" && bot.standIn.messagesIn(16)[0]!.text === streamed,
      15_000,
      "final edit",
    );
    const edits = bot.standIn.callsOf("editMessageText").filter((c) => String(c.body.chat_id) === "16");
    expect(edits.length).toBeGreaterThanOrEqual(2);
    expect(edits.length).toBeLessThan(40); // 40 updates coalesced
    // At most one edit per 150 ms interval (arrival times carry network jitter, so count rather than space).
    const spanMs = edits.at(-1)!.at - edits[0]!.at;
    expect(edits.length).toBeLessThanOrEqual(Math.floor(spanMs / 150) + 2);
    expect(bot.standIn.messagesIn(16)[0]!.history.at(-1)).toBe(streamed);
  });

  it("recovers from a dropped getUpdates connection and a 5xx with no message lost or handled twice", async () => {
    bot.standIn.failNext("getUpdates", { kind: "drop" });
    bot.standIn.failNext("getUpdates", { kind: "status", status: 502 });
    // A held poll returns on the next update; the two after it hit the failures.
    bot.standIn.queueMessage({ chatId: 17, userId: 17, text: "/whoami" });
    bot.standIn.queueMessage({ chatId: 17, userId: 17, text: "/help" });
    bot.standIn.queueMessage({ chatId: 17, userId: 17, text: "/whoami" });
    await repliesIn(17, 3);
    await bot.standIn.waitFor(() => bot.standIn.pendingCount === 0, 15_000, "every update confirmed");
    await new Promise((r) => setTimeout(r, 500));
    expect(bot.standIn.messagesIn(17).map((m) => m.text.split("\n")[0])).toHaveLength(3);
    expect(bot.adapter.health()).toMatchObject({ state: "up" });
    const { reconnects, detail } = bot.adapter.health();
    expect(reconnects).toBeGreaterThanOrEqual(2); // one for the drop, one for the 502
    expect(detail).toContain(`${reconnects} reconnects`);
  });

  it("uses the platform role: a chat administrator may run an admin command, a member may not", async () => {
    bot.standIn.setMember(-700, 21, "administrator");
    bot.standIn.setMember(-700, 22, "member");
    bot.standIn.queueMessage({ chatId: -700, chatType: "supergroup", userId: 21, text: "/deploy" });
    const [allowed] = await repliesIn(-700, 1);
    expect(allowed!.text).toBe("deploying");
    bot.standIn.queueMessage({ chatId: -700, chatType: "supergroup", userId: 22, text: "/deploy" });
    const replies = await repliesIn(-700, 2);
    expect(replies[1]!.text).not.toBe("deploying");
    expect(replies[1]!.text).toMatch(/permission|admin/i);
    expect(await bot.adapter.platformRoleOf("-700", "21")).toBe("admin");
    expect(
      bot.standIn.callsOf("getChatMember").filter((c) => c.body.chat_id === "-700" && c.body.user_id === 21),
    ).toHaveLength(1);
  });

  it("refuses an oversized message politely without running it", async () => {
    bot.standIn.queueMessage({ chatId: 19, userId: 19, text: `/help ${"x".repeat(600)}` });
    const [reply] = await repliesIn(19, 1);
    // The router refuses it, after the inbound rate limit, with the sizes.
    expect(reply!.text).toMatch(/That message is too long \(\d+ characters; the limit is \d+\)\./);
  });

  it("skips malformed and unknown updates and keeps going", async () => {
    bot.standIn.queueUpdate({
      edited_message: { message_id: 1, date: 0, chat: { id: 20, type: "private" }, text: "/help" },
    });
    bot.standIn.queueUpdate({ message: { message_id: "x", chat: null } });
    bot.standIn.queueUpdate({ poll: { id: "1" } });
    bot.standIn.queueMessage({ chatId: 20, userId: 20, text: "/whoami" });
    const replies = await repliesIn(20, 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(replies).toHaveLength(1);
    expect(bot.adapter.health().state).toBe("up");
  });
});
