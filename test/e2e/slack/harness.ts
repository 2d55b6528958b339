/**
 * A real bot (router, permissions, built-in commands, shared HTTP listener) with the real Slack adapter (Bolt)
 * pointed at the stand-in Slack platform, for the e2e tests.
 */
import { parseConfig, setPath, type ConfigInput } from "../../../config/index.ts";
import { createSlackAdapter, type SlackAdapter, type SlackAdapterOverrides } from "../../../adapters/slack/index.ts";
import { createApp, type App, type AppOptions } from "../../../bot/app/app.ts";
import { createLogger } from "../../../bot/logger.ts";
import { memoryStore } from "../../../bot/storage/open.ts";
import { startSlackStandIn, type SlackStandIn, type StandInUser } from "../../stand-ins/slack/server.ts";

/** The signing secret every e2e bot uses. */
export const SIGNING_SECRET = "stand-in-signing-secret";

/** Fast limits for tests: real spacing per channel, but short. */
export const TEST_OVERRIDES: SlackAdapterOverrides = {
  outboundLimits: { globalPerSecond: 0, perChatIntervalMs: 20 },
  editIntervalMs: 200,
  clientOptions: { retryConfig: { retries: 0 } },
  apiTimeoutMs: 5_000,
};

/** A running bot, its Slack adapter, and the stand-in. */
export interface SlackBot {
  app: App;
  slack: SlackStandIn;
  adapter: SlackAdapter;
  /** The events URL on the bot's shared HTTP listener. */
  eventsUrl: string;
  stop(): Promise<void>;
}

/** Options for `startSlackBot`. */
export interface SlackBotOptions {
  mode?: "http" | "socket";
  users?: StandInUser[];
  overrides?: SlackAdapterOverrides;
  /** Config overrides by dotted path. */
  set?: Record<string, unknown>;
  config?: ConfigInput;
  /** Stand-in ping interval (Socket Mode), in ms. */
  socketPingIntervalMs?: number;
  /** Feature plugins (none by default). */
  plugins?: AppOptions["plugins"];
}

/** Start the stand-in, then a bot whose Slack adapter talks to it. */
export async function startSlackBot(options: SlackBotOptions = {}): Promise<SlackBot> {
  const slack = await startSlackStandIn({
    users: options.users ?? [{ id: "U0000001", name: "alice" }],
    socketPingIntervalMs: options.socketPingIntervalMs ?? 300,
  });
  const mode = options.mode ?? "http";
  const raw: Record<string, unknown> = structuredClone((options.config ?? {}) as Record<string, unknown>);
  const settings: Record<string, unknown> = {
    "http.port": 0,
    "log.level": process.env.TEST_LOG_LEVEL ?? "silent",
    "adapters.slack.token": slack.botToken,
    "adapters.slack.apiUrl": slack.apiUrl,
    "limits.perUser": { burst: 1_000, perMinute: 60_000 },
    "limits.perChat": { burst: 1_000, perMinute: 60_000 },
    ...(mode === "http"
      ? { "adapters.slack.signingSecret": SIGNING_SECRET }
      : { "adapters.slack.appToken": slack.appToken }),
    ...options.set,
  };
  for (const [k, v] of Object.entries(settings)) setPath(raw, k, v);
  let adapter: SlackAdapter | undefined;
  let app: App;
  try {
    const config = parseConfig(raw);
    const store = await memoryStore();
    app = await createApp({
      config,
      console: false,
      platformAdapters: false,
      plugins: options.plugins ?? false,
      store,
      log: createLogger({ level: config.log.level, format: "json" }),
      extraAdapters: (core) => {
        adapter = createSlackAdapter(core, { ...TEST_OVERRIDES, ...options.overrides }) as SlackAdapter;
        return [adapter];
      },
    });
    await app.start();
  } catch (error) {
    await slack.stop();
    throw error;
  }
  const port = app.httpAddress()!.port;
  return {
    app,
    slack,
    adapter: adapter!,
    eventsUrl: `http://127.0.0.1:${port}/slack/events`,
    async stop() {
      await app.stop();
      await app.core.store.close();
      await slack.stop();
    },
  };
}
