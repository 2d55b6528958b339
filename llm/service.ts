/**
 * The LLM layer's services, wired from the core: model registry, fallback chain, token counter, store,
 * profiles, usage, and the conversation engine. One `LlmService` per bot; commands, the plugin and the CLI
 * share it.
 */
import type Keyv from "keyv";
import type { Clock, KvRepo, SqlClient } from "../bot/index.ts";
import { AnswerCacheSlot } from "./answer-cache.ts";
import type { LlmServices } from "./needs.ts";
import { ConversationEngine } from "./conversation.ts";
import { createLlmMetrics, type LlmMetrics } from "./metrics.ts";
import { FallbackChain, type FallbackOptions } from "./fallback.ts";
import { ProfileService } from "./profile.ts";
import { ModelRegistry, resolveModels } from "./registry.ts";
import { LlmStore } from "./store.ts";
import { CallStats } from "./stats.ts";
import type { Logger } from "pino";
import { TokenCounter } from "./tokens.ts";
import { UsageService } from "./usage.ts";
import type { LlmConfig } from "./types.ts";

/** Everything the LLM layer holds. */
export interface LlmService {
  readonly config: LlmConfig;
  readonly dataDir: string;
  readonly clock: Clock;
  readonly registry: ModelRegistry;
  readonly chain: FallbackChain;
  readonly counter: TokenCounter;
  readonly store: LlmStore;
  /** Per-model call records (buffered writes). */
  readonly stats: CallStats;
  readonly profiles: ProfileService;
  readonly usage: UsageService;
  /** Present when built from a full `Core` (not in the CLI's read-only use). */
  readonly engine: ConversationEngine | undefined;
  /** The model-call metrics, shared by chat turns and the gateway (absent in the CLI's read-only use). */
  readonly metrics?: LlmMetrics;
  /** The answer cache chat turns may use (provided by the model gateway). */
  readonly answerCache: AnswerCacheSlot;
}

/** Test seams for the fallback chain (jitter and waiting). */
export type LlmServiceOptions = Pick<FallbackOptions, "random" | "sleep">;

/** Parts needed for the read-only services (CLI reports, export). */
export interface LlmServiceParts {
  config: LlmConfig;
  dataDir: string;
  clock: Clock;
  sql: SqlClient;
  kvRepo: KvRepo;
  kv: Keyv;
  log?: Logger;
  track?: <T>(p: Promise<T>) => Promise<T>;
}

/** Build the services without the conversation engine. */
export function createLlmServiceParts(
  parts: LlmServiceParts,
  options: LlmServiceOptions = {},
): Omit<LlmService, "engine"> {
  const registry = new ModelRegistry(resolveModels(parts.config), parts.clock);
  const store = new LlmStore(parts.sql);
  return {
    config: parts.config,
    dataDir: parts.dataDir,
    clock: parts.clock,
    registry,
    chain: new FallbackChain({ kv: parts.kv, clock: parts.clock, settings: parts.config.fallback, ...options }),
    counter: new TokenCounter(),
    store,
    stats: new CallStats({
      store,
      ...(parts.log === undefined ? {} : { log: parts.log }),
      ...(parts.track === undefined ? {} : { track: parts.track }),
    }),
    profiles: new ProfileService(parts.config, parts.kvRepo),
    usage: new UsageService(store, parts.config.quotas, {
      now: () => parts.clock.now(),
      ...(parts.log === undefined ? {} : { log: parts.log }),
      ...(parts.track === undefined ? {} : { track: parts.track }),
    }),
    answerCache: new AnswerCacheSlot(),
  };
}

/** Build the whole LLM service from the core. */
export function createLlmService(core: LlmServices, options: LlmServiceOptions = {}): LlmService {
  const parts = createLlmServiceParts(
    {
      config: core.config.llm,
      dataDir: core.config.bot.dataDir,
      clock: core.clock,
      sql: core.store.sql,
      kvRepo: core.store.kv,
      kv: core.kv,
      log: core.log,
      track: core.track,
    },
    options,
  );
  // Usage and quotas follow a person named in config across platforms.
  parts.usage.keyPeopleBy((userKey) => core.permissions.personOf(userKey));
  const metrics = createLlmMetrics(core.metrics.registry);
  const engine = new ConversationEngine({ core, ...parts, metrics });
  return { ...parts, engine, metrics };
}
