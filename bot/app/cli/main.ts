/** `switchboard` — the command line: `start`, `doctor`, and the modules' subcommands. */
import { Command, CommanderError } from "commander";
import { ConfigError } from "../../../config/index.ts";
import { createApp, VERSION } from "../app.ts";
import { isSwitchboardError } from "../../errors.ts";
import { installFaultGuard } from "../../faults.ts";
import { createCliContext, type CliContext } from "./context.ts";
import { runDoctor } from "./doctor.ts";

/**
 * Build the program (exported for tests). `modules: false` leaves out the modules' subcommands: `start` runs
 * without loading their code (the author kit, the registry client's CLI, YAML), about 2 MB a running bot keeps.
 */
export async function buildProgram(
  ctx: CliContext,
  state: { configFile?: string },
  options: { modules?: boolean } = {},
): Promise<Command> {
  const program = new Command("switchboard")
    .description("Chat-ops bot: Telegram, Discord, Slack and console adapters, sandboxed skills, LLMs and schedules")
    .version(VERSION)
    .option("-c, --config <file>", "config file (default: switchboard.config.yaml/.yml/.json, or SWITCHBOARD_CONFIG)")
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.out.write(s), writeErr: (s) => ctx.err.write(s) })
    .hook("preAction", (cmd) => {
      state.configFile = cmd.opts<{ config?: string }>().config;
    });

  program
    .command("start")
    .description("run the bot: console adapter plus every platform whose token is set")
    .action(async () => {
      const config = ctx.config();
      const app = await createApp({ config });
      // A fault inside one platform's SDK restarts that adapter, not the process.
      const removeGuard = installFaultGuard({
        log: app.core.log,
        recover: (platform, reason) => app.recoverAdapter(platform, reason),
      });
      const stop = () => void app.stop();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      // A listener that cannot bind (or any other start-up failure) is fatal: the error goes up, and the
      // process exits at once (bin/switchboard.js), without waiting for what had started to wind down.
      await app.start();
      await app.stopped;
      removeGuard();
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
    });

  program
    .command("doctor")
    .description("check the configuration, tokens, database and Redis, and say what is missing")
    .action(async () => {
      const ok = await runDoctor(ctx);
      if (!ok) process.exitCode = 1;
    });

  if (options.modules !== false) await registerModuleClis(program, ctx);
  return program;
}

/** The modules' subcommands (each module registers its own). */
async function registerModuleClis(program: Command, ctx: CliContext): Promise<void> {
  const skills = program.command("skills").description("find, install, update and remove skills");
  const skill = program.command("skill").description("author kit: create, build, check and test a skill");
  const [consoleCli, llm, gateway, schedules, slack, marketplace, skillsLink] = await Promise.all([
    import("./console.ts"),
    import("../../../llm/cli.ts"),
    import("../../../gateway/cli.ts"),
    import("../../../schedules/cli.ts"),
    import("../../../adapters/slack/cli.ts"),
    import("../../../marketplace/cli.ts"),
    import("../../../skills/cli.ts"),
  ]);
  consoleCli.registerConsoleCli(program, ctx);
  // `switchboard models` counts the answer cache's hits, which the gateway keeps.
  llm.registerLlmCli(program, { ...ctx, cacheHitsSince: gateway.cacheHitsSince });
  gateway.registerGatewayCli(program, ctx);
  schedules.registerSchedulesCli(program, ctx);
  slack.registerSlackCli(program, ctx);
  marketplace.registerMarketplaceCli(skills, skill, ctx);
  skillsLink.registerSkillsLinkCli(skills, ctx);
}

/** The command `argv` runs: its first operand after the global options (`-c <file>`). */
function commandOf(argv: readonly string[]): string | undefined {
  for (let i = 2; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "-c" || arg === "--config") i++;
    else if (!arg.startsWith("-")) return arg;
  }
  return undefined;
}

/** Run the CLI; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const state: { configFile?: string } = {};
  const ctx = createCliContext({ configFile: () => state.configFile });
  const program = await buildProgram(ctx, state, { modules: commandOf(argv) !== "start" });
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    if (error instanceof ConfigError) {
      ctx.err.write(`${error.message}\n`);
      return 2;
    }
    if (isSwitchboardError(error)) {
      ctx.err.write(`switchboard: ${error.message}\n`);
      return 1;
    }
    ctx.err.write(`switchboard: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}
