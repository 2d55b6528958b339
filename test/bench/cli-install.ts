/**
 * `switchboard skills install` as a whole process, as a user runs it: wall time and peak resident memory of
 * `switchboard skills install <skill> --yes` in a fresh data folder, next to `npm install` of the same package
 * from the same registry (a local Verdaccio stand-in) into an empty folder, in paired rounds (medians, each
 * round's figures, best-of beside). Two `switchboard`s: the installed one (this tree packed and installed with
 * `--omit=dev`, what users run) and the clone's (`bin/switchboard.js` on the TypeScript sources). Peak memory is
 * GNU time's maximum resident set size of the process tree's largest process.
 *
 *   npx node test/bench/cli-install.ts [--rounds N]
 *
 * Target: ≤ 1 s wall and ≤ 200 MB peak for a small skill.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { writeSkill } from "../fixtures/marketplace/packages.ts";
import { startRegistry } from "../stand-ins/verdaccio/index.ts";
import { ROOT, median } from "./base-tree.ts";
import { installPacked } from "./packed.ts";

const run = promisify(execFile);
const at = process.argv.indexOf("--rounds");
const ROUNDS = at === -1 ? 5 : Number(process.argv[at + 1]);
const SKILL = "switchboard-skill-clibench";

const env: NodeJS.ProcessEnv = {};
for (const [key, value] of Object.entries(process.env)) if (!/^(npm_|NODE_OPTIONS$)/i.test(key)) env[key] = value;
env.PATH = `${dirname(process.execPath)}:${process.env.PATH ?? ""}`;
Object.assign(env, { npm_config_update_notifier: "false", npm_config_fund: "false", npm_config_audit: "false" });

/** Wall ms and peak RSS MB of one command under GNU time. */
async function timed(
  cmd: string[],
  cwd: string,
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<{ wallMs: number; peakMb: number }> {
  const t0 = performance.now();
  const { stderr } = await run("/usr/bin/time", ["-f", "PEAK_KB %M", ...cmd], {
    cwd,
    env: { ...env, ...extraEnv },
    maxBuffer: 16 * 1024 * 1024,
  });
  const wallMs = performance.now() - t0;
  const m = /PEAK_KB (\d+)/.exec(stderr);
  if (m === null) throw new Error(`no peak in: ${stderr.slice(-500)}`);
  return { wallMs, peakMb: Number(m[1]) / 1024 };
}

const registry = await startRegistry();
const work = await mkdtemp(join(tmpdir(), "sb-bench-cli-"));
try {
  await registry.publish(
    await writeSkill(join(work, "pkg"), { name: SKILL, version: "1.0.0", description: "cli bench", permissions: {} }),
  );
  const installedBin = installPacked(join(work, "packed")).bin;
  type Figures = { wallMs: number; peakMb: number };
  const ours: Figures[] = [];
  const clone: Figures[] = [];
  const npm: Figures[] = [];
  const runSwitchboard = async (bin: string, into: Figures[], name: string) => {
    const dir = join(work, name);
    const configFile = join(work, `config-${name}.json`);
    await writeFile(
      configFile,
      JSON.stringify({ bot: { dataDir: dir }, log: { level: "silent" }, marketplace: { registry: registry.url } }),
    );
    into.push(
      await timed([process.execPath, bin, "skills", "install", SKILL, "--yes"], work, {
        SWITCHBOARD_CONFIG: configFile,
      }),
    );
  };
  const runOurs = async (r: number) => {
    await runSwitchboard(installedBin, ours, `sb-${r}`);
    await runSwitchboard(join(ROOT, "bin/switchboard.js"), clone, `clone-${r}`);
  };
  const runNpm = async (r: number) => {
    const dir = join(work, `npm-${r}`);
    await run("mkdir", ["-p", dir]);
    await writeFile(join(dir, "package.json"), "{}");
    npm.push(
      await timed(["npm", "install", SKILL, `--registry=${registry.url}`, "--no-save", "--prefer-offline"], dir),
    );
  };
  await runOurs(-1); // warm the caches both use
  await runNpm(-1);
  ours.length = 0;
  clone.length = 0;
  npm.length = 0;
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2 === 0) {
      await runNpm(r);
      await runOurs(r);
    } else {
      await runOurs(r);
      await runNpm(r);
    }
  }
  const wall = (xs: Figures[]) =>
    `${Math.round(median(xs.map((x) => x.wallMs)))} ms (best ${Math.round(Math.min(...xs.map((x) => x.wallMs)))})`;
  const peak = (xs: Figures[]) => `${Math.round(median(xs.map((x) => x.peakMb)))} MB`;
  console.log(`switchboard skills install ${SKILL} --yes, as a process (${ROUNDS} paired rounds with npm install):`);
  console.log(`  wall, installed switchboard:  ${wall(ours)}   target ≤ 1,000 ms`);
  console.log(`  wall, the clone's switchboard: ${wall(clone)}`);
  console.log(`  wall, npm install:            ${wall(npm)}`);
  console.log(`  peak RSS: installed ${peak(ours)}, clone ${peak(clone)}, npm install ${peak(npm)}   target ≤ 200 MB`);
  console.log(
    `  wall, installed switchboard / npm install: ${median(ours.map((x, i) => x.wallMs / npm[i]!.wallMs)).toFixed(2)}× (median of ${ROUNDS} paired rounds)`,
  );
  console.log(
    `  rounds (wall ms / peak MB, npm → installed → clone): ${npm.map((x, i) => `${Math.round(x.wallMs)}/${Math.round(x.peakMb)} → ${Math.round(ours[i]!.wallMs)}/${Math.round(ours[i]!.peakMb)} → ${Math.round(clone[i]!.wallMs)}/${Math.round(clone[i]!.peakMb)}`).join("; ")}`,
  );
} finally {
  await registry.close();
  await rm(work, { recursive: true, force: true });
}
