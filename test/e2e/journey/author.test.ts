/**
 * The author's and the operator's journey, from outside the repository, as one test:
 * 1. pack both packages (`npm pack`, which builds them) and publish them to a real Verdaccio;
 * 2. in a temp folder, scaffold a skill with the SDK's own bin, installed from that registry;
 * 3. `npm install`, `npm run build`, `npm test`, `npm publish` in the skill, exactly as scaffolded;
 * 4. in another temp folder, install the packed bot with `--omit=dev`; `switchboard start` answers /help and
 *    /whoami from a pipe and exits 0; `switchboard skills install` the new skill;
 * 5. start the bot (embedded store), enable the skill from the console, run its command, and see the answer;
 * 6. start the installed bot on Telegram, Discord and Slack (the loopback stand-ins in test/stand-ins/) and see
 *    `/whoami` answered on each: the platform SDKs run from the packed bundle, not from the clone's sources.
 *
 * Only the packed tarballs and the registry connect this test to the repository: every child process runs in a
 * temp folder, on the pinned Node (its folder first on PATH, as a user's Node would be), with no npm or Node
 * settings inherited from the test run. Scoped registries send `@switchboard` and `@journey` packages to
 * Verdaccio (so nothing is ever published elsewhere); other dependencies come from the default registry.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPlatforms } from "../../stand-ins/platforms.ts";
import { commandPayload } from "../../stand-ins/slack/sender.ts";
import { startRegistry, type TestRegistry } from "../../stand-ins/verdaccio/index.ts";
import { withPackLock } from "../pack-lock.ts";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
/** The pinned Node (devDependency `node`): a user would have a Node >= 22.12 on PATH. */
const NODE_DIR = join(REPO, "node_modules", "node", "bin");
const SKILL = "@journey/switchboard-skill-journey";
const STEP_TIMEOUT_MS = 600_000;

let registry: TestRegistry;
let work: string;
const started = Date.now();

function progress(line: string): void {
  process.stderr.write(`[journey ${((Date.now() - started) / 1000).toFixed(1)}s] ${line}\n`);
}

/** The environment a user's shell would give: PATH with Node first, HOME; nothing from npm or this test run. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    // The machine's extra CA certificates stay: they are how this shell reaches its registry (npm run on another
    // Node has no global npmrc with a cafile).
    if (/^(npm_|NODE_(?!EXTRA_CA_CERTS$)|NODE$|VITEST|INIT_CWD$|TEST$)/i.test(key)) continue;
    env[key] = value;
  }
  env.PATH = `${NODE_DIR}:${process.env.PATH ?? ""}`;
  env.npm_config_update_notifier = "false";
  env.npm_config_fund = "false";
  env.npm_config_audit = "false";
  return { ...env, ...extra };
}

/** Run a command in `cwd`; resolves with stdout, rejects with everything it printed. */
// biome-ignore lint/complexity/useMaxParams: reads as the shell line it runs (command, arguments, folder), env optional
function run(cmd: string, args: string[], cwd: string, env = userEnv()): Promise<string> {
  progress(`$ ${cmd} ${args.join(" ")}   (in ${cwd})`);
  return new Promise((resolvePromise, reject) => {
    // stdin closed, as in a script: npm exec waits on an open stdin to ask before running install scripts.
    const child = execFile(
      cmd,
      args,
      { cwd, env, timeout: STEP_TIMEOUT_MS, maxBuffer: 32 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error === null) resolvePromise(stdout);
        else reject(new Error(`${cmd} ${args.join(" ")} failed (${error.message}):\n${stdout}\n${stderr}`));
      },
    );
    child.stdin?.end();
  });
}

/** A `.npmrc` that sends our scopes to Verdaccio, with the author's token for publishing. */
function npmrc(): string {
  const host = registry.url.replace(/^http:/, "");
  return [
    `@switchboard:registry=${registry.url}`,
    `@journey:registry=${registry.url}`,
    `${host}:_authToken=${registry.token}`,
    "",
  ].join("\n");
}

/** Start `switchboard start` in `cwd` with stdin open; lines are written as the test goes. */
function startBot(
  bin: string,
  cwd: string,
): {
  write(line: string): void;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  end(): Promise<{ code: number | null; out: string; err: string }>;
} {
  const child = spawn(bin, ["start"], { cwd, env: userEnv(), stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let err = "";
  const waiters = new Set<() => void>();
  child.stdout.on("data", (c: Buffer) => {
    out += c.toString();
    for (const w of waiters) w();
  });
  child.stderr.on("data", (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  return {
    write(line) {
      progress(`console> ${line}`);
      child.stdin.write(`${line}\n`);
    },
    waitFor(pattern, timeoutMs = 120_000) {
      return new Promise((resolvePromise, reject) => {
        const check = (): void => {
          const match = out.match(pattern);
          if (match === null) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolvePromise(match);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no ${pattern} on the console within ${timeoutMs} ms:\n${out}\n--- stderr ---\n${err}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async end() {
      child.stdin.end();
      const code = await exited;
      return { code, out, err };
    },
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/**
 * Step 6: the installed bot on the three platforms' stand-ins. Waits for `/readyz` (every adapter up), then sends
 * `/whoami` on each platform and waits for each answer to name that platform.
 */
async function answersOnEveryPlatform(bin: string, cwd: string): Promise<void> {
  const platforms = await startPlatforms();
  const { telegram, discord, slack } = platforms;
  const port = await freePort();
  const child = spawn(bin, ["start"], {
    cwd,
    env: userEnv({ SWITCHBOARD_HTTP__PORT: String(port), SWITCHBOARD_HTTP__HOST: "127.0.0.1", ...platforms.env }),
    stdio: ["pipe", "pipe", "pipe"],
  });
  let err = "";
  child.stdout.resume();
  child.stderr.on("data", (c: Buffer) => (err = (err + c.toString()).slice(-8_000)));
  try {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const status = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) break;
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`not ready on every platform:\n${err}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    progress("the installed bot is up on Telegram, Discord and Slack");
    telegram.queueMessage({ chatId: 4242, userId: 4242, text: "/whoami" });
    const mention = discord.dispatchMessage({
      content: `<@${discord.bot.id}> /whoami`,
      author: discord.users.alice,
      channelId: discord.channelId,
      guildId: discord.guild.id,
      mentions: [discord.bot],
    });
    slack.deliver("slash_commands", commandPayload({ command: "/whoami", channel_id: "CJOURNEY1" }));
    await telegram.waitFor(
      () => telegram.messagesIn(4242).some((m) => m.text.includes("telegram:4242")),
      30_000,
      "the Telegram answer",
    );
    const post = await discord.waitForRequest(
      (r) =>
        r.method === "POST" &&
        r.path.endsWith(`/channels/${discord.channelId}/messages`) &&
        (r.body as { message_reference?: { message_id: string } }).message_reference?.message_id === mention.id,
      30_000,
    );
    expect((post.body as { content: string }).content).toContain(`discord:${discord.users.alice.id}`);
    await slack.waitFor(
      () => slack.messagesIn("CJOURNEY1").some((m) => m.text.includes("slack:")),
      30_000,
      "the Slack answer",
    );
    progress("the installed bot answered /whoami on Telegram, Discord and Slack");
  } finally {
    const exited =
      child.exitCode !== null || child.signalCode !== null
        ? Promise.resolve()
        : new Promise((r) => child.once("exit", r));
    child.stdin.end();
    child.kill("SIGTERM");
    await exited;
    await platforms.close();
  }
}

beforeAll(async () => {
  registry = await startRegistry({ user: "author" });
  work = await mkdtemp(join(tmpdir(), "sb-journey-"));
}, 120_000);

afterAll(async () => {
  await registry?.close();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe("the author's journey, outside the repository", () => {
  it(
    "packs and publishes both packages, scaffolds, builds, tests and publishes a skill, installs the bot with --omit=dev and runs the skill from the console and on Telegram, Discord and Slack",
    async () => {
      // 1. Pack both packages (prepack builds them) and publish them.
      const tarballs = join(work, "tarballs");
      await mkdir(tarballs);
      await withPackLock(REPO, () =>
        run(
          "npm",
          ["pack", "--workspaces", "--include-workspace-root", "--pack-destination", tarballs, "--silent"],
          REPO,
          // The repository's own scripts run on its pinned Node, as `npm pack` in the clone does.
          { ...userEnv(), PATH: `${join(REPO, "node_modules", ".bin")}:${NODE_DIR}:${process.env.PATH ?? ""}` },
        ),
      );
      const packed = (await readdir(tarballs)).sort();
      expect(packed).toEqual(["switchboard-0.1.0.tgz", "switchboard-skill-sdk-0.1.0.tgz"]);
      const sdkTarball = join(tarballs, "switchboard-skill-sdk-0.1.0.tgz");
      const botTarball = join(tarballs, "switchboard-0.1.0.tgz");
      await registry.publish(sdkTarball);
      await registry.publish(botTarball);
      progress("packed and published @switchboard/skill-sdk@0.1.0 and switchboard@0.1.0");

      // 4a (in parallel with the author's work): the operator installs the packed bot, production dependencies only.
      const botDir = join(work, "operator");
      await mkdir(botDir);
      await writeFile(join(botDir, ".npmrc"), npmrc());
      await writeFile(join(botDir, "package.json"), `${JSON.stringify({ name: "ops", private: true }, null, 2)}\n`);
      await writeFile(
        join(botDir, "switchboard.config.yaml"),
        [
          `bot: { dataDir: ${JSON.stringify(join(botDir, "data"))} }`,
          `marketplace: { registry: "${registry.url}" }`,
          "http: { port: 0 }",
          "",
        ].join("\n"),
      );
      const operatorInstall = run("npm", ["install", "--omit=dev", "--prefer-offline", botTarball], botDir);
      operatorInstall.catch(() => undefined); // awaited below; this only keeps a failure from going unhandled first

      // 2. Scaffold a skill with the SDK's own bin, installed from the registry. (`npx @switchboard/skill-sdk init`
      // is the one-liner; npm 11's npx can stall on its install-script handling with CI=true, so the test installs
      // the SDK into a tools folder the way `npm install` would, and runs the same bin from there.)
      const toolsDir = join(work, "tools");
      await mkdir(toolsDir);
      await writeFile(join(toolsDir, ".npmrc"), npmrc());
      await writeFile(join(toolsDir, "package.json"), '{"name":"tools","private":true}\n');
      await run("npm", ["install", "--prefer-offline", "@switchboard/skill-sdk@0.1.0"], toolsDir);
      const authorDir = join(work, "author");
      await mkdir(authorDir);
      const init = await run(join(toolsDir, "node_modules", ".bin", "switchboard-skill"), ["init", SKILL], authorDir);
      expect(init).toContain("src/index.ts");
      const skillDir = join(authorDir, "switchboard-skill-journey");
      await writeFile(join(skillDir, ".npmrc"), npmrc());
      const manifest = JSON.parse(await readFile(join(skillDir, "package.json"), "utf8")) as {
        devDependencies: Record<string, string>;
      };
      // The SDK and the bundler its `build` uses (an optional peer of the SDK, so operators' installs skip it).
      expect(manifest.devDependencies).toEqual({
        "@switchboard/skill-sdk": "^0.1.0",
        esbuild: expect.stringMatching(/^\^0\.\d+\.\d+$/),
      });

      // 3. The scaffold's own scripts, as they are.
      await run("npm", ["install", "--prefer-offline"], skillDir);
      expect(existsSync(join(skillDir, "node_modules", "@switchboard", "skill-sdk", "dist", "index.d.ts"))).toBe(true);
      const built = await run("npm", ["run", "build"], skillDir);
      expect(built).toMatch(/built dist\/index\.js \(\d+ bytes\)/);
      const tested = await run("npm", ["test"], skillDir);
      expect(tested).toContain("ok   /journey world");
      expect(tested).toContain('ok   tool greeting {"who":"Ada"}');
      expect(tested).toContain("journey: 3/3 steps passed");
      await run("npm", ["publish"], skillDir);
      const packument = (await (await fetch(`${registry.url}${SKILL.replace("/", "%2f")}`)).json()) as {
        "dist-tags": { latest: string };
      };
      expect(packument["dist-tags"].latest).toBe("0.1.0");
      progress(`published ${SKILL}@0.1.0`);

      // 4b. The installed bot answers a piped session and exits 0.
      await operatorInstall;
      const bin = join(botDir, "node_modules", ".bin", "switchboard");
      expect(existsSync(join(botDir, "node_modules", "node"))).toBe(false); // no pinned Node in a production install
      const piped = await new Promise<{ code: number | null; out: string; err: string }>((resolvePromise) => {
        const child = execFile(bin, ["start"], { cwd: botDir, env: userEnv(), timeout: 120_000 }, (error, out, err) =>
          resolvePromise({ code: error === null ? 0 : ((error as { code?: number }).code ?? 1), out, err }),
        );
        child.stdin?.end("/help\n/whoami\n");
      });
      expect(piped.code, piped.err).toBe(0);
      expect(piped.out).toContain("/whoami — Show your platform, ids and role in this chat");
      expect(piped.out).toContain("Role here: owner");
      progress("the installed bot answered /help and /whoami and exited 0");

      // 4c. Install the new skill from the registry.
      const installed = await run(bin, ["skills", "install", SKILL, "--yes"], botDir);
      expect(installed).toContain(`installed ${SKILL}@0.1.0`);

      // 5. Start on the embedded store, enable the skill from the console, run its command.
      const bot = startBot(bin, botDir);
      bot.write("/skills enable journey");
      const [, approvalId] = await bot.waitFor(/\/skills approve ([0-9a-f]{10})/);
      bot.write(`/skills approve ${approvalId}`);
      await bot.waitFor(/0\.1\.0 is enabled in this chat/);
      bot.write("/journey Ada");
      await bot.waitFor(/Hello Ada! \(#1 in this chat\)/);
      const session = await bot.end();
      expect(session.code, session.err).toBe(0);
      progress("the skill answered on the console");

      // 6. The same installed bot on Telegram, Discord and Slack.
      await answersOnEveryPlatform(bin, botDir);
    },
    15 * 60_000,
  );
});
