/**
 * Skills over the admin API: marketplace search and info, installed skills, and per chat: state, enable with
 * consent, disable, settings (secrets write-only). Each call is checked as the signed-in person with `/skills`'
 * own rules: the command's role in the chat, then the subcommand's (`skills.enable` etc., which a policy may
 * change). Enabling is a consent: the client sends back the version and permissions it showed, and a skill that
 * changed since answers 409 with what it asks for now. Installing, updating, rolling back and uninstalling stay
 * with the CLI and `/skills` for now.
 */
import { z } from "zod";
import {
  ApiError,
  checkCommand,
  defineRoute,
  type ApiRoute,
  type Core,
  type Principal,
  type Role,
} from "../bot/index.ts";
import { SUBCOMMAND_ROLES } from "./chat-command.ts";
import { flattenPermissions } from "./permission-diff.ts";
import type { Marketplace, SkillRuntime } from "./service.ts";

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
  core: Pick<Core, "apiAccess" | "permissions" | "audit">,
  deps: { marketplace: Marketplace; skills: SkillRuntime },
): ApiRoute[] {
  const { marketplace, skills } = deps;
  const access = core.apiAccess;
  const signedIn = (p: Principal | undefined): Principal => {
    if (p === undefined) throw new ApiError(401, "E_UNAUTHENTICATED", "sign in first");
    return p;
  };
  /** `/skills <sub>` in this chat, as this person: the command's check, then the subcommand's. */
  const requireSub = async (p: Principal, chatKey: string, sub: keyof typeof SUBCOMMAND_ROLES): Promise<Role> => {
    const role = await access.require(p, chatKey, "skills");
    const decision = checkCommand(role, await core.permissions.policy(chatKey), {
      name: `skills.${sub}`,
      defaultRole: SUBCOMMAND_ROLES[sub]!,
    });
    if (!decision.allowed) throw new ApiError(403, decision.code, `${chatKey}: ${decision.reason}`);
    return role;
  };
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

  return [
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
        if (skill.version !== body.version || asked.join() !== [...body.permissions].sort().join())
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
