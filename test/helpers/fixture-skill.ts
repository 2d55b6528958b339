/**
 * A variant of a fixture skill for one test: the fixture's folder copied, its manifest's name and `switchboard`
 * fields replaced, and its entry written anew.
 */
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface SkillVariant {
  /** The fixture folder to copy. */
  from: string;
  /** Where the copy goes. */
  to: string;
  /** The package name. */
  name: string;
  /** Fields of the manifest's `switchboard` object to set (commands, tools, limits, settings …). */
  switchboard: Record<string, unknown>;
  /** The entry's source (`index.js`). */
  code: string;
}

/** Write the variant; returns its folder. */
export function writeSkillVariant(v: SkillVariant): string {
  cpSync(v.from, v.to, { recursive: true });
  const pkg = JSON.parse(readFileSync(join(v.to, "package.json"), "utf8")) as {
    name: string;
    switchboard: Record<string, unknown>;
  };
  pkg.name = v.name;
  Object.assign(pkg.switchboard, v.switchboard);
  writeFileSync(join(v.to, "package.json"), JSON.stringify(pkg));
  writeFileSync(join(v.to, "index.js"), v.code);
  return v.to;
}
