/** Start a real bot for a test: in-memory store, a test adapter, no console, HTTP on a free port. */
import { createApp, type App, type AppOptions } from "../../bot/app/app.ts";
import { createLogger } from "../../bot/logger.ts";
import { memoryStore } from "../../bot/storage/open.ts";
import { parseConfig, setPath, type ConfigInput } from "../../config/index.ts";
import { TestAdapter } from "./test-adapter.ts";

/** A started bot plus its test adapter. */
export interface TestBot {
  app: App;
  adapter: TestAdapter;
  stop(): Promise<void>;
}

/** Options: config overrides by dotted path, and any `createApp` option. */
export interface TestBotOptions extends Partial<Omit<AppOptions, "config">> {
  config?: ConfigInput;
  set?: Record<string, unknown>;
}

/** Create and start a bot for a test. Plugins are off unless given. */
export async function startTestBot(options: TestBotOptions = {}): Promise<TestBot> {
  const raw: Record<string, unknown> = structuredClone((options.config ?? {}) as Record<string, unknown>);
  setPath(raw, "http.port", 0);
  setPath(raw, "log.level", process.env.TEST_LOG_LEVEL ?? "silent");
  for (const [k, v] of Object.entries(options.set ?? {})) setPath(raw, k, v);
  const config = parseConfig(raw);
  const adapter = new TestAdapter();
  const { set: _set, config: _config, ...rest } = options;
  const app = await createApp({
    console: false,
    platformAdapters: false,
    plugins: false,
    store: options.store ?? (await memoryStore()),
    log: createLogger({ level: config.log.level, format: "json" }),
    extraAdapters: [adapter],
    ...rest,
    config,
  });
  await app.start();
  return {
    app,
    adapter,
    async stop() {
      await app.stop();
      if (options.store === undefined) await app.core.store.close();
    },
  };
}
