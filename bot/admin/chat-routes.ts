/**
 * Chats, their policies and members' effective roles, the audit log and adapter health. Each call is checked as
 * the signed-in person with the command that does the same in chat: `/perms` for policies and roles, `/audit`
 * for the audit log. Policy changes keep `/perms`' rules (nobody grants above their own role; the bot-wide
 * policy is for bot owners) and are audited with `via` and the policy before and after.
 */
import { z } from "zod";
import type { Core } from "../core.ts";
import { csvOf } from "../http/csv.ts";
import { adapterHealthSchema } from "../http/health.ts";
import { ApiError, defineRoute, type ApiAnswer, type ApiRoute, type Principal } from "../http/routes.ts";
import { GLOBAL_POLICY_KEY, ROLES, roleAtLeast, type ChatPolicy, type Role } from "../permissions.ts";
import type { AuditEntry } from "../storage/types.ts";
import type { MessageCounts } from "../message-counts.ts";
import type { ApiAccess } from "../core.ts";

const role = z.enum(ROLES as [Role, ...Role[]]);
const errorSchema = z.object({ error: z.string(), message: z.string() });
const chatKeyParams = z.object({ chatKey: z.string().min(1).max(512) });

/** A chat's policy, as the API reads and writes it. */
export const policySchema = z.object({
  commandRoles: z.record(z.string(), role),
  roleOverrides: z.record(z.string(), role),
  allow: z.array(z.string()),
  deny: z.array(z.string()),
  trustPlatformAdmins: z.boolean(),
  dm: z.enum(["open", "allowlist", "closed"]).optional(),
});

const auditEntrySchema = z.object({
  id: z.number(),
  at: z.number(),
  actor: z.string(),
  chatKey: z.string(),
  action: z.string(),
  target: z.string().nullable(),
  via: z.string().nullable(),
  before: z.unknown(),
  after: z.unknown(),
});

/** Filters of the audit listing and export. */
const auditQuery = z.object({
  chatKey: z.string().min(1).max(512).optional(),
  actor: z.string().min(1).max(512).optional(),
  action: z.string().min(1).max(200).optional(),
  since: z.coerce.number().int().nonnegative().optional(),
  until: z.coerce.number().int().nonnegative().optional(),
  cursor: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

const signedIn = (p: Principal | undefined): Principal => {
  if (p === undefined) throw new ApiError(401, "E_UNAUTHENTICATED", "sign in first");
  return p;
};

/** The chat, audit and adapter routes. */
export function chatRoutes(
  core: Pick<Core, "store" | "permissions" | "commands" | "adapters" | "config" | "clock">,
  access: ApiAccess,
  messageCounts: MessageCounts,
): ApiRoute[] {
  /** Check `/perms`' rules on a policy someone with `role` wants to write. */
  const checkWrite = ({
    chatKey,
    role,
    next,
    principal,
  }: {
    chatKey: string;
    role: Role;
    next: ChatPolicy;
    principal: Principal;
  }): void => {
    if (chatKey === GLOBAL_POLICY_KEY && role !== "owner")
      throw new ApiError(403, "E_PERMISSION_DENIED", "the bot-wide policy is for bot owners");
    if (chatKey !== GLOBAL_POLICY_KEY && next.dm !== undefined)
      throw new ApiError(400, "E_BAD_ARGS", "dm is set on the bot-wide policy (chat key *) only");
    for (const [name, minimum] of Object.entries(next.commandRoles)) {
      if (!name.startsWith("skill:") && !core.commands.has(name))
        throw new ApiError(400, "E_BAD_ARGS", `there is no /${name}`);
      if (name === "perms" && !roleAtLeast(role, minimum))
        throw new ApiError(403, "E_PERMISSION_DENIED", "you can't raise /perms above your own role");
    }
    for (const [user, given] of Object.entries(next.roleOverrides)) {
      if (given === "owner") throw new ApiError(400, "E_BAD_ARGS", `bot owners are set in config, not for ${user}`);
      if (!roleAtLeast(role, given))
        throw new ApiError(403, "E_PERMISSION_DENIED", "you can't give a role above your own");
    }
    if (next.deny.includes(principal.userKey)) throw new ApiError(400, "E_BAD_ARGS", "you can't deny yourself");
  };

  const auditPage = async (principal: Principal, q: z.output<typeof auditQuery>, limit: number) => {
    if (q.chatKey === undefined) {
      if (!access.isOwner(principal.userKey))
        throw new ApiError(
          403,
          "E_PERMISSION_DENIED",
          "give chatKey: reading every chat's audit log is for bot owners",
        );
    } else await access.require(principal, q.chatKey, "audit");
    return core.store.audit.list(q.chatKey ?? null, {
      limit,
      ...(q.cursor === undefined ? {} : { beforeId: q.cursor }),
      ...(q.actor === undefined ? {} : { actor: q.actor }),
      ...(q.action === undefined ? {} : { action: q.action }),
      ...(q.since === undefined ? {} : { since: q.since }),
      ...(q.until === undefined ? {} : { until: q.until }),
    });
  };
  const shownEntry = (e: AuditEntry) => ({
    id: e.id ?? 0,
    at: e.at,
    actor: e.actor,
    chatKey: e.chatKey,
    action: e.action,
    target: e.target ?? null,
    via: e.via ?? null,
    before: e.before ?? null,
    after: e.after ?? null,
  });

  return [
    defineRoute({
      method: "GET",
      url: "/api/chats",
      summary: "The chats you may administer (every chat for a bot owner), with your role in each",
      tags: ["chats"],
      access: { scope: "read" },
      schema: {
        response: {
          200: z.object({
            chats: z.array(
              z.object({
                chatKey: z.string(),
                kind: z.string(),
                title: z.string().nullable(),
                lastSeenAt: z.number(),
                hasPolicy: z.boolean(),
                role,
              }),
            ),
          }),
        },
      },
      handler: async ({ principal }) => {
        const p = signedIn(principal);
        const keys = new Set(await access.chatsWhere(p, "perms"));
        const chats = (await core.store.chats.list()).filter((c) => keys.has(c.chatKey));
        const out = [];
        for (const c of chats) {
          out.push({
            chatKey: c.chatKey,
            kind: c.kind,
            title: c.title,
            lastSeenAt: c.lastSeenAt,
            hasPolicy: (await core.permissions.policy(c.chatKey)) !== undefined,
            role: (await access.decide(p, c.chatKey, "perms")).role,
          });
        }
        return { status: 200, body: { chats: out } };
      },
    }),
    defineRoute({
      method: "GET",
      url: "/api/chats/:chatKey/policy",
      summary: "A chat's policy (null when it has none: privileged commands are for bot owners)",
      tags: ["chats"],
      access: { scope: "read" },
      schema: {
        params: chatKeyParams,
        response: { 200: z.object({ chatKey: z.string(), policy: policySchema.nullable() }), 403: errorSchema },
      },
      handler: async ({ principal, params }) => {
        const p = signedIn(principal);
        if (params.chatKey === GLOBAL_POLICY_KEY) access.requireOwner(p);
        else await access.require(p, params.chatKey, "perms");
        const policy = await core.permissions.policy(params.chatKey);
        return { status: 200, body: { chatKey: params.chatKey, policy: policy ?? null } };
      },
    }),
    defineRoute({
      method: "PUT",
      url: "/api/chats/:chatKey/policy",
      summary: "Replace a chat's policy (audited with the policy before and after)",
      tags: ["chats"],
      access: { scope: "chats" },
      schema: {
        params: chatKeyParams,
        body: policySchema,
        response: { 200: z.object({ chatKey: z.string(), policy: policySchema }), 400: errorSchema, 403: errorSchema },
      },
      handler: async ({ principal, params, body }) => {
        const p = signedIn(principal);
        const myRole =
          params.chatKey === GLOBAL_POLICY_KEY
            ? access.isOwner(p.userKey)
              ? ("owner" as const)
              : ("guest" as const)
            : await access.require(p, params.chatKey, "perms");
        const next: ChatPolicy = {
          commandRoles: body.commandRoles,
          roleOverrides: body.roleOverrides,
          allow: [...new Set(body.allow)],
          deny: [...new Set(body.deny)],
          trustPlatformAdmins: body.trustPlatformAdmins,
          ...(body.dm === undefined ? {} : { dm: body.dm }),
        };
        checkWrite({ chatKey: params.chatKey, role: myRole, next, principal: p });
        const policy = await core.permissions.updatePolicy(
          params.chatKey,
          { actor: p.userKey, action: "perms.replace", via: p.via },
          (draft) => {
            for (const key of Object.keys(draft)) delete (draft as unknown as Record<string, unknown>)[key];
            Object.assign(draft, next);
          },
        );
        return { status: 200, body: { chatKey: params.chatKey, policy } };
      },
    }),
    defineRoute({
      method: "GET",
      url: "/api/chats/:chatKey/members",
      summary: "Effective roles of the people a chat's policy or audit trail names, or of ?user=platform:id",
      tags: ["chats"],
      access: { scope: "read" },
      schema: {
        params: chatKeyParams,
        querystring: z.object({ user: z.string().min(3).max(512).optional() }),
        response: {
          200: z.object({ members: z.array(z.object({ userKey: z.string(), role, source: z.string() })) }),
          403: errorSchema,
        },
      },
      handler: async ({ principal, params, query }) => {
        const p = signedIn(principal);
        await access.require(p, params.chatKey, "perms");
        const named = new Map<string, string>();
        if (query.user !== undefined) named.set(query.user, "asked");
        else {
          const policy = await core.permissions.policy(params.chatKey);
          for (const u of Object.keys(policy?.roleOverrides ?? {})) named.set(u, "override");
          for (const u of policy?.allow ?? []) if (!named.has(u)) named.set(u, "allow list");
          for (const u of policy?.deny ?? []) if (!named.has(u)) named.set(u, "deny list");
          for (const e of await core.store.audit.list(params.chatKey, { limit: 200 }))
            if (e.actor.includes(":") && !named.has(e.actor)) named.set(e.actor, "audit trail");
        }
        const members = [];
        for (const [userKey, source] of [...named].slice(0, 200))
          members.push({ userKey, source, role: await access.roleOf(userKey, params.chatKey) });
        return { status: 200, body: { members } };
      },
    }),
    defineRoute({
      method: "GET",
      url: "/api/audit",
      summary: "The audit log, newest first: filter by chat, actor, action and time; page with nextCursor",
      tags: ["audit"],
      access: { scope: "read" },
      schema: {
        querystring: auditQuery,
        response: {
          200: z.object({ entries: z.array(auditEntrySchema), nextCursor: z.number().nullable() }),
          403: errorSchema,
        },
      },
      handler: async ({ principal, query }) => {
        const entries = await auditPage(signedIn(principal), query, query.limit);
        const last = entries.at(-1);
        return {
          status: 200,
          body: {
            entries: entries.map(shownEntry),
            nextCursor: entries.length === query.limit && last?.id !== undefined ? last.id : null,
          },
        };
      },
    }),
    defineRoute({
      method: "GET",
      url: "/api/audit/export",
      summary: "Export the audit log (same filters, up to 1,000 entries) as CSV or JSON",
      tags: ["audit"],
      access: { scope: "read" },
      raw: true,
      schema: {
        querystring: auditQuery.extend({ format: z.enum(["csv", "json"]).default("csv") }),
        response: { 200: z.string(), 403: errorSchema },
      },
      handler: async ({ principal, query }): Promise<ApiAnswer> => {
        const entries = (await auditPage(signedIn(principal), query, 1_000)).map(shownEntry);
        if (query.format === "json")
          return { status: 200, headers: { "content-type": "application/json" }, body: JSON.stringify(entries) };
        const columns = ["id", "at", "actor", "chatKey", "action", "target", "via", "before", "after"] as const;
        const cell = (e: (typeof entries)[number], c: (typeof columns)[number]): unknown =>
          c === "at"
            ? new Date(e.at).toISOString()
            : typeof e[c] === "object" && e[c] !== null
              ? JSON.stringify(e[c])
              : e[c];
        const csv = csvOf(
          columns,
          entries.map((e) => columns.map((c) => cell(e, c))),
        );
        return {
          status: 200,
          headers: {
            "content-type": "text/csv; charset=utf-8",
            "content-disposition": 'attachment; filename="audit.csv"',
          },
          body: csv,
        };
      },
    }),
    defineRoute({
      method: "GET",
      url: "/api/usage/messages",
      summary: "Messages in and out per platform per UTC day, bot-wide (bot owners; default the last 30 days)",
      tags: ["usage"],
      access: { scope: "read" },
      schema: {
        querystring: z.object({
          from: z
            .string()
            .regex(/^\d{4}-\d{2}-\d{2}$/)
            .optional(),
          to: z
            .string()
            .regex(/^\d{4}-\d{2}-\d{2}$/)
            .optional(),
        }),
        response: {
          200: z.object({
            rows: z.array(
              z.object({ day: z.string(), platform: z.string(), messagesIn: z.number(), messagesOut: z.number() }),
            ),
          }),
          403: errorSchema,
        },
      },
      handler: async ({ principal, query }) => {
        access.requireOwner(signedIn(principal));
        await messageCounts.flush();
        const to = query.to ?? new Date(core.clock.now()).toISOString().slice(0, 10);
        const from = query.from ?? new Date(Date.parse(`${to}T00:00:00Z`) - 29 * 86_400_000).toISOString().slice(0, 10);
        return { status: 200, body: { rows: await messageCounts.read(from, to) } };
      },
    }),
    defineRoute({
      method: "GET",
      url: "/api/adapters",
      summary: "Each adapter's health: state, last inbound event, last API success, reconnects, detail",
      tags: ["adapters"],
      access: { scope: "read" },
      schema: { response: { 200: z.object({ adapters: z.array(adapterHealthSchema) }) } },
      handler: async () => ({ status: 200, body: { adapters: core.adapters.list().map((a) => a.health()) } }),
    }),
  ];
}
