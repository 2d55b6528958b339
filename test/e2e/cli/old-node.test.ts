/**
 * On a Node older than 22.12 the bin says what it needs and exits 1, before loading anything: in the clone it
 * points at `npm start` (the pinned Node), in an installed copy (no sources next to it) at installing a newer
 * Node. Runs where an older Node is on the machine (`/usr/bin/node` on these machines is Node 20).
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../../..");
const OLD_NODE = ["/usr/bin/node", "/usr/local/bin/node"].find((path) => {
  if (!existsSync(path)) return false;
  const version = spawnSync(path, ["--version"], { encoding: "utf8" }).stdout.trim();
  const [major = 0, minor = 0] = version.slice(1).split(".").map(Number);
  return major < 22 || (major === 22 && minor < 12);
});

describe.skipIf(OLD_NODE === undefined)("switchboard on an older Node", () => {
  it("in the clone: names the version it needs and points at npm start, exit 1", () => {
    const result = spawnSync(OLD_NODE!, [join(ROOT, "bin/switchboard.js"), "start"], { encoding: "utf8" });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^Switchboard needs Node\.js >= 22\.12 \(this is \d+\.\d+\.\d+\)\.\n/);
    expect(result.stderr).toContain("npm start");
    expect(result.stdout).toBe("");
  });

  it("installed (no sources beside the bin): asks for a newer Node, exit 1, also for --version", () => {
    const dir = mkdtempSync(join(tmpdir(), "sb-old-node-"));
    try {
      mkdirSync(join(dir, "bin"));
      cpSync(join(ROOT, "bin/switchboard.js"), join(dir, "bin/switchboard.js"));
      writeFileSync(
        join(dir, "package.json"),
        JSON.stringify({ name: "switchboard", version: "0.0.0", type: "module" }),
      );
      const result = spawnSync(OLD_NODE!, [join(dir, "bin/switchboard.js"), "--version"], { encoding: "utf8" });
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(/Switchboard needs Node\.js >= 22\.12/);
      expect(result.stderr).toContain("Install Node.js 22.12 or newer");
      expect(result.stdout).toBe("");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
