/**
 * Build both packages to JavaScript with declarations: the skill SDK (`skills/sdk/dist/`), then the bot
 * (`dist/`), which type-checks against the SDK's built declarations as an installed copy would. Then bundle the
 * command line (`dist/cli/`, what `bin/switchboard.js` runs) and copy what the bot reads by path at run time:
 * the built-in skills' package.json and bundled entry. `npm pack` runs this (prepack), so a tarball always holds
 * fresh code. Run: `npm run build`.
 */
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");

function step(label: string, run: () => void): void {
  const started = Date.now();
  run();
  process.stdout.write(`build: ${label} (${Date.now() - started} ms)\n`);
}

async function timed(label: string, run: () => Promise<void>): Promise<void> {
  const started = Date.now();
  await run();
  process.stdout.write(`build: ${label} (${Date.now() - started} ms)\n`);
}

/**
 * Bundle the built command line: our ~200 modules in a few files (one for `start` and a chunk per module loaded
 * later by a dynamic import: each platform adapter, the admin API, the modules' subcommands), every package
 * left external. Node's module loader then resolves, reads, compiles and links a few files instead of hundreds
 * (test/bench/footprint.ts: start to ready). The unbundled `dist/` stays: the package's `exports` and the skill
 * host's entry point are its files. A module that finds files next to itself (`import.meta.url`: the web
 * console, the built-in skills, the skill host) keeps the URL of its file in `dist/`.
 */
async function bundleCli(): Promise<void> {
  const dist = join(ROOT, "dist");
  const outdir = join(dist, "cli");
  const ownUrl: Plugin = {
    name: "own-import-meta-url",
    setup(b) {
      b.onLoad({ filter: /\.js$/ }, (args) => {
        const text = readFileSync(args.path, "utf8");
        if (!args.path.startsWith(`${dist}/`) || !text.includes("import.meta.url")) return undefined;
        const fromOut = relative(outdir, args.path).split("\\").join("/");
        return {
          contents: text.replaceAll("import.meta.url", `new URL(${JSON.stringify(fromOut)}, import.meta.url).href`),
          loader: "js",
        };
      });
    },
  };
  await build({
    entryPoints: { main: join(dist, "bot", "app", "cli", "main.js") },
    outdir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node22.12",
    external: EXTERNAL,
    // Class and function names stay: bundled packages check them (node-fetch's `AbortSignal` by constructor name).
    keepNames: true,
    // Packages bundled from CommonJS call `require` for Node's own modules: give each chunk one.
    banner: {
      js: 'import { createRequire as __sbRequire } from "node:module"; const require = __sbRequire(import.meta.url);',
    },
    chunkNames: "[name]-[hash]",
    plugins: [ownUrl],
    logLevel: "warning",
    legalComments: "none",
  });
}

/** Packages kept out of the bundle, loaded from node_modules at run time. */
const EXTERNAL = [
  "isolated-vm", // a native addon
  "@switchboard/skill-sdk", // finds its own files next to itself (its package.json, its entry for skill builds)
  "esbuild", // runs its own binary, found next to its package
  "pacote",
  "npm-registry-fetch",
  "@npmcli/*",
  "pg",
  "pg-native",
  "ioredis",
  "@keyv/redis",
];

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
await timed("command line → dist/cli (esbuild bundle of dist/)", bundleCli);
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
