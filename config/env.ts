/**
 * Environment overrides. Well-known names map to config keys; everything else uses the
 * `SWITCHBOARD_<SECTION>__<KEY>` form, `__` separating levels: `SWITCHBOARD_HTTP__PORT=9000`,
 * `SWITCHBOARD_ADAPTERS__TELEGRAM__MODE=webhook`. Values that parse as JSON (numbers, booleans, arrays) are
 * taken as such; others are strings.
 */

/** Well-known variable → config path. Comma-separated variables marked `list` become arrays. */
export const ENV_ALIASES: Readonly<Record<string, { path: string; list?: boolean }>> = {
  TELEGRAM_BOT_TOKEN: { path: "adapters.telegram.token" },
  TELEGRAM_API_ROOT: { path: "adapters.telegram.apiRoot" },
  TELEGRAM_WEBHOOK_SECRET: { path: "adapters.telegram.webhookSecret" },
  DISCORD_TOKEN: { path: "adapters.discord.token" },
  DISCORD_APPLICATION_ID: { path: "adapters.discord.applicationId" },
  DISCORD_PUBLIC_KEY: { path: "adapters.discord.publicKey" },
  DISCORD_API_ROOT: { path: "adapters.discord.apiRoot" },
  SLACK_BOT_TOKEN: { path: "adapters.slack.token" },
  SLACK_SIGNING_SECRET: { path: "adapters.slack.signingSecret" },
  SLACK_APP_TOKEN: { path: "adapters.slack.appToken" },
  SLACK_API_URL: { path: "adapters.slack.apiUrl" },
  DATABASE_URL: { path: "storage.databaseUrl" },
  REDIS_URL: { path: "storage.redisUrl" },
  LOG_LEVEL: { path: "log.level" },
  LOG_FILE: { path: "log.file" },
  SWITCHBOARD_DATA_DIR: { path: "bot.dataDir" },
  SWITCHBOARD_OWNERS: { path: "bot.owners", list: true },
  NPM_CONFIG_REGISTRY: { path: "marketplace.registry" },
  SWITCHBOARD_REGISTRY: { path: "marketplace.registry" },
  OPENAI_BASE_URL: { path: "llm.openai.baseUrl" },
  OPENAI_API_KEY: { path: "llm.openai.apiKey" },
  OPENAI_MODEL: { path: "llm.openai.model" },
  OLLAMA_HOST: { path: "llm.ollama.host" },
  OLLAMA_MODEL: { path: "llm.ollama.model" },
};

/** Variables that are read elsewhere and must not be taken as config keys. */
const NOT_KEYS = new Set(["SWITCHBOARD_CONFIG"]);

/** One override: the config path it sets, the variable it came from, and its value. */
export interface EnvOverride {
  path: string;
  variable: string;
  value: unknown;
}

/** Collect the overrides present in `env`. Empty strings are ignored (an unset variable). */
export function envOverrides(env: Readonly<Record<string, string | undefined>>): EnvOverride[] {
  const out: EnvOverride[] = [];
  for (const [variable, raw] of Object.entries(env)) {
    if (raw === undefined || raw === "") continue;
    const alias = ENV_ALIASES[variable];
    if (alias !== undefined) {
      out.push({
        path: alias.path,
        variable,
        value:
          alias.list === true
            ? raw
                .split(",")
                .map((s) => s.trim())
                .filter(Boolean)
            : raw,
      });
      continue;
    }
    if (!variable.startsWith("SWITCHBOARD_") || NOT_KEYS.has(variable) || !variable.includes("__")) continue;
    const path = variable
      .slice("SWITCHBOARD_".length)
      .split("__")
      .map((part) => part.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()))
      .join(".");
    out.push({ path, variable, value: parseEnvValue(raw) });
  }
  return out;
}

function parseEnvValue(raw: string): unknown {
  const t = raw.trim();
  if (/^(true|false|null|-?\d+(\.\d+)?|\[.*\]|\{.*\})$/s.test(t)) {
    try {
      return JSON.parse(t);
    } catch {
      return raw;
    }
  }
  return raw;
}
