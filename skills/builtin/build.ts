/**
 * Rebuild the bundled entry of every built-in skill (and any other skill folder given on the command line):
 * `npx node skills/builtin/build.ts [dir…]`. Each `src/index.ts` becomes one self-contained `dist/index.js`
 * (esbuild, IIFE assigning the global `skill`), the format the runtime loads. The bundles are committed, so
 * nothing is built at run time.
 */
import { existsSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const HERE = dirname(fileURLToPath(import.meta.url));

/** Bundle one skill folder's `src/index.ts` into `dist/index.js` (or `outfile`). */
export async function bundleSkill(dir: string, outfile = join(dir, "dist", "index.js")): Promise<string> {
  const entry = join(dir, "src", "index.ts");
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: "iife",
    globalName: "skill",
    platform: "neutral",
    target: "es2022",
    legalComments: "none",
    charset: "utf8",
    logLevel: "warning",
  });
  return outfile;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const dirs =
    args.length > 0
      ? args.map((a) => resolve(a))
      : readdirSync(HERE, { withFileTypes: true })
          .filter((d) => d.isDirectory())
          .map((d) => join(HERE, d.name));
  for (const dir of dirs) {
    if (!existsSync(join(dir, "src", "index.ts"))) continue;
    const out = await bundleSkill(dir);
    process.stdout.write(`built ${out}\n`);
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
