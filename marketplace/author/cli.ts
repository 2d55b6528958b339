/** `switchboard skill init|build|check`: the author kit's commands. */
import { resolve } from "node:path";
import type { Command } from "commander";
import type { Core, Plugin } from "../../bot/index.ts";
import { SwitchboardError } from "../../bot/index.ts";
import { formatPermissions } from "../permission-diff.ts";
import { playConversation, readScript } from "./conversation.ts";
import { buildSkill, checkSkill, initSkill } from "./kit.ts";

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
  const print = (text: string): void => void ctx.out.write(`${text}\n`);

  skill
    .command("init")
    .description("create a new skill package (TypeScript, SDK, a test conversation)")
    .argument("<name>", "npm package name, e.g. switchboard-skill-hello")
    .option("-d, --dir <dir>", "folder to create (default: the skill name)")
    .action(async (name: string, opts: { dir?: string }) => {
      const dir = resolve(opts.dir ?? name.replace(/^@[^/]+\//, ""));
      const files = await initSkill(name, dir);
      print(
        `created ${dir}:\n${files.map((f) => `  ${f}`).join("\n")}\nnext: cd ${dir} && switchboard skill build && switchboard skill check`,
      );
    });

  skill
    .command("build")
    .description("bundle src/index.ts with esbuild into the manifest's entry file")
    .option("-d, --dir <dir>", "skill folder", ".")
    .option("--minify", "minify the bundle")
    .action(async (opts: { dir: string; minify?: boolean }) => {
      const { entry, bytes } = await buildSkill(resolve(opts.dir), { minify: opts.minify === true });
      print(`built ${entry} (${bytes} bytes)`);
    });

  skill
    .command("check")
    .description("validate the package as the installer would (files, manifest, entry, capabilities)")
    .option("-d, --dir <dir>", "skill folder", ".")
    .action(async (opts: { dir: string }) => {
      const config = ctx.config().marketplace;
      const checked = await checkSkill(resolve(opts.dir), {
        maxFiles: config.maxFiles,
        maxUnpackedBytes: config.maxUnpackedBytes,
      });
      print(
        `ok: ${checked.name}@${checked.version} (skill "${checked.skill}", entry ${checked.entry}, ${checked.files.length} files)`,
      );
      print(`permissions:\n${formatPermissions(checked.permissions, "  ")}`);
    });

  skill
    .command("test")
    .description("run the skill in the real runtime against a scripted conversation and compare replies")
    .argument("<script>", "conversation file (JSON or YAML): { steps: [ { send, expect } ] }")
    .option("-d, --dir <dir>", "skill folder (built)", ".")
    .action(async (scriptPath: string, opts: { dir: string }) => {
      const script = await readScript(resolve(scriptPath));
      const app = await ctx.openApp();
      try {
        if (app.start === undefined || app.plugins === undefined)
          throw new SwitchboardError("E_INTERNAL", "the CLI cannot start the bot's runtime");
        await app.start();
        const { skill: name, results } = await playConversation(
          { core: app.core, plugins: app.plugins },
          resolve(opts.dir),
          script,
        );
        let failed = 0;
        for (const r of results) {
          if (!r.ok) failed++;
          print(
            `${r.ok ? "ok  " : "FAIL"} ${r.send}${r.ok ? "" : `\n       wanted ${r.wanted}\n       got    ${JSON.stringify(r.replies.at(-1) ?? "(no reply)")}`}`,
          );
        }
        print(`${name}: ${results.length - failed}/${results.length} steps passed`);
        if (failed > 0) process.exitCode = 1;
      } finally {
        await app.stop();
      }
    });
}
