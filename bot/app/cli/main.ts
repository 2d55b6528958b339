/** `switchboard` — the command line: `start`, `doctor`, and the modules' subcommands. */
import { Command, CommanderError } from "commander";
import { ConfigError } from "../../../config/index.ts";
import { createApp, VERSION } from "../app.ts";
import { isSwitchboardError } from "../../errors.ts";
import { installFaultGuard } from "../../faults.ts";
import { createCliContext, type CliContext } from "./context.ts";
import { runDoctor } from "./doctor.ts";
import { registerConsoleCli } from "./console.ts";
import { registerLlmCli } from "../../../llm/index.ts";
import { registerGatewayCli } from "../../../gateway/index.ts";
import { registerSchedulesCli } from "../../../schedules/index.ts";
import { registerSlackCli } from "../../../adapters/slack/cli.ts";
import { registerMarketplaceCli } from "../../../marketplace/index.ts";
import { registerSkillsLinkCli } from "../../../skills/index.ts";

/** Build the program (exported for tests). */
export function buildProgram(ctx: CliContext, state: { configFile?: string }): Command {
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

  const skills = program.command("skills").description("find, install, update and remove skills");
  const skill = program.command("skill").description("author kit: create, build, check and test a skill");
  // Module subcommands (each module registers its own):
  registerConsoleCli(program, ctx);
  registerLlmCli(program, ctx);
  registerGatewayCli(program, ctx);
  registerSchedulesCli(program, ctx);
  registerSlackCli(program, ctx);
  registerMarketplaceCli(skills, skill, ctx);
  registerSkillsLinkCli(skills, ctx);
  void skills;
  void skill;
  return program;
}

/** Run the CLI; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const state: { configFile?: string } = {};
  const ctx = createCliContext({ configFile: () => state.configFile });
  const program = buildProgram(ctx, state);
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
