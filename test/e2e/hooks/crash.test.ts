/**
 * Hooks, kill -9 between the answer and the delivery: 200 deliveries POSTed to a hook of `switchboard start` (its
 * own process, the real Telegram SDK against the stand-in), each POSTed again until it got a 2xx as senders
 * retry; the bot killed once some reached the chat and restarted on the same data. A 2xx means the delivery was
 * queued durably, so each one reaches the chat exactly once, but for the send window the design accepts (marked
 * sent right before the platform call, as the inbound journal does).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TelegramStandIn } from "../../stand-ins/telegram/server.ts";
import {
  type CrashPath,
  type CrashStore,
  crashBurst,
  embeddedStore,
  MAX_LOST_IN_SEND_WINDOW,
  postUntilAcknowledged,
  scaledOutStore,
  waitHttp,
} from "../journal/crash.ts";
import { createStoredHook, openFor, TEST_KEY } from "./bot.ts";

const CHAT = 555_001;
const COUNT = 200;

function hookPath(standIn: TelegramStandIn, hook: { id: string; secret: string }): CrashPath {
  const marker = (i: number) => `event-${i}-end`;
  return {
    env: {
      TELEGRAM_BOT_TOKEN: standIn.token,
      TELEGRAM_API_ROOT: standIn.apiRoot,
      SWITCHBOARD_HOOKS__SECRET_KEY: TEST_KEY,
      SWITCHBOARD_HOOKS__RATE_PER_MINUTE: "100000",
      SWITCHBOARD_ADAPTERS__TELEGRAM__OUTBOUND__PER_CHAT_INTERVAL_MS: "5",
      SWITCHBOARD_ADAPTERS__TELEGRAM__OUTBOUND__GLOBAL_PER_SECOND: "200",
    },
    waitReady: waitHttp,
    async send(i, bot, isStopped) {
      await postUntilAcknowledged(
        async (port) =>
          (
            await fetch(`http://127.0.0.1:${port}/hooks/${hook.id}`, {
              method: "POST",
              headers: {
                "content-type": "application/json",
                authorization: `Bearer ${hook.secret}`,
                "idempotency-key": `burst-${i}`,
              },
              body: JSON.stringify({ text: marker(i) }),
            })
          ).status,
        bot,
        isStopped,
      );
    },
    answers: (i) => standIn.messagesIn(CHAT).filter((m) => m.text === marker(i)).length,
    deliveryId: (i) => `id:burst-${i}`,
  };
}

describe("hooks: kill -9 between the answer and the delivery", { timeout: 300_000 }, () => {
  let standIn: TelegramStandIn;
  beforeAll(async () => {
    standIn = await TelegramStandIn.start(`${100_000 + Math.floor(Math.random() * 900_000)}:HOOKS`);
  });
  afterAll(() => standIn.close());

  const run = async (store: CrashStore, label: string) => {
    try {
      const hook = await createStoredHook(store, { chat: CHAT, name: "burst" });
      const figures = await crashBurst(hookPath(standIn, hook), store, { count: COUNT, killAfter: 50 });
      console.log(`hooks crash (${label}): ${JSON.stringify({ ...figures, stderr: undefined })}`);
      const context = figures.stderr.slice(-3_000);
      expect(figures.twice, context).toBe(0);
      expect(figures.never, context).toBeLessThanOrEqual(MAX_LOST_IN_SEND_WINDOW);
      expect(figures.once + figures.never, context).toBe(COUNT);
      expect(figures.answeredAtKill).toBeLessThan(COUNT);
      if (figures.never > 0) {
        // Each one missing was marked sent before its platform call: lost in that window, nowhere else.
        const db = await openFor(store);
        const { rows } = await db.sql.query<{ n: number }>(
          "SELECT COUNT(*) AS n FROM hook_deliveries WHERE state = 'queued'",
        );
        await db.close();
        expect(Number(rows[0]?.n)).toBe(0);
      }
    } finally {
      await store.dispose();
    }
  };

  it("delivers every acknowledged delivery exactly once on the embedded store", async () => {
    await run(embeddedStore(), "embedded");
  });

  it("delivers every acknowledged delivery exactly once on PostgreSQL + Redis", async () => {
    const store = await scaledOutStore();
    if (store === undefined) return;
    standIn.messages.length = 0;
    await run(store, "postgres");
  });
});
