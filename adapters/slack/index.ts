/**
 * The Slack adapter's entry: `createSlackAdapter(core)` builds it from `adapters.slack` (undefined when no token
 * is set); `cli.ts`'s `registerSlackCli` adds `switchboard slack manifest`.
 */
import { SwitchboardError, type ChannelAdapter } from "../../bot/index.ts";
import type { SlackServices } from "./needs.ts";
import { SLACK_DEFAULT_LIMITS, SlackAdapter, type SlackAdapterOptions } from "./adapter.ts";

export { SLACK_NEEDS, type SlackServices } from "./needs.ts";
export { SlackAdapter, SLACK_DEFAULT_LIMITS, type SlackAdapterOptions } from "./adapter.ts";
export { buildSlackManifest, type SlackManifestOptions } from "./manifest.ts";

/** How an adapter created by `createSlackAdapter` may differ from config (tests and benchmarks). */
export type SlackAdapterOverrides = Partial<Omit<SlackAdapterOptions, "token">>;

/**
 * Create the Slack adapter, or undefined when Slack is not configured (no token, or `enabled: false`). HTTP mode
 * needs the signing secret; Socket Mode (chosen when an app token is set, or `mode: socket`) needs the app token.
 */
export function createSlackAdapter(
  core: SlackServices,
  overrides: SlackAdapterOverrides = {},
): ChannelAdapter | undefined {
  const c = core.config.adapters.slack;
  if (c.enabled === false || c.token === undefined) return undefined;
  const mode = c.mode ?? (c.appToken !== undefined ? "socket" : "http");
  if (mode === "http" && c.signingSecret === undefined) {
    throw new SwitchboardError(
      "E_CONFIG_INVALID",
      "adapters.slack: HTTP mode needs signingSecret (SLACK_SIGNING_SECRET), or set appToken (SLACK_APP_TOKEN) for Socket Mode",
    );
  }
  if (mode === "socket" && c.appToken === undefined) {
    throw new SwitchboardError(
      "E_CONFIG_INVALID",
      "adapters.slack: Socket Mode needs appToken (SLACK_APP_TOKEN, an xapp- token)",
    );
  }
  if (mode === "http" && core.config.http.enabled === false) {
    core.log.warn(
      { adapter: "slack" },
      "Slack HTTP mode needs the HTTP listener (http.enabled), which is off: no Slack requests will arrive; enable it or use Socket Mode (SLACK_APP_TOKEN)",
    );
  }
  const redisUrl = core.config.storage.redisUrl;
  return new SlackAdapter(core, {
    token: c.token,
    mode,
    ...(c.signingSecret === undefined ? {} : { signingSecret: c.signingSecret }),
    ...(c.appToken === undefined ? {} : { appToken: c.appToken }),
    apiUrl: c.apiUrl,
    eventsPath: c.eventsPath,
    commandPrefix: c.commandPrefix,
    umbrellaCommand: c.umbrellaCommand,
    socketIdleRecycleMs: c.socketIdleRecycleMs,
    editIntervalMs: 1_000,
    outboundLimits: SLACK_DEFAULT_LIMITS,
    ...(redisUrl === undefined ? {} : { redisUrl }),
    apiTimeoutMs: 30_000,
    ...overrides,
  });
}
