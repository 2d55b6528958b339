/**
 * `switchboard skills install` as a whole process, as a user runs it: wall time and peak resident memory of
 * `node bin/switchboard.js skills install <skill> --yes` in a fresh data folder, next to `npm install` of the same
 * package from the same registry (a local Verdaccio stand-in) into an empty folder, in paired rounds (medians,
 * each round's pair, best-of beside). Peak memory is GNU time's maximum resident set size of the process tree's
 * largest process.
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
  const ours: Array<{ wallMs: number; peakMb: number }> = [];
  const npm: Array<{ wallMs: number; peakMb: number }> = [];
  const runOurs = async (r: number) => {
    const dir = join(work, `sb-${r}`);
    const configFile = join(work, `config-${r}.json`);
    await writeFile(
      configFile,
      JSON.stringify({ bot: { dataDir: dir }, log: { level: "silent" }, marketplace: { registry: registry.url } }),
    );
    ours.push(
      await timed([process.execPath, join(ROOT, "bin/switchboard.js"), "skills", "install", SKILL, "--yes"], work, {
        SWITCHBOARD_CONFIG: configFile,
      }),
    );
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
  console.log(`switchboard skills install ${SKILL} --yes, as a process (${ROUNDS} paired rounds with npm install):`);
  console.log(
    `  wall: switchboard ${Math.round(median(ours.map((x) => x.wallMs)))} ms (best ${Math.round(Math.min(...ours.map((x) => x.wallMs)))}), npm install ${Math.round(median(npm.map((x) => x.wallMs)))} ms (best ${Math.round(Math.min(...npm.map((x) => x.wallMs)))})   target ≤ 1,000 ms`,
  );
  console.log(
    `  peak RSS: switchboard ${Math.round(median(ours.map((x) => x.peakMb)))} MB, npm install ${Math.round(median(npm.map((x) => x.peakMb)))} MB   target ≤ 200 MB`,
  );
  console.log(
    `  wall, switchboard / npm install: ${median(ours.map((x, i) => x.wallMs / npm[i]!.wallMs)).toFixed(2)}× (median of ${ROUNDS} paired rounds)`,
  );
  console.log(
    `  rounds (wall ms / peak MB, npm → switchboard): ${npm.map((x, i) => `${Math.round(x.wallMs)}/${Math.round(x.peakMb)} → ${Math.round(ours[i]!.wallMs)}/${Math.round(ours[i]!.peakMb)}`).join("; ")}`,
  );
} finally {
  await registry.close();
  await rm(work, { recursive: true, force: true });
}
