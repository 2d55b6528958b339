/** The core services and config sections the skill runtime uses; the composition root hands over exactly these. */
import type { ServiceNeeds, ServicesOf } from "../bot/index.ts";

/** Declared once; `SkillsServices` and the composition root's pick both follow from it. */
export const SKILLS_NEEDS = {
  services: [
    "log",
    "clock",
    "store",
    "commands",
    "adapters",
    "metrics",
    "tools",
    "capabilities",
    "audit",
    "track",
    "events",
    "permissions",
    "shutdownSignal",
  ],
  config: ["bot", "skills", "limits"],
} as const satisfies ServiceNeeds;

/** What `createSkillsPlugin` receives. */
export type SkillsServices = ServicesOf<typeof SKILLS_NEEDS>;
