/**
 * The per-hook rate holds for the deployment, not per process: two `switchboard start` processes on one
 * PostgreSQL and one Redis, one hook limited to a few requests a minute, requests alternating between the two.
 * Together they accept the limit and refuse the rest with 429; per process, each would have accepted the limit.
 * Runs where PostgreSQL and Redis answer (always under CI=true).
 */
import { afterAll, describe, expect, it } from "vitest";
import type { SpawnedBot } from "../../helpers/spawn-bot.ts";
import { spawnBot } from "../../helpers/spawn-bot.ts";
import { httpPortOf, scaledOutStore, waitHttp, type CrashStore } from "../journal/crash.ts";
import { createStoredHook, TEST_KEY } from "./bot.ts";

const LIMIT = 6;

describe("hooks: the per-hook rate across processes", { timeout: 180_000 }, () => {
  const bots: SpawnedBot[] = [];
  let store: CrashStore | undefined;
  afterAll(async () => {
    for (const bot of bots) await bot.stop();
    await store?.dispose();
  });

  it("lets the limit through once for two processes sharing Redis, and refuses the rest with 429", async () => {
    store = await scaledOutStore();
    if (store === undefined) return;
    const hook = await createStoredHook(store, { chat: 555_002, name: "shared-rate" });
    const env = {
      ...store.env,
      SWITCHBOARD_HTTP__PORT: "0",
      SWITCHBOARD_HTTP__ENABLED: "true",
      LOG_LEVEL: "info",
      SWITCHBOARD_HOOKS__SECRET_KEY: TEST_KEY,
      SWITCHBOARD_HOOKS__RATE_PER_MINUTE: String(LIMIT),
    };
    // Two processes, each with a data folder of its own (the shared state is PostgreSQL and Redis).
    for (const dir of ["a", "b"]) bots.push(spawnBot(env, { dataDir: `${store.dataDir}/${dir}` }));
    await Promise.all(bots.map((bot) => waitHttp(bot)));
    // Within one minute's window: start early in a minute, so the burst does not straddle two.
    if (Date.now() % 60_000 > 45_000) await new Promise((r) => setTimeout(r, 61_000 - (Date.now() % 60_000)));
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT * 2; i++) {
      const port = httpPortOf(bots[i % 2]!)!;
      const res = await fetch(`http://127.0.0.1:${port}/hooks/${hook.id}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${hook.secret}`,
          "idempotency-key": `shared-rate-${i}`,
        },
        body: JSON.stringify({ text: `event ${i}` }),
      });
      statuses.push(res.status);
      if (res.status === 429) expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    }
    const context = `${JSON.stringify(statuses)}\n${bots.map((b) => b.stderr.slice(-1_500)).join("\n---\n")}`;
    expect(
      statuses.filter((s) => s === 202),
      context,
    ).toHaveLength(LIMIT);
    expect(
      statuses.filter((s) => s === 429),
      context,
    ).toHaveLength(LIMIT);
    // In order: the first LIMIT (half from each process) accepted, everything after refused by either process.
    expect(
      statuses.slice(LIMIT).every((s) => s === 429),
      context,
    ).toBe(true);
  });
});
