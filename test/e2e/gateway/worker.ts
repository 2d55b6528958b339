/**
 * One Switchboard process for the multi-process gateway test: the real app with the LLM and gateway modules,
 * its store on PostgreSQL and its shared state on Redis, answering on a free port. Prints `ready <port>` (and,
 * with CREATE_KEY set, `key <key>` first). Environment: DATABASE_URL, REDIS_URL, OPENAI_STAND_IN, RPM.
 */
import { createApp } from "../../../bot/app/app.ts";
import { createLogger } from "../../../bot/logger.ts";
import { parseConfig } from "../../../config/index.ts";
import { createGatewayPlugin, type GatewayPlugin } from "../../../gateway/index.ts";
import { createLlmPlugin, type LlmPlugin } from "../../../llm/index.ts";

const config = parseConfig({
  bot: { dataDir: "./data-unused" },
  http: { enabled: true, port: 0 },
  log: { level: "warn" },
  storage: { databaseUrl: process.env.DATABASE_URL, redisUrl: process.env.REDIS_URL },
  adapters: { console: { enabled: false } },
  llm: {
    models: [{ name: "hosted", provider: "openai", model: "stand-hosted", baseUrl: process.env.OPENAI_STAND_IN }],
  },
  gateway: { enabled: true, perKey: { requestsPerMinute: Number(process.env.RPM ?? 4) } },
});

let llm: Promise<LlmPlugin> | undefined;
let gateway: GatewayPlugin | undefined;
const app = await createApp({
  config,
  log: createLogger({ level: "warn", format: "json", destination: process.stderr }),
  console: false,
  platformAdapters: false,
  plugins: [
    (core) => (llm = createLlmPlugin(core)),
    async (core) => (gateway = await createGatewayPlugin(core, { llm: (await llm!).service })),
  ],
});
await app.start();
if (process.env.CREATE_KEY !== undefined) {
  const { key } = await gateway!.keys.create({ userKey: "test:multi" }, { actor: "test", via: "cli" });
  process.stdout.write(`key ${key}\n`);
}
process.stdout.write(`ready ${app.httpAddress()!.port}\n`);
process.once("SIGTERM", () => {
  void app.stop().then(() => process.exit(0));
});
