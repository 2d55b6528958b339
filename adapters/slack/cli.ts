/**
 * `switchboard slack manifest`: print the Slack app manifest (YAML, or JSON with `--json`) with every command the
 * bot registers, built-in and skill (built-in, linked and installed from the lockfile), so the app's slash commands
 * match the bot. It reads config and the lockfile only: the store stays closed, so it runs beside a running bot.
 */
import type { Command } from "commander";
import { createRequire } from "node:module";
import type { CommandInfo, Core } from "../../bot/index.ts";
import { buildSlackManifest } from "./manifest.ts";

// yaml (about 70 modules) loads when YAML is read or written, not with every start.
const stringify = (value: unknown): string =>
  (createRequire(import.meta.url)("yaml") as typeof import("yaml")).stringify(value);

/** The parts of the CLI context this command uses (bot/app/cli/context.ts provides them). */
export interface SlackCliContext {
  config(): Core["config"];
  /** Every command, skills included, from config and the lockfile, without opening the store. */
  commandCatalog(options?: { plugins?: boolean }): Promise<CommandInfo[]>;
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

/** Options of `switchboard slack manifest`. */
interface ManifestFlags {
  url?: string;
  socket?: boolean;
  http?: boolean;
  json?: boolean;
  name?: string;
  plugins?: boolean;
}

/** Add `switchboard slack manifest` to the program. */
export function registerSlackCli(program: Command, ctx: SlackCliContext): void {
  const slack =
    program.commands.find((c) => c.name() === "slack") ?? program.command("slack").description("Slack set-up helpers");
  slack
    .command("manifest")
    .description("print a Slack app manifest with every slash command, the request URL, scopes and events")
    .option("--url <url>", "public base URL of the bot's HTTP listener (HTTP mode), e.g. https://bot.example.com")
    .option("--socket", "Socket Mode manifest (no request URLs); default when an app token is configured")
    .option("--http", "HTTP mode manifest even when an app token is configured")
    .option("--json", "print JSON instead of YAML")
    .option("--name <name>", "app name shown in Slack (default: bot.name)")
    .option("--no-plugins", "only the built-in commands (skip skills and other plugins)")
    .action(async (flags: ManifestFlags) => {
      const config = ctx.config();
      const slackConfig = config.adapters.slack;
      const socketMode =
        flags.http === true
          ? false
          : flags.socket === true ||
            slackConfig.mode === "socket" ||
            (slackConfig.mode === undefined && slackConfig.appToken !== undefined);
      let requestUrl: string | undefined;
      if (!socketMode) {
        if (flags.url === undefined) {
          ctx.err.write("slack manifest: no --url given; the request URLs below use a placeholder host to replace.\n");
        }
        const base = new URL(flags.url ?? "https://bot.example.invalid").href.replace(/\/$/, "");
        requestUrl = `${base}${slackConfig.eventsPath}`;
      }
      const manifest = buildSlackManifest({
        appName: flags.name ?? config.bot.name,
        commands: await ctx.commandCatalog({ plugins: flags.plugins !== false }),
        socketMode,
        ...(requestUrl === undefined ? {} : { requestUrl }),
        commandPrefix: slackConfig.commandPrefix,
        umbrellaCommand: slackConfig.umbrellaCommand,
      });
      ctx.out.write(flags.json === true ? `${JSON.stringify(manifest, null, 2)}\n` : stringify(manifest));
    });
}
