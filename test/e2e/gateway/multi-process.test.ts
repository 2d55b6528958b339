/**
 * Two Switchboard processes on one PostgreSQL database and one Redis enforce one per-key rate limit: requests
 * spread over both are counted together.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { POSTGRES_URL, REDIS_URL, serviceAvailable } from "../../helpers/services.ts";
import { startOpenAiStandIn, type OpenAiStandIn } from "../../stand-ins/openai/server.ts";

const hasServices = (await serviceAvailable("postgres")) && (await serviceAvailable("redis"));
const WORKER = fileURLToPath(new URL("./worker.ts", import.meta.url));
const dbName = `sb_gw_${process.pid}_${randomBytes(3).toString("hex")}`;
const dbUrl = (() => {
  const u = new URL(POSTGRES_URL);
  u.pathname = `/${dbName}`;
  return u.toString();
})();
const children: ChildProcess[] = [];
let openai: OpenAiStandIn | undefined;

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: POSTGRES_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

function startWorker(env: Record<string, string>): Promise<{ port: number; key?: string }> {
  const child = spawn(process.execPath, [WORKER], {
    env: { ...process.env, DATABASE_URL: dbUrl, REDIS_URL, OPENAI_STAND_IN: openai!.baseUrl, RPM: "4", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  let err = "";
  child.stderr!.on("data", (d: Buffer) => {
    err += d.toString();
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const port = /ready (\d+)/.exec(out)?.[1];
      if (port !== undefined)
        resolve({ port: Number(port), ...(/key (\S+)/.test(out) ? { key: /key (\S+)/.exec(out)![1]! } : {}) });
    });
    child.once("exit", (code) =>
      reject(new Error(`gateway worker exited (${code}) before ready: ${err.slice(-2000)}`)),
    );
  });
}

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGTERM");
  await Promise.all(children.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => c.once("exit", r)))));
  await openai?.close();
  if (hasServices) await admin((c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)).catch(() => undefined);
});

describe.skipIf(!hasServices)("the gateway across two processes (PostgreSQL + Redis)", () => {
  it("enforces one per-key rate limit over requests spread across both", async () => {
    openai = await startOpenAiStandIn();
    await admin((c) => c.query(`CREATE DATABASE ${dbName}`));
    const first = await startWorker({ CREATE_KEY: "1" });
    const second = await startWorker({});
    const key = first.key!;
    const clients = [first.port, second.port].map(
      (port) => new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: key, maxRetries: 0 }),
    );
    // The limit is per minute of the clock: start well inside one.
    const intoMinuteMs = Date.now() % 60_000;
    if (intoMinuteMs > 45_000) await new Promise((r) => setTimeout(r, 60_500 - intoMinuteMs));
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const outcome = await clients[i % 2]!.chat.completions.create({
        model: "hosted",
        messages: [{ role: "user", content: `n${i}` }],
      })
        .then(() => 200)
        .catch((e: unknown) => (e as { status: number }).status);
      statuses.push(outcome);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    expect(openai.script.requests).toHaveLength(4);
  }, 120_000);
});
