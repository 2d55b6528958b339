/**
 * `switchboard skills …` and `switchboard skill …` through the real CLI program against a real Verdaccio:
 * search, info, install (with permissions shown), list, verify, update with new permissions, rollback, downgrade
 * refusal, uninstall with data purge; and the author kit: init → build → check → npm publish → install.
 */
import { appendFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { openStore } from "../../../bot/storage/open.ts";
import { writeSkill, type FixtureSkill } from "../../fixtures/marketplace/packages.ts";
import { listFiles, startRegistry, type TestRegistry } from "../../stand-ins/verdaccio/index.ts";
import { startTestBot } from "../../helpers/app.ts";
import { createMarketplacePlugin } from "../../../marketplace/index.ts";
import { createSkillsPlugin, type SkillsPlugin } from "../../../skills/index.ts";
import { runCli, type CliResult } from "../../helpers/cli.ts";

// npm publish and store start-up are slow on a loaded 2-core machine.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 240_000 });

let registry: TestRegistry;
let work: string;
let configFile: string;
let dataDir: string;
let n = 0;

async function publish(skill: FixtureSkill): Promise<void> {
  await registry.publish(await writeSkill(join(work, `pkg-${n++}`), skill));
}

/** Run one CLI command; resolves with its exit code, stdout and stderr. */
function cli(...args: string[]): Promise<CliResult> {
  return runCli(args, { configFile });
}

beforeAll(async () => {
  registry = await startRegistry();
  work = await mkdtemp(join(tmpdir(), "sb-mk-cli-"));
  dataDir = join(work, "data");
  configFile = join(work, "switchboard.config.json");
  await writeFile(
    configFile,
    JSON.stringify({
      bot: { dataDir },
      log: { level: "silent" },
      marketplace: { registry: registry.url },
      skills: { builtins: false },
    }),
  );
  await publish({
    name: "switchboard-skill-weather",
    version: "1.0.0",
    description: "weather report",
    permissions: { network: ["api.weather.example"] },
  });
});

afterAll(async () => {
  await registry?.close();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe("switchboard skills", () => {
  it("searches and shows info", async () => {
    const search = await cli("skills", "search", "weather");
    expect(search.code).toBe(0);
    expect(search.out).toContain("switchboard-skill-weather@1.0.0  weather report");
    const info = await cli("skills", "info", "switchboard-skill-weather");
    expect(info.out).toContain("versions: 1.0.0");
    expect(info.out).toContain("fetch from api.weather.example");
    expect(info.out).toContain("not installed");
  });

  it("takes --registry over the configured registry, and refuses a bad one clearly", async () => {
    const elsewhere = await cli("skills", "search", "weather", "--registry", "http://127.0.0.1:1/");
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.err).toContain("http://127.0.0.1:1/");
    const bad = await cli("skills", "info", "switchboard-skill-weather", "--registry", "ftp:nope");
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("--registry must be an http(s) URL");
  });

  it("installs with the permissions shown and a progress line, then lists and verifies", async () => {
    const noYes = await cli("skills", "install", "switchboard-skill-weather");
    expect(noYes.code).toBe(1);
    expect(noYes.err).toContain("pass --yes");
    expect(await listFiles(join(dataDir, "skills"))).toEqual([]);

    const install = await cli("skills", "install", "switchboard-skill-weather", "--yes");
    expect(install.code, install.err).toBe(0);
    expect(install.err).toContain("asks for:");
    expect(install.err).toContain("fetch from api.weather.example");
    expect(install.err).toMatch(
      /download switchboard-skill-weather@1\.0\.0\n\s+verify switchboard-skill-weather@1\.0\.0/,
    );
    expect(install.out).toContain('installed switchboard-skill-weather@1.0.0 (skill "weather")');

    const list = await cli("skills", "list");
    expect(list.out).toContain(
      "switchboard-skill-weather@1.0.0  skill=weather range=^1.0.0 permissions=[network:api.weather.example]",
    );
    const verify = await cli("skills", "verify");
    expect(verify.code).toBe(0);
    expect(verify.out).toContain("ok       switchboard-skill-weather@1.0.0");
  });

  it("updates with new permissions only after approval, then rolls back", async () => {
    await publish({
      name: "switchboard-skill-weather",
      version: "1.1.0",
      description: "weather report",
      permissions: { network: ["api.weather.example"], storage: true },
      changelog: "remembers your city",
    });
    const unapproved = await cli("skills", "update", "weather");
    expect(unapproved.code).toBe(1);
    expect(unapproved.err).toContain("NEW permissions:");
    expect(unapproved.err).toContain("pass --yes");
    expect((await cli("skills", "list")).out).toContain("switchboard-skill-weather@1.0.0");
    const update = await cli("skills", "update", "weather", "--yes");
    expect(update.code, update.err).toBe(0);
    expect(update.err).toContain("NEW permissions:");
    expect(update.err).toContain("changelog: remembers your city");
    expect(update.out).toContain(
      "updated switchboard-skill-weather 1.0.0 → 1.1.0 (chats must approve the new permissions again)",
    );
    const again = await cli("skills", "update");
    expect(again.out).toContain("switchboard-skill-weather is up to date (1.1.0)");

    const rollback = await cli("skills", "rollback", "weather");
    expect(rollback.out).toContain("rolled switchboard-skill-weather back from 1.1.0 to 1.0.0");
    const lock = JSON.parse(await readFile(join(dataDir, "skills/switchboard-lock.json"), "utf8"));
    expect(lock.skills["switchboard-skill-weather"]).toMatchObject({
      version: "1.0.0",
      previous: { version: "1.1.0" },
    });
  });

  it("refuses a downgrade without --allow-downgrade", async () => {
    await cli("skills", "install", "switchboard-skill-weather@1.1.0", "--yes");
    const down = await cli("skills", "install", "switchboard-skill-weather@1.0.0", "--yes");
    expect(down.code).toBe(1);
    expect(down.err).toContain("older than the installed 1.1.0. Use --allow-downgrade");
    const allowed = await cli("skills", "install", "switchboard-skill-weather@1.0.0", "--yes", "--allow-downgrade");
    expect(allowed.code, allowed.err).toBe(0);
  });

  it("verify reports a tampered file and exits 1", async () => {
    await appendFile(join(dataDir, "skills/switchboard-skill-weather/1.0.0/package.json"), " ");
    const verify = await cli("skills", "verify");
    expect(verify.code).toBe(1);
    expect(verify.out).toContain("TAMPERED switchboard-skill-weather@1.0.0: package.json was modified");
  });

  it("uninstalls, purging stored data on request, and audits it", async () => {
    const un = await cli("skills", "uninstall", "weather", "--purge-data", "--yes");
    expect(un.code, un.err).toBe(0);
    expect(un.out).toMatch(/uninstalled switchboard-skill-weather@1\.0\.0; deleted \d+ stored entries/);
    expect(await listFiles(join(dataDir, "skills"))).toEqual(["switchboard-lock.json"]);
    expect((await cli("skills", "list")).out).toContain("No skills installed.");
    const store = await openStore({ dataDir });
    try {
      const actions = (await store.audit.list("*")).map((a) => `${a.action} ${a.target ?? ""} ${a.actor}`);
      for (const action of ["skills.install", "skills.update", "skills.rollback", "skills.uninstall", "skills.purge"]) {
        expect(
          actions.some((a) => a.startsWith(action) && / cli:/.test(a)),
          `${action} in ${actions.join(", ")}`,
        ).toBe(true);
      }
    } finally {
      await store.close();
    }
  });
});

describe("the CLI while the bot runs on the embedded store", () => {
  it("hands the install to the running bot, which loads it and records the audit entry", async () => {
    await publish({ name: "switchboard-skill-live", version: "1.0.0" });
    const liveDir = join(work, "live-data");
    const liveConfig = join(work, "live.config.json");
    await writeFile(
      liveConfig,
      JSON.stringify({
        bot: { dataDir: liveDir },
        log: { level: "silent" },
        marketplace: { registry: registry.url },
        skills: { builtins: false },
      }),
    );
    const store = await openStore({ dataDir: liveDir });
    let ready!: (p: SkillsPlugin) => void;
    const skillsPlugin = new Promise<SkillsPlugin>((resolve) => (ready = resolve));
    const bot = await startTestBot({
      store,
      set: { "bot.dataDir": liveDir, "skills.builtins": false, "marketplace.registry": registry.url },
      plugins: [
        async (core) => {
          const p = await createSkillsPlugin(core);
          ready(p);
          return p;
        },
        async (core) => createMarketplacePlugin(core, { skills: (await skillsPlugin).service }),
      ],
    });
    const previous = configFile;
    configFile = liveConfig;
    try {
      const install = await cli("skills", "install", "switchboard-skill-live", "--yes");
      expect(install.code, install.err).toBe(0);
      expect(install.err).toContain("the bot is running on this data folder");
      const service = (await skillsPlugin).service;
      await vi.waitFor(() => expect(service.get("live")?.version).toBe("1.0.0"), { timeout: 60_000, interval: 100 });
      await vi.waitFor(
        async () => {
          const audit = await store.audit.list("*");
          expect(
            audit.some(
              (a) =>
                a.action === "skills.install" && a.target === "switchboard-skill-live" && a.actor.startsWith("cli:"),
            ),
          ).toBe(true);
        },
        { timeout: 60_000, interval: 200 },
      );
      const purge = await cli("skills", "uninstall", "live", "--purge-data", "--yes");
      expect(purge.code).toBe(1);
      // (In a real CLI process the message names the bot's pid; here the test holds the store in-process.)
      expect(purge.err).toMatch(/in use by process|already held by this process/);
      expect((await cli("skills", "list")).out).toContain("switchboard-skill-live@1.0.0");
    } finally {
      configFile = previous;
      await bot.stop();
      await store.close();
    }
  });
});

describe("switchboard skill (author kit)", () => {
  it("creates, builds, checks, tests in the runtime and publishes a skill that then installs", {
    timeout: 180_000,
  }, async () => {
    const dir = join(work, "author", "hello");
    const init = await cli("skill", "init", "switchboard-skill-hello", "--dir", dir);
    expect(init.code, init.err).toBe(0);
    expect(init.out).toContain("src/index.ts");
    const build = await cli("skill", "build", "--dir", dir);
    expect(build.code, build.err).toBe(0);
    expect(build.out).toMatch(/built dist\/index.js \(\d+ bytes\)/);
    const bundled = await readFile(join(dir, "dist/index.js"), "utf8");
    expect(bundled).toContain("var skill");
    expect(bundled).not.toContain("import ");
    const check = await cli("skill", "check", "--dir", dir);
    expect(check.code, check.err).toBe(0);
    expect(check.out).toContain('ok: switchboard-skill-hello@0.1.0 (skill "hello", entry dist/index.js');
    expect(check.out).toContain("keep data for each chat");

    const test = await cli("skill", "test", join(dir, "test/conversation.json"), "--dir", dir);
    expect(test.code, test.err + test.out).toBe(0);
    expect(test.out).toContain("ok   /hello world");
    // The scaffold's script also calls the skill's LLM tool, here through the bot's tool registry.
    expect(test.out).toContain('ok   tool greeting {"who":"Ada"}');
    expect(test.out).toContain("hello: 3/3 steps passed");
    await writeFile(join(dir, "test/wrong.json"), JSON.stringify({ steps: [{ send: "/hello", expect: "Goodbye" }] }));
    const wrong = await cli("skill", "test", join(dir, "test/wrong.json"), "--dir", dir);
    expect(wrong.code).toBe(1);
    expect(wrong.out).toContain("FAIL /hello");
    expect(wrong.out).toContain('got    "Hello Tester! (#1 in this chat)"');

    await registry.publish(dir);
    const install = await cli("skills", "install", "switchboard-skill-hello", "--yes");
    expect(install.code, install.err).toBe(0);
    expect(install.out).toContain("installed switchboard-skill-hello@0.1.0");
  });

  it("check refuses a package the installer would refuse, naming the reason", async () => {
    const dir = join(work, "author", "liar");
    await writeSkill(dir, {
      name: "switchboard-skill-liar",
      version: "1.0.0",
      entrySource:
        "var skill = { default: { commands: { liar: async (ctx) => (await ctx.fetch('https://x.example/')).body } } };",
    });
    const check = await cli("skill", "check", "--dir", dir);
    expect(check.code).toBe(1);
    expect(check.err).toContain("uses fetch but the manifest does not ask for that permission");
  });
});
