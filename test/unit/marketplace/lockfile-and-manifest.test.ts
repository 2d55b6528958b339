/** The lockfile (atomic, serialised updates; file verification) and the installer's package checks. */
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { hashFiles, LockfileStore, sha512, verifyFiles } from "../../../marketplace/lockfile.ts";
import { checkPackage, normaliseEntry, undeclaredCapabilities } from "../../../marketplace/manifest-check.ts";
import { diceEntry, packageJsonOf } from "../../fixtures/marketplace/packages.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "sb-lock-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("lockfile", () => {
  it("reads as empty when absent and serialises concurrent updates", async () => {
    const lock = new LockfileStore(dir);
    expect(await lock.read()).toEqual({ lockfileVersion: 1, skills: {} });
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        lock.update((l) => {
          l.skills[`s${i}`] = { name: `s${i}` } as never;
        }),
      ),
    );
    expect(Object.keys((await lock.read()).skills).sort()).toEqual(["s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7"]);
  });

  it("leaves the file untouched when an update throws", async () => {
    const lock = new LockfileStore(dir);
    await lock.update((l) => void (l.skills.a = { name: "a" } as never));
    const before = await readFile(lock.path, "utf8");
    await expect(
      lock.update((l) => {
        l.skills.b = { name: "b" } as never;
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(await readFile(lock.path, "utf8")).toBe(before);
  });

  it("refuses a corrupt lockfile with a clear error", async () => {
    await writeFile(join(dir, "switchboard-lock.json"), "{nope");
    await expect(new LockfileStore(dir).read()).rejects.toThrow(/is not valid JSON/);
  });

  it("verifies files: modified, missing, added and non-regular files are all reported", async () => {
    const files = new Map([
      ["a.js", Buffer.from("a")],
      ["sub/b.js", Buffer.from("b")],
    ]);
    const expected = hashFiles(files);
    expect(expected["a.js"]).toBe(sha512(Buffer.from("a")));
    await mkdir(join(dir, "pkg/sub"), { recursive: true });
    await writeFile(join(dir, "pkg/a.js"), "A");
    await writeFile(join(dir, "pkg/c.js"), "c");
    await symlink("/etc/passwd", join(dir, "pkg/link"));
    expect(await verifyFiles(join(dir, "pkg"), expected)).toEqual([
      "a.js was modified",
      "c.js was added",
      "link is not a regular file",
      "sub/b.js is missing",
    ]);
  });
});

describe("package checks", () => {
  const files = (pkg: Record<string, unknown>, entry = diceEntry("dice", "4")) => ({
    files: new Map([
      ["package.json", Buffer.from(JSON.stringify(pkg))],
      ["dist/index.js", Buffer.from(entry)],
    ]),
    totalBytes: 0,
  });

  it("accepts a good package and reports its skill name and permissions", () => {
    const checked = checkPackage(
      files(packageJsonOf({ name: "switchboard-skill-dice", version: "1.0.0", permissions: { storage: true } })),
      { name: "switchboard-skill-dice", version: "1.0.0" },
    );
    expect(checked).toMatchObject({ skill: "dice", entry: "dist/index.js", permissions: ["storage"] });
  });

  it("refuses a package.json that lies about its name or version", () => {
    const pkg = packageJsonOf({ name: "switchboard-skill-dice", version: "1.0.0" });
    expect(() => checkPackage(files(pkg), { name: "switchboard-skill-other" })).toThrow(
      /names "switchboard-skill-dice", not switchboard-skill-other/,
    );
    expect(() => checkPackage(files(pkg), { name: "switchboard-skill-dice", version: "2.0.0" })).toThrow(
      /says version "1.0.0" but the registry published 2.0.0/,
    );
  });

  it("finds capability use the manifest does not declare", () => {
    expect(
      undeclaredCapabilities("await ctx.fetch(url); await ctx.storage.set('k', 1); ctx.llm.complete({})", [
        "network:api.x.com",
      ]),
    ).toEqual(["storage", "llm"]);
    expect(undeclaredCapabilities("ctx.schedule.create({})", ["schedules"])).toEqual([]);
    expect(undeclaredCapabilities("ctx.reply('hi')", [])).toEqual([]);
    expect(undeclaredCapabilities("await ctx.files.read(id)", ["storage"])).toEqual(["files"]);
    expect(undeclaredCapabilities("await ctx.files.list()", ["files.maxBytes=10", "files.read"])).toEqual([]);
  });

  it("normalises entries and refuses ones outside the package", () => {
    expect(normaliseEntry("./dist/index.js")).toBe("dist/index.js");
    expect(normaliseEntry("../x.js")).toBeUndefined();
    expect(normaliseEntry("/abs.js")).toBeUndefined();
  });
});

describe("staging cleanup", () => {
  it("removes stale staging folders and keeps fresh ones (an install in progress elsewhere)", async () => {
    const { Installer } = await import("../../../marketplace/installer.ts");
    const { utimes } = await import("node:fs/promises");
    const inst = new Installer({
      skillsDir: dir,
      registry: undefined as never,
      limits: { maxFiles: 1, maxUnpackedBytes: 1, maxTarballBytes: 1 },
    });
    await mkdir(join(dir, ".staging/old-1"), { recursive: true });
    await mkdir(join(dir, ".staging/fresh-1"), { recursive: true });
    const longAgo = new Date(Date.now() - 3_600_000);
    await utimes(join(dir, ".staging/old-1"), longAgo, longAgo);
    expect(await inst.cleanStaging()).toBe(1);
    const { readdir } = await import("node:fs/promises");
    expect(await readdir(join(dir, ".staging"))).toEqual(["fresh-1"]);
  });
});

describe("audit outbox", () => {
  it("hands entries over once, skipping malformed lines, and marks the actor as the CLI", async () => {
    const { appendToOutbox, drainOutbox, OUTBOX_NAME } = await import("../../../marketplace/audit-outbox.ts");
    await appendToOutbox(dir, { at: 1, actor: "cli:ops", chatKey: "*", action: "skills.install", target: "x" });
    await writeFile(join(dir, OUTBOX_NAME), 'not json\n{"action":1}\n', { flag: "a" });
    await appendToOutbox(dir, { at: 2, actor: "ops", chatKey: "*", action: "skills.update", target: "x" });
    const got: unknown[] = [];
    expect(await drainOutbox(dir, async (e) => void got.push(e))).toBe(2);
    expect(got).toEqual([
      { at: 1, actor: "cli:ops", chatKey: "*", action: "skills.install", target: "x" },
      { at: 2, actor: "cli:ops", chatKey: "*", action: "skills.update", target: "x" },
    ]);
    expect(await drainOutbox(dir, async () => undefined)).toBe(0);
  });
});
