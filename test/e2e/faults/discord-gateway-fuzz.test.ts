/**
 * Malformed gateway frames against `switchboard start` (its own process, the real @discordjs/ws gateway): 10,000 frames
 * leave the process alive, answering, and within 50 MB of its memory before.
 */
import { afterAll, describe, expect, it } from "vitest";
import { spawnBot, type SpawnedBot } from "../../helpers/spawn-bot.ts";
import { messagePayload } from "../../stand-ins/discord/payloads.ts";
import { startDiscordStandIn, type DiscordStandIn } from "../../stand-ins/discord/server.ts";
import { malformedFrames } from "./frames.ts";

const FRAMES = 10_000;

const FIXED = [
  "null",
  "[]",
  "{}",
  "7",
  '"op"',
  "{",
  '{"op":null}',
  '{"op":0}',
  '{"op":0,"t":"MESSAGE_CREATE","d":null}',
  '{"op":0,"t":"MESSAGE_CREATE","d":{}}',
  '{"op":0,"t":"INTERACTION_CREATE","d":{"type":2}}',
  '{"op":0,"t":"GUILD_CREATE","d":{}}',
  '{"op":0,"t":"GUILD_CREATE","d":null}',
  '{"op":0,"t":"CHANNEL_CREATE","d":{"id":null}}',
  '{"op":0,"t":"GUILD_MEMBER_UPDATE","d":{"user":null}}',
  '{"op":0,"t":"GUILD_ROLE_UPDATE","d":{"guild_id":"1"}}',
  '{"op":0,"t":"READY","d":{}}',
  '{"op":0,"t":null,"d":[]}',
  '{"op":99,"d":{}}',
  '{"op":11,"d":"x"}',
];

describe("Discord gateway: malformed frames", () => {
  let discord: DiscordStandIn | undefined;
  let bot: SpawnedBot | undefined;
  afterAll(async () => {
    await bot?.stop();
    await discord?.close();
  }, 60_000);

  it("survives 10,000 malformed frames and still answers, within 50 MB of its memory before", async () => {
    const d = await startDiscordStandIn({ heartbeatIntervalMs: 1_000 });
    discord = d;
    bot = spawnBot({
      SWITCHBOARD_HTTP__PORT: "0",
      LOG_LEVEL: "warn",
      DISCORD_TOKEN: d.token,
      DISCORD_APPLICATION_ID: d.applicationId,
      DISCORD_API_ROOT: d.apiRoot,
    });
    const b = bot;
    await b.waitFor(() => d.gateway.identifies > 0 && d.gateway.openSockets() > 0, 120_000, "a gateway session");

    const ask = async (tag: string) => {
      await b.waitFor(() => d.gateway.openSockets() > 0, 60_000, "a live gateway connection");
      const sinceMs = Date.now();
      d.dispatchMessage({
        content: `/whoami ${tag}`,
        author: d.users.alice,
        channelId: d.dmChannelId,
      });
      const post = await d.waitForRequest(
        (r) =>
          r.method === "POST" &&
          r.path.endsWith(`/channels/${d.dmChannelId}/messages`) &&
          JSON.stringify(r.body).includes(`discord:${d.users.alice.id}`) &&
          r.at >= sinceMs,
        60_000,
      );
      expect(post).toBeDefined();
    };
    await b.waitFor(
      () => d.requests.some((r) => r.method === "PUT" && r.path.endsWith("/commands")),
      60_000,
      "commands",
    );
    await ask("before");
    const rssBeforeBytes = await b.settledRssBytes();

    const frames = malformedFrames({
      fixed: FIXED,
      templates: [
        {
          op: 0,
          t: "MESSAGE_CREATE",
          // Mutants that stay valid are real messages: from someone other than the probe (alice), so they cannot
          // use up the probe's inbound rate limit (after one "slow down", further messages are dropped).
          d: messagePayload({ content: "/whoami", author: d.users.admin, channelId: "9" }),
        },
        { op: 0, t: "GUILD_CREATE", d: { id: "42", name: "g", owner_id: "1", roles: [], channels: [], members: [] } },
        { op: 0, t: "CHANNEL_UPDATE", d: { id: "43", type: 0, guild_id: "42" } },
        { op: 11, d: null },
      ],
      count: FRAMES,
      seed: 7,
    });
    let sent = 0;
    for (const frame of frames) {
      // A contained fault may have restarted the session: send on whichever connection is live.
      if (d.gateway.openSockets() === 0) await b.waitFor(() => d.gateway.openSockets() > 0, 60_000, "the gateway back");
      try {
        d.gateway.sendRaw(frame);
      } catch {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      sent++;
      if (sent % 250 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    expect(sent).toBeGreaterThan(FRAMES * 0.95);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(b.exitCode).toBeNull();

    await ask("after");
    const growthBytes = (await b.settledRssBytes()) - rssBeforeBytes;
    console.log(`discord gateway fuzz: ${sent} frames, rss growth ${(growthBytes / 1_048_576).toFixed(1)} MB`);
    if (process.env.FUZZ_DEBUG !== undefined) console.log(b.stderr);
    expect(growthBytes).toBeLessThan(50 * 1_048_576);
    expect(b.stderr.split("\n").length).toBeLessThan(300);
  }, 300_000);
});
