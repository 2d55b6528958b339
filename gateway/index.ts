/**
 * The model gateway's entry: `createGatewayPlugin` (the OpenAI-compatible routes, personal keys, limits, the
 * answer cache, `/ai keys`); `registerGatewayCli` (`switchboard keys create|list|revoke`) lives in `cli.ts`, which
 * the CLI loads only for commands other than `start`. It builds on the LLM module's service (registry, fallback
 * chain, usage), which the composition root hands over.
 */
import type { Plugin } from "../bot/index.ts";
import { dayOf, type LlmService } from "../llm/index.ts";
import { adapterSender, Budgets } from "./budgets.ts";
import { AnswerCache, chatTurnCache } from "./cache.ts";
import { mountAiKeys } from "./chat-command.ts";
import type { CompletionDeps } from "./completions.ts";
import { GATEWAY_MIGRATIONS, KeyService } from "./keys.ts";
import { Limits } from "./limits.ts";
import { createGatewayMetrics } from "./metrics.ts";
import type { GatewayServices } from "./needs.ts";
import { ModelRouter } from "./routing.ts";

export { GATEWAY_NEEDS, type GatewayServices } from "./needs.ts";
export { GATEWAY_MIGRATIONS, KEY_PREFIX, KeyService, type KeyInfo } from "./keys.ts";
export { CACHE_HEADER, FALLBACK_HEADER, MODEL_HEADER } from "./completions.ts";

/** The gateway plugin, with its services for tests. */
export interface GatewayPlugin extends Plugin {
  readonly keys: KeyService;
  readonly deps: CompletionDeps | undefined;
}

/** The key service on the core's store and audit trail. */
export function createKeyService(core: Pick<GatewayServices, "store" | "clock" | "audit" | "config">): KeyService {
  return new KeyService({
    sql: core.store.sql,
    clock: core.clock,
    audit: (entry) => core.audit(entry),
    maxPerUser: core.config.gateway.maxKeysPerUser,
  });
}

/**
 * Plug the gateway in. With `gateway.enabled: false` it only keeps its tables (keys can still be created on
 * the host) and rolls old usage up, and mounts no route.
 */
export async function createGatewayPlugin(core: GatewayServices, o: { llm: LlmService }): Promise<GatewayPlugin> {
  const keys = createKeyService(core);
  const config = core.config.gateway;
  // Old usage rows are rolled up into one row per day, whether or not the gateway serves.
  const rollUp = async (): Promise<void> => {
    const before = dayOf(core.clock.now() - config.usageRollupAfterDays * 86_400_000);
    const folded = await o.llm.store.rollUpBefore(before);
    if (folded > 0) core.log.info({ rows: folded, before }, "llm usage rows rolled up into daily totals");
  };
  const start = async (): Promise<void> => {
    void core.track(rollUp().catch((error: unknown) => core.log.warn({ err: error }, "could not roll up LLM usage")));
  };
  if (!config.enabled)
    return {
      name: "gateway",
      migrations: GATEWAY_MIGRATIONS,
      keys,
      deps: undefined,
      start,
      status: () => ({ state: "off", detail: "gateway.enabled is false" }),
    };
  const metrics = createGatewayMetrics(core.metrics.registry);
  const budgets = new Budgets(config.budgets, {
    llm: o.llm,
    repo: core.store.kv,
    kv: core.kv,
    clock: core.clock,
    log: core.log,
    alertChat: config.alertChat,
    sender: adapterSender(core.adapters),
    counted: metrics.budgetAlert,
  });
  const limits = new Limits({ kv: core.kv, llm: o.llm, config, clock: core.clock });
  const cache = new AnswerCache({ shared: core.kv, config: config.cache, registry: o.llm.registry });
  const deps: CompletionDeps = {
    llm: o.llm,
    budgets,
    keys,
    router: new ModelRouter(o.llm.registry, config.aliases),
    limits,
    cache,
    metrics,
    clock: core.clock,
    sql: core.store.sql,
    track: core.track,
    log: core.log,
  };
  const unmount = mountAiKeys(core.commands, { keys, budgets, audit: (entry) => core.audit(entry) });
  // Chat turns of profiles with `cache` use the same cache; `block` budgets refuse chat turns too.
  const unuseCache = o.llm.answerCache.use(
    chatTurnCache(cache, { sql: core.store.sql, clock: core.clock, cacheHit: (m) => metrics.cacheHit(m) }),
  );
  const ungate = o.llm.usage.addGate((chatKey, userKey) => budgets.admitChat(chatKey, userKey));
  // Every recorded use, chat turns included, is checked against the budgets in the background.
  const unsubscribe = o.llm.usage.onRecorded((e) => {
    void core.track(
      budgets.onUsage(e).catch((error: unknown) => core.log.warn({ err: error }, "could not check LLM budgets")),
    );
  });
  return {
    name: "gateway",
    migrations: GATEWAY_MIGRATIONS,
    // Asked for only when the bot listens: the route code loads then.
    routes: async () => [
      ...(await import("./api.ts")).gatewayRoutes(deps),
      ...(await import("./admin-api.ts")).keyRoutes(keys, { maxExpiryDays: 3_650, now: () => core.clock.now() }),
    ],
    keys,
    deps,
    start,
    async stop() {
      unsubscribe();
      unmount();
      unuseCache();
      ungate();
      limits.close();
    },
    status() {
      const names = deps.router.names();
      return names.length === 0
        ? { state: "degraded", detail: "no model to serve" }
        : { state: "ok", detail: `/v1: ${names.map((n) => n.id).join(", ")}` };
    },
  };
}
