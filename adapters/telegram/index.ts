/** The Telegram adapter's entry: `createTelegramAdapter(core)` for the composition root. */
import type { ChannelAdapter } from "../../bot/index.ts";
import type { TelegramServices } from "./needs.ts";
import { TelegramAdapter } from "./adapter.ts";

export { TELEGRAM_NEEDS, type TelegramServices } from "./needs.ts";
export { TelegramAdapter, type TelegramAdapterOptions, type TelegramDeps } from "./adapter.ts";
export { normaliseUpdate, chatKindOf } from "./normalise.ts";
export { renderTelegram, TELEGRAM_MAX_TEXT } from "./render.ts";
export { toTelegramError, retryAfterMsOf } from "./errors.ts";
export { roleOfStatus } from "./roles.ts";

/** The Telegram adapter from config, or undefined when no token is set (or it is disabled). */
export function createTelegramAdapter(core: TelegramServices): ChannelAdapter | undefined {
  const section = core.config.adapters.telegram;
  if (section.token === undefined || section.enabled === false) return undefined;
  return new TelegramAdapter(
    {
      token: section.token,
      apiRoot: section.apiRoot,
      mode: section.mode,
      webhookPath: section.webhookPath,
      pollTimeoutSeconds: section.pollTimeoutSeconds,
      outbound: section.outbound,
      editIntervalMs: section.editIntervalMs,
      roleCacheTtlMs: section.roleCacheTtlMs,
      maxInboundChars: core.config.limits.maxInboundChars,
      ...(section.webhookSecret === undefined ? {} : { webhookSecret: section.webhookSecret }),
      ...(section.webhookUrl === undefined ? {} : { webhookUrl: section.webhookUrl }),
      ...(core.config.storage.redisUrl === undefined ? {} : { redisUrl: core.config.storage.redisUrl }),
    },
    core,
  );
}
