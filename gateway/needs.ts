/** The core services and config sections the gateway uses; the composition root hands over exactly these. */
import type { ServiceNeeds, ServicesOf } from "../bot/index.ts";

/** Declared once; `GatewayServices` and the composition root's pick both follow from it. */
export const GATEWAY_NEEDS = {
  services: ["log", "clock", "store", "kv", "commands", "adapters", "metrics", "audit", "track"],
  config: ["gateway"],
} as const satisfies ServiceNeeds;

/** What `createGatewayPlugin` receives. */
export type GatewayServices = ServicesOf<typeof GATEWAY_NEEDS>;
