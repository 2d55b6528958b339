/**
 * The feature modules the composition root plugs in, in start order. Each module exports a factory taking the
 * core services (and, where one module builds on another, that module's service, passed here explicitly).
 */
import type { Core, Plugin } from "../core.ts";
import { createSkillsPlugin } from "../../skills/index.ts";
import { createMarketplacePlugin } from "../../marketplace/index.ts";
import { createSchedulesPlugin } from "../../schedules/index.ts";
import { createLlmPlugin } from "../../llm/index.ts";

/** Create every feature plugin. Order matters: later plugins may use earlier ones' services. */
export async function createPlugins(core: Core): Promise<Plugin[]> {
  const plugins: Plugin[] = [];
  const skills = await createSkillsPlugin(core);
  plugins.push(skills);
  plugins.push(await createMarketplacePlugin(core, { skills: skills.service }));
  plugins.push(await createLlmPlugin(core));
  plugins.push(await createSchedulesPlugin(core));
  void core;
  return plugins;
}
