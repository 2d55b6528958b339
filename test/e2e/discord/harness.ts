/**
 * A real bot (router, permissions, built-in commands, shared HTTP listener) with the real Discord adapter
 * (@discordjs/ws and @discordjs/rest) pointed at the stand-in Discord, for the e2e tests.
 */
import { createDiscordAdapter, type DiscordAdapter, type DiscordTuning } from "../../../adapters/discord/index.ts";
import type { ConfigInput } from "../../../config/index.ts";
import type { AppOptions } from "../../../bot/app/app.ts";
import { startTestBot, type TestBot } from "../../helpers/app.ts";
import { startDiscordStandIn, type DiscordStandIn } from "../../stand-ins/discord/server.ts";
import { createInteractionSigner, type InteractionSigner } from "../../stand-ins/discord/signing.ts";

/** Fast settings for tests: real spacing per channel, but short. */
export const TEST_TUNING: DiscordTuning = {
  outboundLimits: { globalPerSecond: 50, perChatIntervalMs: 20 },
  editIntervalMs: 200,
  commandsDebounceMs: 100,
};

/** A running bot, its Discord adapter, and the stand-in. */
export interface DiscordBot {
  bot: TestBot;
  discord: DiscordStandIn;
  adapter: DiscordAdapter;
  /** Interactions mode: the signer whose public key the bot trusts, and the route's URL. */
  signer: InteractionSigner;
  interactionsUrl: string;
  stop(): Promise<void>;
}

/** Options for `startDiscordBot`. */
export interface DiscordBotOptions {
  mode?: "gateway" | "interactions";
  tuning?: DiscordTuning;
  /** Config overrides by dotted path. */
  set?: Record<string, unknown>;
  config?: ConfigInput;
  heartbeatIntervalMs?: number;
  /** Feature plugins (none by default). */
  plugins?: AppOptions["plugins"];
}

/** Start the stand-in, then a bot whose Discord adapter talks to it. */
export async function startDiscordBot(options: DiscordBotOptions = {}): Promise<DiscordBot> {
  const discord = await startDiscordStandIn({ heartbeatIntervalMs: options.heartbeatIntervalMs ?? 1_000 });
  const signer = createInteractionSigner();
  const mode = options.mode ?? "gateway";
  let adapter: DiscordAdapter | undefined;
  const bot = await startTestBot({
    ...(options.config === undefined ? {} : { config: options.config }),
    ...(options.plugins === undefined ? {} : { plugins: options.plugins }),
    set: {
      "adapters.discord.token": discord.token,
      "adapters.discord.applicationId": discord.applicationId,
      "adapters.discord.apiRoot": discord.apiRoot,
      "adapters.discord.mode": mode,
      "adapters.discord.publicKey": signer.publicKeyHex,
      "limits.perUser": { burst: 1_000, perMinute: 60_000 },
      "limits.perChat": { burst: 1_000, perMinute: 60_000 },
      ...options.set,
    },
    extraAdapters: (core) => {
      adapter = createDiscordAdapter(core, { ...TEST_TUNING, ...options.tuning }) as DiscordAdapter;
      return [adapter];
    },
  }).catch(async (error: unknown) => {
    await discord.close();
    throw error;
  });
  const port = bot.app.httpAddress()!.port;
  return {
    bot,
    discord,
    adapter: adapter!,
    signer,
    interactionsUrl: `http://127.0.0.1:${port}/discord/interactions`,
    async stop() {
      await bot.stop();
      await discord.close();
    },
  };
}
