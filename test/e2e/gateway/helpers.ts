/**
 * A bot with the LLM and gateway modules on a free port, speaking to the OpenAI and Ollama stand-ins, and a
 * log captured at `debug` so tests can check that no key is ever written.
 */
import { Writable } from "node:stream";
import OpenAI from "openai";
import { createApp, type App } from "../../../bot/app/app.ts";
import { createLogger } from "../../../bot/logger.ts";
import { memoryStore } from "../../../bot/storage/open.ts";
import type { Clock, Store } from "../../../bot/index.ts";
import { type ConfigInput, parseConfig } from "../../../config/index.ts";
import { createGatewayPlugin, type GatewayPlugin } from "../../../gateway/index.ts";
import { createLlmPlugin, type LlmPlugin } from "../../../llm/index.ts";
import { TestAdapter } from "../../helpers/test-adapter.ts";

/** A started gateway bot. */
export interface GatewayBot {
  app: App;
  adapter: TestAdapter;
  llm: LlmPlugin;
  gateway: GatewayPlugin;
  /** `http://127.0.0.1:PORT/v1` */
  baseUrl: string;
  /** Everything logged so far. */
  logs(): string;
  /** An OpenAI client with this key, no retries. */
  client(apiKey: string): OpenAI;
  stop(): Promise<void>;
}

/** Start a bot with `config` (the `gateway` section switched on). */
export async function startGatewayBot(
  config: ConfigInput,
  o: { store?: Store; clock?: Clock } = {},
): Promise<GatewayBot> {
  let logged = "";
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logged += chunk.toString();
      done();
    },
  });
  const parsed = parseConfig({
    ...config,
    http: { port: 0, ...(config.http ?? {}) },
    log: { level: "debug" },
    gateway: { enabled: true, ...(config.gateway ?? {}) },
  });
  const adapter = new TestAdapter();
  let llm: Promise<LlmPlugin> | undefined;
  let gateway: GatewayPlugin | undefined;
  const store = o.store ?? (await memoryStore());
  const app = await createApp({
    config: parsed,
    console: false,
    platformAdapters: false,
    store,
    ...(o.clock === undefined ? {} : { clock: o.clock }),
    log: createLogger({ level: "debug", format: "json", destination: sink }),
    extraAdapters: [adapter],
    plugins: [
      // The factories run together; the gateway waits for the LLM module it builds on.
      (core) => (llm = createLlmPlugin(core, { random: () => 0.5 })),
      async (core) => (gateway = await createGatewayPlugin(core, { llm: (await llm!).service })),
    ],
  });
  await app.start();
  const port = app.httpAddress()?.port;
  if (port === undefined) throw new Error("the gateway bot opened no listener");
  const baseUrl = `http://127.0.0.1:${port}/v1`;
  return {
    app,
    adapter,
    llm: await llm!,
    gateway: gateway!,
    baseUrl,
    logs: () => logged,
    client: (apiKey) => new OpenAI({ baseURL: baseUrl, apiKey, maxRetries: 0, timeout: 20_000 }),
    async stop() {
      await app.stop();
      if (o.store === undefined) await store.close();
    },
  };
}
