/**
 * The Discord gateway, kill -9 mid-burst: 200 prefix commands dispatched as MESSAGE_CREATE to the live session
 * (each in a DM of its own), the bot killed once some are answered and restarted on the same data. The gateway
 * has no acknowledgement and a new session gets nothing its dead predecessor missed, so the journal is what keeps
 * a command the process had received. Every command is answered exactly once.
 */
import { afterAll, beforeAll, describe, it } from "vitest";
import { snowflake, wireUser } from "../../stand-ins/discord/payloads.ts";
import { startDiscordStandIn, type DiscordStandIn } from "../../stand-ins/discord/server.ts";
import {
  crashBurst,
  expectAnsweredOnce,
  embeddedStore,
  scaledOutStore,
  type CrashPath,
  type CrashStore,
} from "./crash.ts";

function gatewayPath(discord: DiscordStandIn): CrashPath {
  const channels = Array.from({ length: 200 }, () => snowflake());
  const messageIds: string[] = [];
  return {
    env: {
      DISCORD_TOKEN: discord.token,
      DISCORD_APPLICATION_ID: discord.applicationId,
      DISCORD_API_ROOT: discord.apiRoot,
    },
    async waitReady(bot) {
      const identifies = discord.gateway.identifies;
      await bot.waitFor(
        () => discord.gateway.identifies > identifies && discord.gateway.openSockets() > 0,
        120_000,
        "a gateway session",
      );
    },
    async send(i) {
      messageIds[i] = discord.dispatchMessage({
        content: "/whoami",
        author: wireUser(snowflake(), `user${i}`),
        channelId: channels[i]!,
      }).id as string;
    },
    answers: (i) => discord.channelMessages(channels[i]!).length,
    deliveryId: (i) => messageIds[i],
  };
}

describe("journal: Discord gateway, kill -9 mid-burst", { timeout: 300_000 }, () => {
  let discord: DiscordStandIn;
  beforeAll(async () => {
    discord = await startDiscordStandIn({ heartbeatIntervalMs: 1_000 });
  });
  afterAll(() => discord.close());

  const run = async (store: CrashStore, label: string) => {
    try {
      const figures = await crashBurst(gatewayPath(discord), store);
      console.log(`discord gateway (${label}): ${JSON.stringify({ ...figures, stderr: undefined })}`);
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
