/** The core services and config sections the Discord adapter uses; the adapter list hands over exactly these. */
import type { ServiceNeeds, ServicesOf } from "../../bot/index.ts";

/** Declared once; `DiscordServices` and the adapter list's pick both follow from it. */
export const DISCORD_NEEDS = {
  services: ["log", "kv", "clock", "commands", "journal", "track"],
  config: ["adapters", "limits", "storage"],
} as const satisfies ServiceNeeds;

/** What `createDiscordAdapter` receives. */
export type DiscordServices = ServicesOf<typeof DISCORD_NEEDS>;
