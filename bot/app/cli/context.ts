/**
 * What CLI subcommands get: config loading (with `--config`), a way to open the bot's services without starting
 * adapters, and output streams. Modules add subcommands with `register<Thing>Cli(program, ctx)`.
 */
import type { Config } from "../../../config/index.ts";
import { loadConfig } from "../../../config/index.ts";
import type { App } from "../app.ts";
import { createApp } from "../app.ts";
import { createLogger } from "../../logger.ts";
import type { CommandInfo } from "../../model.ts";
import { compareNames } from "../../commands.ts";
import { memoryStore } from "../../storage/open.ts";
import { skillCommandCatalog } from "../../../marketplace/catalog.ts";

/** Shared by every CLI subcommand. */
export interface CliContext {
  /** Load and validate the config (file from `--config`, then env). Throws `ConfigError`. */
  config(): Config;
  /**
   * Wire the bot's services (store, permissions, plugins) without the console or platform adapters and without
   * starting the HTTP listener. Call `app.stop()` when done.
   */
  openApp(options?: { plugins?: boolean }): Promise<App>;
  /**
   * Every command the bot registers, as native menus show them (built-ins, modules and skills: built-in, linked
   * and installed from the lockfile), without opening the store: safe while the bot runs.
   */
  commandCatalog(options?: { plugins?: boolean }): Promise<CommandInfo[]>;
  /** Where results go (stdout). */
  out: NodeJS.WritableStream;
  /** Where progress and errors go (stderr). */
  err: NodeJS.WritableStream;
}

/** Build the CLI context. `configFile` comes from the global `--config` option (read lazily). */
export function createCliContext(options: {
  configFile: () => string | undefined;
  out?: NodeJS.WritableStream;
  err?: NodeJS.WritableStream;
  env?: Readonly<Record<string, string | undefined>>;
}): CliContext {
  let cached: Config | undefined;
  const ctx: CliContext = {
    out: options.out ?? process.stdout,
    err: options.err ?? process.stderr,
    config() {
      cached ??= loadConfig({ file: options.configFile(), env: options.env ?? process.env }).config;
      return cached;
    },
    async openApp(open = {}) {
      const config = ctx.config();
      // Short-lived commands log warnings only, to stderr, so their output stays readable.
      const log = createLogger({
        level: config.log.level === "debug" || config.log.level === "trace" ? config.log.level : "warn",
        format: config.log.format,
        destination: ctx.err,
      });
      return createApp({
        config: { ...config, http: { ...config.http, enabled: false } },
        log,
        console: false,
        platformAdapters: false,
        exitOnConsoleEnd: false,
        ...(open.plugins === false ? { plugins: false as const } : {}),
      });
    },
    async commandCatalog(open = {}) {
      // The commands are declared by the modules' factories: wire them on an in-memory store, start nothing.
      const store = await memoryStore();
      const app = await createApp({
        config: { ...ctx.config(), http: { ...ctx.config().http, enabled: false } },
        log: createLogger({ level: "silent", format: "json" }),
        store,
        console: false,
        platformAdapters: false,
        exitOnConsoleEnd: false,
        ...(open.plugins === false ? { plugins: false as const } : {}),
      });
      try {
        const infos = app.core.commands.infos();
        if (open.plugins === false) return infos;
        const taken = new Set(infos.map((i) => i.name));
        const skills = (await skillCommandCatalog(ctx.config())).filter((i) => !taken.has(i.name));
        return [...infos, ...skills].sort((a, b) => compareNames(a.name, b.name));
      } finally {
        await app.stop();
        await store.close();
      }
    },
  };
  return ctx;
}
