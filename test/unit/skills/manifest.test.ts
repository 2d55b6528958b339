/** The skill manifest: what passes, and errors that name the field and the fix. */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { BUILTIN_DIR, skillNameOf, validateManifest } from "../../../skills/index.ts";

const FIXTURES = resolve(import.meta.dirname, "../../fixtures/skills");
const read = (path: string): unknown => JSON.parse(readFileSync(path, "utf8"));

function pkg(switchboard: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: "switchboard-skill-demo", version: "1.2.3", keywords: ["switchboard-skill"], switchboard, ...extra };
}

describe("validateManifest", () => {
  it("accepts every built-in skill package", () => {
    for (const name of ["dice", "poll", "remind", "httpcheck"]) {
      const result = validateManifest(read(resolve(BUILTIN_DIR, name, "package.json")));
      expect(result.ok, result.ok ? name : result.message).toBe(true);
      if (result.ok) expect(result.skill.name).toBe(name);
    }
  });

  it("fills defaults: member role, no permissions, no limits", () => {
    const result = validateManifest(
      pkg({ manifestVersion: 1, entry: "dist/index.js", commands: [{ name: "demo", description: "Demo" }] }),
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.skill.name).toBe("demo");
    expect(result.skill.manifest.commands[0]!.defaultRole).toBe("member");
    expect(result.skill.manifest.permissions).toEqual({
      network: [],
      storage: false,
      schedules: false,
      llm: false,
      messages: { otherChats: false, mentions: false, read: false },
      files: { read: false },
    });
  });

  it("takes a files permission, and names a file limit without the permission to read", () => {
    const base = { manifestVersion: 1, entry: "dist/index.js" };
    const ok = validateManifest(pkg({ ...base, permissions: { files: { read: true, maxBytes: 1_000_000 } } }));
    expect(ok.ok && ok.skill.manifest.permissions.files).toEqual({ read: true, maxBytes: 1_000_000 });
    const limitOnly = validateManifest(pkg({ ...base, permissions: { files: { maxBytes: 10 } } }));
    expect(limitOnly.ok).toBe(false);
    if (!limitOnly.ok) expect(limitOnly.issues[0]).toMatchObject({ field: "switchboard.permissions.files.maxBytes" });
    const unknown = validateManifest(pkg({ ...base, permissions: { files: { read: true, write: true } } }));
    expect(unknown.ok).toBe(false);
    if (!unknown.ok) expect(unknown.issues[0]!.problem).toContain("write");
    const negative = validateManifest(pkg({ ...base, permissions: { files: { read: true, maxBytes: -1 } } }));
    expect(negative.ok).toBe(false);
  });

  it("names every wrong field with a fix", () => {
    const result = validateManifest(read(resolve(FIXTURES, "bad-manifest", "package.json")));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const fields = result.issues.map((i) => i.field);
    expect(fields).toEqual(
      expect.arrayContaining([
        "version",
        "keywords",
        "switchboard.manifestVersion",
        "switchboard.entry",
        "switchboard.commands.0.name",
        "switchboard.commands.0.description",
        "switchboard.permissions.network.0",
        "switchboard.permissions",
      ]),
    );
    for (const issue of result.issues) expect(issue.fix.length).toBeGreaterThan(5);
    expect(result.message).toContain(
      "switchboard.entry: is not in the right format. Fix: give a relative path to a .js file inside the package",
    );
    expect(result.message).toContain("unknown key(s): teleport");
  });

  it("refuses entries that leave the package, duplicate names and a missing switchboard field", () => {
    for (const entry of ["../x.js", "/abs.js", "a/../../x.js", "index.ts"]) {
      const r = validateManifest(pkg({ manifestVersion: 1, entry }));
      expect(r.ok, entry).toBe(false);
    }
    const dup = validateManifest(
      pkg({
        manifestVersion: 1,
        entry: "i.js",
        commands: [
          { name: "a", description: "x" },
          { name: "a", description: "y" },
        ],
      }),
    );
    expect(dup.ok === false && dup.issues[0]!.problem).toContain("twice");
    const missing = validateManifest({ name: "x", version: "1.0.0", keywords: ["switchboard-skill"] });
    expect(missing.ok === false && missing.issues.map((i) => i.field)).toEqual(["switchboard"]);
    expect(validateManifest(null).ok).toBe(false);
    expect(validateManifest("text").ok).toBe(false);
  });

  it("checks tool parameter schemas and settings", () => {
    const badTool = validateManifest(
      pkg({
        manifestVersion: 1,
        entry: "i.js",
        tools: [{ name: "t", description: "d", parameters: { type: "string" } }],
      }),
    );
    expect(badTool.ok === false && badTool.issues[0]!.field).toBe("switchboard.tools.0.parameters.type");
    const badRequired = validateManifest(
      pkg({
        manifestVersion: 1,
        entry: "i.js",
        settings: { properties: { token: { type: "string", secret: true } }, required: ["nope"] },
      }),
    );
    expect(badRequired.ok === false && badRequired.issues[0]!.field).toBe("switchboard.settings.required");
  });

  it("derives the skill name from the package name", () => {
    expect(skillNameOf("@acme/switchboard-skill-dice")).toBe("dice");
    expect(skillNameOf("weather")).toBe("weather");
    expect(skillNameOf("my.skill_x")).toBe("my-skill-x");
  });
});
