/**
 * The composition root: wires config, logger, store, shared state, metrics, the command registry, the
 * permission service, the router, the HTTP listener, the adapters and the feature plugins. Nothing else
 * constructs these; everything else receives them.
 */
import { existsSync, readFileSync } from "node:fs";
import type { Logger } from "pino";
import type Keyv from "keyv";
import type { Config } from "../../config/index.ts";
import { adapterFactories } from "../../adapters/index.ts";
import { ConsoleAdapter } from "../../adapters/console/console-adapter.ts";
import { WebChatAdapter, WEB_PLATFORM, webUserKeyOf } from "../../adapters/web/index.ts";
import { auditCommand, permsCommand } from "../builtins/perms.ts";
import { consoleCommand } from "../builtins/console.ts";
import { AdminAccess } from "../admin/access.ts";
import { createAdmin, mountAdmin, type Admin } from "../admin/index.ts";
import { ActivityRecorder } from "../admin/activity.ts";
import { helpCommand, statusCommand, whoamiCommand } from "../builtins/help.ts";
import { stopCommand } from "../builtins/stop.ts";
import { confirmationCommands } from "../builtins/confirm.ts";
import { linkCommands } from "../builtins/link.ts";
import { Principals } from "../router/principals.ts";
import { Confirmations } from "../router/confirmations.ts";
import { CommandRegistry } from "../commands.ts";
import {
  systemClock,
  turnClock,
  type AdapterHub,
  type Clock,
  type Core,
  type Plugin,
  type PluginFactory,
} from "../core.ts";
import { sharedState } from "../readiness.ts";
import { SwitchboardError } from "../errors.ts";
import { HttpListener } from "../http/listener.ts";
import { healthRoutes } from "../http/health.ts";
import { createLogger } from "../logger.ts";
import { createMetrics } from "../metrics.ts";
import { MessageCounts } from "../message-counts.ts";
import {
  chatKeyOf,
  type ChannelAdapter,
  type ConversationTarget,
  type Reply,
  type SendHooks,
  type SentMessage,
} from "../model.ts";
import { createPlugins } from "./plugins.ts";
import { CachedPermissionService } from "../router/permission-service.ts";
import { peopleFromConfig } from "../permissions.ts";
import { deliveryDedupe } from "../router/dedupe.ts";
import { redisDeliveryDedupe } from "../router/redis-dedupe.ts";
import { syncedInboundLimits } from "../router/synced-limits.ts";
import { redisPolicyChanges } from "../router/policy-changes.ts";
import { openRedisLink, type RedisLink } from "../router/redis-link.ts";
import { redisSharedWindows } from "../router/shared-windows.ts";
import { Router } from "../router/router.ts";
import { Journal } from "../journal/journal.ts";
import { JOURNAL_MIGRATIONS } from "../journal/journal-sql.ts";
import { StoreWatch } from "../journal/store-watch.ts";
import { openStore } from "../storage/open.ts";
import type { Store } from "../storage/types.ts";
import { createCapabilityRegistry, createToolRegistry } from "../tools.ts";
import { createEventBus } from "../events.ts";

/** The package version, for /status and the CLI. */
export const VERSION: string = readOwnVersion(import.meta.url);

/** The version in the nearest package.json above `moduleUrl` (sources, or dist/ in the installed package). */
function readOwnVersion(moduleUrl: string): string {
  for (let url = new URL("./package.json", moduleUrl); ; url = new URL("../package.json", url)) {
    if (existsSync(url)) return (JSON.parse(readFileSync(url, "utf8")) as { version: string }).version;
    if (url.pathname === "/package.json") return "0.0.0";
  }
}

/** Options for `createApp`. Tests pass their own adapters, console streams and clock. */
export interface AppOptions {
  config: Config;
  log?: Logger;
  clock?: Clock;
  /** Console streams; `false` leaves the console adapter out. Default: stdin/stdout when enabled in config. */
  console?: { input: NodeJS.ReadableStream; output: NodeJS.WritableStream; interactive?: boolean } | false;
  /** Adapters added besides the configured ones (tests, embedders). */
  extraAdapters?: ChannelAdapter[] | ((core: Core) => ChannelAdapter[]);
  /** Create the platform adapters whose tokens are configured. Default true. */
  platformAdapters?: boolean;
  /** Feature plugins: default `createPlugins`; a list replaces it; `false` for none. */
  plugins?: PluginFactory[] | false;
  /** An already open store (the CLI's short-lived commands, tests). Default: opened from config. */
  store?: Store;
  /** Shut down by itself when the console input ends and no other adapter runs. Default true. */
  exitOnConsoleEnd?: boolean;
}

/** A wired bot. */
export interface App {
  readonly core: Core;
  readonly plugins: readonly Plugin[];
  readonly console: ConsoleAdapter | undefined;
  /** Console sign-in: links, sessions, tokens, and the API's access checks. */
  readonly admin: Admin;
  /** Start the HTTP listener, the plugins and the adapters. */
  start(): Promise<void>;
  /** Stop everything, draining in-flight work; idempotent. */
  stop(): Promise<void>;
  /** Resolves once the app has stopped (by `stop`, or by the console input ending). */
  readonly stopped: Promise<void>;
  /** The HTTP listener's address once started. */
  httpAddress(): { host: string; port: number } | undefined;
  /** Restart one adapter's connection after a contained SDK fault; false when no such adapter runs. */
  recoverAdapter(platform: string, reason: string): boolean;
}

/** Wire a bot from its config. Nothing is started until `start()`. */
export async function createApp(options: AppOptions): Promise<App> {
  const clock = options.clock ?? systemClock;
  const consoleStreams: Exclude<AppOptions["console"], false> =
    options.console !== false && options.config.adapters.console.enabled
      ? (options.console ?? { input: process.stdin, output: process.stdout })
      : undefined;
  // An operator typing into a terminal should not see log lines break into the conversation.
  const sharesTerminal =
    consoleStreams !== undefined &&
    (consoleStreams.interactive ?? (consoleStreams.input as { isTTY?: boolean }).isTTY === true) &&
    process.stderr.isTTY === true;
  const log = options.log ?? createLogger({ ...options.config.log, interactive: sharesTerminal });
  // The HTTP port, then Redis: each fails (or not) in moments, before the embedded store spends its time opening
  // (and, once open, seconds more tearing down at exit).
  const http = new HttpListener({
    log,
    maxBodyBytes: options.config.http.maxBodyBytes,
    apiRatePerMinute: options.config.http.apiRatePerMinute,
    secureCookies: options.config.http.publicUrl?.startsWith("https:") === true,
    trustProxy: options.config.http.trustProxy,
  });
  if (needsHttp(options)) await http.listen(options.config.http.host, options.config.http.port);
  let shared: { config: Config; kv: Keyv };
  try {
    shared = await sharedState(options.config, log);
  } catch (error) {
    await http.close();
    throw error;
  }
  const { config, kv } = shared;
  let store: Store;
  let redisLink: RedisLink | undefined;
  try {
    // The router's own Redis connections (pipelined commands, pub/sub) when scaled out.
    if (config.storage.redisUrl !== undefined) {
      redisLink = await openRedisLink({ url: config.storage.redisUrl, namespace: "switchboard" });
    }
    store =
      options.store ?? (await openStore({ dataDir: config.bot.dataDir, databaseUrl: config.storage.databaseUrl, log }));
  } catch (error) {
    await redisLink?.close();
    await kv.disconnect().catch(() => undefined);
    await http.close();
    throw error;
  }
  const ownsStore = options.store === undefined;
  const counted = createMetrics();
  const messageCounts = new MessageCounts({ sql: store.sql, clock });
  // Prometheus counts since start; the store keeps messages per platform per day for the console.
  const metrics = {
    ...counted,
    messageIn: (platform: string) => {
      counted.messageIn(platform);
      messageCounts.add(platform, "in");
    },
    messageOut: (platform: string) => {
      counted.messageOut(platform);
      messageCounts.add(platform, "out");
    },
  };
  const commands = new CommandRegistry();
  const shutdown = new AbortController();
  const adapters = new Map<string, ChannelAdapter>();
  const tracked = new Set<Promise<unknown>>();

  const consoleOwner = `console:${config.adapters.console.userId}`;
  // An owner is an owner in the web chat too, where they speak as `web:<platform>.<id>`.
  const ownIdentities = [...config.bot.owners, consoleOwner];
  const owners = [...ownIdentities, ...ownIdentities.map(webUserKeyOf)];
  const permissions = new CachedPermissionService({
    store,
    commands,
    clock,
    log,
    owners,
    defaultDm: config.permissions.dm,
    newChats: config.permissions.newChats,
    commandRoles: config.permissions.commandRoles,
    people: peopleFromConfig(config.permissions.principals),
    cacheTtlMs: config.storage.policyCacheTtlMs,
    cacheMaxEntries: config.storage.policyCacheMaxEntries,
  });
  if (redisLink !== undefined) {
    permissions.announceChangesWith(
      await redisPolicyChanges({ link: redisLink, log, invalidate: (chatKey) => permissions.invalidate(chatKey) }),
    );
  }

  const hub: AdapterHub = {
    get: (platform) => adapters.get(platform),
    list: () => [...adapters.values()],
    send: async (target: ConversationTarget, reply: Reply, hooks?: SendHooks): Promise<SentMessage> => {
      const adapter = adapters.get(target.platform);
      if (adapter === undefined) {
        throw new SwitchboardError("E_ADAPTER", `no running adapter for ${target.platform}`, {
          chatMessage: `The ${target.platform} adapter is not running.`,
        });
      }
      const sent = await adapter.send(target, reply, hooks);
      metrics.messageOut(target.platform);
      return sent;
    },
    edit: async (message, reply) => {
      const adapter = adapters.get(message.platform);
      if (adapter === undefined) throw new SwitchboardError("E_ADAPTER", `no running adapter for ${message.platform}`);
      if (adapter.capabilities.edit) await adapter.edit(message, reply);
      else await hub.send({ platform: message.platform, chatId: message.chatId, threadId: message.threadId }, reply);
    },
  };

  const track = <T>(promise: Promise<T>): Promise<T> => {
    const settled = promise.then(
      () => undefined,
      () => undefined,
    );
    tracked.add(settled);
    void settled.then(() => tracked.delete(settled));
    return promise;
  };

  const confirmations = new Confirmations({
    sql: store.sql,
    audit: (entry) => store.audit.append({ ...entry, at: entry.at ?? clock.now() }),
    clock,
  });
  const sharedLimits =
    redisLink === undefined
      ? undefined
      : syncedInboundLimits({
          link: redisLink,
          perUser: config.limits.perUser,
          perChat: config.limits.perChat,
          clock: turnClock(clock),
          maxKeys: config.limits.maxTrackedKeys,
          log,
        });
  // The dashboard's daily counts: every message a platform sends, the commands (and their skills) run, the error
  // codes answered.
  const activity = new ActivityRecorder({ sql: store.sql, clock, commandOf: (name) => commands.get(name) });
  const events = createEventBus((error, event) =>
    log.warn({ err: error, event: event.type, chat: event.chatKey }, "an event listener failed"),
  );
  const router = new Router({
    events,
    confirmations,
    commands,
    permissions,
    adapters: hub,
    metrics: {
      ...metrics,
      error: (code) => {
        metrics.error(code);
        activity.error(code);
      },
    },
    log,
    clock: turnClock(clock),
    firstDelivery:
      redisLink === undefined
        ? deliveryDedupe(kv, config.storage.dedupeTtlMs, { maxMarks: config.storage.dedupeMaxMarks })
        : redisDeliveryDedupe(redisLink, config.storage.dedupeTtlMs),
    limits: config.limits,
    ...(redisLink === undefined
      ? {}
      : {
          inboundLimits: sharedLimits,
        }),
    shutdownSignal: shutdown.signal,
    onNewChat: (inbound) => {
      const chatKey = chatKeyOf(inbound.platform, inbound.chat.id);
      void track(
        store.chats
          .touch(chatKey, { kind: inbound.chat.kind, title: inbound.chat.title }, clock.now())
          .catch((error: unknown) => log.warn({ err: error, chat: chatKey }, "could not record chat")),
      );
    },
  });

  const journalConfig = config.storage.journal;
  let journal: Journal | undefined;
  const storeWatch = new StoreWatch({ config, kv, store }, { log, intervalMs: 1_000 });
  if (journalConfig.enabled) {
    await store.migrate(JOURNAL_MIGRATIONS);
    journal = new Journal({
      sql: store.sql,
      log,
      clock,
      handle: (inbound) => router.handle(inbound),
      isHeld: () => storeWatch.isDown,
      leaseMs: journalConfig.leaseMs,
      retryMaxMs: journalConfig.retryMaxMs,
      retentionMs: config.storage.dedupeTtlMs,
      maxEvents: journalConfig.maxEvents,
    });
  }

  const core: Core = {
    config,
    version: VERSION,
    startedAt: clock.now(),
    log,
    clock,
    store,
    kv,
    commands,
    permissions,
    router,
    adapters: hub,
    http,
    apiAccess: new AdminAccess({ permissions, store, adapters: hub }, owners),
    metrics,
    tools: createToolRegistry(),
    capabilities: createCapabilityRegistry(),
    events,
    audit: (entry) => store.audit.append({ ...entry, at: entry.at ?? clock.now() }),
    track,
    shutdownSignal: shutdown.signal,
    ...(journal === undefined ? {} : { journal }),
    ...(redisLink === undefined ? {} : { sharedWindows: redisSharedWindows(redisLink) }),
  };

  let plugins: Plugin[] = [];
  commands.register(helpCommand(core, permissions));
  commands.register(
    whoamiCommand(
      (userKey) => principals.identitiesOf(userKey),
      (userKey) => permissions.personFor(userKey),
    ),
  );
  commands.register(statusCommand(core, () => plugins));
  commands.register(permsCommand(core, permissions));
  commands.register(auditCommand(core));
  commands.register(stopCommand(router));
  const principals = new Principals({
    sql: store.sql,
    kv,
    clock,
    audit: core.audit,
    owners: [...config.bot.owners, consoleOwner],
    onOwnersChanged: (linked) => permissions.setLinkedOwners(linked),
  });
  await principals.load();
  for (const command of linkCommands(principals)) commands.register(command);
  confirmations.attach((inbound) => router.handle(inbound));
  for (const command of confirmationCommands(confirmations)) commands.register(command);
  const admin = createAdmin(core, () => consoleBaseUrl(config, http.address()));
  // A console-only run opens no listener at start (`http.enabled: auto`); the first `/console` opens it then, so
  // `npm start` and `/console` give a link that works.
  const isLazyListener = http.address() === undefined && config.http.enabled === "auto";
  let opening: Promise<void> | undefined;
  let mountConsole: () => Promise<void> = async () => undefined;
  const openLazily = (): Promise<void> => {
    opening ??= (async () => {
      await http.listen(config.http.host, config.http.port);
      await mountConsole();
      await http.serve();
      const address = http.address();
      log.info({ host: address?.address, port: address?.port }, "http listening for the web console");
    })().catch(async (error: unknown) => {
      opening = undefined;
      await http.close().catch(() => undefined);
      throw error;
    });
    return opening;
  };
  commands.register(
    consoleCommand({
      access: core.apiAccess,
      signInLink:
        http.address() !== undefined || config.http.publicUrl !== undefined
          ? admin.signInLink
          : isLazyListener
            ? async (identity) => {
                await openLazily();
                return admin.signInLink(identity);
              }
            : undefined,
    }),
  );

  // Adapters: console, then the configured platforms, then extras.
  let consoleAdapter: ConsoleAdapter | undefined;
  if (consoleStreams !== undefined) {
    consoleAdapter = new ConsoleAdapter({
      ...consoleStreams,
      userId: config.adapters.console.userId,
      botName: config.bot.name,
    });
    adapters.set(consoleAdapter.platform, consoleAdapter);
  }
  // The platform adapters (each factory imports its SDK) and the feature plugins are made side by side: one's
  // file reads overlap the other's work. Adapters keep their configured order.
  const [platformAdapters, created] = await Promise.all([
    options.platformAdapters === false
      ? []
      : Promise.all(
          Object.entries(adapterFactories).map(async ([name, factory]) => [name, await factory(core)] as const),
        ),
    options.plugins === false
      ? undefined
      : options.plugins === undefined
        ? createPlugins(core)
        : Promise.all(options.plugins.map((factory) => factory(core))),
  ]);
  for (const [name, adapter] of platformAdapters) {
    if (adapter === undefined) continue;
    adapters.set(adapter.platform, adapter);
    log.info({ platform: name }, "adapter configured");
  }
  if (config.adapters.web.enabled) {
    const { enabled: _enabled, ...limits } = config.adapters.web;
    adapters.set(
      WEB_PLATFORM,
      new WebChatAdapter({
        limits,
        files: { maxUploadBytes: config.limits.maxAttachmentBytes },
        now: () => clock.now(),
      }),
    );
  }
  const extras =
    typeof options.extraAdapters === "function" ? options.extraAdapters(core) : (options.extraAdapters ?? []);
  for (const adapter of extras) adapters.set(adapter.platform, adapter);

  if (created !== undefined) {
    plugins = created;
    const migrations = plugins.flatMap((p) => p.migrations ?? []);
    if (migrations.length > 0) await store.migrate(migrations);
  }

  for (const route of healthRoutes(core)) http.api(route);
  for (const adapter of adapters.values()) adapter.mount?.(http);
  // The admin API's and the web console's code loads only when the bot listens: a console-only bot carries none
  // of it until its first `/console`.
  mountConsole = async () => {
    await mountAdmin(core, { admin, http, messageCounts });
    for (const plugin of plugins) for (const route of (await plugin.routes?.()) ?? []) http.api(route);
    const [{ activityRoutes }, { webConsoleRoutes }] = await Promise.all([
      import("../admin/activity-routes.ts"),
      import("../admin/web-console.ts"),
    ]);
    for (const route of activityRoutes({ sql: store.sql, clock, access: core.apiAccess })) http.api(route);
    for (const route of webConsoleRoutes()) http.route(route.method, route.path, route.handler);
  };
  if (http.address() !== undefined) await mountConsole();

  let stopping: Promise<void> | undefined;
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((resolve) => {
    resolveStopped = resolve;
  });

  const app: App = {
    core,
    plugins,
    console: consoleAdapter,
    admin,
    httpAddress: () => {
      const a = http.address();
      return a === undefined ? undefined : { host: a.address, port: a.port };
    },
    recoverAdapter(platform, reason) {
      const adapter = adapters.get(platform);
      if (adapter === undefined) return false;
      if (adapter.recover === undefined) {
        log.warn({ platform, reason }, "fault in an adapter without a connection to restart; it serves on");
        return true;
      }
      adapter.recover(reason);
      return true;
    },
    async start() {
      // Adapters connect first: their handshakes (HTTP calls, a gateway or socket session) wait on the network
      // while the plugins start and the listener builds its server. What they hear before the plugins have
      // started waits for them (a command would otherwise miss a skill's), and their native command lists are
      // sent once every command is registered. /readyz answers once the listener serves, after the plugins.
      let pluggedIn = false;
      const plugged = (async () => {
        for (const plugin of plugins) await plugin.start?.();
        pluggedIn = true;
      })();
      // A plugin that fails to start fails `start()` below; the adapters' waits see the same error.
      plugged.catch(() => undefined);
      // Adapters start side by side; a slow or failing one delays nobody past its start timeout.
      const adaptersStarted = Promise.all(
        [...adapters.values()].map((adapter) =>
          startAdapter(adapter, {
            log,
            timeoutMs: config.bot.adapterStartTimeoutMs,
            sink: (inbound) => {
              // Once the plugins are up, what an adapter hears goes to the router in the same turn (no await in
              // between), so the router sees messages as they arrive and drain() covers every one handed over.
              const hand = () => {
                activity.inbound(inbound);
                return router.handle(inbound);
              };
              return pluggedIn ? hand() : plugged.then(hand);
            },
            commands: async () => {
              await plugged;
              return commands.infos();
            },
            track,
          }),
        ),
      );
      await plugged;
      await http.serve();
      const address = http.address();
      if (address !== undefined)
        log.info({ host: address.address, port: address.port }, "http listening (/healthz, /readyz, /metrics)");
      messageCounts.start((error) => log.warn({ err: error }, "could not write message counts"));
      await adaptersStarted;
      if (journal !== undefined) {
        storeWatch.start();
        // Unfinished events of a previous run (or of a process whose lease ran out) go through the router now.
        await journal.start();
      }
      if (consoleAdapter !== undefined && options.exitOnConsoleEnd !== false) {
        void consoleAdapter.ended.then(async () => {
          await router.drain();
          // The web chat lives on the console's listener: it keeps no bot running by itself.
          if ([...adapters.keys()].every((platform) => platform === "console" || platform === WEB_PLATFORM)) {
            log.debug("console input ended and no other adapter runs: stopping");
            await app.stop();
          }
        });
      }
      log.info({ adapters: [...adapters.keys()], plugins: plugins.map((p) => p.name) }, `${config.bot.name} started`);
    },
    stop() {
      stopping ??= (async () => {
        shutdown.abort(new SwitchboardError("E_TIMEOUT", "shutting down"));
        for (const adapter of adapters.values()) {
          await adapter
            .stop()
            .catch((error: unknown) => log.warn({ err: error, platform: adapter.platform }, "adapter stop failed"));
        }
        await withDeadline(router.drain(), 10_000);
        storeWatch.stop();
        await journal?.stop().catch((error: unknown) => log.warn({ err: error }, "journal stop failed"));
        for (const plugin of [...plugins].reverse()) {
          await plugin
            .stop?.()
            .catch((error: unknown) => log.warn({ err: error, plugin: plugin.name }, "plugin stop failed"));
        }
        await withDeadline(Promise.all([...tracked]), 5_000);
        await messageCounts
          .stop()
          .catch((error: unknown) => log.warn({ err: error }, "could not write message counts"));
        await activity.flush().catch((error: unknown) => log.warn({ err: error }, "could not write activity counts"));
        await http.close();
        sharedLimits?.stop();
        await sharedLimits?.sync().catch(() => undefined);
        await redisLink?.close();
        await kv.disconnect().catch(() => undefined);
        if (ownsStore) await store.close();
        log.debug("stopped");
        resolveStopped();
      })();
      return stopping;
    },
    stopped,
  };
  return app;
}

/**
 * Whether this run opens the HTTP listener. `auto`: when a platform adapter is configured (webhooks, and health
 * checks for a service), extra adapters are given, or the model gateway is on (`gateway.enabled`); a
 * console-only session needs none, so a busy port cannot stop it.
 */
function needsHttp(options: AppOptions): boolean {
  const { http, adapters } = options.config;
  if (http.enabled !== "auto") return http.enabled;
  if (options.extraAdapters !== undefined || options.config.gateway.enabled) return true;
  if (options.platformAdapters === false) return false;
  return [adapters.telegram, adapters.discord, adapters.slack].some(
    (a) => a.token !== undefined && a.enabled !== false,
  );
}

/**
 * Start one adapter: a log line when it begins, when it is up, and when it fails (with the error); one that is
 * not up after `timeoutMs` is left to keep trying in the background (its own supervisor logs each attempt).
 */
async function startAdapter(
  adapter: ChannelAdapter,
  o: {
    log: Logger;
    timeoutMs: number;
    sink: (inbound: import("../model.ts").Inbound) => Promise<void>;
    /** The commands to register natively, once they are all known. */
    commands: () => Promise<ReturnType<CommandRegistry["infos"]>>;
    track: <T>(p: Promise<T>) => Promise<T>;
  },
): Promise<void> {
  const platform = adapter.platform;
  const startedMs = performance.now();
  o.log.info({ platform }, "adapter starting");
  const started = adapter.start(o.sink).then(
    async () => {
      const state = adapter.health().state;
      if (state === "up") o.log.info({ platform, ms: Math.round(performance.now() - startedMs) }, "adapter up");
      else
        o.log.warn(
          { platform, state, detail: adapter.health().detail },
          "adapter not up yet; retrying in the background",
        );
      await o
        .commands()
        .then((infos) => adapter.registerCommands(infos))
        .catch((error: unknown) => o.log.warn({ err: error, platform }, "could not register native commands"));
    },
    (error: unknown) => {
      // One platform failing to start must not take the others down; /readyz shows it.
      o.log.error({ err: error, platform }, "adapter failed to start");
    },
  );
  let timer: NodeJS.Timeout | undefined;
  const isTimedOut = await Promise.race([
    started.then(() => false),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), o.timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  if (isTimedOut) {
    o.log.warn(
      { platform, timeoutMs: o.timeoutMs, detail: adapter.health().detail },
      "adapter not up within its start timeout; the others serve while it keeps trying",
    );
    void o.track(started);
  }
}

async function withDeadline(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    work.then(
      () => undefined,
      () => undefined,
    ),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}

/** Where people reach the listener: `http.publicUrl`, else the bound (or configured) host and port. */
function consoleBaseUrl(config: Config, bound: { address: string; port: number } | undefined): string {
  if (config.http.publicUrl !== undefined) return config.http.publicUrl;
  const host = bound?.address ?? config.http.host;
  const shown = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
  return `http://${shown}:${bound?.port ?? config.http.port}`;
}
