/** The core services and config sections the Telegram adapter uses; the adapter list hands over exactly these. */
import type { ServiceNeeds, ServicesOf } from "../../bot/index.ts";

/** Declared once; `TelegramServices` and the adapter list's pick both follow from it. */
export const TELEGRAM_NEEDS = {
  services: ["log", "kv", "commands", "clock", "journal"],
  config: ["adapters", "limits", "storage"],
} as const satisfies ServiceNeeds;

/** What `createTelegramAdapter` receives. */
export type TelegramServices = ServicesOf<typeof TELEGRAM_NEEDS>;
