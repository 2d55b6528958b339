/**
 * The author CLI: `switchboard-skill init|build|check|test`. `main` is the SDK's own bin; the bot's
 * `switchboard skill …` registers the same commands with `registerAuthorCommands` and gives `test` its real
 * runtime as the runner.
 *
 * ```ts
 * const skill = program.command("skill");
 * registerAuthorCommands(skill, { out: process.stdout, runner: () => createLocalRunner() });
 * ```
 */
import { resolve } from "node:path";
import { Command, CommanderError } from "commander";
import { isSkillKitError } from "./errors.ts";
import { buildSkill, checkSkill, DEFAULT_TARBALL_LIMITS, initSkill, SDK_PACKAGE } from "./kit.ts";
import { createLocalRunner } from "./local-runner.ts";
import type { TarballLimits } from "./package-check.ts";
import { formatPermissions } from "./permissions.ts";
import { playScript, readScript, type SkillRunner } from "./script.ts";

export { createLocalRunner, type LocalRunnerOptions } from "./local-runner.ts";
export {
  playScript,
  readScript,
  scriptFileBytes,
  type ScriptEvent,
  type ScriptFetchSettings,
  type ScriptFile,
  type ScriptStep,
  type SkillRunner,
  type StepResult,
  type TestScript,
} from "./script.ts";
export { buildSkill, checkSkill, initSkill, SDK_ENTRY, SDK_PACKAGE } from "./kit.ts";
export { skillTemplate, type TemplateOptions } from "./template.ts";

/** What the commands need from their host (the SDK's bin, or the bot's CLI). */
export interface AuthorCommandOptions {
  out: NodeJS.WritableStream;
  /** The runner `test` plays scripts with (default: the SDK's local runner). */
  runner?: () => SkillRunner | Promise<SkillRunner>;
  /** Tarball limits for `check` (default: the bot's defaults). */
  limits?: () => TarballLimits;
  /** How the next-step hint after `init` names the commands. */
  hint?: "npm" | "switchboard";
  /** Turns an error a command throws into the host's own error type. */
  mapError?: (error: unknown) => unknown;
}

/** Register `init`, `build`, `check` and `test` on `skill`. */
export function registerAuthorCommands(skill: Command, options: AuthorCommandOptions): void {
  const print = (text: string): void => void options.out.write(`${text}\n`);
  const act =
    <A extends unknown[]>(run: (...args: A) => Promise<void>) =>
    async (...args: A): Promise<void> => {
      try {
        await run(...args);
      } catch (error) {
        throw options.mapError === undefined ? error : options.mapError(error);
      }
    };

  skill
    .command("init")
    .description("create a new skill package (TypeScript, the SDK, a test script)")
    .argument("<name>", "npm package name, e.g. switchboard-skill-hello")
    .option("-d, --dir <dir>", "folder to create (default: the skill name)")
    .action(
      act(async (name: string, opts: { dir?: string }) => {
        const dir = resolve(opts.dir ?? name.replace(/^@[^/]+\//, ""));
        const files = await initSkill(name, dir);
        const next =
          options.hint === "switchboard"
            ? `cd ${dir} && switchboard skill build && switchboard skill check`
            : `cd ${dir} && npm install && npm run build && npm test`;
        print(`created ${dir}:\n${files.map((f) => `  ${f}`).join("\n")}\nnext: ${next}`);
      }),
    );

  skill
    .command("build")
    .description("bundle src/index.ts with esbuild into the manifest's entry file")
    .option("-d, --dir <dir>", "skill folder", ".")
    .option("--minify", "minify the bundle")
    .action(
      act(async (opts: { dir: string; minify?: boolean }) => {
        const { entry, bytes } = await buildSkill(resolve(opts.dir), { minify: opts.minify === true });
        print(`built ${entry} (${bytes} bytes)`);
      }),
    );

  skill
    .command("check")
    .description("validate the package as the installer would (files, manifest, entry, capabilities)")
    .option("-d, --dir <dir>", "skill folder", ".")
    .action(
      act(async (opts: { dir: string }) => {
        const checked = await checkSkill(resolve(opts.dir), options.limits?.() ?? DEFAULT_TARBALL_LIMITS);
        print(
          `ok: ${checked.name}@${checked.version} (skill "${checked.skill}", entry ${checked.entry}, ${checked.files.length} files)`,
        );
        print(`permissions:\n${formatPermissions(checked.permissions, "  ")}`);
      }),
    );

  skill
    .command("test")
    .description("play a test script (chat lines and LLM tool calls) against the built skill and compare answers")
    .argument("<script>", "script file (JSON or YAML): { steps: [ { send, expect } | { tool, args, expect } ] }")
    .option("-d, --dir <dir>", "skill folder (built)", ".")
    .action(
      act(async (scriptPath: string, opts: { dir: string }) => {
        const script = await readScript(resolve(scriptPath));
        const runner = await (options.runner?.() ?? createLocalRunner());
        const { skill: name, results } = await playScript(runner, resolve(opts.dir), script);
        let failed = 0;
        for (const r of results) {
          if (!r.ok) failed++;
          print(
            `${r.ok ? "ok  " : "FAIL"} ${r.step}${r.ok ? "" : `\n       wanted ${r.wanted}\n       got    ${JSON.stringify(r.got ?? "(no answer)")}`}`,
          );
        }
        print(`${name}: ${results.length - failed}/${results.length} steps passed`);
        if (failed > 0) process.exitCode = 1;
      }),
    );
}

/** The `switchboard-skill` bin: run one command; resolves with the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = new Command("switchboard-skill")
    .description(`Author kit for Switchboard skills (${SDK_PACKAGE.name}@${SDK_PACKAGE.version})`)
    .version(SDK_PACKAGE.version)
    .exitOverride();
  registerAuthorCommands(program, { out: process.stdout });
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    const message = isSkillKitError(error) ? error.message : error instanceof Error ? error.message : String(error);
    process.stderr.write(`switchboard-skill: ${message}\n`);
    return 1;
  }
}
