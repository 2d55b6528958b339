/**
 * `switchboard skill init|build|check|test`: the skill SDK's author commands (`@switchboard/skill-sdk/cli`),
 * registered on the bot's CLI. Only `test` differs from the SDK's own bin: here it plays the script in the bot's
 * real runtime (isolate in a skill host, capabilities, router, permission checks).
 */
import { registerAuthorCommands } from "@switchboard/skill-sdk/cli";
import type { Command } from "commander";
import type { Core, Plugin } from "../../bot/index.ts";
import { SwitchboardError } from "../../bot/index.ts";
import { fromKitError } from "../../skills/index.ts";
import { createRuntimeRunner } from "./conversation.ts";

/** What the author kit needs from the CLI context. */
export interface AuthorCliContext {
  config(): Core["config"];
  openApp(options?: {
    plugins?: boolean;
  }): Promise<{ core: Core; stop(): Promise<void>; plugins?: readonly Plugin[]; start?(): Promise<void> }>;
  out: NodeJS.WritableStream;
}

/** Register the author kit on the `skill` command group. */
export function registerAuthorCli(skill: Command, ctx: AuthorCliContext): void {
  registerAuthorCommands(skill, {
    out: ctx.out,
    hint: "switchboard",
    // The SDK throws its own errors; the bot's CLI prints catalog errors.
    mapError: fromKitError,
    limits: () => {
      const { maxFiles, maxUnpackedBytes } = ctx.config().marketplace;
      return { maxFiles, maxUnpackedBytes };
    },
    runner: async () => {
      const app = await ctx.openApp();
      if (app.start === undefined || app.plugins === undefined) {
        await app.stop();
        throw new SwitchboardError("E_INTERNAL", "the CLI cannot start the bot's runtime");
      }
      await app.start();
      return createRuntimeRunner({ core: app.core, plugins: app.plugins, stop: () => app.stop() });
    },
  });
}
