/**
 * Checks a skill package as the installer sees it, before anything is written. `readPackageTarball` parses a
 * gzipped tarball with node-tar and checks every entry before it is kept: only regular files and folders, no
 * absolute paths, no `..`, no backslashes or NUL, no duplicates, limits on file count and unpacked size; the files
 * stay in memory (bounded by those limits). `checkPackage` then checks the files: the package.json must be the
 * version the registry described (same name and version), carry the `switchboard-skill` keyword and a
 * `switchboard` manifest the runtime's schema accepts, name an entry file that is in the package, and the entry
 * must not use a capability the manifest does not ask for (a static scan: the runtime enforces grants at run time
 * anyway; this refuses packages that lie about what they do). The marketplace installer and `switchboard-skill
 * check` run these same functions.
 */
import type { ReadEntry } from "tar";
import { SkillKitError } from "./errors.ts";
import { SKILL_KEYWORD, validateManifest } from "./manifest.ts";
import { flattenPermissions } from "./permissions.ts";

/** The files of a package, read from its tarball (paths relative to the package root). */
export interface PackageFiles {
  files: Map<string, Buffer>;
  /** Unpacked size in bytes. */
  totalBytes: number;
}

/** A package that passed every check. */
export interface CheckedPackage {
  name: string;
  /** The skill's name in chats (`@acme/switchboard-skill-dice` → `dice`), from the runtime. */
  skill: string;
  version: string;
  /** The `switchboard` field, as the runtime's schema parsed it (defaults filled in). */
  manifest: Record<string, unknown>;
  /** Requested permissions, flattened. */
  permissions: string[];
  /** Entry file, relative to the package root. */
  entry: string;
  /** The manifest's `changelog` line, or a `CHANGELOG.md` first entry line. */
  changelog?: string | undefined;
  description: string;
}

function refuse(name: string, reason: string): SkillKitError {
  return new SkillKitError("E_SKILL_INVALID", `${name}: ${reason}`, {
    chatMessage: `Refused ${name}: ${reason}.`,
    details: { reason },
  });
}

/**
 * Capability uses that need a permission: a pattern over the bundled entry, and a test over the flattened
 * permissions. The SDK's capability object is `ctx.<capability>`; bundlers keep property names.
 */
const CAPABILITY_USES: ReadonlyArray<{ capability: string; pattern: RegExp; granted: (perms: string[]) => boolean }> = [
  {
    capability: "fetch",
    pattern: /\.\s*fetch\s*\(/,
    granted: (p) => p.some((x) => /^(network|fetch|hosts|net)\b/.test(x)),
  },
  {
    capability: "storage",
    pattern: /\.\s*storage\s*\.\s*(get|set|delete|list|clear)\s*\(/,
    granted: (p) => p.some((x) => x.startsWith("storage")),
  },
  {
    capability: "schedule",
    pattern: /\.\s*schedule\s*\.\s*(create|cancel|list)\s*\(/,
    granted: (p) => p.some((x) => x.startsWith("schedule")),
  },
  { capability: "llm", pattern: /\.\s*llm\s*\.\s*complete\s*\(/, granted: (p) => p.some((x) => x.startsWith("llm")) },
  {
    capability: "files",
    pattern: /\.\s*files\s*\.\s*(list|read)\s*\(/,
    granted: (p) => p.includes("files.read"),
  },
];

/** Capabilities the entry source uses that the permissions do not cover. */
export function undeclaredCapabilities(source: string, permissions: string[]): string[] {
  return CAPABILITY_USES.filter((c) => c.pattern.test(source) && !c.granted(permissions)).map((c) => c.capability);
}

/** Normalise an entry path (`./dist/index.js` → `dist/index.js`); undefined when it is not a safe relative path. */
export function normaliseEntry(entry: unknown): string | undefined {
  if (typeof entry !== "string" || entry === "" || entry.includes("\\") || entry.startsWith("/")) return undefined;
  const parts = entry.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.length === 0 || parts.includes("..")) return undefined;
  return parts.join("/");
}

/** Run every check. `expected` is what the registry metadata said; `validate` is the runtime's schema check. */
export function checkPackage(
  pkg: PackageFiles,
  expected: { name: string; version?: string | undefined },
): CheckedPackage {
  const name = expected.name;
  let packageJson: Record<string, unknown>;
  try {
    packageJson = JSON.parse(pkg.files.get("package.json")!.toString("utf8")) as Record<string, unknown>;
  } catch {
    throw refuse(name, "its package.json is not valid JSON");
  }
  if (packageJson === null || typeof packageJson !== "object" || Array.isArray(packageJson))
    throw refuse(name, "its package.json is not an object");
  if (packageJson.name !== name)
    throw refuse(name, `its package.json names ${JSON.stringify(packageJson.name)}, not ${name}`);
  if (expected.version !== undefined && packageJson.version !== expected.version) {
    throw refuse(
      name,
      `its package.json says version ${JSON.stringify(packageJson.version)} but the registry published ${expected.version}`,
    );
  }
  const keywords = Array.isArray(packageJson.keywords) ? packageJson.keywords : [];
  if (!keywords.includes(SKILL_KEYWORD))
    throw refuse(name, `it is not a Switchboard skill (no "${SKILL_KEYWORD}" keyword)`);
  const rawValue = packageJson.switchboard;
  if (rawValue === null || typeof rawValue !== "object" || Array.isArray(rawValue))
    throw refuse(name, `it has no "switchboard" manifest in package.json`);
  const raw = rawValue as Record<string, unknown>;
  const result = validateManifest(packageJson);
  if (!result.ok) {
    const first = result.issues[0];
    const more = result.issues.length > 1 ? ` (and ${result.issues.length - 1} more)` : "";
    throw refuse(
      name,
      `its manifest is invalid: ${first === undefined ? result.message : `${first.field} ${first.problem}`}${more}`,
    );
  }
  const manifest = result.skill.manifest as unknown as Record<string, unknown>;
  const entry = normaliseEntry(manifest.entry);
  if (entry === undefined)
    throw refuse(name, `its manifest entry ${JSON.stringify(raw.entry)} is not a relative path inside the package`);
  const entryFile = pkg.files.get(entry);
  if (entryFile === undefined) throw refuse(name, `its entry file ${entry} is not in the package`);
  const permissions = flattenPermissions(manifest.permissions);
  const undeclared = undeclaredCapabilities(entryFile.toString("utf8"), permissions);
  if (undeclared.length > 0) {
    throw refuse(
      name,
      `its code uses ${undeclared.join(", ")} but the manifest does not ask for ${undeclared.length === 1 ? "that permission" : "those permissions"}`,
    );
  }
  return {
    name,
    skill: result.skill.name,
    version: String(packageJson.version),
    manifest,
    permissions,
    entry,
    changelog: changelogLine(pkg),
    description: typeof packageJson.description === "string" ? packageJson.description : "",
  };
}

/** The first list line of the package's CHANGELOG.md (the newest entry, by convention). */
function changelogLine(pkg: PackageFiles): string | undefined {
  const file = [...pkg.files.keys()].find((k) => k.toLowerCase() === "changelog.md");
  if (file === undefined) return undefined;
  const line = pkg.files
    .get(file)!
    .toString("utf8")
    .split(/\r?\n/)
    .find((l) => /^\s*[-*]\s+\S/.test(l));
  return line?.replace(/^\s*[-*]\s+/, "").slice(0, 300);
}

function refuseEntry(reason: string, name: string): SkillKitError {
  return refuse(name, reason);
}

/** Limits on what a tarball may unpack to. */
export interface TarballLimits {
  maxFiles: number;
  maxUnpackedBytes: number;
}

/** Check one entry path and return it relative to the package root, or throw. */
export function safeEntryPath(raw: string, name: string): string {
  if (raw.includes("\0")) throw refuseEntry(`entry ${JSON.stringify(raw)} contains a NUL byte`, name);
  if (raw.includes("\\")) throw refuseEntry(`entry ${JSON.stringify(raw)} contains a backslash`, name);
  if (raw.startsWith("/") || /^[A-Za-z]:/.test(raw))
    throw refuseEntry(`entry ${JSON.stringify(raw)} is an absolute path`, name);
  const parts = raw.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.some((p) => p === ".."))
    throw refuseEntry(`entry ${JSON.stringify(raw)} escapes the package folder (..)`, name);
  // npm strips the top folder (`package/` by convention) whatever it is called.
  const rel = parts.slice(1).join("/");
  return rel;
}

/** Parse a gzipped tarball into checked, in-memory files. Throws `E_SKILL_INVALID` with the reason. */
export async function readPackageTarball(tgz: Buffer, name: string, limits: TarballLimits): Promise<PackageFiles> {
  const files = new Map<string, Buffer>();
  const seen = new Set<string>();
  let totalBytes = 0;
  let failure: SkillKitError | undefined;
  // tar loads with the first tarball read: a bot that checks installed skills from disk never needs it (~1 MB).
  const { Parser } = await import("tar");
  const parser = new Parser({ strict: true });

  const onEntry = (entry: ReadEntry): void => {
    if (failure !== undefined) {
      entry.resume();
      return;
    }
    try {
      const type = entry.type;
      if (type === "SymbolicLink" || type === "Link") {
        throw refuseEntry(
          `entry ${JSON.stringify(entry.path)} is a ${type === "Link" ? "hard link" : "symbolic link"} (links are not allowed)`,
          name,
        );
      }
      if (type !== "File" && type !== "OldFile" && type !== "ContiguousFile" && type !== "Directory") {
        throw refuseEntry(
          `entry ${JSON.stringify(entry.path)} has type ${type} (only files and folders are allowed)`,
          name,
        );
      }
      const rel = safeEntryPath(entry.path, name);
      if (type === "Directory" || rel === "") {
        entry.resume();
        return;
      }
      const key = rel.toLowerCase();
      if (seen.has(key)) throw refuseEntry(`entry ${JSON.stringify(rel)} appears twice`, name);
      seen.add(key);
      if (files.size + 1 > limits.maxFiles) throw refuseEntry(`more than ${limits.maxFiles} files`, name);
      totalBytes += entry.size;
      if (totalBytes > limits.maxUnpackedBytes)
        throw refuseEntry(`unpacks to more than ${limits.maxUnpackedBytes} bytes`, name);
      const chunks: Buffer[] = [];
      entry.on("data", (chunk: Buffer) => chunks.push(chunk));
      entry.on("end", () => files.set(rel, Buffer.concat(chunks)));
    } catch (error) {
      failure = error as SkillKitError;
      entry.resume();
    }
  };
  parser.on("entry", onEntry);

  await new Promise<void>((resolvePromise, reject) => {
    parser.on("error", (error: Error) => reject(refuseEntry(`the tarball is corrupt (${error.message})`, name)));
    parser.on("end", () => resolvePromise());
    parser.on("close", () => resolvePromise());
    parser.end(tgz);
  });
  if (failure !== undefined) throw failure;
  if (!files.has("package.json")) throw refuse(name, "the package has no package.json");
  return { files, totalBytes };
}
