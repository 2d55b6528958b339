/**
 * The skills plugin: wires the skill-host supervisor and the skill service into the bot, loads the built-in,
 * linked and installed skills at start, and offers skill tools to the LLM layer.
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Core, Plugin } from "../bot/index.ts";
import type { SkillsServices } from "./needs.ts";
import type { FetchDeps } from "./runtime/fetch.ts";
import { SKILLS_MIGRATIONS } from "./runtime/grants.ts";
import { listPackageDirs, readLinked } from "./runtime/loader.ts";
import { loadSecretKey } from "./runtime/secrets.ts";
import { SkillHostSupervisor } from "./runtime/supervisor.ts";
import { SkillService } from "./service.ts";

/** Where the built-in skill packages live. */
export const BUILTIN_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "builtin");

/** The plugin, with the service the marketplace and CLI use. */
export interface SkillsPlugin extends Plugin {
  readonly service: SkillService;
  readonly supervisor: SkillHostSupervisor;
}

/** Test hooks. */
export interface SkillsPluginOptions {
  fetchDeps?: FetchDeps;
  env?: Readonly<Record<string, string | undefined>>;
}

/** The folder installed skills live in: `skills.dir`, default `<dataDir>/skills`. */
export function installedSkillsDir(core: { readonly config: Pick<Core["config"], "bot" | "skills"> }): string {
  return core.config.skills.dir ?? join(core.config.bot.dataDir, "skills");
}

/** Create the skills plugin (the composition root calls this). */
export async function createSkillsPlugin(
  core: SkillsServices,
  options: SkillsPluginOptions = {},
): Promise<SkillsPlugin> {
  const config = core.config.skills;
  const log = core.log.child({ module: "skills" });
  let service: SkillService | undefined;
  const supervisor = new SkillHostSupervisor({
    poolSize: config.hostProcesses,
    maxHosts: config.maxHostProcesses,
    permissionModel: config.hostPermissionModel,
    hostGraceMs: config.hostGraceMs,
    maxRssMb: config.hostMaxRssMb,
    heapMb: config.hostHeapMb,
    nice: config.hostNice,
    idleMs: config.hostIdleMs,
    onLog: (level, message, details) => log[level](details ?? {}, message),
    onCrash: (crash) => {
      core.metrics.error("E_SKILL_FAILED");
      if (service !== undefined)
        void core.track(
          service
            .hostCrashed(crash)
            .catch((error: unknown) => log.warn({ err: error }, "could not record a host crash")),
        );
    },
  });
  let key: Buffer | undefined;
  service = new SkillService({
    core,
    config,
    supervisor,
    secretKey: () =>
      (key ??= loadSecretKey({
        dataDir: core.config.bot.dataDir,
        ...(options.env === undefined ? {} : { env: options.env }),
      })),
    ...(options.fetchDeps === undefined ? {} : { fetchDeps: options.fetchDeps }),
  });
  let unregisterTools: (() => void) | undefined;
  let stopListening: (() => void) | undefined;
  let refresh: NodeJS.Timeout | undefined;
  return {
    name: "skills",
    migrations: SKILLS_MIGRATIONS,
    service,
    supervisor,
    async start() {
      // The host process is forked by the first skill call, not here: a bot whose skills nobody runs does not
      // carry an idle host (about 75 MB resident). Loaded skills are handed to it when it starts.
      await service.loadGrants();
      if (config.builtins) {
        for (const dir of await listPackageDirs(BUILTIN_DIR)) {
          await service
            .load(dir, { source: "builtin" })
            .catch((error: unknown) => log.error({ err: error, dir }, "built-in skill could not be loaded"));
        }
      }
      for (const dir of await readLinked(core.config.bot.dataDir)) {
        await service
          .load(dir, { source: "linked" })
          .catch((error: unknown) => log.warn({ err: error, dir }, "linked skill could not be loaded"));
      }
      // Installed skills are loaded by the marketplace plugin, which checks each one against the lockfile first.
      unregisterTools = core.tools.register(service.toolProvider());
      // Skills that subscribe to events hear them from here on (the bus has a subscriber only while one is loaded).
      stopListening = service.listen(core.events);
      if (config.warmOnStart) {
        // In the background, after the plugins and adapters have started: the fork and the compiles must not
        // hold up the start, only come before the first skill command.
        const warming = setTimeout(() => {
          void core.track(
            supervisor.warm().catch((error: unknown) => log.warn({ err: error }, "could not warm the skill host")),
          );
        }, 0);
        warming.unref();
      }
      if (config.grantsRefreshMs > 0) {
        refresh = setInterval(() => {
          void core.track(
            service.loadGrants().catch((error: unknown) => log.warn({ err: error }, "could not refresh skill grants")),
          );
        }, config.grantsRefreshMs);
        refresh.unref();
      }
    },
    async stop() {
      if (refresh !== undefined) clearInterval(refresh);
      unregisterTools?.();
      stopListening?.();
      await supervisor.stop();
    },
    status() {
      const skills = service.list();
      const pids = supervisor.pids().filter((pid) => pid !== undefined);
      const hosts =
        pids.length === 0 ? "host not started (it starts with the first skill call)" : `host pids ${pids.join(", ")}`;
      return {
        state: "ok",
        detail: `${skills.length} skill(s) loaded (${skills.map((s) => `${s.name}@${s.version}`).join(", ")}); ${hosts}`,
      };
    },
  };
}
