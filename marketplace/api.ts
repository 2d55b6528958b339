/**
 * Skills over the admin API: marketplace search and info, installed skills, and per chat: state, enable with
 * consent, disable, settings (secrets write-only). Each call is checked as the signed-in person with `/skills`'
 * own rules: the command's role in the chat, then the subcommand's (`skills.enable` etc., which a policy may
 * change). Enabling is a consent: the client sends back the version and permissions it showed, and a skill that
 * changed since answers 409 with what it asks for now.
 *
 * Installing and updating are bot-wide, for bot owners, with the same two steps as `/skills install` and the
 * CLI: `POST /api/skills/plan` shows the plan (version, permissions, their diff against what was approved,
 * signature), and `POST /api/skills/install` (or `update`) sends back the version and permissions shown. The
 * install runs only if the registry still offers exactly that; its progress (download bytes, steps) streams back
 * as server-sent events, ending with `done` (`installed`, `unchanged`, or `cancelled` when the plan changed) or
 * `error`.
 */
import { PassThrough } from "node:stream";
import { z } from "zod";
import {
  ApiError,
  defineRoute,
  isSwitchboardError,
  type ApiAnswer,
  type ApiRoute,
  type Core,
  type Principal,
  type Role,
} from "../bot/index.ts";
import type { InstallPlan, InstallResult } from "./installer.ts";
import type { ProgressEvent } from "./types.ts";
import { flattenPermissions } from "./permission-diff.ts";
import type { Marketplace, SkillRuntime } from "./service.ts";

/** The `/skills` subcommands the admin API runs on a person's behalf. */
type SkillsSubcommand =
  | "list"
  | "info"
  | "search"
  | "enable"
  | "disable"
  | "settings"
  | "install"
  | "update"
  | "rollback"
  | "uninstall";

const errorSchema = z.object({ error: z.string(), message: z.string() });
const chatSkillParams = z.object({ chatKey: z.string().min(1).max(512), skill: z.string().min(1).max(100) });

const chatSkillSchema = z.object({
  skill: z.string(),
  packageName: z.string(),
  version: z.string(),
  source: z.string(),
  description: z.string(),
  state: z.enum(["enabled", "disabled", "needs-reapproval"]),
  /** What the skill asks for, flattened (`network:api.example.com`, `storage`): the consent screen's list. */
  permissions: z.array(z.string()),
  /** What it asks for beyond what this chat approved. */
  pendingPermissions: z.array(z.string()),
});

/** The routes, for the plugin to mount. */
export function marketplaceRoutes(
  core: Pick<Core, "apiAccess" | "permissions" | "audit" | "track">,
  deps: { marketplace: Marketplace; skills: SkillRuntime },
): ApiRoute[] {
  const { marketplace, skills } = deps;
  const access = core.apiAccess;
  const signedIn = (p: Principal | undefined): Principal => {
    if (p === undefined) throw new ApiError(401, "E_UNAUTHENTICATED", "sign in first");
    return p;
  };
  /** `/skills <sub>` in this chat, as this person: the command tree's one check, every node on the way. */
  const requireSub = (p: Principal, chatKey: string, sub: SkillsSubcommand): Promise<Role> =>
    access.require(p, chatKey, `skills ${sub}`);
  const loaded = (name: string) => {
    const skill = skills.get(name);
    if (skill === undefined) throw new ApiError(404, "E_NOT_FOUND", `no skill ${name} is loaded`);
    return skill;
  };
  const shown = (chatKey: string, name: string) => {
    const s = loaded(name);
    return {
      skill: s.name,
      packageName: s.packageName,
      version: s.version,
      source: String(s.source),
      description: s.manifest.description ?? "",
      state: skills.state(chatKey, s.name),
      permissions: flattenPermissions(s.manifest.permissions),
      pendingPermissions: skills.pendingPermissions(chatKey, s.name),
    };
  };

  /** Run an approved install or update, its progress as server-sent events. */
  const streamed = (
    p: Principal,
    run: (onProgress: (e: ProgressEvent) => void) => Promise<InstallResult>,
  ): ApiAnswer => {
    const events = new PassThrough();
    const send = (event: string, data: unknown) => events.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    void core.track(
      run((e) => send("progress", e))
        .then(
          async (result) => {
            if (result.status === "installed")
              await core.audit({
                actor: p.userKey,
                chatKey: "*",
                action: `skills.${result.plan.kind === "update" ? "update" : "install"}.request`,
                target: result.plan.name,
                via: p.via,
                after: { version: result.plan.version, permissions: result.plan.permissions },
              });
            send("done", {
              status: result.status,
              name: result.plan.name,
              version: result.plan.version,
              skill: result.entry?.skill ?? null,
            });
          },
          (error: unknown) =>
            send("error", {
              error: isSwitchboardError(error) ? error.code : "E_INTERNAL",
              message: isSwitchboardError(error) ? error.chatMessage : "the install failed; see the log",
            }),
        )
        .finally(() => events.end()),
    );
    return { status: 200, headers: { "content-type": "text/event-stream; charset=utf-8" }, body: events };
  };
  const planBody = (plan: InstallPlan) => ({
    name: plan.name,
    version: plan.version,
    fromVersion: plan.fromVersion ?? null,
    kind: plan.kind,
    description: plan.description,
    permissions: plan.permissions,
    diff: plan.diff,
    signatureVerified: plan.signatureVerified,
  });
  /** The install runs only if the registry still offers what was shown. */
  const shownPlan = (body: { version: string; permissions: string[] }) => (plan: InstallPlan) =>
    plan.version === body.version && [...plan.permissions].sort().join() === [...body.permissions].sort().join();
  const consentBody = z.object({
    version: z.string().min(1).max(100),
    permissions: z.array(z.string().max(300)).max(200),
  });
  const planSchema = z.object({
    name: z.string(),
    version: z.string(),
    fromVersion: z.string().nullable(),
    kind: z.enum(["install", "update", "reinstall", "downgrade"]),
    description: z.string(),
    permissions: z.array(z.string()),
    diff: z.object({ added: z.array(z.string()), removed: z.array(z.string()), kept: z.array(z.string()) }),
    signatureVerified: z.boolean(),
  });

  return [
    defineRoute({
      method: "POST",
      url: "/api/skills/plan",
      summary: "What installing or updating a package would do: version, permissions and their diff (bot owners)",
      tags: ["skills"],
      access: { scope: "skills" },
      schema: {
        body: z.object({
          spec: z.string().min(1).max(300),
          action: z.enum(["install", "update"]).default("install"),
          allowDowngrade: z.boolean().default(false),
        }),
        response: { 200: z.object({ plan: planSchema, unchanged: z.boolean() }), 403: errorSchema },
      },
      handler: async ({ principal, body }) => {
        const p = signedIn(principal);
        access.requireOwner(p);
        const planned =
          body.action === "install"
            ? await marketplace.installer.install(body.spec, {
                actor: p.userKey,
                allowDowngrade: body.allowDowngrade,
                confirm: () => false,
              })
            : await marketplace.installer.update(body.spec, { actor: p.userKey, confirm: () => false });
        return { status: 200, body: { plan: planBody(planned.plan), unchanged: planned.status === "unchanged" } };
      },
    }),
    defineRoute({
      method: "POST",
      url: "/api/skills/install",
      summary: "Install the plan shown (version and permissions sent back); progress as server-sent events",
      tags: ["skills"],
      access: { scope: "skills" },
      raw: true,
      schema: {
        body: consentBody.extend({ spec: z.string().min(1).max(300), allowDowngrade: z.boolean().default(false) }),
        response: { 200: z.string().describe("text/event-stream: progress…, then done or error"), 403: errorSchema },
      },
      handler: async ({ principal, body }) => {
        const p = signedIn(principal);
        access.requireOwner(p);
        return streamed(p, (onProgress) =>
          marketplace.install(body.spec, {
            actor: p.userKey,
            allowDowngrade: body.allowDowngrade,
            confirm: shownPlan(body),
            onProgress,
          }),
        );
      },
    }),
    defineRoute({
      method: "POST",
      url: "/api/skills/update",
      summary: "Update an installed skill to the plan shown; progress as server-sent events",
      tags: ["skills"],
      access: { scope: "skills" },
      raw: true,
      schema: {
        body: consentBody.extend({ name: z.string().min(1).max(214) }),
        response: { 200: z.string().describe("text/event-stream: progress…, then done or error"), 403: errorSchema },
      },
      handler: async ({ principal, body }) => {
        const p = signedIn(principal);
        access.requireOwner(p);
        return streamed(p, (onProgress) =>
          marketplace.update(body.name, { actor: p.userKey, confirm: shownPlan(body), onProgress }),
        );
      },
    }),
    defineRoute({
      method: "POST",
      url: "/api/skills/rollback",
      summary: "Roll an installed skill back to the version before its last install or update (bot owners)",
      tags: ["skills"],
      access: { scope: "skills" },
      schema: {
        body: z.object({ name: z.string().min(1).max(214) }),
        response: {
          200: z.object({ name: z.string(), from: z.string(), to: z.string() }),
          403: errorSchema,
          404: errorSchema,
        },
      },
      handler: async ({ principal, body }) => {
        const p = signedIn(principal);
        access.requireOwner(p);
        const result = await marketplace.rollback(body.name, p.userKey);
        await core.audit({
          actor: p.userKey,
          chatKey: "*",
          action: "skills.rollback.request",
          target: result.to.name,
          via: p.via,
          before: { version: result.from },
          after: { version: result.to.version },
        });
        return { status: 200, body: { name: result.to.name, from: result.from, to: result.to.version } };
      },
    }),
    defineRoute({
      method: "POST",
      url: "/api/skills/uninstall",
      summary: "Uninstall a skill (its stored data too with purgeData) (bot owners)",
      tags: ["skills"],
      access: { scope: "skills" },
      schema: {
        body: z.object({ name: z.string().min(1).max(214), purgeData: z.boolean().default(false) }),
        response: {
          200: z.object({ name: z.string(), version: z.string(), purged: z.number().nullable() }),
          403: errorSchema,
          404: errorSchema,
        },
      },
      handler: async ({ principal, body }) => {
        const p = signedIn(principal);
        access.requireOwner(p);
        const result = await marketplace.uninstall(body.name, p.userKey, { purgeData: body.purgeData });
        await core.audit({
          actor: p.userKey,
          chatKey: "*",
          action: "skills.uninstall.request",
          target: result.entry.name,
          via: p.via,
          before: { version: result.entry.version },
          after: { purgedData: body.purgeData },
        });
        return {
          status: 200,
          body: { name: result.entry.name, version: result.entry.version, purged: result.purged ?? null },
        };
      },
    }),
    defineRoute({
      method: "GET",
      url: "/api/skills/search",
      summary: "Search the marketplace (packages with the skill keyword)",
      tags: ["skills"],
      access: { scope: "read" },
      schema: {
        querystring: z.object({
          q: z.string().max(200).default(""),
          size: z.coerce.number().int().min(1).max(100).default(20),
        }),
        response: {
          200: z.object({
            hits: z.array(
              z.object({
                name: z.string(),
                version: z.string(),
                description: z.string(),
                keywords: z.array(z.string()),
                date: z.string().optional(),
              }),
            ),
          }),
        },
      },
      handler: async ({ query }) => ({
        status: 200,
        body: { hits: await marketplace.search(query.q, { size: query.size }) },
      }),
    }),
    defineRoute({
      method: "GET",
      url: "/api/skills/info",
      summary: "A marketplace package: versions, dist-tags, the latest manifest and the permissions it requests",
      tags: ["skills"],
      access: { scope: "read" },
      schema: {
        querystring: z.object({ name: z.string().min(1).max(214) }),
        response: {
          200: z.object({
            name: z.string(),
            description: z.string(),
            registry: z.string(),
            distTags: z.record(z.string(), z.string()),
            versions: z.array(
              z.object({ version: z.string(), publishedAt: z.string().optional(), deprecated: z.string().optional() }),
            ),
            latestPermissions: z.array(z.string()),
            hasKeyword: z.boolean(),
          }),
        },
      },
      handler: async ({ query }) => ({ status: 200, body: await marketplace.info(query.name) }),
    }),
    defineRoute({
      method: "GET",
      url: "/api/skills/installed",
      summary: "Installed skills from the lockfile, with their load state",
      tags: ["skills"],
      access: { scope: "read" },
      schema: {
        response: {
          200: z.object({
            skills: z.array(
              z.object({
                name: z.string(),
                skill: z.string(),
                version: z.string(),
                permissions: z.array(z.string()),
                status: z.enum(["loaded", "not-loaded", "refused"]),
                reason: z.string().optional(),
              }),
            ),
          }),
        },
      },
      handler: async () => ({
        status: 200,
        body: {
          skills: (await marketplace.list()).map((i) => ({
            name: i.entry.name,
            skill: i.entry.skill,
            version: i.entry.version,
            permissions: i.entry.permissions,
            status: i.status,
            ...(i.reason === undefined ? {} : { reason: i.reason }),
          })),
        },
      }),
    }),
    defineRoute({
      method: "GET",
      url: "/api/chats/:chatKey/skills",
      summary: "Every loaded skill's state in a chat, with the permissions it asks for",
      tags: ["skills"],
      access: { scope: "read" },
      schema: {
        params: z.object({ chatKey: z.string().min(1).max(512) }),
        response: { 200: z.object({ skills: z.array(chatSkillSchema) }), 403: errorSchema },
      },
      handler: async ({ principal, params }) => {
        await requireSub(signedIn(principal), params.chatKey, "list");
        return { status: 200, body: { skills: skills.list().map((s) => shown(params.chatKey, s.name)) } };
      },
    }),
    defineRoute({
      method: "POST",
      url: "/api/chats/:chatKey/skills/:skill/enable",
      summary: "Enable a skill in a chat, granting the permissions shown (409 when the skill changed since)",
      tags: ["skills"],
      access: { scope: "skills" },
      schema: {
        params: chatSkillParams,
        body: z.object({ version: z.string().min(1).max(100), permissions: z.array(z.string().max(300)).max(200) }),
        response: { 200: z.object({ skill: chatSkillSchema }), 403: errorSchema, 404: errorSchema, 409: errorSchema },
      },
      handler: async ({ principal, params, body }) => {
        const p = signedIn(principal);
        await requireSub(p, params.chatKey, "enable");
        const skill = loaded(params.skill);
        const asked = flattenPermissions(skill.manifest.permissions);
        if (skill.version !== body.version || [...asked].sort().join() !== [...body.permissions].sort().join())
          throw new ApiError(
            409,
            "E_CONFLICT",
            `${skill.name} is ${skill.version} and asks for [${asked.join(", ")}]; show that and send it back to approve`,
          );
        await skills.enable(params.chatKey, skill.name, p.userKey);
        await core.audit({
          actor: p.userKey,
          chatKey: params.chatKey,
          action: "skills.approve",
          target: skill.name,
          via: p.via,
          after: { version: skill.version, permissions: asked },
        });
        return { status: 200, body: { skill: shown(params.chatKey, skill.name) } };
      },
    }),
    defineRoute({
      method: "POST",
      url: "/api/chats/:chatKey/skills/:skill/disable",
      summary: "Disable a skill in a chat (its grant stays on record)",
      tags: ["skills"],
      access: { scope: "skills" },
      schema: {
        params: chatSkillParams,
        response: { 200: z.object({ skill: chatSkillSchema }), 403: errorSchema, 404: errorSchema },
      },
      handler: async ({ principal, params }) => {
        const p = signedIn(principal);
        await requireSub(p, params.chatKey, "disable");
        const skill = loaded(params.skill);
        const before = skills.state(params.chatKey, skill.name);
        await skills.disable(params.chatKey, skill.name, p.userKey);
        await core.audit({
          actor: p.userKey,
          chatKey: params.chatKey,
          action: "skills.disable.request",
          target: skill.name,
          via: p.via,
          before: { state: before },
          after: { state: "disabled" },
        });
        return { status: 200, body: { skill: shown(params.chatKey, skill.name) } };
      },
    }),
    defineRoute({
      method: "GET",
      url: "/api/chats/:chatKey/skills/:skill/settings",
      summary: "A skill's settings in a chat; secrets are masked (write-only)",
      tags: ["skills"],
      access: { scope: "read" },
      schema: {
        params: chatSkillParams,
        response: {
          200: z.object({ settings: z.record(z.string(), z.unknown()) }),
          403: errorSchema,
          404: errorSchema,
        },
      },
      handler: async ({ principal, params }) => {
        await requireSub(signedIn(principal), params.chatKey, "settings");
        const skill = loaded(params.skill);
        return { status: 200, body: { settings: await skills.getSettings(params.chatKey, skill.name) } };
      },
    }),
    defineRoute({
      method: "PUT",
      url: "/api/chats/:chatKey/skills/:skill/settings/:key",
      summary: "Set one setting (validated by the skill's schema; a secret is stored encrypted and never read back)",
      tags: ["skills"],
      access: { scope: "skills" },
      schema: {
        params: chatSkillParams.extend({ key: z.string().min(1).max(100) }),
        body: z.object({ value: z.unknown() }),
        response: {
          200: z.object({ settings: z.record(z.string(), z.unknown()) }),
          400: errorSchema,
          403: errorSchema,
          404: errorSchema,
        },
      },
      handler: async ({ principal, params, body }) => {
        const p = signedIn(principal);
        await requireSub(p, params.chatKey, "settings");
        const skill = loaded(params.skill);
        await skills.setSetting(params.chatKey, skill.name, {
          key: params.key,
          value: body.value,
          actorUserKey: p.userKey,
        });
        return { status: 200, body: { settings: await skills.getSettings(params.chatKey, skill.name) } };
      },
    }),
  ];
}
