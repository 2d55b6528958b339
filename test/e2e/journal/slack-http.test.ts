/**
 * Slack over HTTP, kill -9 mid-burst: 200 signed slash commands, each POSTed again (same trigger id) until
 * acknowledged, as a client retries a 5xx or a dropped answer; the bot killed once some are answered and
 * restarted on the same data. Every command is answered exactly once.
 */
import { afterAll, beforeAll, describe, it } from "vitest";
import { sendCommand } from "../../stand-ins/slack/sender.ts";
import { SlackStandIn } from "../../stand-ins/slack/server.ts";
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

const SECRET = "journal-signing-secret";

function httpPath(standIn: SlackStandIn, run: string): CrashPath {
  // Channels of this run only: the stand-in keeps the messages of the run before.
  const channel = (i: number) => `CJ${run.slice(0, 1).toUpperCase()}${String(i).padStart(6, "0")}`;
  return {
    env: {
      SLACK_BOT_TOKEN: standIn.botToken,
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: standIn.apiUrl,
    },
    waitReady: waitHttp,
    async send(i, bot, isStopped) {
      // Spread over a few seconds: Slack's budget answers an all-at-once burst of 200 within a second, before a kill.
      await new Promise((r) => setTimeout(r, i * 15));
      const fields = { command: "/whoami", channel_id: channel(i), user_id: `UJ${i}`, trigger_id: `trig-${run}-${i}` };
      await postUntilAcknowledged(
        async (port) =>
          (await sendCommand(`http://127.0.0.1:${port}/slack/events`, fields, { signingSecret: SECRET })).status,
        bot,
        isStopped,
      );
    },
    answers: (i) => standIn.messagesIn(channel(i)).length,
    deliveryId: (i) => `trig-${run}-${i}`,
  };
}

describe("journal: Slack HTTP, kill -9 mid-burst", { timeout: 300_000 }, () => {
  let standIn: SlackStandIn;
  beforeAll(async () => {
    // A token of its own: outbound budgets in the shared Redis are kept per token.
    standIn = await new SlackStandIn({ botToken: `xoxb-journal-${Math.random().toString(36).slice(2)}` }).start();
  });
  afterAll(() => standIn.stop());

  const run = async (store: CrashStore, label: string) => {
    try {
      const figures = await crashBurst(httpPath(standIn, label), store);
      console.log(`slack http (${label}): ${JSON.stringify({ ...figures, stderr: undefined })}`);
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
    await run(store, "postgres");
  });
});
