/**
 * Checks a package's files as the installer sees them, before anything is written: the tarball's package.json
 * must be the version the registry described (same name and version), carry the `switchboard-skill` keyword and a
 * `switchboard` manifest that the skill runtime's schema accepts (`validateManifest` from skills/manifest.ts), name an entry file that is in the package, and
 * its entry must not use a capability the manifest does not ask for (a static scan: the runtime enforces grants
 * at run time anyway; this refuses packages that lie about what they do).
 */
import { SwitchboardError } from "../bot/index.ts";
import { validateManifest } from "../skills/index.ts";
import { flattenPermissions } from "./permission-diff.ts";
import { SKILL_KEYWORD, type PackageFiles } from "./types.ts";

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

function refuse(name: string, reason: string): SwitchboardError {
  return new SwitchboardError("E_SKILL_INVALID", `${name}: ${reason}`, {
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
