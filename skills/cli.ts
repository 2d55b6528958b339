/**
 * `switchboard skills link <path>` / `unlink <path>` / `linked`: local skill folders for development. Linked
 * paths are kept in `<dataDir>/skills-linked.json`; `start` loads them (and enables them in the console chat).
 */
import { resolve } from "node:path";
import type { Command } from "commander";
import type { Config } from "../config/index.ts";
import { readSkillPackage, readLinked, writeLinked } from "./runtime/loader.ts";

/** What the link commands need from the CLI. */
export interface SkillsLinkCliContext {
  config(): Config;
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

/** Add `link`, `unlink` and `linked` to the `skills` command group. */
export function registerSkillsLinkCli(skillsCommand: Command, ctx: SkillsLinkCliContext): void {
  skillsCommand
    .command("link <path>")
    .description("load a local skill folder at every start (development); checks its package first")
    .action(async (path: string) => {
      const dir = resolve(path);
      const pkg = await readSkillPackage(dir);
      const dataDir = ctx.config().bot.dataDir;
      const linked = await readLinked(dataDir);
      await writeLinked(dataDir, [...linked.filter((p) => p !== pkg.dir), pkg.dir]);
      const perms = describePermissions(pkg.manifest.permissions);
      ctx.out.write(`linked ${pkg.name}@${pkg.version} from ${pkg.dir}\n`);
      ctx.out.write(`  commands: ${pkg.manifest.commands.map((c) => `/${c.name}`).join(", ") || "(none)"}\n`);
      ctx.out.write(`  permissions: ${perms}\n`);
      ctx.out.write(
        "  it loads at the next start, enabled in the console chat; other chats enable it with /skills enable\n",
      );
    });

  skillsCommand
    .command("unlink <path>")
    .description("stop loading a linked skill folder")
    .action(async (path: string) => {
      const dataDir = ctx.config().bot.dataDir;
      const linked = await readLinked(dataDir);
      const dir = resolve(path);
      const kept = linked.filter((p) => p !== dir);
      if (kept.length === linked.length) {
        ctx.err.write(`${dir} is not linked\n`);
        process.exitCode = 1;
        return;
      }
      await writeLinked(dataDir, kept);
      ctx.out.write(`unlinked ${dir}\n`);
    });

  skillsCommand
    .command("linked")
    .description("list linked skill folders")
    .action(async () => {
      const linked = await readLinked(ctx.config().bot.dataDir);
      ctx.out.write(linked.length === 0 ? "no linked skills\n" : `${linked.join("\n")}\n`);
    });
}

function describePermissions(p: {
  network: string[];
  storage: unknown;
  schedules: boolean;
  llm: boolean;
  messages: { otherChats: boolean; mentions: boolean; read?: boolean };
  files?: { read: boolean; maxBytes?: number | undefined };
}): string {
  const parts: string[] = [];
  if (p.network.length > 0) parts.push(`network ${p.network.join(", ")}`);
  if (p.storage !== false) parts.push("storage");
  if (p.schedules) parts.push("schedules");
  if (p.llm) parts.push("llm");
  if (p.messages.otherChats) parts.push("messages to other chats");
  if (p.messages.mentions) parts.push("mass mentions");
  if (p.messages.read === true) parts.push("sees every message in this chat");
  if (p.files?.read === true) parts.push("reads files and images sent with its commands");
  return parts.length === 0 ? "none" : parts.join("; ");
}
