/**
 * What CLI subcommands get: config loading (with `--config`), a way to open the bot's services without starting
 * adapters, and output streams. Modules add subcommands with `register<Thing>Cli(program, ctx)`.
 */
import type { Config } from "../../../config/index.ts";
import { loadConfig } from "../../../config/index.ts";
import type { App } from "../app.ts";
import { createApp } from "../app.ts";
import { createLogger } from "../../logger.ts";

/** Shared by every CLI subcommand. */
export interface CliContext {
  /** Load and validate the config (file from `--config`, then env). Throws `ConfigError`. */
  config(): Config;
  /**
   * Wire the bot's services (store, permissions, plugins) without the console or platform adapters and without
   * starting the HTTP listener. Call `app.stop()` when done.
   */
  openApp(options?: { plugins?: boolean }): Promise<App>;
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
  };
  return ctx;
}
