/** The core services and config sections schedules use; the composition root hands over exactly these. */
import type { ServiceNeeds, ServicesOf } from "../bot/index.ts";

/** Declared once; `SchedulesServices` and the composition root's pick both follow from it. */
export const SCHEDULES_NEEDS = {
  services: [
    "log",
    "clock",
    "store",
    "commands",
    "adapters",
    "permissions",
    "router",
    "capabilities",
    "track",
    "shutdownSignal",
    "apiAccess",
    "audit",
    "events",
  ],
  config: ["limits", "schedules"],
} as const satisfies ServiceNeeds;

/** What `createSchedulesPlugin` receives. */
export type SchedulesServices = ServicesOf<typeof SCHEDULES_NEEDS>;
