/**
 * The whole bot (createApp: real router, permissions, built-in commands, in-memory store) with the Telegram
 * adapter built from config and pointed at a fresh stand-in.
 */
import { createApp, type App, type AppOptions } from "../../../bot/app/app.ts";
import { createLogger } from "../../../bot/logger.ts";
import { memoryStore } from "../../../bot/storage/open.ts";
import type { Core } from "../../../bot/index.ts";
import { parseConfig, setPath } from "../../../config/index.ts";
import { TelegramStandIn } from "../../stand-ins/telegram/server.ts";
import type { TelegramAdapter } from "../../../adapters/telegram/index.ts";

/** A started bot and its stand-in. */
export interface TelegramBot {
  app: App;
  standIn: TelegramStandIn;
  adapter: TelegramAdapter;
  /** `http://127.0.0.1:<port>` of the shared HTTP listener. */
  httpUrl: string;
  stop(): Promise<void>;
}

/** Start a bot with Telegram configured against a stand-in. `set` overrides config by dotted path. */
export async function startTelegramBot(
  options: { set?: Record<string, unknown>; beforeStart?(core: Core): void; plugins?: AppOptions["plugins"] } = {},
): Promise<TelegramBot> {
  const standIn = await TelegramStandIn.start();
  const raw: Record<string, unknown> = {};
  const settings: Record<string, unknown> = {
    "http.port": 0,
    "log.level": process.env.TEST_LOG_LEVEL ?? "silent",
    "adapters.console.enabled": false,
    "adapters.telegram.token": standIn.token,
    "adapters.telegram.apiRoot": standIn.apiRoot,
    "adapters.telegram.pollTimeoutSeconds": 1,
    "adapters.telegram.outbound": { globalPerSecond: 200, perChatIntervalMs: 20, perGroupPerMinute: 600 },
    "adapters.telegram.editIntervalMs": 150,
    ...options.set,
  };
  for (const [k, v] of Object.entries(settings)) setPath(raw, k, v);
  const config = parseConfig(raw);
  const store = await memoryStore();
  const app = await createApp({
    config,
    console: false,
    plugins: options.plugins ?? false,
    store,
    log: createLogger({ level: config.log.level, format: "json" }),
  });
  const adapter = app.core.adapters.get("telegram") as TelegramAdapter | undefined;
  if (adapter === undefined) throw new Error("telegram adapter was not created from config");
  options.beforeStart?.(app.core);
  await app.start();
  const address = app.httpAddress()!;
  return {
    app,
    standIn,
    adapter,
    httpUrl: `http://${address.host}:${address.port}`,
    async stop() {
      await app.stop();
      await store.close();
      await standIn.close();
    },
  };
}
