/**
 * A real bot (router, permissions, in-memory embedded store) with the schedules plugin on a fake clock, a test
 * adapter that can answer platform-role look-ups, and a `/ping` command that records every run.
 */
import type { Inbound, PlatformRole, PluginFactory, Store } from "../../../bot/index.ts";
import { memoryStore } from "../../../bot/storage/open.ts";
import { createSchedulesPlugin, type SchedulesPlugin, type ScheduleRecord } from "../../../schedules/index.ts";
import { startTestBot, type TestBot } from "../../helpers/app.ts";
import { TestAdapter } from "../../helpers/test-adapter.ts";
import type { FakeTime } from "./fake-time.ts";

/** A test adapter whose platform roles the test sets. */
export class RoleAdapter extends TestAdapter {
  readonly roles = new Map<string, PlatformRole>();

  async platformRoleOf(chatId: string, userId: string): Promise<PlatformRole | undefined> {
    return this.roles.get(`${chatId}/${userId}`);
  }
}

/** One `/ping` (or `/adminping`) run as the router handed it to the command. */
export interface Ping {
  command: string;
  atMs: number;
  origin: Inbound["origin"];
  userId: string;
  chatId: string;
  deliveryId: string;
  args: string;
}

/** A started bot with the schedules plugin. */
export interface Harness {
  bot: TestBot;
  adapter: RoleAdapter;
  plugin: SchedulesPlugin;
  time: FakeTime;
  pings: Ping[];
  store: Store;
  /** Wait for fires, runs and routed messages to finish. */
  settle(): Promise<void>;
  /** Advance the fake clock, settling after each timer. */
  advanceTo(atMs: number): Promise<void>;
  /** Say something in chat c1 as alice (a member by default) and wait for the answers. */
  say(text: string, o?: { userId?: string; chatId?: string }): Promise<string[]>;
  stop(): Promise<void>;
}

/** Options for `startHarness`. */
export interface HarnessOptions {
  time: FakeTime;
  store?: Store;
  set?: Record<string, unknown>;
  pings?: Ping[];
  processId?: string;
  /** The firing pipeline's batch size and concurrency, the fire deadline and the sweeper's lease. */
  pipeline?: {
    claimBatchSize?: number;
    fireConcurrency?: number;
    fireDeadlineMs?: number;
    runLeaseMs?: number;
    sweepIntervalMs?: number;
  };
}

/** Start a bot on `time` (and `store`, kept open at stop when given). */
export async function startHarness(o: HarnessOptions): Promise<Harness> {
  const ownsStore = o.store === undefined;
  const store = o.store ?? (await memoryStore());
  const pings = o.pings ?? [];
  const adapter = new RoleAdapter();
  adapter.roles.set("c1/alice", "member");
  let plugin: SchedulesPlugin | undefined;
  const pingPlugin: PluginFactory = (core) => {
    for (const [name, role, skill] of [
      ["ping", "member", undefined],
      ["adminping", "admin", undefined],
      ["skillping", "member", "remindme"],
    ] as const) {
      core.commands.register({
        name,
        description: "records a run",
        defaultRole: role,
        ...(skill === undefined ? { source: "builtin" } : { source: `skill:${skill}`, skill }),
        handler: (ctx) => {
          pings.push({
            command: name,
            atMs: o.time.now(),
            origin: ctx.inbound.origin,
            userId: ctx.inbound.user.id,
            chatId: ctx.inbound.chat.id,
            deliveryId: ctx.inbound.deliveryId,
            args: ctx.rawArgs,
          });
          return `pong ${ctx.rawArgs}`.trim();
        },
      });
    }
    return { name: "ping" };
  };
  const bot = await startTestBot({
    clock: o.time,
    store,
    extraAdapters: [adapter],
    set: {
      "bot.owners": ["test:boss"],
      "schedules.defaultTimeZone": "Europe/Berlin",
      "schedules.pollIntervalMs": 24 * 3_600_000,
      ...o.set,
    },
    plugins: [
      pingPlugin,
      async (core) =>
        (plugin = await createSchedulesPlugin(core, {
          clock: o.time,
          timers: o.time,
          processId: o.processId ?? "p1",
          maxWaitMs: 24 * 3_600_000,
          ...o.pipeline,
        })),
    ],
  });
  const settle = async () => {
    for (let i = 0; i < 3; i++) {
      await plugin!.service.idle();
      await bot.app.core.router.drain();
      await new Promise((r) => setImmediate(r));
    }
  };
  return {
    bot,
    adapter,
    plugin: plugin!,
    time: o.time,
    pings,
    store,
    settle,
    advanceTo: (atMs) => o.time.advanceTo(atMs, settle),
    async say(text, so = {}) {
      const before = adapter.sent.length;
      await adapter.say(text, {
        chatId: so.chatId ?? "c1",
        userId: so.userId ?? "alice",
        role: adapter.roles.get(`${so.chatId ?? "c1"}/${so.userId ?? "alice"}`),
      });
      await settle();
      return adapter.sent.slice(before).map((s) => s.text);
    },
    async stop() {
      await bot.app.stop();
      if (ownsStore) await store.close();
    },
  };
}

/** The id in a "Scheduled #12 …" answer. */
export function idOf(answer: string | undefined): string {
  const m = /#(\d+)/.exec(answer ?? "");
  if (m === null) throw new Error(`no schedule id in ${JSON.stringify(answer)}`);
  return m[1]!;
}

/** Runs of a schedule, oldest first, as plain rows. */
export async function runsOf(
  h: Harness,
  id: string,
): Promise<Array<{ kind: string; outcome: string; fireTime: number; detail: string | null }>> {
  const runs = await h.plugin.service.repo.runs(id, 1000);
  return runs.reverse().map((r) => ({ kind: r.kind, outcome: r.outcome, fireTime: r.fireTime, detail: r.detail }));
}

/** A stored schedule. */
export async function scheduleOf(h: Harness, id: string): Promise<ScheduleRecord> {
  return h.plugin.service.get(id);
}
