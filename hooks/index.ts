/**
 * The hooks module's entry: `createHooksPlugin` mounts `POST /hooks/<id>` on the bot's listener, `/hooks` and
 * `/workflow` in the chats, and the delivery worker that posts queued deliveries through the adapters. Hook deliveries are also
 * published on the core's event bus (`type: "hook"`) for listeners.
 */
import type { Plugin } from "../bot/index.ts";
import { hooksCommand } from "./chat-command.ts";
import { DeliveryWorker } from "./delivery.ts";
import { HOOK_PATH, HookRates, hookEndpoint } from "./intake.ts";
import { createHooksMetrics, type HooksMetrics } from "./metrics.ts";
import type { HooksServices } from "./needs.ts";
import { HookRegistry } from "./registry.ts";
import { secretBox } from "./secrets.ts";
import { DeliveryRepo, HOOKS_MIGRATIONS, HookRepo } from "./store.ts";
import { WorkflowRepo, workflowCommand, workflowRoute } from "./workflow.ts";

export { HOOKS_NEEDS, type HooksServices } from "./needs.ts";
export { HOOKS_MIGRATIONS, TEMPLATES, type TemplateName } from "./store.ts";
export { HookRegistry, type OpenHook } from "./registry.ts";
export { signTimestamped, hmacHex, SIGNATURE_HEADER, TIMESTAMP_HEADER } from "./verify.ts";
export { renderDelivery } from "./templates/index.ts";
export { RUN_HEADER } from "./workflow.ts";

/** The hooks plugin, with its services for tests and benchmarks. */
export interface HooksPlugin extends Plugin {
  readonly registry: HookRegistry;
  readonly worker: DeliveryWorker | undefined;
  readonly metrics: HooksMetrics | undefined;
}

/** How long a process's claim on a delivery lasts before another process may take it over, in ms. */
const LEASE_MS = 30_000;

/** Plug the hooks in. With `hooks.enabled: false` only the tables are kept. */
export async function createHooksPlugin(core: HooksServices): Promise<HooksPlugin> {
  const config = core.config.hooks;
  const isShared = core.store.sql.driver === "postgres";
  const box = secretBox({ secretKey: config.secretKey, dataDir: core.config.bot.dataDir, isShared });
  const registry = new HookRegistry({
    repo: new HookRepo(core.store.sql),
    box,
    clock: core.clock,
    audit: (entry) => core.audit(entry),
    maxPerChat: config.maxPerChat,
  });
  if (!config.enabled)
    return {
      name: "hooks",
      migrations: HOOKS_MIGRATIONS,
      registry,
      worker: undefined,
      metrics: undefined,
      status: () => ({ state: "off", detail: "hooks.enabled is false" }),
    };
  const metrics = createHooksMetrics(core.metrics.registry);
  const repo = new DeliveryRepo(core.store.sql);
  const workflows = new WorkflowRepo(core.store.sql);
  const worker = new DeliveryWorker({
    repo,
    registry,
    adapters: core.adapters,
    events: core.events,
    metrics,
    log: core.log,
    clock: core.clock,
    track: core.track,
    isShared,
    limits: { ...config, leaseMs: LEASE_MS },
    route: workflowRoute(workflows),
  });
  core.http.route(
    "POST",
    `${HOOK_PATH}/:id`,
    hookEndpoint({
      registry,
      repo,
      worker,
      metrics,
      log: core.log,
      clock: core.clock,
      rates: new HookRates(
        config.ratePerMinute,
        core.sharedWindows === undefined ? undefined : { windows: core.sharedWindows, log: core.log },
      ),
      limits: { maxPayloadBytes: config.maxPayloadBytes, replayWindowMs: config.replayWindowMs, leaseMs: LEASE_MS },
    }),
  );
  const base = (core.config.http.publicUrl ?? `http://${core.config.http.host}:${core.config.http.port}`).replace(
    /\/+$/,
    "",
  );
  const urlOf = (id: string): string => `${base}${HOOK_PATH}/${id}`;
  core.commands.register(hooksCommand({ registry, adapters: core.adapters, urlOf }));
  core.commands.register(
    workflowCommand({
      repo: workflows,
      registry,
      box,
      adapters: core.adapters,
      clock: core.clock,
      audit: (entry) => core.audit(entry),
      urlOf,
      maxPerChat: config.maxWorkflowsPerChat,
      timeoutMs: config.workflowTimeoutMs,
    }),
  );
  return {
    name: "hooks",
    migrations: HOOKS_MIGRATIONS,
    registry,
    worker,
    metrics,
    async start() {
      worker.start();
    },
    async stop() {
      core.commands.unregister("hooks");
      core.commands.unregister("workflow");
      await worker.stop();
    },
    status() {
      const { sentAt, failedAt, sent, failures } = metrics.last;
      const last = sentAt === 0 ? "no delivery yet" : `last delivery ${new Date(sentAt).toISOString()}`;
      const failed = failures === 0 ? "no failures" : `${failures} failed, last ${new Date(failedAt).toISOString()}`;
      return {
        state: failures > 0 && failedAt > sentAt ? "degraded" : "ok",
        detail: `${sent} delivered since start, ${last}; ${failed}; ${worker.pending} pending`,
      };
    },
  };
}
