/** The core services and config sections the hooks module uses; the composition root hands over exactly these. */
import type { ServiceNeeds, ServicesOf } from "../bot/index.ts";

/** Declared once; `HooksServices` and the composition root's pick both follow from it. */
export const HOOKS_NEEDS = {
  services: [
    "log",
    "clock",
    "store",
    "commands",
    "adapters",
    "metrics",
    "audit",
    "track",
    "events",
    "http",
    "sharedWindows",
  ],
  config: ["hooks", "http", "bot"],
} as const satisfies ServiceNeeds;

/** What `createHooksPlugin` receives. */
export type HooksServices = ServicesOf<typeof HOOKS_NEEDS>;
