/**
 * Every adapter factory the composition root knows. A factory returns undefined when its platform is not
 * configured (no token), so the bot starts with whatever is set.
 */
import type { ChannelAdapter, Core } from "../bot/index.ts";
import { createSlackAdapter } from "./slack/index.ts";
import { createTelegramAdapter } from "./telegram/index.ts";
import { createDiscordAdapter } from "./discord/index.ts";

/** Creates an adapter from the core services, or undefined when its platform is not configured. */
export type AdapterFactory = (core: Core) => ChannelAdapter | undefined | Promise<ChannelAdapter | undefined>;

/** The platform adapters, in start order (console is added by the composition root itself). */
export const adapterFactories: Record<string, AdapterFactory> = {
  telegram: (core) => createTelegramAdapter(core),
  discord: (core) => createDiscordAdapter(core),
  slack: (core) => createSlackAdapter(core),
};
