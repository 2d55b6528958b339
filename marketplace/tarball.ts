/**
 * Reading a package tarball safely. The skill SDK's reader (`@switchboard/skill-sdk/checks`, shared with the
 * author's `check`) parses it and checks every entry before anything touches the disk; the files are kept in
 * memory (bounded by the limits) and written to a staging folder only when the whole tarball passed, so what was
 * checked is exactly what is written.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, resolve, sep } from "node:path";
import {
  readPackageTarball as sdkReadPackageTarball,
  safeEntryPath as sdkSafeEntryPath,
  type TarballLimits,
} from "@switchboard/skill-sdk/checks";
import { SwitchboardError } from "../bot/index.ts";
import { fromKitError } from "../skills/index.ts";
import type { PackageFiles } from "./types.ts";

export type { TarballLimits };

/** Check one entry path and return it relative to the package root, or throw `E_SKILL_INVALID`. */
export function safeEntryPath(raw: string, name: string): string {
  try {
    return sdkSafeEntryPath(raw, name);
  } catch (error) {
    throw fromKitError(error);
  }
}

/** Parse a gzipped tarball into checked, in-memory files. Throws `E_SKILL_INVALID` with the reason. */
export async function readPackageTarball(tgz: Buffer, name: string, limits: TarballLimits): Promise<PackageFiles> {
  try {
    return await sdkReadPackageTarball(tgz, name, limits);
  } catch (error) {
    throw fromKitError(error);
  }
}

/** Write checked files under `dir` (which must not exist yet or be empty). Paths are re-checked against `dir`. */
export async function writePackageFiles(dir: string, pkg: PackageFiles): Promise<void> {
  const root = resolve(dir);
  for (const [rel, data] of pkg.files) {
    const target = resolve(root, rel);
    if (!target.startsWith(root + sep))
      throw new SwitchboardError("E_SKILL_INVALID", `entry ${rel} escapes the staging folder`);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, data, { flag: "wx", mode: 0o644 });
  }
}
