import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTelegramBot, type TelegramBot } from "./bot.ts";

const SECRET = "s3cret-token_value";

describe("telegram end to end (webhook on the shared HTTP listener, whole bot)", () => {
  let bot: TelegramBot;
  let hook: string;

  beforeAll(async () => {
    bot = await startTelegramBot({
      set: {
        "adapters.telegram.mode": "webhook",
        "adapters.telegram.webhookSecret": SECRET,
        "adapters.telegram.webhookUrl": "https://bot.example.com/telegram/webhook",
      },
    });
    hook = `${bot.httpUrl}/telegram/webhook`;
  });

  afterAll(async () => {
    await bot?.stop();
  });

  it("registers the webhook with its secret token and never polls", () => {
    expect(bot.standIn.webhook).toEqual({ url: "https://bot.example.com/telegram/webhook", secret: SECRET });
    expect(bot.standIn.callsOf("getUpdates")).toHaveLength(0);
    expect(bot.adapter.health()).toMatchObject({ state: "up", detail: expect.stringContaining("mode webhook") });
  });

  it("answers 401 to a missing or wrong secret token and never runs the handler", async () => {
    const update = {
      update_id: bot.standIn.nextUpdateId(),
      ...bot.standIn.messageUpdate({ chatId: 41, userId: 41, text: "/help" }),
    };
    expect((await bot.standIn.postWebhook(hook, update)).status).toBe(401);
    expect((await bot.standIn.postWebhook(hook, update, "wrong")).status).toBe(401);
    expect((await bot.standIn.postWebhook(hook, update, `${SECRET}x`)).status).toBe(401);
    await new Promise((r) => setTimeout(r, 300));
    expect(bot.standIn.messagesIn(41)).toHaveLength(0);
  });

  it("handles an update with the right secret, and a redelivery of it only once", async () => {
    const update = {
      update_id: bot.standIn.nextUpdateId(),
      ...bot.standIn.messageUpdate({ chatId: 42, userId: 42, text: "/help" }),
    };
    expect((await bot.standIn.postWebhook(hook, update, SECRET)).status).toBe(200);
    await bot.standIn.waitFor(() => bot.standIn.messagesIn(42).length === 1, 10_000, "the reply");
    expect(bot.standIn.messagesIn(42)[0]!.text).toContain("Commands you can run here");
    expect((await bot.standIn.postWebhook(hook, update, SECRET)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 500));
    expect(bot.standIn.messagesIn(42)).toHaveLength(1);
  });

  it("answers 400 to a body that is not JSON, and 200 (skipping it) to JSON that is not an update", async () => {
    expect((await bot.standIn.postWebhook(hook, "{not json", SECRET)).status).toBe(400);
    expect((await bot.standIn.postWebhook(hook, { hello: "world" }, SECRET)).status).toBe(200);
    expect(bot.adapter.health().state).toBe("up");
  });
});
