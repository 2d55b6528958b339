/**
 * The three platforms' stand-ins side by side, for a bot run as its own process (the footprint bench, the
 * journey test): one set per bot, and the environment that points `switchboard start` at them.
 */
import { DiscordStandIn } from "./discord/server.ts";
import { SlackStandIn } from "./slack/server.ts";
import { TelegramStandIn } from "./telegram/server.ts";

/** Telegram, Discord and Slack stand-ins on loopback. */
export interface Platforms {
  telegram: TelegramStandIn;
  discord: DiscordStandIn;
  slack: SlackStandIn;
  /** Tokens and API roots for `switchboard start` (Slack in Socket Mode, Telegram polling). */
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startPlatforms(): Promise<Platforms> {
  const telegram = await TelegramStandIn.start();
  const discord = await new DiscordStandIn({ heartbeatIntervalMs: 30_000 }).listen();
  const slack = await new SlackStandIn().start();
  return {
    telegram,
    discord,
    slack,
    env: {
      TELEGRAM_BOT_TOKEN: telegram.token,
      TELEGRAM_API_ROOT: telegram.apiRoot,
      SWITCHBOARD_ADAPTERS__TELEGRAM__POLL_TIMEOUT_SECONDS: "10",
      DISCORD_TOKEN: discord.token,
      DISCORD_APPLICATION_ID: discord.applicationId,
      DISCORD_API_ROOT: discord.apiRoot,
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_APP_TOKEN: slack.appToken,
      SLACK_API_URL: slack.apiUrl,
    },
    async close() {
      await Promise.all([telegram.close(), discord.close(), slack.stop()]);
    },
  };
}
