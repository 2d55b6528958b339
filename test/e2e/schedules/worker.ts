/**
 * One Switchboard process for the multi-process schedules test: the real app (router, permissions, store on
 * PostgreSQL, shared state on Redis) with the schedules plugin and a `/mark` command that records each run in
 * `e2e_marks`. Prints "ready" once started; a SIGTERM stops it gracefully. Environment: DATABASE_URL, REDIS_URL,
 * WORKER_NAME, FIRING ("0" for a process that only edits schedules).
 */
import { createApp } from "../../../bot/app/app.ts";
import { createLogger } from "../../../bot/logger.ts";
import { parseConfig } from "../../../config/index.ts";
import { createSchedulesPlugin } from "../../../schedules/index.ts";
import { markPlugin, quietAdapter } from "./mark.ts";

const name = process.env.WORKER_NAME ?? `w${process.pid}`;

const config = parseConfig({
  bot: { dataDir: "./data-unused" },
  http: { enabled: false },
  log: { level: "warn" },
  storage: { databaseUrl: process.env.DATABASE_URL, redisUrl: process.env.REDIS_URL },
  adapters: { console: { enabled: false } },
  schedules: { enabled: process.env.FIRING !== "0", minIntervalMs: 1_000, pollIntervalMs: 500, defaultTimeZone: "UTC" },
});

const app = await createApp({
  config,
  log: createLogger({ level: "warn", format: "json", destination: process.stderr }),
  console: false,
  platformAdapters: false,
  extraAdapters: [quietAdapter()],
  plugins: [markPlugin(name), (core) => createSchedulesPlugin(core, { processId: name })],
});
await app.start();
process.stdout.write("ready\n");
process.once("SIGTERM", () => {
  void app.stop().then(() => process.exit(0));
});
