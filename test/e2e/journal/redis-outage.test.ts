/**
 * Redis lost while the bot runs (through a TCP proxy the test cuts, never the shared server): `/readyz` goes 503,
 * Telegram updates that arrive meanwhile are journaled and held, nothing is answered until Redis answers again,
 * and then every one is answered exactly once.
 */
import { afterAll, describe, expect, it } from "vitest";
import { redisProxy } from "../../helpers/redis-proxy.ts";
import { serviceAvailable } from "../../helpers/services.ts";
import { spawnBot, type SpawnedBot } from "../../helpers/spawn-bot.ts";
import { TelegramStandIn } from "../../stand-ins/telegram/server.ts";
import { httpPortOf, waitHttp } from "./crash.ts";

const CHAT_BASE = 900_000;
const DURING = 10;

async function readyz(bot: SpawnedBot): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${httpPortOf(bot)}/readyz`).catch(() => undefined);
  return res?.status ?? 0;
}

describe("journal: a Redis outage while running", { timeout: 300_000 }, () => {
  let standIn: TelegramStandIn | undefined;
  let proxy: Awaited<ReturnType<typeof redisProxy>> | undefined;
  let bot: SpawnedBot | undefined;
  afterAll(async () => {
    await bot?.stop();
    await proxy?.close();
    await standIn?.close();
  });

  it("holds what arrives while Redis is down and answers all of it, once, after Redis is back", async () => {
    if (!(await serviceAvailable("redis"))) return;
    standIn = await TelegramStandIn.start(`${100_000 + Math.floor(Math.random() * 900_000)}:OUTAGE`);
    proxy = await redisProxy();
    const s = standIn;
    bot = spawnBot({
      SWITCHBOARD_HTTP__PORT: "0",
      LOG_LEVEL: "info",
      TELEGRAM_BOT_TOKEN: s.token,
      TELEGRAM_API_ROOT: s.apiRoot,
      REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
    });
    const b = bot;
    await waitHttp(b);
    s.queueMessage({ chatId: CHAT_BASE, userId: CHAT_BASE, text: "/whoami" });
    await s.waitFor(() => s.messagesIn(CHAT_BASE).length === 1, 60_000, "the answer before the outage");

    proxy.cut();
    await b.waitFor(() => /a store is down/.test(b.stderr), 30_000, "the bot noticing Redis is down");
    expect(await readyz(b)).toBe(503);
    for (let i = 1; i <= DURING; i++) s.queueMessage({ chatId: CHAT_BASE + i, userId: CHAT_BASE + i, text: "/whoami" });
    // Taken from Telegram (journaled, the offset moved past them) and held, not answered.
    await s.waitFor(() => s.pendingCount === 0, 30_000, "the updates taken from Telegram");
    await new Promise((r) => setTimeout(r, 3_000));
    const answeredDuring = Array.from({ length: DURING }, (_, i) => s.messagesIn(CHAT_BASE + 1 + i).length);
    expect(answeredDuring.reduce((a, n) => a + n, 0)).toBe(0);

    proxy.restore();
    await s.waitFor(
      () => Array.from({ length: DURING }, (_, i) => s.messagesIn(CHAT_BASE + 1 + i).length).every((n) => n >= 1),
      90_000,
      `every held command answered (stderr: ${b.stderr.slice(-2_000)})`,
    );
    await new Promise((r) => setTimeout(r, 2_000));
    const counts = Array.from({ length: DURING }, (_, i) => s.messagesIn(CHAT_BASE + 1 + i).length);
    console.log(`redis outage: answers per held command ${JSON.stringify(counts)}`);
    expect(counts).toEqual(Array.from({ length: DURING }, () => 1));
    expect(await readyz(b)).toBe(200);
  });
});
