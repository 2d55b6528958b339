/** The core services and config sections the LLM module uses; the composition root hands over exactly these. */
import type { ServiceNeeds, ServicesOf } from "../bot/index.ts";

/** Declared once; `LlmServices` and the composition root's pick both follow from it. */
export const LLM_NEEDS = {
  services: [
    "log",
    "clock",
    "store",
    "kv",
    "commands",
    "permissions",
    "router",
    "adapters",
    "metrics",
    "tools",
    "capabilities",
    "track",
    "apiAccess",
    "events",
  ],
  config: ["bot", "llm", "limits"],
} as const satisfies ServiceNeeds;

/** What `createLlmPlugin` receives. */
export type LlmServices = ServicesOf<typeof LLM_NEEDS>;
