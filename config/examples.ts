/** An example of a right value for each config key, used in error messages and docs. */

const EXAMPLES: Readonly<Record<string, string>> = {
  "bot.name": "opsbot",
  "bot.owners": '["telegram:123456789", "slack:U012ABCDEF"]',
  "bot.dataDir": "./data",
  "http.host": "0.0.0.0",
  "http.port": "8080",
  "log.level": "info",
  "log.file": "data/switchboard.log",
  "log.interactiveLevel": "warn",
  "storage.databaseUrl": "postgres://switchboard@127.0.0.1:5432/switchboard",
  "storage.redisUrl": "redis://127.0.0.1:6379",
  "permissions.dm": "allowlist",
  "permissions.newChats": "platform-admins",
  "adapters.telegram.token": "123456:ABC-your-bot-token",
  "adapters.telegram.apiRoot": "http://127.0.0.1:8081",
  "adapters.telegram.mode": "webhook",
  "adapters.discord.publicKey": "e.g. 64 hex characters from the Developer Portal",
  "adapters.discord.mode": "interactions",
  "adapters.slack.apiUrl": "https://slack.com/api/",
  "schedules.defaultTimeZone": "Europe/Berlin",
  "schedules.missedRunDefault": "once",
  "marketplace.registry": "http://127.0.0.1:4873/",
  "marketplace.scopes": '{ "@acme": "https://npm.acme.dev/" }',
  "llm.models":
    "[{ name: fast, provider: openai, model: gpt-4o-mini, baseUrl: https://api.openai.com/v1, apiKey: sk-... }]",
  "llm.models.name": "fast",
  "llm.models.provider": "openai",
  "llm.models.baseUrl": "http://127.0.0.1:8000/v1",
  "llm.models.host": "http://127.0.0.1:11434",
  "llm.openai.baseUrl": "http://127.0.0.1:8000/v1",
  "llm.ollama.host": "http://127.0.0.1:11434",
  "llm.quotas.perChat": "{ dailyTokens: 200000, dailyCost: 1.5 }",
};

/** The example for a dotted key (array indexes are ignored), or a guess from its last segment. */
export function exampleFor(key: string): string | undefined {
  const normalised = key
    .split(".")
    .filter((p) => !/^\d+$/.test(p))
    .join(".");
  const direct = EXAMPLES[normalised];
  if (direct !== undefined) return direct;
  const last = normalised.slice(normalised.lastIndexOf(".") + 1);
  if (/port$/i.test(last)) return "8080";
  if (/(Ms)$/.test(last)) return "30000";
  if (/url$|root$/i.test(last)) return "https://example.org";
  if (/enabled$/i.test(last)) return "true";
  return undefined;
}
