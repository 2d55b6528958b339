/**
 * Schedules over the admin API: list with next fire times and a description in words (cronstrue), preview an
 * expression, create, pause, resume, delete, run history. Each call is checked as the signed-in person with
 * `/schedule`'s own rules: the command's role in the chat, and admin for someone else's schedule. A schedule runs
 * as its creator, so one is created only in a chat of the creator's own platform. Changes are audited with
 * `via` and the schedule's state before and after.
 */
import { z } from "zod";
import {
  ApiError,
  defineRoute,
  roleAtLeast,
  type ApiRoute,
  type Principal,
  type ChatKind,
  type Core,
} from "../bot/index.ts";
import { compileCron, describeCron } from "./cron.ts";
import { nextFireAfter } from "./next-fire.ts";
import type { ScheduleRecord } from "./repo.ts";
import type { ScheduleService } from "./service.ts";
import { timelineOf } from "./zone.ts";

const errorSchema = z.object({ error: z.string(), message: z.string() });

/** A schedule as the API shows it. */
export const scheduleSchema = z.object({
  id: z.string(),
  chatKey: z.string(),
  threadId: z.string().nullable(),
  creator: z.object({ userKey: z.string(), name: z.string() }),
  createdBy: z.string(),
  kind: z.enum(["cron", "once"]),
  expression: z.string().nullable(),
  runAt: z.number().nullable(),
  /** "At 09:00, Monday through Friday" (cronstrue), or "once". */
  description: z.string(),
  timeZone: z.string(),
  commandLine: z.string(),
  missedPolicy: z.string(),
  state: z.string(),
  nextFireAt: z.number().nullable(),
  lastFireAt: z.number().nullable(),
  lastOutcome: z.string().nullable(),
  createdAt: z.number(),
});

const runSchema = z.object({
  id: z.string(),
  fireTime: z.number(),
  kind: z.string(),
  startedAt: z.number().nullable(),
  endedAt: z.number().nullable(),
  outcome: z.string(),
  detail: z.string().nullable(),
});

const idParams = z.object({ id: z.string().min(1).max(40) });

/** The routes, for the plugin to mount. */
export function scheduleRoutes(
  core: Pick<Core, "apiAccess" | "audit" | "store">,
  service: ScheduleService,
): ApiRoute[] {
  const access = core.apiAccess;
  const signedIn = (p: Principal | undefined): Principal => {
    if (p === undefined) throw new ApiError(401, "E_UNAUTHENTICATED", "sign in first");
    return p;
  };
  const shown = (s: ScheduleRecord) => ({
    id: s.id,
    chatKey: s.chatKey,
    threadId: s.threadId,
    creator: { userKey: `${s.platform}:${s.creatorId}`, name: s.creatorName },
    createdBy: s.createdBy,
    kind: s.kind,
    expression: s.expression,
    runAt: s.runAt,
    description: s.kind === "cron" ? describeCron(s.expression ?? "") : "once",
    timeZone: s.timeZone,
    commandLine: s.commandLine,
    missedPolicy: s.missedPolicy,
    state: s.state,
    nextFireAt: service.nextRun(s) ?? null,
    lastFireAt: s.lastFireAt,
    lastOutcome: s.lastOutcome,
    createdAt: s.createdAt,
  });
  /** `/schedule`'s rule for pause, resume and delete: your own, or an admin's. */
  const mayChange = async (p: Principal, s: ScheduleRecord): Promise<void> => {
    const role = await access.require(p, s.chatKey, "schedule");
    const isMine = s.platform === p.platform && s.creatorId === p.userId;
    if (!isMine && !roleAtLeast(role, "admin"))
      throw new ApiError(
        403,
        "E_PERMISSION_DENIED",
        `schedule #${s.id} belongs to ${s.creatorName}; only they or an admin can change it`,
      );
  };
  const transition =
    (action: "pause" | "resume" | "delete") =>
    async ({ principal, params }: { principal: Principal | undefined; params: { id: string } }) => {
      const p = signedIn(principal);
      const before = await service.get(params.id);
      await mayChange(p, before);
      const after = await service[action](before.id, before.chatKey);
      await core.audit({
        actor: p.userKey,
        chatKey: before.chatKey,
        action: `schedules.${action}`,
        target: before.id,
        via: p.via,
        before: { state: before.state },
        after: { state: after.state },
      });
      return { status: 200, body: { schedule: shown(after) } };
    };

  return [
    defineRoute({
      method: "GET",
      url: "/api/schedules",
      summary: "Schedules of a chat, or of every chat you may see, with next fire times and descriptions",
      tags: ["schedules"],
      access: { scope: "read" },
      schema: {
        querystring: z.object({ chatKey: z.string().min(1).max(512).optional() }),
        response: { 200: z.object({ schedules: z.array(scheduleSchema) }), 403: errorSchema },
      },
      handler: async ({ principal, query }) => {
        const p = signedIn(principal);
        let list: ScheduleRecord[];
        if (query.chatKey !== undefined) {
          await access.require(p, query.chatKey, "schedule");
          list = await service.repo.list(query.chatKey);
        } else if (access.isOwner(p.userKey)) list = await service.repo.list();
        else {
          const mine = new Set(await access.chatsWhere(p, "schedule"));
          list = (await service.repo.list()).filter((s) => mine.has(s.chatKey));
        }
        return { status: 200, body: { schedules: list.filter((s) => s.state !== "deleted").map(shown) } };
      },
    }),
    defineRoute({
      method: "GET",
      url: "/api/schedules/preview",
      summary: "A cron expression in words and its next fire times in a zone (for a create form)",
      tags: ["schedules"],
      access: { scope: "read" },
      schema: {
        querystring: z.object({
          cron: z.string().min(1).max(200),
          timeZone: z.string().min(1).max(64).default("UTC"),
          count: z.coerce.number().int().min(1).max(10).default(3),
        }),
        response: {
          200: z.object({ description: z.string(), timeZone: z.string(), nextFires: z.array(z.number()) }),
          400: errorSchema,
        },
      },
      handler: async ({ query }) => {
        const cron = compileCron(query.cron);
        let zone: ReturnType<typeof timelineOf>;
        try {
          zone = timelineOf(query.timeZone);
        } catch {
          throw new ApiError(400, "E_BAD_ARGS", `unknown time zone ${query.timeZone}`);
        }
        const nextFires: number[] = [];
        let after = service.now();
        for (let i = 0; i < query.count; i++) {
          const next = nextFireAfter(cron, zone, after);
          if (next === undefined) break;
          nextFires.push(next);
          after = next;
        }
        return {
          status: 200,
          body: { description: describeCron(cron.expression), timeZone: query.timeZone, nextFires },
        };
      },
    }),
    defineRoute({
      method: "POST",
      url: "/api/schedules",
      summary: "Create a schedule that runs a command line as you (cron, or once at runAt)",
      tags: ["schedules"],
      access: { scope: "schedules" },
      schema: {
        body: z
          .object({
            chatKey: z.string().min(1).max(512),
            threadId: z.string().min(1).max(200).optional(),
            cron: z.string().min(1).max(200).optional(),
            runAt: z.number().int().positive().optional(),
            commandLine: z.string().min(1).max(1000),
            timeZone: z.string().min(1).max(64).optional(),
            missedPolicy: z.enum(["skip", "once"]).optional(),
          })
          .refine((b) => (b.cron === undefined) !== (b.runAt === undefined), "give cron or runAt, not both"),
        response: { 201: z.object({ schedule: scheduleSchema }), 400: errorSchema, 403: errorSchema },
      },
      handler: async ({ principal, body }) => {
        const p = signedIn(principal);
        await access.require(p, body.chatKey, "schedule");
        const colon = body.chatKey.indexOf(":");
        const platform = body.chatKey.slice(0, colon);
        if (platform !== p.platform)
          throw new ApiError(
            400,
            "E_BAD_ARGS",
            "a schedule runs as its creator: create it in a chat of your own platform",
          );
        const record = await core.store.chats.get(body.chatKey);
        const created = await service.create({
          chat: {
            platform,
            chatId: body.chatKey.slice(colon + 1),
            chatKind: (record?.kind as ChatKind | undefined) ?? "group",
            threadId: body.threadId,
          },
          creator: { id: p.userId, name: p.displayName },
          createdBy: "user",
          when:
            body.cron !== undefined ? { kind: "cron", expression: body.cron } : { kind: "once", runAt: body.runAt! },
          commandLine: body.commandLine,
          timeZone: body.timeZone,
          missedPolicy: body.missedPolicy,
        });
        await core.audit({
          actor: p.userKey,
          chatKey: created.chatKey,
          action: "schedules.create",
          target: created.id,
          via: p.via,
          before: null,
          after: {
            expression: created.expression,
            runAt: created.runAt,
            commandLine: created.commandLine,
            timeZone: created.timeZone,
          },
        });
        return { status: 201, body: { schedule: shown(created) } };
      },
    }),
    defineRoute({
      method: "POST",
      url: "/api/schedules/:id/pause",
      summary: "Pause a schedule (yours, or any as a chat admin)",
      tags: ["schedules"],
      access: { scope: "schedules" },
      schema: {
        params: idParams,
        response: { 200: z.object({ schedule: scheduleSchema }), 403: errorSchema, 404: errorSchema },
      },
      handler: transition("pause"),
    }),
    defineRoute({
      method: "POST",
      url: "/api/schedules/:id/resume",
      summary: "Resume a paused schedule from its next time",
      tags: ["schedules"],
      access: { scope: "schedules" },
      schema: {
        params: idParams,
        response: { 200: z.object({ schedule: scheduleSchema }), 403: errorSchema, 404: errorSchema },
      },
      handler: transition("resume"),
    }),
    defineRoute({
      method: "DELETE",
      url: "/api/schedules/:id",
      summary: "Delete a schedule (its run history stays)",
      tags: ["schedules"],
      access: { scope: "schedules" },
      schema: {
        params: idParams,
        response: { 200: z.object({ schedule: scheduleSchema }), 403: errorSchema, 404: errorSchema },
      },
      handler: transition("delete"),
    }),
    defineRoute({
      method: "GET",
      url: "/api/schedules/:id/runs",
      summary: "A schedule's run history, newest first",
      tags: ["schedules"],
      access: { scope: "read" },
      schema: {
        params: idParams,
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(200).default(20) }),
        response: { 200: z.object({ runs: z.array(runSchema) }), 403: errorSchema, 404: errorSchema },
      },
      handler: async ({ principal, params, query }) => {
        const p = signedIn(principal);
        const s = await service.get(params.id);
        await access.require(p, s.chatKey, "schedule");
        const runs = await service.repo.runs(s.id, query.limit);
        return {
          status: 200,
          body: {
            runs: runs.map((r) => ({
              id: r.id,
              fireTime: r.fireTime,
              kind: r.kind,
              startedAt: r.startedAt,
              endedAt: r.endedAt,
              outcome: r.outcome,
              detail: r.detail,
            })),
          },
        };
      },
    }),
  ];
}
