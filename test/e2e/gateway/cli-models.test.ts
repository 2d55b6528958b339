/**
 * `switchboard models` on the host, as a process: the answers served from the answer cache per model, as the
 * chat's `/models` shows them, read from the bot's store (no gateway running).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "../../../bot/index.ts";
import { runSwitchboard } from "../../helpers/spawn-bot.ts";
import { startOpenAiStandIn, type OpenAiStandIn } from "../../stand-ins/openai/server.ts";
import { startGatewayBot } from "./helpers.ts";

let work: string;
let configFile: string;
let openai: OpenAiStandIn;

beforeAll(async () => {
  openai = await startOpenAiStandIn();
  work = await mkdtemp(join(tmpdir(), "sb-gateway-cli-models-"));
  const dataDir = join(work, "data");
  configFile = join(work, "switchboard.config.json");
  const llm = {
    models: [
      { name: "hosted", provider: "openai" as const, model: "stand-hosted", baseUrl: openai.baseUrl },
      { name: "spare", provider: "openai" as const, model: "stand-spare", baseUrl: openai.baseUrl },
    ],
  };
  await writeFile(configFile, JSON.stringify({ bot: { dataDir }, log: { level: "silent" }, llm }));
  const store = await openStore({ dataDir });
  const bot = await startGatewayBot({ bot: { dataDir }, llm, gateway: { cache: { enabled: true } } }, { store });
  try {
    const { key } = await bot.gateway.keys.create({ userKey: "test:nina" }, { actor: "test", via: "cli" });
    const ask = () =>
      bot
        .client(key)
        .chat.completions.create({ model: "hosted", temperature: 0, messages: [{ role: "user", content: "x" }] });
    await ask(); // reaches the model
    // The answer is cached after it goes out: ask again until one comes from the cache, then once more.
    for (let i = 0; i < 50; i++) {
      const r = await ask().withResponse();
      if (r.response.headers.get("x-switchboard-cache") === "hit") break;
    }
    const last = await ask().withResponse();
    expect(last.response.headers.get("x-switchboard-cache")).toBe("hit");
    await bot.llm.service.stats.flush();
  } finally {
    await bot.stop();
    await store.close();
  }
}, 120_000);

afterAll(async () => {
  await openai?.close();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe("switchboard models", () => {
  it("shows the cache hits per model, as /models does", async () => {
    const r = await runSwitchboard(["-c", configFile, "models"], "", work);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      /- hosted — openai stand-hosted[^\n]*\n {2}1 calls[^\n]*\n {2}2 answered from the cache \(cost 0\)\n/,
    );
    // A model the cache never answered for shows no such line.
    expect(r.out).toMatch(/- spare — openai stand-spare[^\n]*\n {2}no calls yet(\n|$)/);
  }, 120_000);
});
