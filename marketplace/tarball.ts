/**
 * Reading a package tarball safely. node-tar parses it; every entry is checked before anything touches the disk:
 * only regular files and folders, no absolute paths, no `..`, no backslashes or NUL, no duplicates, and limits
 * on file count and unpacked size. The files are kept in memory (bounded by those limits) and written to a
 * staging folder only when the whole tarball passed, so what was checked is exactly what is written.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, resolve, sep } from "node:path";
import { Parser, type ReadEntry } from "tar";
import { SwitchboardError } from "../bot/index.ts";
import type { PackageFiles } from "./types.ts";

/** Limits on what a tarball may unpack to. */
export interface TarballLimits {
  maxFiles: number;
  maxUnpackedBytes: number;
}

function refuse(reason: string, name: string): SwitchboardError {
  return new SwitchboardError("E_SKILL_INVALID", `${name}: ${reason}`, {
    chatMessage: `Refused ${name}: ${reason}.`,
    details: { reason },
  });
}

/** Check one entry path and return it relative to the package root, or throw. */
export function safeEntryPath(raw: string, name: string): string {
  if (raw.includes("\0")) throw refuse(`entry ${JSON.stringify(raw)} contains a NUL byte`, name);
  if (raw.includes("\\")) throw refuse(`entry ${JSON.stringify(raw)} contains a backslash`, name);
  if (raw.startsWith("/") || /^[A-Za-z]:/.test(raw))
    throw refuse(`entry ${JSON.stringify(raw)} is an absolute path`, name);
  const parts = raw.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.some((p) => p === "..")) throw refuse(`entry ${JSON.stringify(raw)} escapes the package folder (..)`, name);
  // npm strips the top folder (`package/` by convention) whatever it is called.
  const rel = parts.slice(1).join("/");
  return rel;
}

/** Parse a gzipped tarball into checked, in-memory files. Throws `E_SKILL_INVALID` with the reason. */
export async function readPackageTarball(tgz: Buffer, name: string, limits: TarballLimits): Promise<PackageFiles> {
  const files = new Map<string, Buffer>();
  const seen = new Set<string>();
  let totalBytes = 0;
  let failure: SwitchboardError | undefined;
  const parser = new Parser({ strict: true });

  const onEntry = (entry: ReadEntry): void => {
    if (failure !== undefined) {
      entry.resume();
      return;
    }
    try {
      const type = entry.type;
      if (type === "SymbolicLink" || type === "Link") {
        throw refuse(
          `entry ${JSON.stringify(entry.path)} is a ${type === "Link" ? "hard link" : "symbolic link"} (links are not allowed)`,
          name,
        );
      }
      if (type !== "File" && type !== "OldFile" && type !== "ContiguousFile" && type !== "Directory") {
        throw refuse(`entry ${JSON.stringify(entry.path)} has type ${type} (only files and folders are allowed)`, name);
      }
      const rel = safeEntryPath(entry.path, name);
      if (type === "Directory" || rel === "") {
        entry.resume();
        return;
      }
      const key = rel.toLowerCase();
      if (seen.has(key)) throw refuse(`entry ${JSON.stringify(rel)} appears twice`, name);
      seen.add(key);
      if (files.size + 1 > limits.maxFiles) throw refuse(`more than ${limits.maxFiles} files`, name);
      totalBytes += entry.size;
      if (totalBytes > limits.maxUnpackedBytes)
        throw refuse(`unpacks to more than ${limits.maxUnpackedBytes} bytes`, name);
      const chunks: Buffer[] = [];
      entry.on("data", (chunk: Buffer) => chunks.push(chunk));
      entry.on("end", () => files.set(rel, Buffer.concat(chunks)));
    } catch (error) {
      failure = error as SwitchboardError;
      entry.resume();
    }
  };
  parser.on("entry", onEntry);

  await new Promise<void>((resolvePromise, reject) => {
    parser.on("error", (error: Error) => reject(refuse(`the tarball is corrupt (${error.message})`, name)));
    parser.on("end", () => resolvePromise());
    parser.on("close", () => resolvePromise());
    parser.end(tgz);
  });
  if (failure !== undefined) throw failure;
  if (!files.has("package.json")) throw refuse("the package has no package.json", name);
  return { files, totalBytes };
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
