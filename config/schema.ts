/** The whole configuration schema, composed from one section per module (`sections/`). */
import { z } from "zod";
import {
  botSection,
  httpSection,
  limitsSection,
  logSection,
  permissionsSection,
  storageSection,
} from "./sections/core.ts";
import { consoleSection, discordSection, slackSection, telegramSection, webSection } from "./sections/adapters.ts";
import { skillsSection } from "./sections/skills.ts";
import { marketplaceSection } from "./sections/marketplace.ts";
import { llmSection } from "./sections/llm.ts";
import { schedulesSection } from "./sections/schedules.ts";
import { gatewaySection } from "./sections/gateway.ts";
import { hooksSection } from "./sections/hooks.ts";

export const configSchema = z
  .object({
    bot: botSection,
    http: httpSection,
    log: logSection,
    storage: storageSection,
    limits: limitsSection,
    permissions: permissionsSection,
    adapters: z
      .object({
        console: consoleSection,
        telegram: telegramSection,
        discord: discordSection,
        slack: slackSection,
        web: webSection,
      })
      .strict()
      .default({
        console: consoleSection.parse(undefined),
        telegram: telegramSection.parse(undefined),
        discord: discordSection.parse(undefined),
        slack: slackSection.parse(undefined),
        web: webSection.parse(undefined),
      }),
    skills: skillsSection,
    marketplace: marketplaceSection,
    llm: llmSection,
    schedules: schedulesSection,
    gateway: gatewaySection,
    hooks: hooksSection,
  })
  .strict();

/** The validated configuration. */
export type Config = z.infer<typeof configSchema>;

/** Config input as written in a file (everything optional). */
export type ConfigInput = z.input<typeof configSchema>;
