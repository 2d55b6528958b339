/**
 * The Discord adapter's entry: `createDiscordAdapter(core)` reads `adapters.discord` and returns the adapter,
 * or undefined when Discord is not configured (no token, `enabled: false`, or interactions mode without the
 * application's public key and id).
 */
import type { ChannelAdapter } from "../../bot/index.ts";
import type { DiscordServices } from "./needs.ts";
import { DiscordAdapter, type DiscordAdapterOptions } from "./adapter.ts";
import { loadPublicKey } from "./verify.ts";

export { DISCORD_NEEDS, type DiscordServices } from "./needs.ts";
export { DiscordAdapter, type DiscordAdapterOptions } from "./adapter.ts";
export type { GatewayDispatch } from "./gateway.ts";

/** The bot user id a token carries in its first segment (base64), or undefined when it does not parse. */
export function applicationIdFromToken(token: string): string | undefined {
  const first = token.split(".")[0] ?? "";
  try {
    const decoded = Buffer.from(first, "base64").toString("utf8");
    return /^\d{15,22}$/.test(decoded) ? decoded : undefined;
  } catch {
    return undefined;
  }
}

/** Tuning the tests (and embedders) may pass besides the config. */
export type DiscordTuning = Pick<
  DiscordAdapterOptions,
  | "deferAfterMs"
  | "commandsDebounceMs"
  | "outboundLimits"
  | "makeRequest"
  | "editIntervalMs"
  | "watchdogIntervalMs"
  | "deafAfterMs"
>;

/** Create the Discord adapter from config, or undefined when Discord is not configured. */
export function createDiscordAdapter(core: DiscordServices, tuning: DiscordTuning = {}): ChannelAdapter | undefined {
  const c = core.config.adapters.discord;
  if (c.enabled === false || c.token === undefined) return undefined;
  if (c.mode === "interactions" && (c.publicKey === undefined || c.applicationId === undefined)) {
    core.log.warn(
      { adapter: "discord" },
      "Discord interactions mode needs adapters.discord.publicKey and applicationId; Discord is off",
    );
    return undefined;
  }
  const applicationId = c.applicationId ?? applicationIdFromToken(c.token) ?? "";
  return new DiscordAdapter(core, {
    token: c.token,
    applicationId,
    apiRoot: c.apiRoot,
    mode: c.mode,
    ...(c.mode === "interactions" ? { publicKey: loadPublicKey(c.publicKey!) } : {}),
    interactionsPath: c.interactionsPath,
    guildIds: c.guildIds,
    ...tuning,
  });
}
