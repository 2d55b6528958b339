/** `switchboard doctor` asks each platform and LLM endpoint, and reports what each answered. */
import { createServer } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../../helpers/cli.ts";
import { REFUSED_API_KEY, startOpenAiStandIn, type OpenAiStandIn } from "../../stand-ins/openai/server.ts";
import { SlackStandIn } from "../../stand-ins/slack/server.ts";
import { TelegramStandIn } from "../../stand-ins/telegram/server.ts";

describe("switchboard doctor: live checks", () => {
  let telegram: TelegramStandIn;
  let slack: SlackStandIn;
  let openai: OpenAiStandIn;
  afterAll(async () => {
    await telegram?.close();
    await slack?.stop();
    await openai?.close();
  });

  it("reports accepted, refused and unreachable endpoints as they answered", async () => {
    telegram = await TelegramStandIn.start();
    slack = await new SlackStandIn().start();
    openai = await startOpenAiStandIn();
    // A port nobody answers on: bound, then closed.
    const closedPort = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const { code, out } = await runCli(["doctor"], {
      env: {
        SWITCHBOARD_DATA_DIR: `/tmp/sb-doctor-${process.pid}`,
        TELEGRAM_BOT_TOKEN: telegram.token,
        TELEGRAM_API_ROOT: telegram.apiRoot,
        DISCORD_TOKEN: "discord-token-nobody-answers",
        DISCORD_APPLICATION_ID: "1",
        DISCORD_API_ROOT: `http://127.0.0.1:${closedPort}/api`,
        SLACK_BOT_TOKEN: slack.botToken,
        SLACK_APP_TOKEN: "xapp-refused",
        SLACK_API_URL: slack.apiUrl,
        OPENAI_BASE_URL: openai.baseUrl,
        OPENAI_API_KEY: REFUSED_API_KEY,
      },
    });
    expect(out).toMatch(/✓ telegram: getMe — token accepted, bot @switchboard_test_bot/);
    expect(out).toMatch(/✗ discord: \/users\/@me — API at .* unreachable \(ECONNREFUSED\)/);
    expect(out).toMatch(/✓ slack: auth\.test — bot token accepted/);
    expect(out).toMatch(/✗ slack: apps\.connections\.open — app token refused: invalid_auth/);
    expect(out).toMatch(/✗ llm: .*\/v1\/models refused the key \(401\)/);
    expect(out).not.toContain("discord-token-nobody-answers");
    expect(code).toBe(1);

    // A malformed Telegram token is refused by the platform, not shown as ✓.
    const bad = await runCli(["doctor"], {
      env: {
        SWITCHBOARD_DATA_DIR: `/tmp/sb-doctor-${process.pid}`,
        TELEGRAM_BOT_TOKEN: "not-a-token",
        TELEGRAM_API_ROOT: telegram.apiRoot,
        OPENAI_BASE_URL: openai.baseUrl,
        OPENAI_API_KEY: "sk-good",
      },
    });
    expect(bad.out).toMatch(/✗ telegram: getMe — refused: 401/);
    expect(bad.out).toMatch(/✓ llm: .*\/v1\/models — key accepted, 2 models listed/);
    expect(bad.code).toBe(1);
  }, 120_000);
});
