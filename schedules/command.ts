/**
 * `/schedule`: add, at, in, list, pause, resume, delete, run, runs, tz. Flags `--tz <zone>`,
 * `--missed skip|once` and `--spread` go before the command line, which starts with `/`.
 */
import { SwitchboardError, roleAtLeast, type CommandContext, type CommandDef } from "../bot/index.ts";
import { describeCron } from "./cron.ts";
import { parseOneShot } from "./parse-time.ts";
import type { ScheduleRecord } from "./repo.ts";
import { formatDuration, type ScheduleService } from "./service.ts";
import { canonicalTimeZone, formatInZone } from "./zone.ts";

const USAGE = [
  '/schedule add "<cron>" [--tz <zone>] [--missed skip|once] [--spread] /command args',
  "/schedule at <YYYY-MM-DD HH:MM | HH:MM> /command args",
  "/schedule in <10m | 2h | 1d> /command args",
  "/schedule list",
  "/schedule pause|resume|delete|run|runs <id>",
  "/schedule tz | /schedule tz set <zone>",
].join("\n");

interface Token {
  text: string;
  start: number;
}

function tokens(raw: string): Token[] {
  const out: Token[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(raw); m !== null; m = re.exec(raw)) {
    out.push({ text: m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : (m[2] ?? m[3]!), start: m.index });
  }
  return out;
}

function usageError(message: string): SwitchboardError {
  return new SwitchboardError("E_BAD_ARGS", message, { chatMessage: `${message}\nUsage:\n${USAGE}` });
}

/** Split `<spec tokens> [flags] /command args` at the command line (the first token starting with `/`). */
function splitSpec(
  raw: string,
  from: number,
): { spec: string[]; tz?: string; missed?: "skip" | "once"; spread?: boolean; commandLine: string } {
  const all = tokens(raw);
  const spec: string[] = [];
  let tz: string | undefined;
  let missed: "skip" | "once" | undefined;
  let spread = false;
  for (let i = from; i < all.length; i++) {
    const t = all[i]!;
    if (t.text === "--spread") {
      spread = true;
      continue;
    }
    if (t.text === "--tz" || t.text === "--missed") {
      const value = all[i + 1]?.text;
      if (value === undefined) throw usageError(`${t.text} needs a value.`);
      if (t.text === "--tz") tz = value;
      else if (value === "skip" || value === "once") missed = value;
      else throw usageError('--missed is "skip" or "once".');
      i++;
      continue;
    }
    // A quoted first token is the whole cron expression, even if it starts with "/".
    const isQuoted = raw[t.start] === '"' || raw[t.start] === "'";
    if (t.text.startsWith("/") && !isQuoted) {
      return {
        spec,
        ...(tz === undefined ? {} : { tz }),
        ...(missed === undefined ? {} : { missed }),
        ...(spread ? { spread } : {}),
        commandLine: raw.slice(t.start).trim(),
      };
    }
    spec.push(t.text);
  }
  throw usageError("Missing the command to run (it starts with /).");
}

function lastOutcome(s: ScheduleRecord, tz: string): string {
  if (s.lastOutcome === null) {
    // A fire claimed and not finished yet (a catch-up waiting for its adapter at start) has run, not "never".
    return s.lastFireAt === null ? "never ran" : `running since ${formatInZone(tz, s.lastFireAt)}`;
  }
  try {
    const o = JSON.parse(s.lastOutcome) as { text?: string; at?: number };
    return `${o.text ?? "?"}${typeof o.at === "number" ? ` (${formatInZone(tz, o.at)})` : ""}`;
  } catch {
    return s.lastOutcome;
  }
}

/**
 * One line per schedule, for the chat and the CLI: the rule in words (a cron rule reads in the schedule's own
 * zone, which is named), then every time (one-shot, next run, last outcome) in `displayZone`. A chat listing
 * names that zone once in its header; a single schedule's line names it at the end (`isZoneNamed` false).
 */
export function describeSchedule(
  service: ScheduleService,
  s: ScheduleRecord,
  { displayZone = s.timeZone, isZoneNamed = false }: { displayZone?: string; isZoneNamed?: boolean } = {},
): string {
  const when =
    s.kind === "cron"
      ? `${describeCron(s.expression ?? "")} (\`${s.expression}\`), ${s.timeZone}${s.spreadMs > 0 ? `, spread +${formatDuration(s.spreadMs)}` : ""}`
      : `once at ${formatInZone(displayZone, s.runAt ?? 0)}`;
  const next = service.nextRun(s);
  const nextText =
    s.state === "paused" ? "paused" : next === undefined ? "no next run" : `next ${formatInZone(displayZone, next)}`;
  const zone = isZoneNamed ? "" : ` (times in ${displayZone})`;
  return `#${s.id} ${when}: \`${s.commandLine}\` — ${nextText}; last: ${lastOutcome(s, displayZone)}${zone}`;
}

/** Where a `/schedule` message came from, as the service wants it. */
function chatOf(ctx: CommandContext) {
  const { inbound } = ctx;
  return {
    chat: {
      platform: inbound.platform,
      chatId: inbound.chat.id,
      chatKind: inbound.chat.kind,
      threadId: inbound.threadId,
    },
    creator: { id: inbound.user.id, name: inbound.user.displayName },
  };
}

const SPEC_ARG = {
  name: "spec",
  description: "when, then the command line (starts with /)",
  type: "string",
  required: true,
  rest: true,
} as const;
const ID_ARG = { name: "id", description: "the schedule's number", type: "string", required: true } as const;

/**
 * The `/schedule` command, a tree: adding needs member (and the creator must be allowed to run the scheduled
 * command, checked at creation and again at each fire); changing someone else's schedule needs admin.
 */
export function scheduleCommand(service: ScheduleService): CommandDef {
  const add = async (ctx: CommandContext, when: "cron" | "at" | "in"): Promise<string> => {
    const { spec, tz, missed, spread, commandLine } = splitSpec(String(ctx.options.spec ?? ctx.rawArgs), 0);
    if (spec.length === 0)
      throw usageError(when === "cron" ? "Missing the cron expression." : `Missing the time after "${when}".`);
    const { chat, creator } = chatOf(ctx);
    let schedule: { kind: "cron"; expression: string } | { kind: "once"; runAt: number };
    if (when === "cron") schedule = { kind: "cron", expression: spec.join(" ") };
    else {
      const zone = tz === undefined ? await service.chatTimeZone(ctx.chatKey) : canonicalTimeZone(tz);
      schedule = {
        kind: "once",
        runAt: parseOneShot(when === "in" ? `in ${spec.join("")}` : spec.join(" "), zone, service.now()),
      };
    }
    const s = await service.create({
      chat,
      creator,
      createdBy: "user",
      commandLine,
      timeZone: tz,
      missedPolicy: missed,
      spread,
      when: schedule,
      platformRole: ctx.inbound.user.platformRole,
    });
    return `Scheduled ${describeSchedule(service, s)}`;
  };
  const change = (
    action: "pause" | "resume" | "delete" | "run",
    description: string,
    extra: Partial<CommandDef> = {},
  ) => ({
    name: action,
    description,
    args: [ID_ARG],
    ...extra,
    handler: async (ctx: CommandContext) => {
      const s = await service.get(String(ctx.options.id), ctx.chatKey);
      // Others' schedules need an admin; your own are yours.
      if (
        (s.creatorId !== ctx.inbound.user.id || s.platform !== ctx.inbound.platform) &&
        !roleAtLeast(ctx.role, "admin")
      ) {
        throw new SwitchboardError("E_PERMISSION_DENIED", `${ctx.userKey} tried to ${action} schedule ${s.id}`, {
          chatMessage: `Schedule #${s.id} belongs to ${s.creatorName}; only they or an admin can ${action} it.`,
        });
      }
      const actor = ctx.userKey;
      if (action === "pause")
        return `Paused ${describeSchedule(service, await service.pause(s.id, ctx.chatKey, actor))}`;
      if (action === "resume")
        return `Resumed ${describeSchedule(service, await service.resume(s.id, ctx.chatKey, actor))}`;
      if (action === "delete") {
        await service.delete(s.id, ctx.chatKey, actor);
        return `Deleted schedule #${s.id}.`;
      }
      // Not awaited: the run goes through this chat's queue, which this handler holds until it returns.
      const { runId } = await service.runNow(s.id, ctx.chatKey);
      return `Running schedule #${s.id} now (run ${runId}): \`${s.commandLine}\``;
    },
  });
  return {
    name: "schedule",
    description: "Run a command on a schedule (cron or once), as you",
    usage: USAGE,
    defaultRole: "member",
    source: "builtin",
    subcommands: [
      {
        name: "add",
        description: "Run a command on a cron schedule",
        usage: '/schedule add "<cron>" [--tz <zone>] [--missed skip|once] /command args',
        args: [SPEC_ARG],
        handler: (ctx) => add(ctx, "cron"),
      },
      {
        name: "at",
        description: "Run a command once at a time",
        usage: "/schedule at <YYYY-MM-DD HH:MM | HH:MM> /command args",
        args: [SPEC_ARG],
        handler: (ctx) => add(ctx, "at"),
      },
      {
        name: "in",
        description: "Run a command once after a while",
        usage: "/schedule in <10m | 2h | 1d> /command args",
        args: [SPEC_ARG],
        handler: (ctx) => add(ctx, "in"),
      },
      {
        name: "list",
        description: "This chat's schedules",
        handler: async (ctx) => {
          const list = await service.repo.list(ctx.chatKey);
          const tz = await service.chatTimeZone(ctx.chatKey);
          if (list.length === 0) return `No schedules in this chat (zone ${tz}).`;
          return [
            `**Schedules** (times in ${tz})`,
            ...list.map((s) => `- ${describeSchedule(service, s, { displayZone: tz, isZoneNamed: true })}`),
          ].join("\n");
        },
      },
      change("pause", "Pause a schedule"),
      change("resume", "Resume a paused schedule"),
      change("delete", "Delete a schedule", { confirm: true }),
      change("run", "Run a schedule now"),
      {
        name: "runs",
        description: "A schedule's last runs",
        args: [ID_ARG],
        handler: async (ctx) => {
          const s = await service.get(String(ctx.options.id), ctx.chatKey);
          const runs = await service.repo.runs(s.id, 10);
          if (runs.length === 0) return `Schedule #${s.id} has not run yet.`;
          const tz = await service.chatTimeZone(ctx.chatKey);
          return [
            `**Runs of #${s.id}** (times in ${tz})`,
            ...runs.map(
              (r) =>
                `- ${formatInZone(tz, r.fireTime)} ${r.kind}: ${r.outcome}${r.detail === null ? "" : ` (${r.detail})`}`,
            ),
          ].join("\n");
        },
      },
      {
        name: "tz",
        description: "Show this chat's zone",
        handler: async (ctx) => `This chat's zone is ${await service.chatTimeZone(ctx.chatKey)}.`,
        subcommands: [
          {
            name: "set",
            description: "Change this chat's zone (schedules without their own zone follow it)",
            defaultRole: "admin",
            dmRole: "member",
            args: [{ name: "zone", description: "an IANA zone (Europe/Paris)", type: "string", required: true }],
            handler: async (ctx) => {
              const tz = await service.setChatTimeZone(ctx.chatKey, String(ctx.options.zone), ctx.userKey);
              return `This chat's zone is now ${tz}; schedules without their own zone follow it.`;
            },
          },
        ],
      },
    ],
  };
}
