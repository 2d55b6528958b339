/**
 * The marketplace module's public entry: the plugin (the `/skills` command and loading installed skills after
 * checking them against the lockfile) and the service for embedders and tests. The CLI registration is `cli.ts`,
 * loaded by the CLI for commands other than `start`, so a running bot carries none of the author kit.
 */
import { watch, type FSWatcher } from "node:fs";
import { mkdir } from "node:fs/promises";
import type { Plugin, PluginStatus } from "../bot/index.ts";
import type { MarketplaceServices } from "./needs.ts";
export { MARKETPLACE_NEEDS, type MarketplaceServices } from "./needs.ts";
import { drainOutbox, OUTBOX_NAME } from "./audit-outbox.ts";
import { LOCKFILE_NAME } from "./lockfile.ts";
import { skillsCommand } from "./chat-command.ts";
import { marketplaceFor } from "./factory.ts";
import type { Marketplace, SkillRuntime } from "./service.ts";

export { marketplaceFor } from "./factory.ts";
export { Marketplace, type MarketplaceOptions, type SkillRuntime, type InstalledSkill } from "./service.ts";
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
export async function createMarketplacePlugin(
  core: MarketplaceServices,
  deps: { skills: SkillRuntime },
): Promise<MarketplacePlugin> {
  const marketplace = marketplaceFor(core, deps.skills);
  core.commands.register(
    skillsCommand(core, { marketplace, skills: deps.skills, approvalTtlMs: core.config.marketplace.approvalTtlMs }),
  );
  let summary = "not started";
  let state: PluginStatus["state"] = "down";
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  let syncing: Promise<unknown> = Promise.resolve();
  // Changes made by another process (the CLI) are picked up shortly after the lockfile is rewritten.
  const scheduleSync = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      syncing = core.track(
        syncing
          .then(async () => {
            await drainOutbox(marketplace.installer.skillsDir, (entry) => core.audit(entry));
            return marketplace.sync();
          })
          .then(
            (r) => {
              if (r.loaded.length + r.unloaded.length > 0) core.log.info(r, "installed skills changed on disk");
            },
            (error: unknown) => core.log.warn({ err: error }, "could not sync installed skills with the lockfile"),
          ),
      );
    }, 300);
  };
  return {
    name: "marketplace",
    marketplace,
    routes: async () => (await import("./api.ts")).marketplaceRoutes(core, { marketplace, skills: deps.skills }),
    async start() {
      await drainOutbox(marketplace.installer.skillsDir, (entry) => core.audit(entry)).catch((error: unknown) =>
        core.log.warn({ err: error }, "could not move CLI audit entries into the audit log"),
      );
      await marketplace.installer
        .cleanStaging()
        .catch((error: unknown) => core.log.warn({ err: error }, "could not clean the skills staging folder"));
      if (!core.config.marketplace.loadOnStart) {
        summary = "installed skills not loaded (marketplace.loadOnStart is off)";
        state = "off";
        return;
      }
      const { loaded, refused } = await marketplace.loadAll();
      state = refused.length === 0 ? "ok" : "degraded";
      summary = `${loaded.length} installed skill(s) loaded${refused.length === 0 ? "" : `, ${refused.length} refused (${refused.map((r) => r.name).join(", ")})`}`;
      if (refused.length > 0) core.log.warn({ refused }, "some installed skills were refused");
      try {
        await mkdir(marketplace.installer.skillsDir, { recursive: true });
        watcher = watch(marketplace.installer.skillsDir, (_event, file) => {
          if (file === LOCKFILE_NAME || file === OUTBOX_NAME) scheduleSync();
        });
        watcher.on("error", (error) => core.log.warn({ err: error }, "stopped watching the skills lockfile"));
      } catch (error) {
        core.log.warn({ err: error }, "cannot watch the skills lockfile; CLI installs load at the next start");
      }
    },
    async stop() {
      watcher?.close();
      if (timer !== undefined) clearTimeout(timer);
      await syncing;
      core.commands.unregister("skills");
    },
    status() {
      return { state, detail: `${summary}; registry ${core.config.marketplace.registry}` };
    },
  };
}
