/**
 * Stores and readiness: the shared-state store chosen at start (Redis must answer, or the operator opted into
 * in-process state), and the probes `/readyz` runs so it is 503 while a required store is down.
 */
import type Keyv from "keyv";
import type { Logger } from "pino";
import type { Config } from "../config/index.ts";
import type { Core } from "./core.ts";
import { createEphemeral } from "./ephemeral.ts";
import { SwitchboardError } from "./errors.ts";
import { maskUrl } from "./storage/open.ts";

/** How long a store may take to answer a probe, in ms. */
const PROBE_TIMEOUT_MS = 1_500;
/** How long Redis may take to answer at start, in ms. */
const START_PROBE_TIMEOUT_MS = 5_000;

/** One store's answer to a readiness probe. */
export interface StoreProbe {
  name: string;
  ok: boolean;
  error?: string;
}

/**
 * The shared-state store for this run. Without `storage.redisUrl`: in memory. With it, Redis must answer a
 * write and a read within seconds; when it does not, start-up stops with `E_STORAGE` — unless
 * `storage.redisRequired` is false, in which case the run goes on in memory (and without Redis for anything
 * else: the returned config has no `redisUrl`) after a loud warning.
 */
export async function sharedState(config: Config, log: Logger): Promise<{ config: Config; kv: Keyv }> {
  const redisUrl = config.storage.redisUrl;
  if (redisUrl === undefined) return { config, kv: createEphemeral({ namespace: "switchboard" }) };
  const kv = createEphemeral({ redisUrl, namespace: "switchboard", connectTimeoutMs: START_PROBE_TIMEOUT_MS });
  const problem = await probeKv(kv, START_PROBE_TIMEOUT_MS);
  if (problem === undefined) return { config, kv };
  await kv.disconnect().catch(() => undefined);
  if (config.storage.redisRequired) {
    throw new SwitchboardError(
      "E_STORAGE",
      `Redis at ${maskUrl(redisUrl)} does not answer (${problem}); start-up stopped. Start Redis, fix storage.redisUrl (REDIS_URL), or set storage.redisRequired: false to run on in-process state`,
    );
  }
  log.error(
    { redis: maskUrl(redisUrl), problem },
    "REDIS UNREACHABLE: running on IN-PROCESS shared state (storage.redisRequired is false). Dedupe, rate limits, outbound budgets and locks are NOT shared with other processes until restarted with Redis",
  );
  const { redisUrl: _dropped, ...storage } = config.storage;
  return { config: { ...config, storage }, kv: createEphemeral({ namespace: "switchboard" }) };
}

/** Probe the stores a run depends on: Redis (when configured) and PostgreSQL (when configured). */
export async function probeStores(core: Pick<Core, "config" | "kv" | "store">): Promise<StoreProbe[]> {
  const probes: Array<Promise<StoreProbe>> = [];
  if (core.config.storage.redisUrl !== undefined) {
    probes.push(probeKv(core.kv, PROBE_TIMEOUT_MS).then((error) => result("redis", error)));
  }
  if (core.config.storage.databaseUrl !== undefined) {
    probes.push(
      withTimeout(core.store.sql.query("SELECT 1"), PROBE_TIMEOUT_MS).then(
        () => result("postgresql", undefined),
        (error: unknown) => result("postgresql", messageOf(error)),
      ),
    );
  }
  return Promise.all(probes);
}

function result(name: string, error: string | undefined): StoreProbe {
  return error === undefined ? { name, ok: true } : { name, ok: false, error };
}

/** Write and read back one short-lived key; undefined when that worked, else what went wrong. */
async function probeKv(kv: Keyv, timeoutMs: number): Promise<string | undefined> {
  const key = `readiness-probe:${process.pid}`;
  try {
    await withTimeout(kv.set(key, 1, 10_000), timeoutMs);
    const back = await withTimeout(kv.get(key), timeoutMs);
    return back === 1 ? undefined : "a probe key did not read back";
  } catch (error) {
    return messageOf(error);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message || error.name : String(error);
}

/** `work`, or a rejection naming the wait when it has not settled within `ms`. */
export function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
