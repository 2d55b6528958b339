/**
 * The `schedule` capability for skills. The skill runtime has already checked that the skill declared it and
 * that the chat granted it; here the arguments (hostile data) are validated, a skill may only schedule its own
 * commands, only in the chat it runs in, within `maxPerChatPerSkill`, and may only list or delete its own.
 */
import { z } from "zod";
import { SwitchboardError, parseConversationId, type CapabilityCall, type ChatKind } from "../bot/index.ts";
import type { SchedulesServices } from "./needs.ts";
import { parseOneShot } from "./parse-time.ts";
import type { ScheduleService } from "./service.ts";
import { canonicalTimeZone } from "./zone.ts";
import type { SkillSchedule } from "@switchboard/skill-sdk"; // what the skill gets back for one schedule

const createArgs = z
  .object({
    action: z.literal("create"),
    /** Cron expression (node-cron syntax). Exactly one of `cron` and `at`. */
    cron: z.string().min(1).max(200).optional(),
    /** One-shot: `in 10m`, `2026-12-01 09:00`, or epoch ms. */
    at: z.union([z.string().min(1).max(40), z.number().int().positive()]).optional(),
    /** The command line, one of the skill's own commands: `/remind standup`. */
    command: z.string().min(1).max(1000),
    timeZone: z.string().min(1).max(64).optional(),
    missed: z.enum(["skip", "once"]).optional(),
  })
  .strict();

const argsSchema = z.discriminatedUnion("action", [
  createArgs,
  z.object({ action: z.literal("delete"), id: z.string().regex(/^\d{1,18}$/) }).strict(),
  z.object({ action: z.literal("list") }).strict(),
]);

/** Handle one capability call. Results are plain JSON. */
export async function handleScheduleCapability(
  core: SchedulesServices,
  service: ScheduleService,
  call: CapabilityCall,
): Promise<unknown> {
  const parsed = argsSchema.safeParse(call.args);
  if (!parsed.success) {
    throw new SwitchboardError("E_BAD_ARGS", `schedule capability: ${parsed.error.message}`, {
      chatMessage: "The skill asked for a schedule with invalid arguments.",
    });
  }
  const args = parsed.data;
  const createdBy = `skill:${call.skill}`;
  const view = (s: Awaited<ReturnType<typeof service.get>>): SkillSchedule => ({
    id: s.id,
    cron: s.expression,
    runAt: s.runAt,
    command: s.commandLine,
    timeZone: s.timeZone,
    state: s.state,
    nextRunAt: service.nextRun(s) ?? null,
  });
  if (args.action === "list") {
    return (await service.repo.list(call.chatKey)).filter((s) => s.createdBy === createdBy).map(view);
  }
  if (args.action === "delete") {
    const s = await service.get(args.id, call.chatKey);
    if (s.createdBy !== createdBy) {
      throw new SwitchboardError("E_SKILL_DENIED", `skill ${call.skill} tried to delete schedule ${s.id}`, {
        chatMessage: "A skill may only remove schedules it created.",
      });
    }
    await service.delete(s.id, call.chatKey);
    return { deleted: s.id };
  }
  if ((args.cron === undefined) === (args.at === undefined)) {
    throw new SwitchboardError("E_BAD_ARGS", "schedule capability: give exactly one of cron and at", {
      chatMessage: "The skill must give either a cron expression or a time.",
    });
  }
  const chatPart = parseConversationId(call.chatKey);
  if (chatPart.platform !== call.target.platform || chatPart.chatId !== call.target.chatId) {
    throw new SwitchboardError("E_SKILL_DENIED", "schedule capability: target outside the calling chat");
  }
  const record = await core.store.chats.get(call.chatKey);
  // Unknown chat kind: treat as a group, which never grants DM-only membership (fail closed).
  const chatKind: ChatKind = record?.kind === "dm" || record?.kind === "channel" ? record.kind : "group";
  const userId = call.userKey.slice(call.userKey.indexOf(":") + 1);
  const zone =
    args.timeZone === undefined ? await service.chatTimeZone(call.chatKey) : canonicalTimeZone(args.timeZone);
  const when =
    args.cron !== undefined
      ? { kind: "cron" as const, expression: args.cron }
      : {
          kind: "once" as const,
          runAt: typeof args.at === "number" ? args.at : parseOneShot(String(args.at), zone, service.now()),
        };
  const s = await service.create({
    chat: { platform: call.target.platform, chatId: call.target.chatId, chatKind, threadId: call.target.threadId },
    creator: { id: userId, name: call.userKey },
    createdBy,
    commandLine: args.command,
    timeZone: args.timeZone,
    missedPolicy: args.missed,
    when,
    onlySkill: call.skill,
    platformRole: call.platformRole,
  });
  return view(s);
}
