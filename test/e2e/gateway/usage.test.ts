/**
 * `switchboard usage export` over chat turns and gateway requests in the same tables (by day, model, chat,
 * user, key; CSV and JSON), and the roll-up of old usage rows into daily totals on the embedded store and on
 * PostgreSQL.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memoryStore, openStore, type Store } from "../../../bot/index.ts";
import { dayOf, LLM_MIGRATIONS, type LlmService } from "../../../llm/index.ts";
import { runCli } from "../../helpers/cli.ts";
import { POSTGRES_URL, serviceAvailable } from "../../helpers/services.ts";
import { startOpenAiStandIn, type OpenAiStandIn } from "../../stand-ins/openai/server.ts";
import { startGatewayBot } from "./helpers.ts";

let work: string;
let dataDir: string;
let configFile: string;
let openai: OpenAiStandIn;
let keyId: string;
const today = dayOf(Date.now());
const cli = (...args: string[]) => runCli(args, { configFile });

beforeAll(async () => {
  openai = await startOpenAiStandIn();
  work = await mkdtemp(join(tmpdir(), "sb-gateway-usage-"));
  dataDir = join(work, "data");
  configFile = join(work, "switchboard.config.json");
  await writeFile(configFile, JSON.stringify({ bot: { dataDir }, log: { level: "silent" } }));
  const store = await openStore({ dataDir });
  const bot = await startGatewayBot(
    {
      bot: { dataDir },
      llm: {
        models: [
          { name: "hosted", provider: "openai", model: "stand-hosted", baseUrl: openai.baseUrl, costPer1kInput: 1 },
        ],
      },
    },
    { store },
  );
  try {
    openai.script.fallback = { kind: "text", text: "ok", usage: { input: 100, output: 10 } };
    const { key, info } = await bot.gateway.keys.create({ userKey: "test:nina" }, { actor: "test", via: "cli" });
    keyId = info.id;
    await bot.client(key).chat.completions.create({ model: "hosted", messages: [{ role: "user", content: "x" }] });
    await bot.app.core.router.process(
      bot.adapter.inbound("hello", { chatId: "dm-nina", chatKind: "dm", userId: "nina" }),
    );
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

describe("switchboard usage export", () => {
  it("groups chat turns and gateway requests by day, user, chat, key and model", async () => {
    const byUser = await cli("usage", "export", "--from", today, "--to", today, "--by", "user", "--format", "json");
    expect(byUser.code, byUser.err).toBe(0);
    expect(JSON.parse(byUser.out)).toEqual([
      { user: "test:nina", inputTokens: 200, outputTokens: 20, cost: 0.2, count: 2, cacheHits: 0 },
    ]);
    const byKey = JSON.parse(
      (await cli("usage", "export", "--from", today, "--to", today, "--by", "key", "--format", "json")).out,
    );
    expect(byKey).toEqual([{ key: keyId, inputTokens: 100, outputTokens: 10, cost: 0.1, count: 1, cacheHits: 0 }]);
    const byChat = JSON.parse(
      (await cli("usage", "export", "--from", today, "--to", today, "--by", "chat", "--format", "json")).out,
    );
    expect(byChat).toEqual([
      { chat: "test:dm-nina", inputTokens: 100, outputTokens: 10, cost: 0.1, count: 1, cacheHits: 0 },
    ]);
    const byModel = await cli("usage", "export", "--from", today, "--to", today, "--by", "model");
    expect(byModel.out).toBe(`model,inputTokens,outputTokens,cost,count,cacheHits\r\nhosted,200,20,0.2,2,0\r\n`);
    const byDay = await cli("usage", "export", "--from", "2020-01-01", "--to", today, "--by", "day");
    expect(byDay.out).toBe(`day,inputTokens,outputTokens,cost,count,cacheHits\r\n${today},200,20,0.2,2,0\r\n`);
  });

  it("refuses bad days, groupings and formats", async () => {
    expect((await cli("usage", "export", "--from", "yesterday", "--to", today)).code).toBe(1);
    expect((await cli("usage", "export", "--from", today, "--to", today, "--by", "team")).err).toContain("--by");
    expect((await cli("usage", "export", "--from", today, "--to", today, "--format", "xml")).err).toContain("--format");
  });
});

const hasPostgres = await serviceAvailable("postgres");

const engines: Array<[string, () => Promise<Store>]> = [
  ["the embedded store", () => memoryStore()],
  ...(hasPostgres
    ? [["PostgreSQL", () => openStore({ dataDir: work, databaseUrl: POSTGRES_URL })] as [string, () => Promise<Store>]]
    : []),
];

describe.each(engines)("usage roll-up on %s", (_name, open) => {
  it("folds rows of old days into one row per day and keeps the day totals", async () => {
    const store = await open();
    try {
      await store.migrate(LLM_MIGRATIONS);
      const { LlmStore } = (await import("../../../llm/store.ts")) as {
        LlmStore: new (sql: unknown) => LlmService["store"];
      };
      const s = new LlmStore(store.sql);
      const day = `1999-0${1 + Math.floor(Math.random() * 8)}-1${Math.floor(Math.random() * 9)}`;
      await store.sql.query("DELETE FROM llm_usage WHERE day = $1", [day]);
      await s.addUsage({ day, chatKey: "c:1", userKey: "u:1", inputTokens: 10, outputTokens: 1, cost: 0.5 });
      await s.addUsage({ day, chatKey: "c:2", userKey: "u:2", inputTokens: 20, outputTokens: 2, cost: 0.25 });
      await s.addUsage({ day: "2999-01-01", chatKey: "c:1", userKey: "u:1", inputTokens: 1, outputTokens: 1, cost: 0 });
      expect(await s.rollUpBefore("2000-01-01")).toBeGreaterThanOrEqual(2);
      const { rows } = await store.sql.query<Record<string, unknown>>(
        "SELECT chat_key, user_key, input_tokens, output_tokens, cost, turns FROM llm_usage WHERE day = $1",
        [day],
      );
      expect(
        rows.map((r) => ({
          ...r,
          input_tokens: Number(r.input_tokens),
          output_tokens: Number(r.output_tokens),
          turns: Number(r.turns),
        })),
      ).toEqual([{ chat_key: "*", user_key: "*", input_tokens: 30, output_tokens: 3, cost: 0.75, turns: 2 }]);
      expect((await s.usageOn("2999-01-01", "c:1", "u:1")).chat.tokens).toBe(2);
      await store.sql.query("DELETE FROM llm_usage WHERE day IN ($1, '2999-01-01')", [day]);
    } finally {
      await store.close();
    }
  });
});
