/**
 * Build the marketplace service for a core's config, with the folders the skill runtime uses.
 */
import type { Core } from "../bot/index.ts";
import { installedSkillsDir } from "../skills/index.ts";
import { Marketplace, type MarketplaceOptions, type SkillRuntime } from "./service.ts";

/** Build the marketplace service for a core (folders from config; audit and data purge through its store). */
export function marketplaceFor(
  core: Pick<Core, "audit" | "log" | "clock" | "store"> & {
    readonly config: Pick<Core["config"], "bot" | "marketplace" | "skills">;
  },
  skills?: SkillRuntime,
  overrides: Pick<MarketplaceOptions, "audit"> = {},
): Marketplace {
  const { skillsDir, cacheDir } = Marketplace.dirs(core.config.bot.dataDir, installedSkillsDir(core));
  return new Marketplace({
    config: core.config.marketplace,
    skillsDir,
    cacheDir,
    skills,
    audit: overrides.audit ?? ((entry) => core.audit(entry)),
    purgeData: async (skill) => {
      // The skill's storage (`skill:<name>`, every chat), and its per-chat settings and secrets, which the runtime
      // keeps under `skills.settings` / <chat> / <skill>.
      let removed = await core.store.kv.clear(`skill:${skill}`);
      for (const chat of await core.store.chats.list()) {
        if (await core.store.kv.delete("skills.settings", chat.chatKey, skill)) removed++;
      }
      return removed;
    },
    log: core.log.child({ module: "marketplace" }),
    clock: core.clock,
  });
}
