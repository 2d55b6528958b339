/**
 * The author kit: create a skill from the template, bundle it with esbuild into the manifest's single entry file,
 * and check it exactly as the installer would (pack it like `npm pack`, read the tarball with the same limits,
 * run the same manifest and entry checks).
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { promisify } from "node:util";
import { SkillKitError } from "./errors.ts";
import { SKILL_NAME, skillNameOf } from "./manifest.ts";
import { type CheckedPackage, checkPackage, readPackageTarball, type TarballLimits } from "./package-check.ts";
import { skillTemplate } from "./template.ts";

const HERE = dirname(fileURLToPath(import.meta.url));

/**
 * This SDK's own entry (sources in the repository, `dist/` when installed). A skill's imports of the SDK bundle
 * it: it is `defineSkill` and `errorCode`, nothing more, so the bundle never depends on what is installed next to it.
 */
export const SDK_ENTRY = join(HERE, import.meta.url.endsWith(".ts") ? "index.ts" : "index.js");

const SDK_MANIFEST = JSON.parse(
  readFileSync(
    existsSync(join(HERE, "package.json")) ? join(HERE, "package.json") : join(HERE, "../package.json"),
    "utf8",
  ),
) as { name: string; version: string; peerDependencies: { esbuild: string } };

/**
 * The SDK's name and version (scaffolded skills depend on `^version`), and the esbuild range `build` works with.
 * esbuild is an optional peer, not a dependency: the bot depends on this package for the manifest schema and the
 * package checks, and an operator's install should not carry a bundler (about 22 MB) it never runs; a scaffolded
 * skill lists it among its own devDependencies.
 */
export const SDK_PACKAGE: { name: string; version: string; esbuild: string } = {
  name: SDK_MANIFEST.name,
  version: SDK_MANIFEST.version,
  esbuild: SDK_MANIFEST.peerDependencies.esbuild,
};

/** Default tarball limits of `check` (the bot's `marketplace.maxFiles` / `maxUnpackedBytes` defaults). */
export const DEFAULT_TARBALL_LIMITS: TarballLimits = { maxFiles: 500, maxUnpackedBytes: 20 * 1024 * 1024 };

/** Create `<dir>` with the template for package `name`. Refuses a non-empty folder. Returns the files written. */
export async function initSkill(name: string, dir: string): Promise<string[]> {
  if (!/^(?:@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*$/.test(name)) {
    throw new SkillKitError("E_BAD_ARGS", `not an npm package name: ${name}`);
  }
  const skillName = skillNameOf(name);
  if (!SKILL_NAME.test(skillName))
    throw new SkillKitError(
      "E_BAD_ARGS",
      `${name} gives the skill name ${skillName}, which is not valid (1–40 lower-case letters, digits or -)`,
    );
  if (existsSync(join(dir, "package.json")))
    throw new SkillKitError("E_CONFLICT", `${dir} already holds a package.json`);
  const files = skillTemplate({ name, skillName, sdk: SDK_PACKAGE });
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, rel)), { recursive: true });
    await writeFile(join(dir, rel), content, { flag: "wx" });
  }
  return Object.keys(files).sort();
}

/** Bundle `src/index.ts` (or `source`) into the manifest's entry: one self-contained script defining `skill`. */
export async function buildSkill(
  dir: string,
  options: { source?: string; minify?: boolean } = {},
): Promise<{ entry: string; bytes: number }> {
  const pkg = JSON.parse(await readFile(join(dir, "package.json"), "utf8")) as { switchboard?: { entry?: string } };
  const entry = pkg.switchboard?.entry ?? "dist/index.js";
  const source = options.source ?? (existsSync(join(dir, "src/index.ts")) ? "src/index.ts" : "src/index.js");
  // Loaded on use: the bot registers these commands at every CLI start, and only `build` needs the bundler.
  const { build } = await import("esbuild").catch((error: unknown) => {
    throw new SkillKitError(
      "E_BAD_ARGS",
      `building a skill needs esbuild, which is not installed here: npm install --save-dev esbuild@"${SDK_PACKAGE.esbuild}" (${(error as Error).message})`,
    );
  });
  const result = await build({
    absWorkingDir: resolve(dir),
    entryPoints: [source],
    bundle: true,
    format: "iife",
    globalName: "skill",
    platform: "neutral",
    target: "es2022",
    outfile: entry,
    minify: options.minify === true,
    alias: { [SDK_PACKAGE.name]: SDK_ENTRY, "switchboard/skills/sdk": SDK_ENTRY },
    logLevel: "silent",
    write: true,
    metafile: true,
  });
  const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
  return { entry, bytes };
}

/** Pack the folder with `npm pack` (no scripts run), as `npm publish` would, and check it as the installer would. */
export async function checkSkill(
  dir: string,
  limits: TarballLimits = DEFAULT_TARBALL_LIMITS,
): Promise<CheckedPackage & { files: string[] }> {
  const pkg = JSON.parse(await readFile(join(dir, "package.json"), "utf8")) as { name?: unknown; version?: unknown };
  if (typeof pkg.name !== "string") throw new SkillKitError("E_SKILL_INVALID", "package.json has no name");
  const tgz = await npmPack(resolve(dir));
  const files = await readPackageTarball(tgz, pkg.name, limits);
  const checked = checkPackage(files, {
    name: pkg.name,
    version: typeof pkg.version === "string" ? pkg.version : undefined,
  });
  return { ...checked, files: [...files.files.keys()].sort() };
}

/** Run `npm pack --ignore-scripts` into a temp folder and return the tarball's bytes. */
async function npmPack(dir: string): Promise<Buffer> {
  const dest = await mkdtemp(join(tmpdir(), "switchboard-pack-"));
  try {
    const { stdout } = await promisify(execFile)(
      "npm",
      ["pack", "--ignore-scripts", "--json", "--pack-destination", dest],
      {
        cwd: dir,
        timeout: 60_000,
        env: {
          ...process.env,
          npm_config_update_notifier: "false",
          npm_config_fund: "false",
          npm_config_audit: "false",
        },
      },
    );
    const [info] = JSON.parse(stdout) as Array<{ filename: string }>;
    if (info === undefined) throw new SkillKitError("E_SKILL_INVALID", "npm pack produced no tarball");
    return await readFile(join(dest, info.filename));
  } catch (error) {
    if (error instanceof SkillKitError) throw error;
    throw new SkillKitError(
      "E_SKILL_INVALID",
      `npm pack failed in ${dir}: ${(error as { stderr?: string }).stderr ?? (error as Error).message}`,
      { cause: error },
    );
  } finally {
    await rm(dest, { recursive: true, force: true });
  }
}
