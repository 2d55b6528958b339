/** `switchboard schedules list|add|pause|resume|delete`: the operator's view of every chat's schedules. */
import type { Command } from "commander";
import { SwitchboardError, parseConversationId, type Core, type Plugin } from "../bot/index.ts";
import { describeSchedule } from "./command.ts";
import { parseOneShot } from "./parse-time.ts";
import type { ScheduleService } from "./service.ts";

/** The part of the CLI context this module uses. */
export interface SchedulesCliContext {
  openApp(options?: { plugins?: boolean }): Promise<{ core: Core; plugins: readonly Plugin[]; stop(): Promise<void> }>;
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

async function withService<T>(
  ctx: SchedulesCliContext,
  fn: (service: ScheduleService, core: Core) => Promise<T>,
): Promise<T> {
  const app = await ctx.openApp();
  try {
    const plugin = app.plugins.find((p) => p.name === "schedules") as
      | (Plugin & { service?: ScheduleService })
      | undefined;
    if (plugin?.service === undefined) throw new SwitchboardError("E_INTERNAL", "the schedules plugin is not wired");
    return await fn(plugin.service, app.core);
  } finally {
    await app.stop();
  }
}

/** Add the `schedules` subcommands. */
export function registerSchedulesCli(program: Command, ctx: SchedulesCliContext): void {
  const cmd = program.command("schedules").description("list, add, pause, resume and delete schedules");
  cmd
    .command("list")
    .description("every active and paused schedule (or one chat's)")
    .option("--chat <chatKey>", "only this chat, e.g. telegram:-1001234")
    .action(async (opts: { chat?: string }) => {
      await withService(ctx, async (service) => {
        const list = await service.repo.list(opts.chat);
        if (list.length === 0) ctx.out.write("no schedules\n");
        for (const s of list)
          ctx.out.write(`${s.chatKey} ${s.state} ${describeSchedule(service, s).replace(/`/g, "")}\n`);
      });
    });
  cmd
    .command("add")
    .description('add a schedule: switchboard schedules add --chat console:local --as operator "0 9 * * 1-5" "/status"')
    .requiredOption("--chat <chatKey>", "the chat, platform:chatId")
    .requiredOption("--as <userId>", "run as this user id of the chat's platform")
    .option("--kind <kind>", "chat kind: dm, group or channel", "group")
    .option("--tz <zone>", "time zone of this schedule")
    .option("--missed <policy>", "skip or once")
    .option("--spread", "fire a fixed few seconds (up to a minute) after the cron time, the same for every fire")
    .option("--at <time>", 'one-shot instead of cron: "in 10m", "2026-12-01 09:00"')
    .argument("<cron-or-command>", "cron expression (node-cron syntax), quoted; with --at, the command line")
    .argument("[command]", 'command line, quoted: "/dice 1d6"')
    .action(
      async (
        first: string,
        second: string | undefined,
        opts: { chat: string; as: string; kind: string; tz?: string; missed?: string; at?: string; spread?: boolean },
      ) => {
        if (opts.kind !== "dm" && opts.kind !== "group" && opts.kind !== "channel")
          throw new SwitchboardError("E_BAD_ARGS", "--kind is dm, group or channel");
        if (opts.missed !== undefined && opts.missed !== "skip" && opts.missed !== "once")
          throw new SwitchboardError("E_BAD_ARGS", "--missed is skip or once");
        const cron = second === undefined ? undefined : first;
        const commandLine = second ?? first;
        if ((cron === undefined) === (opts.at === undefined))
          throw new SwitchboardError("E_BAD_ARGS", "give a cron expression or --at, not both");
        const target = parseConversationId(opts.chat);
        await withService(ctx, async (service) => {
          const zone = opts.tz ?? (await service.chatTimeZone(opts.chat));
          const s = await service.create({
            chat: {
              platform: target.platform,
              chatId: target.chatId,
              chatKind: opts.kind as "dm" | "group" | "channel",
            },
            creator: { id: opts.as, name: opts.as },
            createdBy: "cli",
            commandLine,
            timeZone: opts.tz,
            missedPolicy: opts.missed as "skip" | "once" | undefined,
            spread: opts.spread,
            when:
              opts.at !== undefined
                ? { kind: "once", runAt: parseOneShot(opts.at, zone, service.now()) }
                : { kind: "cron", expression: cron! },
          });
          ctx.out.write(`added ${describeSchedule(service, s).replace(/`/g, "")}\n`);
        });
      },
    );
  for (const action of ["pause", "resume", "delete"] as const) {
    cmd
      .command(action)
      .description(`${action} a schedule by id`)
      .argument("<id>", "schedule id")
      .action(async (id: string) => {
        await withService(ctx, async (service) => {
          const s = await service[action](id);
          ctx.out.write(`${action === "delete" ? "deleted" : action === "pause" ? "paused" : "resumed"} #${s.id}\n`);
        });
      });
  }
}
