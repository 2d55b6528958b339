/** `switchboard models` and `switchboard ai export` through the real CLI program, on a bot's embedded store. */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../../bot/app/app.ts";
import { createLlmPlugin } from "../../../llm/index.ts";
import { createLogger } from "../../../bot/logger.ts";
import { loadConfig } from "../../../config/index.ts";
import { TestAdapter } from "../../helpers/test-adapter.ts";
import { startOpenAiStandIn, type OpenAiStandIn } from "../../stand-ins/openai/server.ts";
import { runCli, type CliResult } from "../../helpers/cli.ts";

let openai: OpenAiStandIn;
let work: string;
let configFile: string;

/** Run one CLI command; resolves with its exit code, stdout and stderr. */
function cli(...args: string[]): Promise<CliResult> {
  return runCli(args, { configFile });
}

beforeAll(async () => {
  openai = await startOpenAiStandIn();
  work = await mkdtemp(join(tmpdir(), "sb-llm-cli-"));
  configFile = join(work, "switchboard.config.json");
  await writeFile(
    configFile,
    JSON.stringify({
      bot: { dataDir: join(work, "data") },
      http: { enabled: false },
      log: { level: "silent" },
      llm: { models: [{ name: "main", provider: "openai", model: "stand", baseUrl: openai.baseUrl, apiKey: "k" }] },
    }),
  );
  // A bot that has one conversation turn, on the embedded store in the data folder.
  const adapter = new TestAdapter();
  const app = await createApp({
    config: loadConfig({ file: configFile, env: {} }).config,
    console: false,
    platformAdapters: false,
    log: createLogger({ level: "silent", format: "json" }),
    extraAdapters: [adapter],
    plugins: [(core) => createLlmPlugin(core)],
  });
  await app.start();
  openai.script.push("stand", { kind: "text", text: "Stored answer." });
  await app.core.router.process(adapter.inbound("remember this", { chatId: "c1", chatKind: "dm" }));
  await app.stop();
}, 180_000);

afterAll(async () => {
  await openai?.close();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe("switchboard models / ai export", () => {
  it("lists the models with their statistics", async () => {
    const r = await cli("models");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/main — openai stand/);
    expect(r.out).toMatch(/1 calls; latency p50 \d+ ms/);
  }, 120_000);

  it("writes the chat's conversations as JSONL to --out", async () => {
    const file = join(work, "out.jsonl");
    const r = await cli("ai", "export", "--chat", "test:c1", "--out", file);
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe(file);
    expect(r.err).toMatch(/exported 1 conversation\(s\), 1 turn\(s\)/);
    const lines = (await readFile(file, "utf8")).trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({
      messages: [
        { role: "system", content: expect.any(String) },
        { role: "user", content: "remember this" },
        { role: "assistant", content: "Stored answer." },
      ],
    });
  }, 120_000);

  it("refuses a chat id without its platform, saying how to write it", async () => {
    const r = await cli("ai", "export", "--chat", "12345");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--chat must be platform:chatId/);
  }, 120_000);
});
