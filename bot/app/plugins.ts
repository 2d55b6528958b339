/**
 * The feature modules the composition root plugs in, in start order. Each module declares the core services and
 * config sections it uses (`*_NEEDS`) and gets exactly those (`pickServices`), not the whole `Core`; where one
 * module builds on another (the marketplace on the skill runtime) that service is passed here explicitly.
 */
import { type Core, type Plugin, pickServices } from "../core.ts";
import { createSkillsPlugin, SKILLS_NEEDS } from "../../skills/index.ts";
import { createMarketplacePlugin, MARKETPLACE_NEEDS } from "../../marketplace/index.ts";
import { createSchedulesPlugin, SCHEDULES_NEEDS } from "../../schedules/index.ts";
import { createLlmPlugin, LLM_NEEDS } from "../../llm/index.ts";
import { createGatewayPlugin, GATEWAY_NEEDS } from "../../gateway/index.ts";
import { createHooksPlugin, HOOKS_NEEDS } from "../../hooks/index.ts";

/** Create every feature plugin. Order matters: later plugins may use earlier ones' services. */
export async function createPlugins(core: Core): Promise<Plugin[]> {
  const plugins: Plugin[] = [];
  const skills = await createSkillsPlugin(pickServices(core, SKILLS_NEEDS));
  plugins.push(skills);
  plugins.push(await createMarketplacePlugin(pickServices(core, MARKETPLACE_NEEDS), { skills: skills.service }));
  const llm = await createLlmPlugin(pickServices(core, LLM_NEEDS));
  plugins.push(llm);
  plugins.push(await createGatewayPlugin(pickServices(core, GATEWAY_NEEDS), { llm: llm.service }));
  plugins.push(await createSchedulesPlugin(pickServices(core, SCHEDULES_NEEDS)));
  plugins.push(await createHooksPlugin(pickServices(core, HOOKS_NEEDS)));
  return plugins;
}
