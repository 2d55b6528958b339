/** `switchboard slack manifest` through the real CLI program and the real command registry. */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { runCli, type CliResult } from "../../helpers/cli.ts";
import { slashNameOf } from "../../../adapters/slack/manifest.ts";

const dataDir = mkdtempSync(join(tmpdir(), "sb-slack-cli-"));

function run(args: string[], env: Record<string, string>): Promise<CliResult> {
  return runCli(args, { env: { SWITCHBOARD_DATA_DIR: dataDir, LOG_LEVEL: "silent", ...env } });
}

describe("switchboard slack manifest", () => {
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it("prints a manifest with every registered command, the request URL, scopes and events", async () => {
    const { out, ctx } = await run(["slack", "manifest", "--url", "https://bot.example.com/", "--no-plugins"], {
      SLACK_BOT_TOKEN: "xoxb-1",
      SLACK_SIGNING_SECRET: "s",
    });
    const manifest = parse(out) as {
      features: { slash_commands: Array<{ command: string; url: string }> };
      oauth_config: { scopes: { bot: string[] } };
      settings: { event_subscriptions: { request_url: string; bot_events: string[] }; socket_mode_enabled: boolean };
    };
    const app = await ctx.openApp({ plugins: false });
    const registered = app.core.commands.infos().map((c) => c.name);
    await app.stop();
    expect(registered.length).toBeGreaterThanOrEqual(4);
    const published = manifest.features.slash_commands.map((c) => c.command);
    for (const name of registered) expect(published).toContain(slashNameOf(name, ""));
    expect(published[0]).toBe("/switchboard");
    expect(new Set(manifest.features.slash_commands.map((c) => c.url))).toEqual(
      new Set(["https://bot.example.com/slack/events"]),
    );
    expect(manifest.settings.event_subscriptions).toEqual({
      request_url: "https://bot.example.com/slack/events",
      bot_events: ["app_mention", "message.im", "reaction_added", "reaction_removed"],
    });
    for (const scope of ["commands", "reactions:read", "files:read", "files:write"]) {
      expect(manifest.oauth_config.scopes.bot).toContain(scope);
    }
    expect(manifest.settings.socket_mode_enabled).toBe(false);
  }, 120_000);

  it("prints a Socket Mode manifest as JSON when an app token is configured", async () => {
    const { out } = await run(["slack", "manifest", "--json", "--no-plugins"], {
      SLACK_BOT_TOKEN: "xoxb-1",
      SLACK_APP_TOKEN: "xapp-1",
    });
    const manifest = JSON.parse(out) as {
      features: { slash_commands: Array<{ url?: string }> };
      settings: { socket_mode_enabled: boolean };
    };
    expect(manifest.settings.socket_mode_enabled).toBe(true);
    expect(manifest.features.slash_commands.every((c) => c.url === undefined)).toBe(true);
  }, 120_000);

  it("lists skill commands, built-in and installed from the lockfile, with subcommands, and never opens the store", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sb-slack-cli-skills-"));
    try {
      // An installed skill as the installer leaves it: its package folder and its lockfile entry.
      const pkgDir = join(dir, "skills", "switchboard-skill-notes", "1.0.0");
      mkdirSync(join(pkgDir, "dist"), { recursive: true });
      writeFileSync(join(pkgDir, "dist", "index.js"), "export default { commands: {} };\n");
      writeFileSync(
        join(pkgDir, "package.json"),
        JSON.stringify({
          name: "switchboard-skill-notes",
          version: "1.0.0",
          type: "module",
          keywords: ["switchboard-skill"],
          switchboard: {
            manifestVersion: 1,
            entry: "dist/index.js",
            commands: [
              {
                name: "note",
                description: "Keep notes",
                subcommands: [
                  { name: "add", description: "Add a note" },
                  { name: "clear", description: "Delete every note", defaultRole: "admin", dangerous: true },
                ],
              },
            ],
          },
        }),
      );
      writeFileSync(
        join(dir, "skills", "switchboard-lock.json"),
        JSON.stringify({
          lockfileVersion: 1,
          skills: {
            "switchboard-skill-notes": {
              name: "switchboard-skill-notes",
              skill: "notes",
              version: "1.0.0",
              range: "^1.0.0",
              integrity: "sha512-x",
              registry: "https://registry.example.invalid/",
              resolved: "https://registry.example.invalid/n.tgz",
              permissions: [],
              approved: [],
              files: {},
            },
          },
        }),
      );
      const { out } = await runCli(["slack", "manifest", "--json", "--socket"], {
        env: { SWITCHBOARD_DATA_DIR: dir, LOG_LEVEL: "silent", SLACK_BOT_TOKEN: "xoxb-1", SLACK_APP_TOKEN: "xapp-1" },
      });
      const commands = (
        JSON.parse(out) as { features: { slash_commands: Array<{ command: string; usage_hint?: string }> } }
      ).features.slash_commands;
      const byName = new Map(commands.map((c) => [c.command, c]));
      for (const name of [
        "/dice",
        "/poll",
        "/vote",
        "/httpcheck",
        "/sb-remind",
        "/note",
        "/skills",
        "/ai",
        "/schedule",
      ]) {
        expect(byName.has(name), name).toBe(true);
      }
      expect(byName.get("/note")!.usage_hint).toBe("add|clear …");
      expect(byName.get("/skills")!.usage_hint).toMatch(/^help\|search\|info\|list\|/);
      // The embedded store was never opened (opening it creates its file).
      expect(existsSync(join(dir, "db.sqlite"))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
