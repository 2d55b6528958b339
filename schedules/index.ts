/**
 * Schedules: per-chat cron and one-shot tasks that run a command line as their creator, through the router, at
 * the right wall-clock time, once across processes. See README.md.
 */
import type { Plugin } from "../bot/index.ts";
import type { SchedulesServices } from "./needs.ts";
export { SCHEDULES_NEEDS, type SchedulesServices } from "./needs.ts";
import { handleScheduleCapability } from "./capability.ts";
import { scheduleCommand } from "./command.ts";
import type { Timers } from "./engine.ts";
import { SCHEDULES_MIGRATIONS } from "./repo.ts";
import { ScheduleService, type SchedulesSettings } from "./service.ts";
import type { Clock } from "../bot/index.ts";

export { ScheduleService, type SchedulesSettings, type CreateScheduleInput } from "./service.ts";
export { SCHEDULES_MIGRATIONS, ScheduleRepo, type ScheduleRecord, type RunRecord } from "./repo.ts";
export { compileCron, describeCron } from "./cron.ts";
export { nextFireAfter } from "./next-fire.ts";
export { FireEngine, type Timers } from "./engine.ts";

/** The schedules plugin, with its service for the CLI and tests. */
export interface SchedulesPlugin extends Plugin {
  readonly service: ScheduleService;
}

/** Options for tests and embedders: a fake clock and timers, a process name. */
export interface SchedulesPluginOptions {
  clock?: Clock;
  timers?: Timers;
  processId?: string;
  /** Longest single engine timer wait (default 30 s). */
  maxWaitMs?: number;
  /** Most fires claimed by one statement (default 256). */
  claimBatchSize?: number;
  /** Most chats whose fires run at once (default 64). */
  fireConcurrency?: number;
  /** Longest a fire may run before it is recorded as an error (default: handler timeout + 30 s). */
  fireDeadlineMs?: number;
  /** A run `running` this long after its start is closed by the sweeper (default: fire deadline + 1 min). */
  runLeaseMs?: number;
  /** How often the sweeper runs, after a poll (default 60 s). */
  sweepIntervalMs?: number;
  settings?: Partial<SchedulesSettings>;
}

/** Create the schedules plugin: the `/schedule` command, the `schedule` capability and the firing engine. */
export async function createSchedulesPlugin(
  core: SchedulesServices,
  options: SchedulesPluginOptions = {},
): Promise<SchedulesPlugin> {
  const service = new ScheduleService(core, {
    settings: { ...core.config.schedules, ...options.settings },
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.timers === undefined ? {} : { timers: options.timers }),
    ...(options.processId === undefined ? {} : { processId: options.processId }),
    ...(options.maxWaitMs === undefined ? {} : { maxWaitMs: options.maxWaitMs }),
    ...(options.claimBatchSize === undefined ? {} : { claimBatchSize: options.claimBatchSize }),
    ...(options.fireConcurrency === undefined ? {} : { fireConcurrency: options.fireConcurrency }),
    ...(options.fireDeadlineMs === undefined ? {} : { fireDeadlineMs: options.fireDeadlineMs }),
    ...(options.runLeaseMs === undefined ? {} : { runLeaseMs: options.runLeaseMs }),
    ...(options.sweepIntervalMs === undefined ? {} : { sweepIntervalMs: options.sweepIntervalMs }),
  });
  core.commands.register(scheduleCommand(service));
  const unprovide = core.capabilities.provide("schedule", (call) => handleScheduleCapability(core, service, call));
  return {
    name: "schedules",
    service,
    migrations: SCHEDULES_MIGRATIONS,
    routes: async () => (await import("./api.ts")).scheduleRoutes(core, service),
    start: () => service.start(),
    stop: async () => {
      unprovide();
      await service.stop();
    },
    status: () => ({
      state: service.settings.enabled ? "ok" : "off",
      detail: `${service.liveCount} active in this process${service.settings.enabled ? "" : " (firing disabled)"}`,
    }),
  };
}
