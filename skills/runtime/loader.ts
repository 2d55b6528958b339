/**
 * Reading skill packages from disk: the package.json (validated), and the entry script (inside the package
 * folder, symlinks resolved, size-capped). Also the list of linked development paths in the data folder.
 */
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, realpath, rename, stat, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { SwitchboardError } from "../../bot/index.ts";
import { parseSkillPackage, type SkillPackageInfo } from "../manifest.ts";

/** Largest entry script accepted, in bytes. */
export const MAX_ENTRY_BYTES = 5 * 1024 * 1024;

/** A package read from disk. */
export interface SkillPackage extends SkillPackageInfo {
  /** The package folder (real path). */
  dir: string;
  code: string;
}

/** Read and validate one package folder. Throws `E_SKILL_INVALID` naming the problem. */
export async function readSkillPackage(packageDir: string): Promise<SkillPackage> {
  let dir: string;
  try {
    dir = await realpath(resolve(packageDir));
  } catch {
    throw invalid(`no skill package at ${packageDir}`, "The skill package folder does not exist.");
  }
  let raw: string;
  try {
    raw = await readFile(join(dir, "package.json"), "utf8");
  } catch {
    throw invalid(`no package.json in ${dir}`, "The skill package has no package.json.");
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (error) {
    throw invalid(
      `package.json in ${dir} is not JSON: ${(error as Error).message}`,
      "The skill's package.json is not valid JSON.",
    );
  }
  const info = parseSkillPackage(json);
  const entryPath = resolve(dir, info.manifest.entry);
  let realEntry: string;
  try {
    realEntry = await realpath(entryPath);
  } catch {
    throw invalid(
      `entry ${info.manifest.entry} not found in ${dir}`,
      `The skill's entry file ${info.manifest.entry} is missing. Build it first.`,
    );
  }
  const inside = relative(dir, realEntry);
  if (inside.startsWith("..") || inside.startsWith(sep)) {
    throw invalid(
      `entry of ${info.name} points outside its package`,
      "The skill's entry file points outside its package.",
    );
  }
  const size = (await stat(realEntry)).size;
  if (size > MAX_ENTRY_BYTES)
    throw invalid(
      `entry of ${info.name} is ${size} bytes`,
      `The skill's entry file is larger than ${MAX_ENTRY_BYTES} bytes.`,
    );
  const code = await readFile(realEntry, "utf8");
  return { ...info, dir, code };
}

/**
 * Package folders directly under `dir` (and under `@scope/` folders): folders holding a package.json. Hidden and
 * staging folders are skipped, and so are the marketplace's `<name>/<version>/` folders (it loads those itself,
 * after verifying them).
 */
export async function listPackageDirs(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name.startsWith(".") || !(entry.isDirectory() || entry.isSymbolicLink())) continue;
    const path = join(dir, entry.name);
    if (entry.name.startsWith("@")) {
      for (const inner of await readdir(path, { withFileTypes: true })) {
        const innerPath = join(path, inner.name);
        if (
          !inner.name.startsWith(".") &&
          (inner.isDirectory() || inner.isSymbolicLink()) &&
          existsSync(join(innerPath, "package.json"))
        )
          out.push(innerPath);
      }
    } else if (existsSync(join(path, "package.json"))) {
      out.push(path);
    }
  }
  return out.sort();
}

/** Where linked development paths are kept. */
export function linkedListPath(dataDir: string): string {
  return join(dataDir, "skills-linked.json");
}

/** The linked paths (absolute). */
export async function readLinked(dataDir: string): Promise<string[]> {
  try {
    const parsed = JSON.parse(await readFile(linkedListPath(dataDir), "utf8")) as { paths?: unknown };
    return Array.isArray(parsed.paths) ? parsed.paths.filter((p): p is string => typeof p === "string") : [];
  } catch {
    return [];
  }
}

/** Replace the linked paths (written atomically). */
export async function writeLinked(dataDir: string, paths: string[]): Promise<void> {
  const file = linkedListPath(dataDir);
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify({ paths: [...new Set(paths)].sort() }, null, 2)}\n`);
  await rename(tmp, file);
}

function invalid(message: string, chatMessage: string): SwitchboardError {
  return new SwitchboardError("E_SKILL_INVALID", message, { chatMessage });
}
