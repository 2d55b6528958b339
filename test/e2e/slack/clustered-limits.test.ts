/** Two bot processes' Slack adapters share one outbound budget per channel through Redis. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REDIS_URL, serviceAvailable } from "../../helpers/services.ts";
import { startSlackAdapter } from "../../stand-ins/slack/harness.ts";
import { SlackStandIn } from "../../stand-ins/slack/server.ts";

describe.skipIf(!(await serviceAvailable("redis")))("Slack outbound limits clustered through Redis", () => {
  let standIn: SlackStandIn;
  let a: Awaited<ReturnType<typeof startSlackAdapter>>;
  let b: Awaited<ReturnType<typeof startSlackAdapter>>;
  const channel = `CCLUSTER${Date.now() % 100_000}`;

  beforeAll(async () => {
    // A token unique to this run, so the shared budget's Redis keys start fresh.
    const token = `xoxb-cluster-${Date.now()}`;
    standIn = await new SlackStandIn({ botToken: token }).start();
    const options = { token, redisUrl: REDIS_URL, outboundLimits: { globalPerSecond: 0, perChatIntervalMs: 300 } };
    a = await startSlackAdapter(options, standIn);
    b = await startSlackAdapter(options, standIn);
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await standIn?.stop();
  });

  it("spaces messages to one channel from both processes by the per-channel interval", async () => {
    await Promise.all([
      ...[1, 2, 3].map((i) => a.adapter.send({ platform: "slack", chatId: channel }, { text: `a${i}` })),
      ...[1, 2, 3].map((i) => b.adapter.send({ platform: "slack", chatId: channel }, { text: `b${i}` })),
    ]);
    const times = standIn
      .callsOf("chat.postMessage")
      .filter((c) => c.body.channel === channel)
      .map((c) => c.at)
      .sort((x, y) => x - y);
    expect(times).toHaveLength(6);
    // Unshared budgets would send a pair at once (gaps near 0); a shared one spaces all six (arrival jitter allowed).
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(50);
    expect(times[5]! - times[0]!).toBeGreaterThanOrEqual(1_300);
  }, 30_000);
});
