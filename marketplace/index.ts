/**
 * The marketplace module's public entry: the plugin (the `/skills` command and loading installed skills after
 * checking them against the lockfile), the CLI registration, and the service for embedders and tests.
 */
import type { Core, Plugin } from "../bot/index.ts";
import { skillsCommand } from "./chat-command.ts";
import { marketplaceFor } from "./factory.ts";
import type { Marketplace, SkillRuntime } from "./service.ts";

export { marketplaceFor } from "./factory.ts";
export { Marketplace, type MarketplaceOptions, type SkillRuntime, type InstalledSkill } from "./service.ts";
export { registerMarketplaceCli } from "./cli.ts";
export { Installer, parseSpec, type InstallPlan, type InstallResult, type InstallOptions } from "./installer.ts";
export { RegistryClient } from "./registry.ts";
export { flattenPermissions, diffPermissions } from "./permission-diff.ts";
export { SKILL_KEYWORD } from "./types.ts";

/** The plugin, with its service. */
export interface MarketplacePlugin extends Plugin {
  readonly marketplace: Marketplace;
}

/**
 * Create the marketplace plugin: registers `/skills` and, at start, loads every installed skill whose files
 * match the lockfile (a tampered one is refused, logged and audited).
 */
export async function createMarketplacePlugin(core: Core, deps: { skills: SkillRuntime }): Promise<MarketplacePlugin> {
  const marketplace = marketplaceFor(core, deps.skills);
  core.commands.register(skillsCommand(core, marketplace, deps.skills, { approvalTtlMs: core.config.marketplace.approvalTtlMs }));
  let summary = "not started";
  return {
    name: "marketplace",
    marketplace,
    async start() {
      if (!core.config.marketplace.loadOnStart) {
        summary = "installed skills not loaded (marketplace.loadOnStart is off)";
        return;
      }
      const { loaded, refused } = await marketplace.loadAll();
      summary = `${loaded.length} installed skill(s) loaded${refused.length === 0 ? "" : `, ${refused.length} refused (${refused.map((r) => r.name).join(", ")})`}`;
      if (refused.length > 0) core.log.warn({ refused }, "some installed skills were refused");
    },
    async stop() {
      core.commands.unregister("skills");
    },
    status() {
      return `marketplace: ${summary}; registry ${core.config.marketplace.registry}`;
    },
  };
}
