/**
 * Telegram webhook, kill -9 mid-burst: 200 updates POSTed to the bot's webhook, each POSTed again until it got a
 * 2xx, as Telegram redelivers; the bot killed once some are answered and restarted on the same data. An update
 * is journaled before its 200. Every command is answered exactly once.
 */
import { afterAll, beforeAll, describe, it } from "vitest";
import { TelegramStandIn } from "../../stand-ins/telegram/server.ts";
import {
  crashBurst,
  expectAnsweredOnce,
  embeddedStore,
  postUntilAcknowledged,
  scaledOutStore,
  waitHttp,
  type CrashPath,
  type CrashStore,
} from "./crash.ts";

const CHAT_BASE = 800_000;
const SECRET = "journal-webhook-secret";

function webhookPath(standIn: TelegramStandIn): CrashPath {
  const updates = Array.from({ length: 200 }, (_, i) => ({
    ...standIn.messageUpdate({ chatId: CHAT_BASE + i, userId: CHAT_BASE + i, text: "/whoami" }),
    update_id: standIn.nextUpdateId(),
  }));
  return {
    env: {
      TELEGRAM_BOT_TOKEN: standIn.token,
      TELEGRAM_API_ROOT: standIn.apiRoot,
      TELEGRAM_WEBHOOK_SECRET: SECRET,
      SWITCHBOARD_ADAPTERS__TELEGRAM__MODE: "webhook",
    },
    waitReady: waitHttp,
    async send(i, bot, isStopped) {
      await postUntilAcknowledged(
        async (port) =>
          (await standIn.postWebhook(`http://127.0.0.1:${port}/telegram/webhook`, updates[i]!, SECRET)).status,
        bot,
        isStopped,
      );
    },
    answers: (i) => standIn.messagesIn(CHAT_BASE + i).length,
    deliveryId: (i) => String(updates[i]!.update_id),
  };
}

describe("journal: Telegram webhook, kill -9 mid-burst", { timeout: 300_000 }, () => {
  let standIn: TelegramStandIn;
  beforeAll(async () => {
    // A bot id of its own: outbound budgets in the shared Redis are kept per bot id.
    standIn = await TelegramStandIn.start(`${100_000 + Math.floor(Math.random() * 900_000)}:JOURNAL`);
  });
  afterAll(() => standIn.close());

  const run = async (store: CrashStore, label: string) => {
    try {
      const figures = await crashBurst(webhookPath(standIn), store);
      console.log(`telegram webhook (${label}): ${JSON.stringify({ ...figures, stderr: undefined })}`);
      expectAnsweredOnce(figures);
    } finally {
      await store.dispose();
    }
  };

  it("answers every command exactly once on the embedded store", async () => {
    await run(embeddedStore(), "embedded");
  });

  it("answers every command exactly once on PostgreSQL + Redis", async () => {
    const store = await scaledOutStore();
    if (store === undefined) return;
    standIn.messages.length = 0;
    await run(store, "postgres");
  });
});
