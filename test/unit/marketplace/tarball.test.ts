/** Reading package tarballs: every hostile entry refused with its reason, limits enforced, good files kept. */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readPackageTarball, safeEntryPath, writePackageFiles } from "../../../marketplace/tarball.ts";
import { rawTarball } from "../../fixtures/marketplace/packages.ts";

const limits = { maxFiles: 10, maxUnpackedBytes: 10_000 };

describe("safeEntryPath", () => {
  it("strips the top folder whatever its name", () => {
    expect(safeEntryPath("package/dist/index.js", "x")).toBe("dist/index.js");
    expect(safeEntryPath("other/./a.js", "x")).toBe("a.js");
  });
  it.each([
    ["package/../../etc/passwd", /escapes the package folder/],
    ["../x", /escapes/],
    ["/etc/passwd", /absolute path/],
    ["C:/Windows/x", /absolute path/],
    ["package\\..\\x", /backslash/],
    ["package/a\0b", /NUL/],
  ])("refuses %j", (path, reason) => {
    expect(() => safeEntryPath(path, "x")).toThrow(reason);
  });
});

describe("readPackageTarball", () => {
  it("returns the files relative to the package root", async () => {
    const pkg = await readPackageTarball(
      rawTarball([
        { path: "package", type: "Directory" },
        { path: "package/package.json", content: "{}" },
        { path: "package/dist/index.js", content: "var skill = 1;" },
      ]),
      "p",
      limits,
    );
    expect([...pkg.files.keys()].sort()).toEqual(["dist/index.js", "package.json"]);
    expect(pkg.files.get("dist/index.js")!.toString()).toBe("var skill = 1;");
    expect(pkg.totalBytes).toBe(16);
  });

  it("refuses links, devices, duplicates (case-insensitively) and a missing package.json", async () => {
    const base = { path: "package/package.json", content: "{}" };
    await expect(
      readPackageTarball(
        rawTarball([base, { path: "package/l", type: "SymbolicLink", linkpath: "../../x" }]),
        "p",
        limits,
      ),
    ).rejects.toThrow(/symbolic link/);
    await expect(
      readPackageTarball(
        rawTarball([base, { path: "package/h", type: "Link", linkpath: "package/package.json" }]),
        "p",
        limits,
      ),
    ).rejects.toThrow(/hard link/);
    await expect(
      readPackageTarball(rawTarball([base, { path: "package/f", type: "FIFO" }]), "p", limits),
    ).rejects.toThrow(/type FIFO/);
    await expect(
      readPackageTarball(
        rawTarball([base, { path: "package/A.js", content: "1" }, { path: "package/a.js", content: "2" }]),
        "p",
        limits,
      ),
    ).rejects.toThrow(/appears twice/);
    await expect(
      readPackageTarball(rawTarball([{ path: "package/index.js", content: "1" }]), "p", limits),
    ).rejects.toThrow(/no package.json/);
  });

  it("enforces the file count and the unpacked size", async () => {
    const many = Array.from({ length: 11 }, (_, i) => ({ path: `package/f${i}`, content: "x" }));
    await expect(
      readPackageTarball(rawTarball([{ path: "package/package.json", content: "{}" }, ...many]), "p", limits),
    ).rejects.toThrow(/more than 10 files/);
    await expect(
      readPackageTarball(rawTarball([{ path: "package/package.json", content: "x".repeat(10_001) }]), "p", limits),
    ).rejects.toThrow(/more than 10000 bytes/);
  });

  it("refuses bytes that are not a tarball", async () => {
    await expect(readPackageTarball(Buffer.from("not a tarball at all"), "p", limits)).rejects.toMatchObject({
      code: "E_SKILL_INVALID",
    });
  });

  it("writes checked files under the target only", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sb-tar-"));
    try {
      const pkg = await readPackageTarball(
        rawTarball([
          { path: "package/package.json", content: "{}" },
          { path: "package/a/b.js", content: "b" },
        ]),
        "p",
        limits,
      );
      await writePackageFiles(join(dir, "out"), pkg);
      expect(await readFile(join(dir, "out/a/b.js"), "utf8")).toBe("b");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
