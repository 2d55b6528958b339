/**
 * Telegram intake never waits on one conversation: role look-ups and refusals run in the conversation's turn,
 * not in the poll loop; a poll answer cut mid-body is noticed in seconds; readiness follows the API.
 * Latencies are asserted with wide margins and against ordering, not as timings.
 */
import { afterEach, describe, expect, it } from "vitest";
import { startTelegramBot, type TelegramBot } from "./bot.ts";

const waitUntil = async (check: () => boolean, timeoutMs: number, what: string): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe("telegram intake without head-of-line blocking", () => {
  let bot: TelegramBot | undefined;
  afterEach(async () => {
    await bot?.stop();
    bot = undefined;
  });

  /** Time from queueing a DM /whoami to its reply, in ms. */
  const dmLatencyMs = async (b: TelegramBot, chatId: number): Promise<number> => {
    const sentAt = performance.now();
    b.standIn.queueMessage({ chatId, userId: chatId, text: "/whoami" });
    await waitUntil(() => b.standIn.messagesIn(chatId).length === 1, 30_000, `the DM reply in ${chatId}`);
    return performance.now() - sentAt;
  };

  it("answers a DM while slow role look-ups of group speakers are still under way", async () => {
    bot = await startTelegramBot({ set: { "limits.perChat": { burst: 100, perMinute: 6_000 } } });
    const b = bot;
    const idleMs = await dmLatencyMs(b, 901); // warm: the same path with nothing else going on
    // Twenty group speakers, none cached, each getChatMember answered after 500 ms.
    b.standIn.failNext("getChatMember", { kind: "delay", ms: 500 }, 20);
    for (let user = 1; user <= 20; user++) {
      b.standIn.setMember(-800, 800 + user, "member");
      b.standIn.queueMessage({ chatId: -800, chatType: "group", userId: 800 + user, text: "/whoami" });
    }
    await waitUntil(() => b.standIn.callsOf("getChatMember").length >= 1, 10_000, "the first role look-up");
    const busyMs = await dmLatencyMs(b, 902);
    const groupRepliesWhenDmAnswered = b.standIn.messagesIn(-800).length;
    console.log(
      `DM latency: idle ${idleMs.toFixed(0)} ms, behind 20 slow group look-ups ${busyMs.toFixed(0)} ms (group replies by then: ${groupRepliesWhenDmAnswered}/20)`,
    );
    // In the poll loop, the DM waited for all twenty look-ups (about 10 s). Now it overtakes them.
    expect(groupRepliesWhenDmAnswered).toBeLessThan(5);
    expect(busyMs).toBeLessThan(idleMs + 2_000);
    await waitUntil(() => b.standIn.messagesIn(-800).length === 20, 60_000, "all twenty group replies");
    expect(b.standIn.messagesIn(-800).every((m) => m.text.includes("Platform: telegram"))).toBe(true);
  }, 120_000);

  it("refuses oversized messages through the inbound rate limit, without holding up another user", async () => {
    bot = await startTelegramBot({
      set: { "limits.maxInboundChars": 500, "limits.perUser": { burst: 5, perMinute: 30 } },
    });
    const b = bot;
    const idleMs = await dmLatencyMs(b, 911);
    for (let i = 0; i < 15; i++) b.standIn.queueMessage({ chatId: 912, userId: 912, text: `/help ${"x".repeat(600)}` });
    const busyMs = await dmLatencyMs(b, 913);
    console.log(`DM latency: idle ${idleMs.toFixed(0)} ms, behind 15 oversized messages ${busyMs.toFixed(0)} ms`);
    expect(busyMs).toBeLessThan(idleMs + 2_000);
    // Five refusals (the user's burst) and one "slow down"; the rest dropped by the limit, not answered.
    await waitUntil(() => b.standIn.messagesIn(912).length >= 6, 30_000, "the refusals");
    await new Promise((r) => setTimeout(r, 500));
    const texts = b.standIn.messagesIn(912).map((m) => m.text);
    expect(texts.filter((t) => t.startsWith("That message is too long"))).toHaveLength(5);
    expect(texts.filter((t) => t.includes("too fast"))).toHaveLength(1);
    expect(texts).toHaveLength(6);
  }, 120_000);

  it("notices a poll answer cut mid-body within seconds and receives the update again, once", async () => {
    // A 30 s long poll: before, a cut body hung until the poll's own 45 s abort.
    bot = await startTelegramBot({ set: { "adapters.telegram.pollTimeoutSeconds": 30 } });
    const b = bot;
    await dmLatencyMs(b, 921);
    b.standIn.truncateNextPollAnswer();
    const queuedAt = performance.now();
    b.standIn.queueMessage({ chatId: 922, userId: 922, text: "/whoami" });
    await waitUntil(() => b.standIn.messagesIn(922).length === 1, 20_000, "the reply after the stalled poll");
    const recoveredMs = performance.now() - queuedAt;
    console.log(`stalled poll: answered ${recoveredMs.toFixed(0)} ms after the update was queued`);
    expect(b.standIn.truncated.length).toBe(1);
    expect(recoveredMs).toBeLessThan(15_000);
    expect(recoveredMs).toBeGreaterThan(1_000); // it did wait for the stalled body first
    await new Promise((r) => setTimeout(r, 500));
    expect(b.standIn.messagesIn(922)).toHaveLength(1);
  }, 120_000);

  it("says not ready, with the reason, while the Telegram API cannot be reached", async () => {
    bot = await startTelegramBot();
    const b = bot;
    await dmLatencyMs(b, 931);
    const ready = await fetch(`${b.httpUrl}/readyz`);
    expect(ready.status).toBe(200);
    await b.standIn.close();
    let last: { status: number; body: { ready: boolean; reasons: string[] } } | undefined;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const res = await fetch(`${b.httpUrl}/readyz`);
      last = { status: res.status, body: (await res.json()) as { ready: boolean; reasons: string[] } };
      if (last.status === 503) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(last?.status).toBe(503);
    expect(last?.body.reasons.join("; ")).toMatch(/telegram/);
  }, 60_000);
});
