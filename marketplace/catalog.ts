/**
 * Every skill command the bot would register, from config and the lockfile alone (no store, no skill host): the
 * built-in and linked skills' manifests, then each locked package's installed manifest.
 */
import { join } from "node:path";
import type { CommandInfo } from "../bot/index.ts";
import type { Config } from "../config/index.ts";
import { BUILTIN_DIR, installedSkillsDir } from "../skills/index.ts";
import { builtinAndLinkedDirs, commandInfosIn } from "../skills/catalog.ts";
import { LockfileStore } from "./lockfile.ts";

/** Skill commands, built-in, linked and installed, as menus show them. */
export async function skillCommandCatalog(config: Pick<Config, "bot" | "skills">): Promise<CommandInfo[]> {
  const skillsDir = installedSkillsDir({ config });
  const lock = await new LockfileStore(skillsDir).read();
  const installed = Object.values(lock.skills).map((entry) => join(skillsDir, ...entry.name.split("/"), entry.version));
  const dirs = await builtinAndLinkedDirs({
    builtinDir: BUILTIN_DIR,
    builtins: config.skills.builtins,
    dataDir: config.bot.dataDir,
  });
  return commandInfosIn([...dirs, ...installed]);
}
