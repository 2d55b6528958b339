/**
 * The committed web console (`web/dist/`) is what its sources build to, so `npm ci && npm start` serves the
 * console without a build step. After editing `web/src`, run `npx vite build --config web/vite.config.ts`.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..", "..", "..");
const COMMITTED = join(ROOT, "web", "dist");

function filesOf(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

describe("web console bundle", () => {
  const out = mkdtempSync(join(tmpdir(), "sb-web-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("web/dist matches a fresh build of web/src (run `npx vite build --config web/vite.config.ts` after editing)", () => {
    const vite = join(ROOT, "node_modules", "vite", "bin", "vite.js");
    execFileSync(
      process.execPath,
      [vite, "build", "--config", "web/vite.config.ts", "--outDir", out, "--emptyOutDir", "--logLevel", "error"],
      { cwd: ROOT, env: { ...process.env, NODE_ENV: "production" }, stdio: ["ignore", "ignore", "pipe"] },
    );
    expect(filesOf(COMMITTED)).toEqual(filesOf(out));
    for (const file of filesOf(out))
      expect(readFileSync(join(COMMITTED, file), "utf8"), file).toBe(readFileSync(join(out, file), "utf8"));
  });

  it("loads nothing inline and stays under 200 KB gzipped for the first load", () => {
    const html = readFileSync(join(COMMITTED, "index.html"), "utf8");
    // The CSP allows scripts and styles from the bot only: no inline ones may be needed.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|style=/);
    const loaded = [...html.matchAll(/(?:src|href)="\/console\/(assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(loaded.length).toBeGreaterThanOrEqual(2);
    const gzipped = loaded.reduce((sum, file) => sum + gzipSync(readFileSync(join(COMMITTED, file))).length, 0);
    expect(gzipped).toBeLessThan(200 * 1024);
  });
});
