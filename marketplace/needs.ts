/** The core services and config sections the marketplace uses; the composition root hands over exactly these. */
import type { ServiceNeeds, ServicesOf } from "../bot/index.ts";

/** Declared once; `MarketplaceServices` and the composition root's pick both follow from it. */
export const MARKETPLACE_NEEDS = {
  services: ["log", "clock", "store", "kv", "commands", "audit", "track", "apiAccess", "permissions"],
  config: ["bot", "marketplace", "skills"],
} as const satisfies ServiceNeeds;

/** What `createMarketplacePlugin` receives. */
export type MarketplaceServices = ServicesOf<typeof MARKETPLACE_NEEDS>;
