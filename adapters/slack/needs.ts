/** The core services and config sections the Slack adapter uses; the adapter list hands over exactly these. */
import type { ServiceNeeds, ServicesOf } from "../../bot/index.ts";

/** Declared once; `SlackServices` and the adapter list's pick both follow from it. */
export const SLACK_NEEDS = {
  services: ["log", "clock", "journal", "track"],
  config: ["adapters", "http", "storage"],
} as const satisfies ServiceNeeds;

/** What `createSlackAdapter` receives. */
export type SlackServices = ServicesOf<typeof SLACK_NEEDS>;
