/**
 * Requested permissions as flat, comparable strings, so consent can be asked for exactly what is new.
 * `{ network: ["api.x.com"], storage: true, llm: { maxCallsPerDay: 50 } }` →
 * `["llm.maxCallsPerDay=50", "network:api.x.com", "storage"]`. The flattening does not depend on the exact
 * shape of the runtime's manifest schema: any new permission kind shows up (and needs consent) by itself.
 */

/** Flatten a manifest's `permissions` value into sorted strings. Falsy and empty entries grant nothing. */
export function flattenPermissions(permissions: unknown): string[] {
  const out = new Set<string>();
  const walk = (value: unknown, prefix: string): void => {
    if (value === undefined || value === null || value === false) return;
    if (value === true) {
      if (prefix !== "") out.add(prefix);
      return;
    }
    if (Array.isArray(value)) {
      for (const item of value) {
        if (typeof item === "string" || typeof item === "number")
          out.add(prefix === "" ? String(item) : `${prefix}:${item}`);
        else walk(item, prefix);
      }
      return;
    }
    if (typeof value === "object") {
      for (const key of Object.keys(value as object).sort()) {
        walk((value as Record<string, unknown>)[key], prefix === "" ? key : `${prefix}.${key}`);
      }
      return;
    }
    if (typeof value === "string" || typeof value === "number") {
      out.add(prefix === "" ? String(value) : `${prefix}=${value}`);
    }
  };
  walk(permissions, "");
  return [...out].sort();
}

/** What changed between an approved set and a requested one. */
export interface PermissionDiff {
  added: string[];
  removed: string[];
  kept: string[];
}

/** Compare approved with requested permissions. */
export function diffPermissions(approved: readonly string[], requested: readonly string[]): PermissionDiff {
  const before = new Set(approved);
  const after = new Set(requested);
  return {
    added: requested.filter((p) => !before.has(p)),
    removed: approved.filter((p) => !after.has(p)),
    kept: requested.filter((p) => before.has(p)),
  };
}

/** Human words for a flattened permission, for chat and the CLI. */
export function describePermission(permission: string): string {
  const colon = permission.indexOf(":");
  const head = colon === -1 ? permission : permission.slice(0, colon);
  const arg = colon === -1 ? "" : permission.slice(colon + 1);
  switch (head) {
    case "network":
    case "fetch":
    case "hosts":
    case "network.hosts":
      return arg === "" ? "make network requests" : `fetch from ${arg}`;
    case "storage":
      return "keep data for each chat";
    case "schedule":
    case "schedules":
      return "run on a schedule";
    case "llm":
      return "call the language model";
    case "messages.read":
      return "sees every message in this chat";
    case "files.read":
      return "reads files and images sent with its commands";
    default:
      if (permission.startsWith("files.maxBytes="))
        return `reads files of at most ${permission.slice("files.maxBytes=".length)} bytes each`;
      return permission;
  }
}

/** A short list for a reply: `- fetch from api.x.com (network:api.x.com)`. Empty: "no permissions". */
export function formatPermissions(permissions: readonly string[], marker = "- "): string {
  if (permissions.length === 0) return `${marker}no permissions`;
  return permissions
    .map((p) => {
      const words = describePermission(p);
      return words === p ? `${marker}\`${p}\`` : `${marker}${words} (\`${p}\`)`;
    })
    .join("\n");
}
