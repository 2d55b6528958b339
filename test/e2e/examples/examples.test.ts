/**
 * Every folder under `examples/` as a user would take it: pack both packages once (under the pack lock the
 * journey test also holds), publish the skill SDK to a real Verdaccio, copy each example to a temp folder outside
 * the repository, point it at the packed packages, `npm install`, and run its own `npm test` with `CI=true`.
 *
 * - `deploy-skill` depends on `@switchboard/skill-sdk@^0.1.0`, resolved from Verdaccio (the scope's registry);
 * - `custom-adapter` depends on `switchboard`; the copy's dependency is set to the packed tarball (`file:`),
 *   whose own `@switchboard/skill-sdk` dependency comes from Verdaccio.
 *
 * Child processes run with the environment a user's shell would give (the pinned Node first on PATH, no npm or
 * Node settings from this test run), so nothing connects an example to the repository but the tarballs.
 */
import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { stripVTControlCharacters } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRegistry, type TestRegistry } from "../../stand-ins/verdaccio/index.ts";
import { withPackLock } from "../pack-lock.ts";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const EXAMPLES = join(REPO, "examples");
const NODE_DIR = join(REPO, "node_modules", "node", "bin");
const STEP_TIMEOUT_MS = 600_000;

let registry: TestRegistry;
let work: string;
let tarballs: { bot: string; sdk: string };
const started = Date.now();

function progress(line: string): void {
  process.stderr.write(`[examples ${((Date.now() - started) / 1000).toFixed(1)}s] ${line}\n`);
}

/** A user's shell: PATH with Node first, HOME, `CI=true`; nothing from npm or this test run. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    // The machine's extra CA certificates stay: they are how this shell reaches its registry (npm run on another
    // Node has no global npmrc with a cafile).
    if (/^(npm_|NODE_(?!EXTRA_CA_CERTS$)|NODE$|VITEST|INIT_CWD$|TEST$)/i.test(key)) continue;
    env[key] = value;
  }
  return {
    ...env,
    PATH: `${NODE_DIR}:${process.env.PATH ?? ""}`,
    CI: "true",
    npm_config_update_notifier: "false",
    npm_config_fund: "false",
    npm_config_audit: "false",
  };
}

/** Run a command in `cwd`; resolves with stdout and stderr, rejects with everything it printed. */
function run(cmd: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<string> {
  progress(`$ ${cmd} ${args.join(" ")}   (in ${options.cwd})`);
  return new Promise((resolvePromise, reject) => {
    const child = execFile(
      cmd,
      args,
      { cwd: options.cwd, env: options.env ?? userEnv(), timeout: STEP_TIMEOUT_MS, maxBuffer: 32 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error === null) resolvePromise(`${stdout}\n${stderr}`);
        else reject(new Error(`${cmd} ${args.join(" ")} failed (${error.message}):\n${stdout}\n${stderr}`));
      },
    );
    child.stdin?.end();
  });
}

/** Copy `examples/<name>` (without installed or built files) to the temp folder, with `.npmrc` for the scope. */
async function copyExample(name: string): Promise<string> {
  const to = join(work, name);
  await cp(join(EXAMPLES, name), to, {
    recursive: true,
    filter: (from) => !/[/\\](node_modules|dist)([/\\]|$)|\.tgz$/.test(from.slice(EXAMPLES.length)),
  });
  await writeFile(join(to, ".npmrc"), `@switchboard:registry=${registry.url}\n`);
  return to;
}

beforeAll(async () => {
  registry = await startRegistry({ user: "examples" });
  work = await mkdtemp(join(tmpdir(), "sb-examples-"));
  const destination = join(work, "tarballs");
  await mkdir(destination);
  await withPackLock(REPO, () =>
    run("npm", ["pack", "--workspaces", "--include-workspace-root", "--pack-destination", destination, "--silent"], {
      cwd: REPO,
      // The repository's own scripts run on its pinned Node, as `npm pack` in the clone does.
      env: { ...userEnv(), PATH: `${join(REPO, "node_modules", ".bin")}:${NODE_DIR}:${process.env.PATH ?? ""}` },
    }),
  );
  expect((await readdir(destination)).sort()).toEqual(["switchboard-0.1.0.tgz", "switchboard-skill-sdk-0.1.0.tgz"]);
  tarballs = {
    bot: join(destination, "switchboard-0.1.0.tgz"),
    sdk: join(destination, "switchboard-skill-sdk-0.1.0.tgz"),
  };
  await registry.publish(tarballs.sdk);
  progress("packed both packages and published @switchboard/skill-sdk@0.1.0");
}, STEP_TIMEOUT_MS);

afterAll(async () => {
  await registry?.close();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe("examples/, installed from the packed packages outside the repository", () => {
  it("lists each example in examples/README.md", async () => {
    const readme = await readFile(join(EXAMPLES, "README.md"), "utf8");
    const folders = (await readdir(EXAMPLES, { withFileTypes: true })).filter((e) => e.isDirectory());
    expect(folders.map((f) => f.name).sort()).toEqual(["custom-adapter", "deploy-skill"]);
    for (const folder of folders) expect(readme).toContain(`(${folder.name}/)`);
  });

  it(
    "deploy-skill: npm install, then npm test plays the script against a stand-in CI server",
    async () => {
      const dir = await copyExample("deploy-skill");
      await run("npm", ["install", "--prefer-offline"], { cwd: dir });
      const tested = await run("npm", ["test"], { cwd: dir });
      expect(tested).toContain("ok   /deploy staging");
      expect(tested).toContain("deploy: 11/11 steps passed");
      expect(tested).toContain('stand-in CI: received [{"environment":"staging","requestedBy":"Ada"}]');
      const checked = await run("npm", ["run", "check"], { cwd: dir });
      expect(checked).toContain('ok: switchboard-skill-deploy@0.1.0 (skill "deploy", entry dist/index.js');
      expect(checked).toContain("fetch from ci.example.com");
      progress("deploy-skill passed");
    },
    STEP_TIMEOUT_MS,
  );

  it(
    "custom-adapter: npm install with the packed switchboard, then npm test runs the adapter contract suite",
    async () => {
      const dir = await copyExample("custom-adapter");
      const manifestPath = join(dir, "package.json");
      const manifest = JSON.parse(await readFile(manifestPath, "utf8")) as { dependencies: Record<string, string> };
      expect(manifest.dependencies.switchboard).toBe("^0.1.0");
      manifest.dependencies.switchboard = `file:${tarballs.bot}`;
      await writeFile(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
      await run("npm", ["install", "--prefer-offline"], { cwd: dir });
      const tested = stripVTControlCharacters(await run("npm", ["test"], { cwd: dir }));
      // Pigeon has no reactions and sends no files: the suite skips those five tests for it.
      expect(tested).toMatch(/Tests\s+12 passed \| 5 skipped \(17\)/);
      progress("custom-adapter passed");
    },
    STEP_TIMEOUT_MS,
  );
});
