/**
 * `/schedule`: add, at, in, list, pause, resume, delete, run, runs, tz. Flags `--tz <zone>`,
 * `--missed skip|once` and `--spread` go before the command line, which starts with `/`.
 */
import { SwitchboardError, roleAtLeast, type CommandContext, type CommandDef, type ReplyInput } from "../bot/index.ts";
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
  "/schedule tz [zone]",
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
  if (s.lastOutcome === null) return "never ran";
  try {
    const o = JSON.parse(s.lastOutcome) as { text?: string; at?: number };
    return `${o.text ?? "?"}${typeof o.at === "number" ? ` (${formatInZone(tz, o.at)})` : ""}`;
  } catch {
    return s.lastOutcome;
  }
}

/**
 * One line per schedule, for the chat and the CLI: the schedule in words in its own zone, then its next run and
 * last outcome in `displayZone` (the chat's zone in a chat listing).
 */
export function describeSchedule(service: ScheduleService, s: ScheduleRecord, displayZone = s.timeZone): string {
  const when =
    s.kind === "cron"
      ? `${describeCron(s.expression ?? "")} (\`${s.expression}\`)${s.spreadMs > 0 ? `, spread +${formatDuration(s.spreadMs)}` : ""}`
      : `once at ${formatInZone(s.timeZone, s.runAt ?? 0)}`;
  const next = service.nextRun(s);
  const shownIn = displayZone === s.timeZone ? "" : ` ${displayZone}`;
  const nextText =
    s.state === "paused"
      ? "paused"
      : next === undefined
        ? "no next run"
        : `next ${formatInZone(displayZone, next)}${shownIn}`;
  return `#${s.id} ${when}, ${s.timeZone}: \`${s.commandLine}\` — ${nextText}; last: ${lastOutcome(s, displayZone)}`;
}

/** The `/schedule` command. */
export function scheduleCommand(service: ScheduleService): CommandDef {
  return {
    name: "schedule",
    description: "Run a command on a schedule (cron or once), as you",
    usage: USAGE,
    args: [
      {
        name: "action",
        description: "add, at, in, list, pause, resume, delete, run, runs, tz",
        type: "string",
        required: true,
      },
      { name: "rest", description: "the schedule and the command line", type: "string", rest: true },
    ],
    defaultRole: "member",
    source: "builtin",
    handler: (ctx) => handle(service, ctx),
  };
}

async function handle(service: ScheduleService, ctx: CommandContext): Promise<ReplyInput | void> {
  const all = tokens(ctx.rawArgs);
  const action = all[0]?.text.toLowerCase();
  const { inbound, chatKey } = ctx;
  const chat = {
    platform: inbound.platform,
    chatId: inbound.chat.id,
    chatKind: inbound.chat.kind,
    threadId: inbound.threadId,
  };
  const creator = { id: inbound.user.id, name: inbound.user.displayName };
  switch (action) {
    case "add": {
      const { spec, tz, missed, spread, commandLine } = splitSpec(ctx.rawArgs, 1);
      if (spec.length === 0) throw usageError("Missing the cron expression.");
      const s = await service.create({
        chat,
        creator,
        createdBy: "user",
        commandLine,
        timeZone: tz,
        missedPolicy: missed,
        spread,
        when: { kind: "cron", expression: spec.join(" ") },
      });
      return `Scheduled ${describeSchedule(service, s)}`;
    }
    case "at":
    case "in": {
      const { spec, tz, missed, spread, commandLine } = splitSpec(ctx.rawArgs, 1);
      if (spec.length === 0) throw usageError(`Missing the time after "${action}".`);
      const zone = tz === undefined ? await service.chatTimeZone(chatKey) : canonicalTimeZone(tz);
      const runAt = parseOneShot(action === "in" ? `in ${spec.join("")}` : spec.join(" "), zone, service.now());
      const s = await service.create({
        chat,
        creator,
        createdBy: "user",
        commandLine,
        timeZone: tz,
        missedPolicy: missed,
        spread,
        when: { kind: "once", runAt },
      });
      return `Scheduled ${describeSchedule(service, s)}`;
    }
    case "list":
    case undefined: {
      if (action === undefined) return `Usage:\n${USAGE}`;
      const list = await service.repo.list(chatKey);
      const tz = await service.chatTimeZone(chatKey);
      if (list.length === 0) return `No schedules in this chat (zone ${tz}).`;
      return [`**Schedules** (chat zone ${tz})`, ...list.map((s) => `- ${describeSchedule(service, s, tz)}`)].join(
        "\n",
      );
    }
    case "pause":
    case "resume":
    case "delete":
    case "run":
    case "runs": {
      const id = all[1]?.text;
      if (id === undefined) throw usageError(`Which schedule? /schedule ${action} <id>`);
      const s = await service.get(id, chatKey);
      if (action === "runs") {
        const runs = await service.repo.runs(s.id, 10);
        if (runs.length === 0) return `Schedule #${s.id} has not run yet.`;
        return [
          `**Runs of #${s.id}**`,
          ...runs.map(
            (r) =>
              `- ${formatInZone(s.timeZone, r.fireTime)} ${r.kind}: ${r.outcome}${r.detail === null ? "" : ` (${r.detail})`}`,
          ),
        ].join("\n");
      }
      // Others' schedules need an admin; your own are yours.
      if (s.creatorId !== inbound.user.id || s.platform !== inbound.platform) {
        if (!roleAtLeast(ctx.role, "admin")) {
          throw new SwitchboardError("E_PERMISSION_DENIED", `${ctx.userKey} tried to ${action} schedule ${s.id}`, {
            chatMessage: `Schedule #${s.id} belongs to ${s.creatorName}; only they or an admin can ${action} it.`,
          });
        }
      }
      if (action === "pause") return `Paused ${describeSchedule(service, await service.pause(s.id, chatKey))}`;
      if (action === "resume") return `Resumed ${describeSchedule(service, await service.resume(s.id, chatKey))}`;
      if (action === "delete") {
        await service.delete(s.id, chatKey);
        return `Deleted schedule #${s.id}.`;
      }
      // Not awaited: the run goes through this chat's queue, which this handler holds until it returns.
      const { runId } = await service.runNow(s.id, chatKey);
      return `Running schedule #${s.id} now (run ${runId}): \`${s.commandLine}\``;
    }
    case "tz": {
      const zone = all[1]?.text;
      if (zone === undefined) return `This chat's zone is ${await service.chatTimeZone(chatKey)}.`;
      if (!roleAtLeast(ctx.role, "admin") && inbound.chat.kind !== "dm") {
        throw new SwitchboardError("E_PERMISSION_DENIED", "tz change by non-admin", {
          chatMessage: "Only an admin can change this chat's zone.",
        });
      }
      const tz = await service.setChatTimeZone(chatKey, zone);
      return `This chat's zone is now ${tz}; schedules without their own zone follow it.`;
    }
    default:
      throw usageError(`Unknown action "${action.slice(0, 20)}".`);
  }
}
