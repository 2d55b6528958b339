/**
 * Telegram long polling, kill -9 mid-burst: 200 commands, the bot killed once some are answered, restarted on
 * the same data. Every command is answered exactly once: the offset moved only past journaled updates, replies
 * waiting in the outbound limiter were replayed, and those already sent were not repeated.
 */
import { afterAll, beforeAll, describe, it } from "vitest";
import { TelegramStandIn } from "../../stand-ins/telegram/server.ts";
import {
  crashBurst,
  expectAnsweredOnce,
  embeddedStore,
  scaledOutStore,
  type CrashPath,
  type CrashStore,
} from "./crash.ts";

const CHAT_BASE = 700_000;

function pollingPath(standIn: TelegramStandIn): CrashPath {
  const updateIds: number[] = [];
  return {
    env: { TELEGRAM_BOT_TOKEN: standIn.token, TELEGRAM_API_ROOT: standIn.apiRoot },
    async waitReady(bot) {
      const polls = standIn.callsOf("getUpdates").length;
      await bot.waitFor(() => standIn.callsOf("getUpdates").length > polls, 120_000, "a getUpdates call");
    },
    async send(i) {
      const id = CHAT_BASE + i;
      updateIds[i] = standIn.queueMessage({ chatId: id, userId: id, text: "/whoami" }).update_id;
    },
    answers: (i) => standIn.messagesIn(CHAT_BASE + i).length,
    deliveryId: (i) => (updateIds[i] === undefined ? undefined : String(updateIds[i])),
  };
}

describe("journal: Telegram polling, kill -9 mid-burst", { timeout: 300_000 }, () => {
  let standIn: TelegramStandIn;
  beforeAll(async () => {
    // A bot id of its own: outbound budgets in the shared Redis are kept per bot id.
    standIn = await TelegramStandIn.start(`${100_000 + Math.floor(Math.random() * 900_000)}:JOURNAL`);
  });
  afterAll(() => standIn.close());

  const run = async (store: CrashStore, label: string) => {
    try {
      const figures = await crashBurst(pollingPath(standIn), store);
      console.log(`telegram polling (${label}): ${JSON.stringify({ ...figures, stderr: undefined })}`);
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
