/**
 * Build both packages to JavaScript with declarations: the skill SDK (`skills/sdk/dist/`), then the bot
 * (`dist/`), which type-checks against the SDK's built declarations as an installed copy would. Then copy what
 * the bot reads by path at run time: the built-in skills' package.json and bundled entry, and the CLI launcher.
 * `npm pack` runs this (prepack), so a tarball always holds fresh code. Run: `npm run build`.
 */
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");

function step(label: string, run: () => void): void {
  const started = Date.now();
  run();
  process.stdout.write(`build: ${label} (${Date.now() - started} ms)\n`);
}

function tsc(project: string): void {
  // The source condition must not leak into the build: the bot is checked against the SDK's declarations.
  const env = { ...process.env, NODE_OPTIONS: "" };
  execFileSync(process.execPath, [TSC, "-p", project], { cwd: ROOT, stdio: "inherit", env });
}

step("clean", () => {
  rmSync(join(ROOT, "dist"), { recursive: true, force: true });
  rmSync(join(ROOT, "skills", "sdk", "dist"), { recursive: true, force: true });
});
step("skill SDK → skills/sdk/dist", () => tsc("skills/sdk/tsconfig.build.json"));
step("bot → dist", () => tsc("tsconfig.build.json"));
step("web console → dist/web/dist", () => {
  // Built by Vite and committed (test/unit/web/bundle.test.ts keeps it in step with web/src).
  cpSync(join(ROOT, "web", "dist"), join(ROOT, "dist", "web", "dist"), { recursive: true });
});
step("built-in skills → dist/skills/builtin", () => {
  const from = join(ROOT, "skills", "builtin");
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (!entry.isDirectory() || !existsSync(join(from, entry.name, "package.json"))) continue;
    const to = join(ROOT, "dist", "skills", "builtin", entry.name);
    mkdirSync(to, { recursive: true });
    cpSync(join(from, entry.name, "package.json"), join(to, "package.json"));
    cpSync(join(from, entry.name, "dist"), join(to, "dist"), { recursive: true });
  }
});
