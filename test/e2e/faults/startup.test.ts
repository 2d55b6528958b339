/**
 * `switchboard start` as an operator runs it: a platform that cannot be reached delays nobody else and logs
 * each attempt; fatal errors (a taken port, a config an adapter cannot run with, Redis away) end the process
 * non-zero within a second of saying why; a console-only session does not need the HTTP port.
 */
import { createServer as createNetServer, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { spawnBot, type SpawnedBot } from "../../helpers/spawn-bot.ts";
import { SlackStandIn } from "../../stand-ins/slack/server.ts";

/** A port with a listener on it (taken), or one that was just closed (refusing connections). */
async function port(options: { keepOpen: boolean }): Promise<{ port: number; server: Server }> {
  const server = createNetServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  if (!options.keepOpen) await new Promise((resolve) => server.close(resolve));
  return { port: address.port, server };
}

/** Milliseconds from the first stderr line matching `pattern` to the process's exit. */
async function exitAfterMessage(bot: SpawnedBot, pattern: RegExp): Promise<{ code: number | null; ms: number }> {
  await bot.waitFor(() => pattern.test(bot.stderr), 120_000, `the message ${pattern}`);
  const seenAt = performance.now();
  const code = await bot.exited;
  return { code, ms: performance.now() - seenAt };
}

describe("switchboard start: start-up and fatal errors", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  }, 60_000);

  it("brings Slack up within 5 s while the Telegram API is unreachable, and logs Telegram's retries", async () => {
    const slack = await new SlackStandIn({ socketPingIntervalMs: 2_000 }).start();
    cleanups.push(() => slack.stop());
    const closed = await port({ keepOpen: false });
    const bot = spawnBot({
      SWITCHBOARD_HTTP__PORT: "0",
      LOG_LEVEL: "info",
      TELEGRAM_BOT_TOKEN: "123456:unreachable",
      TELEGRAM_API_ROOT: `http://127.0.0.1:${closed.port}`,
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_APP_TOKEN: slack.appToken,
      SLACK_API_URL: slack.apiUrl,
    });
    cleanups.push(() => bot.stop());
    await bot.waitFor(() => /adapter starting.*platform=telegram/.test(bot.stderr), 120_000, "adapters starting");
    const startingAt = performance.now();
    await bot.waitFor(() => slack.openSockets === 1, 30_000, "the Slack socket");
    const slackUpMs = performance.now() - startingAt;
    console.log(`slack up ${slackUpMs.toFixed(0)} ms after the adapters began starting (telegram unreachable)`);
    expect(slackUpMs).toBeLessThan(5_000);
    // Each Telegram attempt is logged with its error, and it keeps trying.
    await bot.waitFor(
      () => (bot.stderr.match(/reconnecting.*adapter=telegram polling.*err=/g) ?? []).length >= 2,
      30_000,
      "two logged Telegram retries",
    );
    expect(bot.stderr).toMatch(/reconnecting.*adapter=telegram polling.*attempt=1.*err=.*getMe/);
    expect(bot.exitCode).toBeNull();
  }, 180_000);

  it("exits non-zero within a second when the HTTP port is taken", async () => {
    const taken = await port({ keepOpen: true });
    cleanups.push(() => new Promise((resolve) => taken.server.close(() => resolve())));
    const bot = spawnBot({ SWITCHBOARD_HTTP__PORT: String(taken.port), SWITCHBOARD_HTTP__ENABLED: "true" });
    cleanups.push(() => bot.stop());
    const { code, ms } = await exitAfterMessage(bot, /already in use/);
    console.log(`taken port: exit ${code} ${ms.toFixed(0)} ms after the message`);
    expect(code).not.toBe(0);
    expect(ms).toBeLessThan(1_000);
  }, 180_000);

  it("runs a console-only session although the HTTP port is taken (no listener is needed)", async () => {
    const taken = await port({ keepOpen: true });
    cleanups.push(() => new Promise((resolve) => taken.server.close(() => resolve())));
    const bot = spawnBot({ SWITCHBOARD_HTTP__PORT: String(taken.port) });
    cleanups.push(() => bot.stop());
    bot.child.stdin.end("/whoami\n");
    const code = await bot.exited;
    expect(bot.stdout).toContain("Platform: console");
    expect(code).toBe(0);
  }, 180_000);

  it("exits non-zero within a second when an adapter's config cannot work (Slack HTTP mode without a signing secret)", async () => {
    const bot = spawnBot({ SWITCHBOARD_HTTP__PORT: "0", SLACK_BOT_TOKEN: "xoxb-1" });
    cleanups.push(() => bot.stop());
    const { code, ms } = await exitAfterMessage(bot, /HTTP mode needs signingSecret/);
    expect(code).not.toBe(0);
    expect(ms).toBeLessThan(1_000);
  }, 180_000);

  it("stops start-up when Redis does not answer, or runs on in-process state with a loud warning when allowed", async () => {
    const closed = await port({ keepOpen: false });
    const redisUrl = `redis://127.0.0.1:${closed.port}`;
    const strict = spawnBot({ REDIS_URL: redisUrl });
    cleanups.push(() => strict.stop());
    const { code, ms } = await exitAfterMessage(strict, /Redis at .* does not answer/);
    expect(code).not.toBe(0);
    expect(ms).toBeLessThan(1_000);
    expect(strict.stderr).toMatch(/storage\.redisRequired: false/);

    const lenient = spawnBot({ REDIS_URL: redisUrl, SWITCHBOARD_STORAGE__REDIS_REQUIRED: "false" });
    cleanups.push(() => lenient.stop());
    lenient.child.stdin.end("/whoami\n");
    expect(await lenient.exited).toBe(0);
    expect(lenient.stderr).toMatch(/REDIS UNREACHABLE: running on IN-PROCESS shared state/);
    expect(lenient.stdout).toContain("Platform: console");
  }, 180_000);
});
