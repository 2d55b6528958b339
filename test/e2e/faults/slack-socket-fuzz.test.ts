/**
 * Malformed Socket Mode frames against `switchboard start` (its own process, the real Bolt and
 * `@slack/socket-mode`): 10,000 frames leave the process alive, answering, within 50 MB of its memory before,
 * and its log holds counts instead of one line per frame.
 */
import { afterAll, describe, expect, it } from "vitest";
import { spawnBot, type SpawnedBot } from "../../helpers/spawn-bot.ts";
import { commandPayload, directMessage, eventCallback } from "../../stand-ins/slack/sender.ts";
import { SlackStandIn } from "../../stand-ins/slack/server.ts";
import { malformedFrames } from "./frames.ts";

const FRAMES = 10_000;

/** The frames reported to end the process, and their neighbours. */
const FIXED = [
  "null",
  '{"type":"events_api"}',
  '{"type":"events_api","payload":null}',
  '{"type":"events_api","payload":{}}',
  '{"type":"events_api","envelope_id":"e1","payload":{"event":null}}',
  '{"type":"slash_commands","envelope_id":"e2"}',
  '{"type":"interactive","envelope_id":"e3","payload":[]}',
  '{"type":"slash_commands","envelope_id":"e4","payload":{}}',
  '{"type":"interactive","envelope_id":"e5","payload":{"type":"block_actions"}}',
  "[]",
  "42",
  '"hello"',
  "{",
  '{"type":{"nested":true}}',
];

describe("Slack Socket Mode: malformed frames", () => {
  let standIn: SlackStandIn | undefined;
  let bot: SpawnedBot | undefined;
  afterAll(async () => {
    await bot?.stop();
    await standIn?.stop();
  }, 60_000);

  it("survives 10,000 malformed frames and still answers, within 50 MB of its memory before", async () => {
    standIn = await new SlackStandIn({ socketPingIntervalMs: 2_000 }).start();
    bot = spawnBot({
      SWITCHBOARD_HTTP__PORT: "0",
      LOG_LEVEL: "warn",
      SLACK_BOT_TOKEN: standIn.botToken,
      SLACK_APP_TOKEN: standIn.appToken,
      SLACK_API_URL: standIn.apiUrl,
    });
    const s = standIn;
    await s.waitFor(() => s.openSockets === 1, 120_000, `a socket connection (stderr: ${bot?.stderr})`);

    const ask = async (channel: string) => {
      // Mutated frames that stay valid are real commands from the template's user: they may use up that user's
      // inbound rate limit (after one "slow down", further messages are dropped), so the probe is someone else.
      s.deliver("slash_commands", commandPayload({ command: "/whoami", channel_id: channel, user_id: "UFUZZPROBE" }));
      await s.waitFor(() => s.messagesIn(channel).length === 1, 120_000, `the reply in ${channel}`);
      expect(s.messagesIn(channel)[0]!.text).toContain("Platform: slack");
    };
    await ask("CFUZZ0001");
    const rssBeforeBytes = await bot.settledRssBytes();

    const frames = malformedFrames({
      fixed: FIXED,
      templates: [
        { type: "events_api", envelope_id: "m1", payload: eventCallback(directMessage({ text: "/whoami" })) },
        { type: "slash_commands", envelope_id: "m2", payload: commandPayload({ command: "/whoami" }) },
        {
          type: "interactive",
          envelope_id: "m3",
          payload: { type: "block_actions", actions: [{ action_id: "sb:x" }] },
        },
        { type: "hello", num_connections: 1 },
      ],
      count: FRAMES,
      seed: 13,
    });
    let sent = 0;
    for (const frame of frames) {
      // A contained fault may have restarted the connection: send on whichever socket is live.
      if (s.openSockets === 0) await s.waitFor(() => s.openSockets > 0, 30_000, "the socket back");
      s.sendRaw(frame);
      sent++;
      if (sent % 250 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    expect(sent).toBe(FRAMES);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(bot.exitCode).toBeNull();

    await s.waitFor(() => s.openSockets > 0, 30_000, "a live socket after the fuzz");
    await ask("CFUZZ0002").catch((error: unknown) => {
      throw new Error(`${String(error)}; sockets ${s.openSockets}, stderr tail: ${bot?.stderr.slice(-3_000)}`);
    });
    const growthBytes = (await bot.settledRssBytes()) - rssBeforeBytes;
    if (process.env.FUZZ_DEBUG !== undefined) console.log(bot.stderr);
    console.log(`slack socket fuzz: ${FRAMES} frames, rss growth ${(growthBytes / 1_048_576).toFixed(1)} MB`);
    expect(growthBytes).toBeLessThan(50 * 1_048_576);
    // The log says what was dropped once per kind, then counts: not a line per frame.
    const dropLines = bot.stderr.split("\n").filter((l) => l.includes("malformed socket mode frame dropped"));
    expect(dropLines.length).toBeGreaterThan(0);
    expect(bot.stderr.split("\n").length).toBeLessThan(300);
  }, 300_000);
});
