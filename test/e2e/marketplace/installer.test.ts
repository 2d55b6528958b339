/**
 * The installer against a real Verdaccio: install, update, rollback, uninstall, and every hostile package refused
 * with a clear reason and nothing written under the skills folder.
 */
import { mkdtemp, readFile, rm, writeFile, appendFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Installer } from "../../../marketplace/installer.ts";
import { RegistryClient } from "../../../marketplace/registry.ts";
import {
  hostileTarball,
  rawTarball,
  packageJsonOf,
  diceEntry,
  writeSkill,
  writeTarball,
  type FixtureSkill,
  type RawEntry,
} from "../../fixtures/marketplace/packages.ts";
import { listFiles, startRegistry, type TestRegistry } from "../../stand-ins/verdaccio/index.ts";

// npm publish and store start-up are slow on a loaded 2-core machine.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 240_000 });

let registry: TestRegistry;
let work: string;
let counter = 0;

beforeAll(async () => {
  registry = await startRegistry();
  work = await mkdtemp(join(tmpdir(), "sb-mk-inst-"));
});

afterAll(async () => {
  await registry?.close();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

async function publish(skill: FixtureSkill): Promise<void> {
  await registry.publish(await writeSkill(join(work, `pkg-${counter++}`), skill));
}

async function publishTarball(name: string, tgz: Buffer): Promise<void> {
  await registry.publish(await writeTarball(work, `${name}-${counter++}.tgz`, tgz));
}

function installer(
  limits: Partial<{ maxFiles: number; maxUnpackedBytes: number; maxTarballBytes: number }> = {},
): Installer {
  const dir = join(work, `data-${counter++}`);
  const client = new RegistryClient({
    settings: { registry: registry.url, scopes: {}, tokens: {} },
    cacheDir: join(dir, "cache"),
    timeoutMs: 20_000,
    requireSignatures: false,
  });
  return new Installer({
    skillsDir: join(dir, "skills"),
    registry: client,
    limits: { maxFiles: 50, maxUnpackedBytes: 1_000_000, maxTarballBytes: 500_000, ...limits },
  });
}

describe("installer against a real registry", () => {
  it("installs a skill: files in <skills>/<name>/<version>, lockfile pins version, integrity, registry and file hashes", async () => {
    await publish({ name: "switchboard-skill-alpha", version: "1.0.0", permissions: { network: ["api.example.com"] } });
    const inst = installer();
    const steps: string[] = [];
    const result = await inst.install("switchboard-skill-alpha", {
      actor: "cli:test",
      onProgress: (e) => {
        if (e.kind === "step") steps.push(e.step);
      },
    });
    expect(result.status).toBe("installed");
    expect(result.plan.permissions).toEqual(["network:api.example.com"]);
    expect(steps).toEqual(["download", "verify", "extract", "install", "done"]);
    expect(await listFiles(inst.skillsDir)).toEqual([
      "switchboard-lock.json",
      "switchboard-skill-alpha/1.0.0/dist/index.js",
      "switchboard-skill-alpha/1.0.0/package.json",
    ]);
    const lock = JSON.parse(await readFile(join(inst.skillsDir, "switchboard-lock.json"), "utf8"));
    const entry = lock.skills["switchboard-skill-alpha"];
    expect(entry).toMatchObject({
      name: "switchboard-skill-alpha",
      skill: "alpha",
      version: "1.0.0",
      range: "^1.0.0",
      registry: registry.url,
      approvedBy: "cli:test",
    });
    expect(entry.integrity).toMatch(/^sha512-/);
    expect(Object.keys(entry.files)).toEqual(["dist/index.js", "package.json"]);
    expect(await inst.verify(entry)).toEqual([]);
  });

  it("never runs a package's install scripts", async () => {
    await rm("/tmp/switchboard-pwned", { force: true });
    await publish({ name: "switchboard-skill-scripted", version: "1.0.0" });
    const inst = installer();
    await inst.install("switchboard-skill-scripted", { actor: "cli:test" });
    await expect(readFile("/tmp/switchboard-pwned")).rejects.toThrow(/ENOENT/);
  });

  it("updates within the range, keeps the previous version for rollback, and shows new permissions and the changelog line", async () => {
    await publish({ name: "switchboard-skill-beta", version: "1.0.0" });
    const inst = installer();
    await inst.install("switchboard-skill-beta", { actor: "cli:a" });
    await publish({
      name: "switchboard-skill-beta",
      version: "1.1.0",
      permissions: { storage: true },
      changelog: "remembers the last roll",
    });
    await publish({ name: "switchboard-skill-beta", version: "2.0.0" });
    const plans: unknown[] = [];
    const updated = await inst.update("switchboard-skill-beta", {
      actor: "cli:b",
      confirm: (plan) => {
        plans.push(plan);
        return true;
      },
    });
    expect(updated.entry).toMatchObject({
      version: "1.1.0",
      approvedPermissions: ["storage"],
      previous: { version: "1.0.0" },
    });
    expect(plans).toEqual([
      expect.objectContaining({
        kind: "update",
        fromVersion: "1.0.0",
        version: "1.1.0",
        changelog: "remembers the last roll",
        diff: { added: ["storage"], removed: [], kept: [] },
      }),
    ]);
    expect(await listFiles(inst.skillsDir)).toContain("switchboard-skill-beta/1.0.0/package.json");

    const rolled = await inst.rollback("switchboard-skill-beta", "cli:c");
    expect(rolled.from).toBe("1.1.0");
    expect(rolled.to).toMatchObject({ version: "1.0.0", approvedPermissions: [], previous: { version: "1.1.0" } });
    expect((await inst.get("switchboard-skill-beta"))?.version).toBe("1.0.0");
  });

  it("a cancelled update writes nothing and keeps the installed version", async () => {
    await publish({ name: "switchboard-skill-gamma", version: "1.0.0" });
    const inst = installer();
    await inst.install("switchboard-skill-gamma", { actor: "cli:a" });
    const before = await listFiles(inst.skillsDir);
    const lockBefore = await readFile(join(inst.skillsDir, "switchboard-lock.json"), "utf8");
    await publish({ name: "switchboard-skill-gamma", version: "1.2.0", permissions: { llm: true } });
    const result = await inst.update("switchboard-skill-gamma", { actor: "cli:b", confirm: () => false });
    expect(result.status).toBe("cancelled");
    expect(result.plan.diff.added).toEqual(["llm"]);
    expect(await listFiles(inst.skillsDir)).toEqual(before);
    expect(await readFile(join(inst.skillsDir, "switchboard-lock.json"), "utf8")).toBe(lockBefore);
  });

  it("refuses a downgrade without allowDowngrade, and allows it with", async () => {
    await publish({ name: "switchboard-skill-delta", version: "1.0.0" });
    await publish({ name: "switchboard-skill-delta", version: "1.5.0" });
    const inst = installer();
    await inst.install("switchboard-skill-delta", { actor: "cli:a" });
    expect((await inst.get("switchboard-skill-delta"))?.version).toBe("1.5.0");
    await expect(inst.install("switchboard-skill-delta@1.0.0", { actor: "cli:a" })).rejects.toMatchObject({
      code: "E_CONFLICT",
      chatMessage: expect.stringContaining("--allow-downgrade"),
    });
    expect((await inst.get("switchboard-skill-delta"))?.version).toBe("1.5.0");
    const down = await inst.install("switchboard-skill-delta@1.0.0", { actor: "cli:a", allowDowngrade: true });
    expect(down.entry).toMatchObject({ version: "1.0.0", previous: { version: "1.5.0" } });
  });

  it("uninstall removes the files and the lockfile entry", async () => {
    await publish({ name: "switchboard-skill-eps", version: "1.0.0" });
    const inst = installer();
    await inst.install("switchboard-skill-eps", { actor: "cli:a" });
    await inst.uninstall("switchboard-skill-eps");
    expect(await listFiles(inst.skillsDir)).toEqual(["switchboard-lock.json"]);
    expect(await inst.list()).toEqual([]);
    await expect(inst.uninstall("switchboard-skill-eps")).rejects.toMatchObject({ code: "E_NOT_FOUND" });
  });

  it("detects a file tampered with on disk after install", async () => {
    await publish({ name: "switchboard-skill-zeta", version: "1.0.0" });
    const inst = installer();
    const { entry } = await inst.install("switchboard-skill-zeta", { actor: "cli:a" });
    await appendFile(join(inst.dirOf("switchboard-skill-zeta", "1.0.0"), "dist/index.js"), "\nglobalThis.evil = 1;\n");
    await writeFile(join(inst.dirOf("switchboard-skill-zeta", "1.0.0"), "extra.js"), "x");
    expect(await inst.verify(entry!)).toEqual(["dist/index.js was modified", "extra.js was added"]);
    await expect(inst.verifiedDir(entry!)).rejects.toMatchObject({
      code: "E_INTEGRITY",
      chatMessage: expect.stringContaining("changed on disk since it was installed (dist/index.js was modified"),
    });
  });
});

describe("hostile packages are refused with a clear reason and nothing written", () => {
  const entryCases: Array<[string, RawEntry[], RegExp]> = [
    ["an entry with ../", [{ path: "package/../../evil.js", content: "x" }], /escapes the package folder/],
    ["an absolute path", [{ path: "/tmp/switchboard-abs-evil.js", content: "x" }], /absolute path/],
    ["a symbolic link", [{ path: "package/link.js", type: "SymbolicLink", linkpath: "/etc/passwd" }], /symbolic link/],
    ["a hard link", [{ path: "package/hard.js", type: "Link", linkpath: "package/package.json" }], /hard link/],
    ["a device file", [{ path: "package/dev", type: "CharacterDevice" }], /only files and folders/],
    ["a duplicated entry", [{ path: "package/dist/index.js", content: "globalThis.x = 1" }], /appears twice/],
  ];
  const manyFiles: Record<string, string> = {};
  for (let i = 0; i < 30; i++) manyFiles[`assets/f${i}.txt`] = String(i);

  // Publishing is the slow part (one npm process each): do it all up front, a few at a time.
  beforeAll(async () => {
    const { randomBytes } = await import("node:crypto");
    const jobs: Array<() => Promise<void>> = [
      ...entryCases.map(
        ([, extra], i) =>
          () =>
            publishTarball(
              `switchboard-skill-hostile-${i}`,
              hostileTarball(`switchboard-skill-hostile-${i}`, "1.0.0", extra),
            ),
      ),
      () => publish({ name: "switchboard-skill-swapped", version: "1.0.0" }),
      () =>
        publish({
          name: "switchboard-skill-huge",
          version: "1.0.0",
          files: { "assets/blob.bin": randomBytes(200_000) },
        }),
      () =>
        publish({
          name: "switchboard-skill-bomb",
          version: "1.0.0",
          files: { "assets/zeros.txt": "0".repeat(400_000) },
        }),
      () => publish({ name: "switchboard-skill-many", version: "1.0.0", files: manyFiles }),
      () => publish({ name: "switchboard-skill-nokw", version: "1.0.0", keywords: ["dice"] }),
      () => publish({ name: "switchboard-skill-nomani", version: "1.0.0", manifest: null }),
      () => publish({ name: "switchboard-skill-badmani", version: "1.0.0", manifest: { manifestVersion: 7 } }),
      () => publish({ name: "switchboard-skill-noentry", version: "1.0.0", omitEntry: true }),
      () =>
        publish({
          name: "switchboard-skill-liar",
          version: "1.0.0",
          entrySource:
            'var skill = { default: { commands: { liar: async (ctx) => (await ctx.fetch("https://evil.example/")).body } } };\n',
        }),
    ];
    const queue = [...jobs];
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let job = queue.shift(); job !== undefined; job = queue.shift()) await job();
      }),
    );
  }, 240_000);

  async function expectRefused(
    inst: Installer,
    spec: string,
    { code, reason }: { code: string; reason: RegExp },
  ): Promise<void> {
    const error = await inst.install(spec, { actor: "cli:test" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code });
    expect((error as { chatMessage: string }).chatMessage).toMatch(reason);
    expect(await listFiles(inst.skillsDir)).toEqual([]);
    expect(await inst.list()).toEqual([]);
  }

  it("a tarball that does not match its integrity", async () => {
    // The registry's stored tarball is replaced after publish (a compromised mirror).
    const evil = rawTarball([
      {
        path: "package/package.json",
        content: JSON.stringify(packageJsonOf({ name: "switchboard-skill-swapped", version: "1.0.0" })),
      },
      { path: "package/dist/index.js", content: diceEntry("swapped", "evil") },
    ]);
    await writeFile(registry.tarballPath("switchboard-skill-swapped", "1.0.0"), evil);
    await expectRefused(installer(), "switchboard-skill-swapped", {
      code: "E_INTEGRITY",
      reason: /does not match its published sha512 integrity/,
    });
  });

  entryCases.forEach(([what, , reason], i) => {
    it(`a tarball with ${what}`, async () => {
      await expectRefused(installer(), `switchboard-skill-hostile-${i}`, { code: "E_SKILL_INVALID", reason });
    });
  });

  it("an oversized tarball", async () => {
    await expectRefused(installer({ maxTarballBytes: 100_000 }), "switchboard-skill-huge", {
      code: "E_SKILL_INVALID",
      reason: /larger than the 100000-byte limit/,
    });
  });

  it("a tarball that unpacks too large", async () => {
    await expectRefused(installer({ maxUnpackedBytes: 300_000 }), "switchboard-skill-bomb", {
      code: "E_SKILL_INVALID",
      reason: /unpacks to more than 300000 bytes/,
    });
  });

  it("too many files", async () => {
    await expectRefused(installer({ maxFiles: 20 }), "switchboard-skill-many", {
      code: "E_SKILL_INVALID",
      reason: /more than 20 files/,
    });
  });

  it("a package without the switchboard-skill keyword", async () => {
    await expectRefused(installer(), "switchboard-skill-nokw", {
      code: "E_SKILL_INVALID",
      reason: /not a Switchboard skill \(no "switchboard-skill" keyword\)/,
    });
  });

  it("a package with no manifest", async () => {
    await expectRefused(installer(), "switchboard-skill-nomani", {
      code: "E_SKILL_INVALID",
      reason: /no "switchboard" manifest/,
    });
  });

  it("a manifest the runtime's schema rejects", async () => {
    await expectRefused(installer(), "switchboard-skill-badmani", {
      code: "E_SKILL_INVALID",
      reason: /manifest is invalid: switchboard.manifestVersion/,
    });
  });

  it("a manifest whose entry file is absent", async () => {
    await expectRefused(installer(), "switchboard-skill-noentry", {
      code: "E_SKILL_INVALID",
      reason: /entry file dist\/index.js is not in the package/,
    });
  });

  it("code that uses a capability the manifest does not ask for", async () => {
    await expectRefused(installer(), "switchboard-skill-liar", {
      code: "E_SKILL_INVALID",
      reason: /uses fetch but the manifest does not ask for that permission/,
    });
  });

  it("a name that is not on the registry", async () => {
    await expectRefused(installer(), "switchboard-skill-nowhere", { code: "E_NOT_FOUND", reason: /was not found/ });
  });
});
