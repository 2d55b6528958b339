/**
 * Skills' commands as native menus see them, read from their manifests on disk without loading any skill: for
 * `switchboard slack manifest`, which must not open the store of a running bot. The same manifest fields become
 * the registered command tree (`service.ts`), so menus and the router agree.
 */
import type { CommandInfo, Role } from "../bot/index.ts";
import type { ManifestCommand } from "./manifest.ts";
import { listPackageDirs, readLinked, readSkillPackage } from "./runtime/loader.ts";

/** A manifest command as a menu entry, subcommands included. */
export function commandInfoOf(command: ManifestCommand): CommandInfo {
  const role: Role = command.defaultRole;
  const info: CommandInfo = { name: command.name, description: command.description, defaultRole: role };
  if (command.args !== undefined) info.args = command.args.map((a) => ({ ...a }));
  if (command.subcommands !== undefined) {
    info.subcommands = command.subcommands.map((sub) => ({
      name: sub.name,
      description: sub.description,
      defaultRole: sub.defaultRole ?? role,
      ...(sub.args === undefined ? {} : { args: sub.args.map((a) => ({ ...a })) }),
    }));
  }
  return info;
}

/** The commands of the skill packages in these folders; a folder that is not a valid package is skipped. */
export async function commandInfosIn(dirs: readonly string[]): Promise<CommandInfo[]> {
  const out: CommandInfo[] = [];
  for (const dir of dirs) {
    try {
      const pkg = await readSkillPackage(dir);
      out.push(...pkg.manifest.commands.map(commandInfoOf));
    } catch {
      // an invalid package is refused at load too; its commands never exist
    }
  }
  return out;
}

/** The folders of the built-in skills (when on) and the linked ones. */
export async function builtinAndLinkedDirs(o: {
  builtinDir: string;
  builtins: boolean;
  dataDir: string;
}): Promise<string[]> {
  return [...(o.builtins ? await listPackageDirs(o.builtinDir) : []), ...(await readLinked(o.dataDir))];
}
