/**
 * Production install: what `npm install` of the packed bot with `--omit=dev` puts on disk in an empty folder, and
 * how many packages, next to the target (≤ 150 MB) and next to the previous release measured in the same run
 * (`npm ci --omit=dev` of the package.json and lockfile before the packages were split, from git). Rounds
 * interleave baseline and ours; sizes and counts are the same every round, the install time is reported as the
 * median of paired rounds with the best beside it.
 *
 *   npx node test/bench/install.ts [--rounds 3] [--baseline <git ref>]
 *
 * The packed tarballs come from `npm pack` of this tree (prepack builds both packages). Installs run on the Node
 * this script runs on (its folder first on PATH), with the default npm cache, `--prefer-offline`.
 */
import { execFile, execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { lstat, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const TARGET_MB = 150;
const { values } = parseArgs({
  options: { rounds: { type: "string", default: "3" }, baseline: { type: "string" } },
});
const ROUNDS = Math.max(1, Number(values.rounds));

const env: NodeJS.ProcessEnv = {};
for (const [key, value] of Object.entries(process.env)) if (!/^(npm_|NODE_OPTIONS$)/i.test(key)) env[key] = value;
env.PATH = `${dirname(process.execPath)}:${process.env.PATH ?? ""}`;
Object.assign(env, { npm_config_update_notifier: "false", npm_config_fund: "false", npm_config_audit: "false" });

const run = promisify(execFile);
async function npm(args: string[], cwd: string, extra: NodeJS.ProcessEnv = {}): Promise<void> {
  const pending = run("npm", args, { cwd, env: { ...env, ...extra }, maxBuffer: 64 * 1024 * 1024, timeout: 900_000 });
  pending.child.stdin?.end(); // no prompts: npm would wait on an open stdin
  await pending;
}

/** Bytes on disk (allocated blocks, as `du` counts them) and packages under a node_modules folder. */
async function measureTree(dir: string): Promise<{ bytes: number; packages: number }> {
  let bytes = 0;
  let packages = 0;
  // `inModules`: `path` is a node_modules folder or a scope folder inside one, so its entries are packages.
  async function walk(path: string, inModules: boolean): Promise<void> {
    const stat = await lstat(path);
    bytes += stat.blocks * 512;
    if (!stat.isDirectory()) return;
    for (const entry of await readdir(path, { withFileTypes: true })) {
      const child = join(path, entry.name);
      const isScope = inModules && entry.isDirectory() && entry.name.startsWith("@");
      if (inModules && entry.isDirectory() && !isScope && !entry.name.startsWith(".")) {
        if (existsSync(join(child, "package.json"))) packages += 1;
      }
      await walk(child, isScope || entry.name === "node_modules");
    }
  }
  await walk(dir, true);
  return { bytes, packages };
}

interface Round {
  bytes: number;
  packages: number;
  ms: number;
}

async function installOurs(tarballs: string[]): Promise<Round> {
  const dir = await mkdtemp(join(tmpdir(), "sb-install-ours-"));
  try {
    await writeFile(join(dir, "package.json"), '{"name":"install-bench","private":true}\n');
    const started = performance.now();
    await npm(["install", "--omit=dev", "--prefer-offline", ...tarballs], dir);
    const ms = performance.now() - started;
    return { ...(await measureTree(join(dir, "node_modules"))), ms };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function installBaseline(ref: string): Promise<Round> {
  const dir = await mkdtemp(join(tmpdir(), "sb-install-base-"));
  try {
    for (const file of ["package.json", "package-lock.json"]) {
      const text = execFileSync("git", ["show", `${ref}:${file}`], { cwd: REPO, encoding: "utf8", maxBuffer: 64e6 });
      await writeFile(join(dir, file), text);
    }
    const started = performance.now();
    await npm(["ci", "--omit=dev", "--prefer-offline"], dir);
    const ms = performance.now() - started;
    return { ...(await measureTree(join(dir, "node_modules"))), ms };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The release before the packages: the parent of the commit that added the SDK package (or `--baseline`). */
function baselineRef(): string {
  if (values.baseline !== undefined) return values.baseline;
  const added = execFileSync("git", ["log", "--format=%H", "--diff-filter=A", "--", "skills/sdk/package.json"], {
    cwd: REPO,
    encoding: "utf8",
  })
    .trim()
    .split("\n")
    .at(-1);
  return added === undefined || added === "" ? "HEAD" : `${added}~1`;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
/** MiB, as `du -sh` counts (the unit the issue's figures use). */
const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);

async function main(): Promise<void> {
  const ref = baselineRef();
  const shortRef = execFileSync("git", ["rev-parse", "--short", ref], { cwd: REPO, encoding: "utf8" }).trim();
  process.stdout.write(`Node ${process.versions.node}; baseline ${ref} (${shortRef}); ${ROUNDS} round(s)\n`);
  const packDir = await mkdtemp(join(tmpdir(), "sb-install-pack-"));
  try {
    await mkdir(packDir, { recursive: true });
    const packStarted = performance.now();
    // The repository's scripts run on its pinned Node, as `npm pack` in the clone does.
    await npm(["pack", "--workspaces", "--include-workspace-root", "--pack-destination", packDir, "--silent"], REPO, {
      PATH: `${join(REPO, "node_modules", ".bin")}:${env.PATH}`,
    });
    const tarballs = (await readdir(packDir)).filter((f) => f.endsWith(".tgz")).map((f) => join(packDir, f));
    process.stdout.write(
      `packed ${tarballs.length} tarballs in ${((performance.now() - packStarted) / 1000).toFixed(1)} s\n`,
    );

    const ours: Round[] = [];
    const base: Round[] = [];
    for (let round = 1; round <= ROUNDS; round += 1) {
      base.push(await installBaseline(ref));
      ours.push(await installOurs(tarballs));
      const b = base.at(-1)!;
      const o = ours.at(-1)!;
      process.stdout.write(
        `round ${round}: previous ${mb(b.bytes)} MiB, ${b.packages} packages, ${(b.ms / 1000).toFixed(1)} s | ours ${mb(o.bytes)} MiB, ${o.packages} packages, ${(o.ms / 1000).toFixed(1)} s\n`,
      );
    }
    const o = ours[0]!;
    const b = base[0]!;
    process.stdout.write("\nproduction install (--omit=dev)      ours        previous    target\n");
    process.stdout.write(
      `  size on disk                       ${`${mb(o.bytes)} MiB`.padEnd(12)}${`${mb(b.bytes)} MiB`.padEnd(12)}≤ ${TARGET_MB} MiB ${o.bytes <= TARGET_MB * 1024 * 1024 ? "(met)" : "(NOT met)"}\n`,
    );
    process.stdout.write(
      `  packages                           ${String(o.packages).padEnd(12)}${String(b.packages).padEnd(12)}-\n`,
    );
    process.stdout.write(
      `  install time, median (best)        ${`${(median(ours.map((r) => r.ms)) / 1000).toFixed(1)} s`.padEnd(6)} (${(Math.min(...ours.map((r) => r.ms)) / 1000).toFixed(1)})  ${(median(base.map((r) => r.ms)) / 1000).toFixed(1)} s (${(Math.min(...base.map((r) => r.ms)) / 1000).toFixed(1)})  -\n`,
    );
  } finally {
    await rm(packDir, { recursive: true, force: true });
  }
}

await main();
