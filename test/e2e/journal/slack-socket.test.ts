/**
 * Slack Socket Mode, kill -9 mid-burst: 200 slash command envelopes; the stand-in redelivers what was not acked
 * on the next connection, as Slack does. The bot killed once some are answered and restarted on the same data.
 * Every command is answered exactly once.
 */
import { afterAll, beforeAll, describe, it } from "vitest";
import { commandPayload } from "../../stand-ins/slack/sender.ts";
import { SlackStandIn } from "../../stand-ins/slack/server.ts";
import {
  crashBurst,
  expectAnsweredOnce,
  embeddedStore,
  scaledOutStore,
  type CrashPath,
  type CrashStore,
} from "./crash.ts";

function socketPath(standIn: SlackStandIn, run: string): CrashPath {
  // Channels of this run only: the stand-in keeps the messages of the run before.
  const channel = (i: number) => `CS${run.slice(0, 1).toUpperCase()}${String(i).padStart(6, "0")}`;
  return {
    env: {
      SLACK_BOT_TOKEN: standIn.botToken,
      SLACK_APP_TOKEN: standIn.appToken,
      SLACK_API_URL: standIn.apiUrl,
    },
    async waitReady(bot) {
      await standIn.waitFor(() => standIn.openSockets > 0, 120_000, `a socket (stderr: ${bot.stderr.slice(-2_000)})`);
    },
    async send(i) {
      standIn.deliver(
        "slash_commands",
        commandPayload({
          command: "/whoami",
          channel_id: channel(i),
          user_id: `US${i}`,
          trigger_id: `trig-${run}-${i}`,
        }),
      );
    },
    answers: (i) => standIn.messagesIn(channel(i)).length,
    deliveryId: (i) => `trig-${run}-${i}`,
  };
}

describe("journal: Slack Socket Mode, kill -9 mid-burst", { timeout: 300_000 }, () => {
  let standIn: SlackStandIn;
  beforeAll(async () => {
    standIn = await new SlackStandIn({
      botToken: `xoxb-journal-${Math.random().toString(36).slice(2)}`,
      socketPingIntervalMs: 2_000,
    }).start();
  });
  afterAll(() => standIn.stop());

  const run = async (store: CrashStore, label: string) => {
    try {
      const figures = await crashBurst(socketPath(standIn, label), store);
      console.log(`slack socket mode (${label}): ${JSON.stringify({ ...figures, stderr: undefined })}`);
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
