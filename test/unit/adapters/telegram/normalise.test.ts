import { describe, expect, it } from "vitest";
import type { Update } from "grammy/types";
import { chatKindOf, normaliseUpdate } from "../../../../adapters/telegram/index.ts";

const BOT = { id: 99, username: "sb_bot" };
const msg = (
  over: Record<string, unknown> = {},
  chat: Record<string, unknown> = { id: 5, type: "private", first_name: "Ada" },
): Update =>
  ({
    update_id: 10,
    message: {
      message_id: 3,
      date: 0,
      chat,
      from: { id: 5, is_bot: false, first_name: "Ada", last_name: "L" },
      text: "/help",
      ...over,
    },
  }) as unknown as Update;

describe("normaliseUpdate", () => {
  it("maps a private command to an Inbound with delivery id, dm chat and parsed command", () => {
    const n = normaliseUpdate(msg({ text: "/deploy web --now" }), BOT, 1_000);
    expect("skip" in n).toBe(false);
    if ("skip" in n) return;
    expect(n.inbound).toMatchObject({
      deliveryId: "telegram:10",
      platform: "telegram",
      receivedAt: 1_000,
      messageId: "3",
      mentionsBot: true,
      chat: { id: "5", kind: "dm", title: "Ada" },
      user: { id: "5", displayName: "Ada L", isBot: false },
      command: { name: "deploy", args: ["web", "--now"], rawArgs: "web --now" },
    });
    expect(n.needsRole).toBe(false);
  });

  it("maps chat types to kinds", () => {
    expect(chatKindOf("private")).toBe("dm");
    expect(chatKindOf("group")).toBe("group");
    expect(chatKindOf("supergroup")).toBe("group");
    expect(chatKindOf("channel")).toBe("channel");
  });

  it("accepts /cmd@thisbot in a group, skips /cmd@otherbot, and asks for the speaker's role", () => {
    const group = { id: -100, type: "supergroup", title: "Ops" };
    const mine = normaliseUpdate(msg({ text: "/help@SB_bot now" }, group), BOT, 0);
    expect("skip" in mine ? undefined : mine.inbound.command).toEqual({ name: "help", args: ["now"], rawArgs: "now" });
    expect("skip" in mine ? undefined : mine.needsRole).toBe(true);
    expect(normaliseUpdate(msg({ text: "/help@other_bot" }, group), BOT, 0)).toEqual({
      skip: "command for another bot",
    });
  });

  it("keeps the forum topic as the thread and ignores the topic's root as a reply", () => {
    const n = normaliseUpdate(
      msg(
        {
          message_thread_id: 77,
          is_topic_message: true,
          text: "hi @sb_bot",
          reply_to_message: { message_id: 77, date: 0, chat: { id: -1, type: "supergroup" } },
        },
        { id: -1, type: "supergroup", title: "Forum" },
      ),
      BOT,
      0,
    );
    if ("skip" in n) throw new Error(n.skip);
    expect(n.inbound.threadId).toBe("77");
    expect(n.inbound.replyTo).toBeUndefined();
    expect(n.inbound.mentionsBot).toBe(true);
  });

  it("marks replies to the bot", () => {
    const n = normaliseUpdate(
      msg(
        {
          text: "yes",
          reply_to_message: {
            message_id: 1,
            date: 0,
            chat: { id: -1, type: "group" },
            from: { id: 99, is_bot: true, first_name: "SB" },
          },
        },
        { id: -1, type: "group", title: "G" },
      ),
      BOT,
      0,
    );
    if ("skip" in n) throw new Error(n.skip);
    expect(n.inbound.replyTo).toEqual({ messageId: "1", isToBot: true });
    expect(n.inbound.mentionsBot).toBe(true);
  });

  it("uses the sender chat for channel posts and does not look up a role", () => {
    const update = {
      update_id: 11,
      channel_post: {
        message_id: 4,
        date: 0,
        chat: { id: -200, type: "channel", title: "News" },
        sender_chat: { id: -200, type: "channel", title: "News" },
        text: "/status",
      },
    } as unknown as Update;
    const n = normaliseUpdate(update, BOT, 0);
    if ("skip" in n) throw new Error(n.skip);
    expect(n.inbound.chat).toEqual({ id: "-200", kind: "channel", title: "News" });
    expect(n.inbound.user).toEqual({ id: "-200", displayName: "News" });
    expect(n.needsRole).toBe(false);
  });

  it("turns a button press into a button-origin Inbound with the data as text", () => {
    const update = {
      update_id: 12,
      callback_query: {
        id: "cq1",
        from: { id: 5, is_bot: false, first_name: "Ada" },
        chat_instance: "x",
        data: "/deploy web",
        message: { message_id: 8, date: 0, chat: { id: 5, type: "private", first_name: "Ada" } },
      },
    } as unknown as Update;
    const n = normaliseUpdate(update, BOT, 0);
    if ("skip" in n) throw new Error(n.skip);
    expect(n.inbound).toMatchObject({
      origin: "button",
      text: "/deploy web",
      command: { name: "deploy", args: ["web"] },
    });
    expect(n.callbackQueryId).toBe("cq1");
  });

  it("skips malformed, textless and unknown updates with a reason instead of throwing", () => {
    expect(normaliseUpdate({} as Update, BOT, 0)).toEqual({ skip: "malformed update: no update_id" });
    expect(
      normaliseUpdate({ update_id: 1, message: { message_id: "x", chat: null } } as unknown as Update, BOT, 0),
    ).toEqual({ skip: "malformed message" });
    expect(normaliseUpdate(msg({ text: undefined, sticker: {} }), BOT, 0)).toEqual({ skip: "message without text" });
    expect(normaliseUpdate({ update_id: 1, poll: {} } as unknown as Update, BOT, 0)).toEqual({
      skip: "unhandled update type: poll",
    });
    expect(normaliseUpdate(null as unknown as Update, BOT, 0)).toMatchObject({
      skip: expect.stringContaining("malformed"),
    });
  });
});
