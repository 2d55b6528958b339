/**
 * Every adapter factory the composition root knows. A factory returns undefined when its platform is not
 * configured (no token), so the bot starts with whatever is set. A platform's module (and its SDK: @discordjs/ws and @discordjs/rest,
 * Bolt, grammY — 20 to 56 MB resident and 0.2 to 2.7 s each to import) is imported only when its token is set.
 */
import { type ChannelAdapter, type Core, pickServices } from "../bot/index.ts";
import { DISCORD_NEEDS } from "./discord/needs.ts";
import { SLACK_NEEDS } from "./slack/needs.ts";
import { TELEGRAM_NEEDS } from "./telegram/needs.ts";

/** Creates an adapter from the core services, or undefined when its platform is not configured. */
export type AdapterFactory = (core: Core) => ChannelAdapter | undefined | Promise<ChannelAdapter | undefined>;

/** The platform adapters, in start order (the console and the web chat are added by the composition root itself). */
export const adapterFactories: Record<string, AdapterFactory> = {
  telegram: async (core) =>
    core.config.adapters.telegram.token === undefined
      ? undefined
      : (await import("./telegram/index.ts")).createTelegramAdapter(pickServices(core, TELEGRAM_NEEDS)),
  discord: async (core) =>
    core.config.adapters.discord.token === undefined
      ? undefined
      : (await import("./discord/index.ts")).createDiscordAdapter(pickServices(core, DISCORD_NEEDS)),
  slack: async (core) =>
    core.config.adapters.slack.token === undefined
      ? undefined
      : (await import("./slack/index.ts")).createSlackAdapter(pickServices(core, SLACK_NEEDS)),
};
