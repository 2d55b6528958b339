/**
 * `/skills` in chat, a command tree: each subcommand declares its own minimum role (a chat policy may raise or
 * lower it under the key `skills.<sub>`), checked by the router like any command: search/info/list for members; enable/disable/approve/settings for chat admins;
 * install/update/rollback/uninstall for bot owners. Installing and enabling are separate consents. An install,
 * an update and `uninstall --purge` ask for confirmation at the router's one check (`confirm` on their nodes): the
 * prompt shows the plan, and the same owner confirms with `/confirm <id>` (a button where the platform has them).
 * The plan confirmed (version and permissions) is remembered for that person and chat, so a registry that changed
 * meanwhile is refused rather than installed. An enable shows the permissions and waits for `/skills approve <id>`
 * from a chat admin. Approvals are kept in the shared ephemeral store with a TTL and bound to the chat they were
 * asked in. `/skills approve` with no id approves the newest request the same person made in the same chat, so a
 * script can ask and approve (`printf '/skills enable x\n/skills approve\n' | switchboard start`) without
 * knowing the id in advance; `/confirm` with no id does the same for a confirmation.
 */
import { randomBytes } from "node:crypto";
import type { CommandArgSpec, CommandContext, CommandDef, CommandNode, Reply, Role } from "../bot/index.ts";
import type { MarketplaceServices } from "./needs.ts";
import { SwitchboardError } from "../bot/index.ts";
import type { InstallPlan } from "./installer.ts";
import { parseSpec } from "./installer.ts";
import { flattenPermissions, formatPermissions } from "./permission-diff.ts";
import type { Marketplace, SkillRuntime } from "./service.ts";

/** Something waiting for `/skills approve <id>`: a chat's consent to a skill's permissions. */
export interface PendingApproval {
  kind: "enable";
  chatKey: string;
  requestedBy: string;
  skill: string;
  version: string;
  permissions: string[];
}

/** The plan an owner was shown for an install or update, kept until they confirm it. */
interface ShownPlan {
  version: string;
  permissions: string[];
}

const USAGE = [
  "**/skills** — find and manage skills",
  "- `/skills search [words]` · `/skills info <package>` · `/skills list`",
  "- `/skills enable <skill>` · `/skills disable <skill>` · `/skills approve [id]` · `/skills settings <skill> [key value]`",
  "- `/skills install <package>[@range]` · `/skills update <skill>` · `/skills rollback <skill>` · `/skills uninstall <skill>`",
].join("\n");

/** Build the `/skills` command. */
export function skillsCommand(
  core: MarketplaceServices,
  { marketplace, skills, ...options }: { marketplace: Marketplace; skills: SkillRuntime; approvalTtlMs: number },
): CommandDef {
  const pendingKey = (id: string): string => `marketplace:approval:${id}`;
  // One key per (chat, person): the id of the newest approval they asked for there, for `/skills approve` alone.
  const newestKey = (chatKey: string, userKey: string): string => `marketplace:approval-newest:${chatKey}:${userKey}`;

  // The plan shown in the confirmation prompt, per chat, person and package; read when the confirmed command runs.
  const shownKey = (ctx: CommandContext, what: string): string =>
    `marketplace:shown-plan:${ctx.chatKey}:${ctx.userKey}:${what}`;
  const showPlan = async (ctx: CommandContext, what: string, plan: InstallPlan): Promise<string> => {
    const shown: ShownPlan = { version: plan.version, permissions: plan.permissions };
    await core.kv.set(shownKey(ctx, what), shown, options.approvalTtlMs);
    return planText(plan);
  };
  /** The plan this person confirmed, taken once; a plan now different from it is refused. */
  const confirmedPlan = async (ctx: CommandContext, what: string): Promise<(plan: InstallPlan) => boolean> => {
    const shown = await core.kv.get<ShownPlan>(shownKey(ctx, what));
    if (shown === undefined) {
      throw new SwitchboardError("E_NOT_FOUND", `no confirmed plan for ${what} by ${ctx.userKey} in ${ctx.chatKey}`, {
        chatMessage: "The plan you confirmed has expired. Ask again.",
      });
    }
    await core.kv.delete(shownKey(ctx, what));
    return (plan) => plan.version === shown.version && plan.permissions.join() === shown.permissions.join();
  };

  const ask = async (ctx: CommandContext, pending: PendingApproval, text: string): Promise<Reply> => {
    const id = randomBytes(5).toString("hex");
    await core.kv.set(pendingKey(id), pending, options.approvalTtlMs);
    await core.kv.set(newestKey(ctx.chatKey, ctx.userKey), id, options.approvalTtlMs);
    return {
      text: `${text}\n\nApprove with \`/skills approve ${id}\` (valid ${Math.round(options.approvalTtlMs / 60_000)} min).`,
      buttons: [[{ label: "Approve", data: `/skills approve ${id}` }]],
    };
  };

  const planText = (plan: InstallPlan): string => {
    const head =
      plan.kind === "install"
        ? `Install **${plan.name}@${plan.version}**?`
        : `${plan.kind === "downgrade" ? "Downgrade" : plan.kind === "reinstall" ? "Reinstall" : "Update"} **${plan.name}** ${plan.fromVersion} → ${plan.version}?`;
    const lines = [head];
    if (plan.description !== "") lines.push(plan.description);
    if (plan.changelog !== undefined) lines.push(`Changelog: ${plan.changelog}`);
    if (plan.fromVersion === undefined) {
      lines.push("It asks for:", formatPermissions(plan.permissions));
    } else if (plan.diff.added.length > 0) {
      lines.push(
        "**New permissions** (each chat must approve them again before this version runs there):",
        formatPermissions(plan.diff.added),
      );
    } else {
      lines.push("No new permissions.");
    }
    if (plan.signatureVerified) lines.push("Registry signature verified.");
    return lines.join("\n");
  };

  // Each reads the typed arguments its node declares (`ctx.options`), parsed and checked by the router.
  const handlers: Record<string, (ctx: CommandContext) => Promise<Reply | string>> = {
    async search(ctx) {
      const hits = await marketplace.search(String(ctx.options.words ?? ""), { size: 10 });
      if (hits.length === 0) return "No skills found.";
      return {
        text: [
          "**Skills**",
          ...hits.map((h) => `- \`${h.name}\` ${h.version} — ${h.description || "(no description)"}`),
        ].join("\n"),
        buttons: hits
          .slice(0, 5)
          .map((h) => [{ label: `Info ${h.name}`.slice(0, 60), data: `/skills info ${h.name}` }]),
      };
    },

    async info(ctx) {
      const name = textArg(ctx, "package");
      const local = skills.get(name);
      if (local !== undefined && local.source !== "installed") {
        // A built-in or linked skill is described from what runs here, never from a registry package of that name.
        return [
          `**${local.name}** ${local.version} (${local.source})`,
          local.manifest.description ?? "",
          `Commands: ${local.manifest.commands.map((c) => `/${c.name}`).join(", ") || "(none)"}`,
          "Asks for:",
          formatPermissions(flattenPermissions(local.manifest.permissions)),
          `Here: ${skills.state(ctx.chatKey, local.name)}.`,
          limitsLine(skills, local.name),
        ]
          .filter((l) => l !== "")
          .join("\n");
      }
      const info = await marketplace.info(name);
      if (info.latestManifest === undefined || !info.hasKeyword) {
        throw new SwitchboardError("E_NOT_FOUND", `${name} has no Switchboard manifest`, {
          chatMessage: `${name} is not a Switchboard skill: its package has no \`switchboard\` manifest${info.hasKeyword ? "" : " and no switchboard-skill keyword"}.`,
        });
      }
      const installed = await marketplace.find(name);
      return [
        `**${info.name}** ${info.distTags.latest ?? info.versions[0]?.version ?? ""}`,
        info.description,
        `Versions: ${info.versions
          .slice(0, 5)
          .map((v) => `${v.version}${v.publishedAt === undefined ? "" : ` (${v.publishedAt.slice(0, 10)})`}`)
          .join(", ")}`,
        "Asks for:",
        formatPermissions(info.latestPermissions),
        installed === undefined ? "Not installed." : `Installed: ${installed.version}.`,
        limitsLine(skills, installed?.skill ?? name),
      ]
        .filter((l) => l !== "")
        .join("\n");
    },

    async list(ctx) {
      const installed = await marketplace.list();
      const local = skills.list().filter((s) => s.source !== "installed");
      const lines = local.map(
        (s) => `- \`${s.name}\` (${s.source} ${s.version}) — ${skills.state(ctx.chatKey, s.name)}`,
      );
      if (installed.length === 0)
        return [
          ...(lines.length === 0 ? [] : ["**Built-in and linked skills**", ...lines]),
          "No skills installed from a registry. Try `/skills search`.",
        ].join("\n");
      return [
        ...(lines.length === 0 ? [] : ["**Built-in and linked skills**", ...lines]),
        "**Installed skills**",
        ...installed.map(({ entry, status, reason }) => {
          const state =
            status === "refused"
              ? `refused: ${reason}`
              : status === "loaded"
                ? skills.state(ctx.chatKey, entry.skill)
                : "not loaded";
          return `- \`${entry.skill}\` (${entry.name}@${entry.version}) — ${state}`;
        }),
      ].join("\n");
    },

    // Runs once the owner confirmed the plan shown by `describe` (the node asks for confirmation).
    async install(ctx) {
      const spec = textArg(ctx, "package");
      const { name } = parseSpec(spec);
      const confirm = await confirmedPlan(ctx, `install:${spec}`);
      const result = await marketplace.install(spec, {
        actor: ctx.userKey,
        allowDowngrade: ctx.options["allow-downgrade"] === true,
        confirm,
      });
      if (result.status === "cancelled") return `${name} changed on the registry since you confirmed. Ask again.`;
      if (result.status === "unchanged") return `${name}@${result.plan.version} is already installed.`;
      const skill = result.entry?.skill ?? name;
      return `Installed **${name}@${result.plan.version}**. A chat admin can now run \`/skills enable ${skill}\`.`;
    },

    async update(ctx) {
      const entry = await requireInstalled(marketplace, textArg(ctx, "skill"));
      const confirm = await confirmedPlan(ctx, `update:${entry.name}`);
      const result = await marketplace.update(entry.name, { actor: ctx.userKey, confirm });
      if (result.status === "cancelled") return `${entry.name} changed on the registry since you confirmed. Ask again.`;
      if (result.status === "unchanged") return `${entry.name}@${result.plan.version} is already installed.`;
      const skill = result.entry?.skill ?? entry.name;
      return `Updated **${entry.name}** to ${result.plan.version}.${result.plan.diff.added.length > 0 ? ` Chats must approve the new permissions (\`/skills enable ${skill}\`) before it runs there again.` : ""}`;
    },

    async rollback(ctx) {
      const result = await marketplace.rollback(textArg(ctx, "skill"), ctx.userKey);
      return `Rolled **${result.to.name}** back from ${result.from} to ${result.to.version}.`;
    },

    // With --purge this runs once the owner confirmed (the node asks for it then).
    async uninstall(ctx) {
      const purgeData = ctx.options.purge === true;
      const { entry, purged } = await marketplace.uninstall(textArg(ctx, "skill"), ctx.userKey, { purgeData });
      return purgeData
        ? `Uninstalled **${entry.name}** ${entry.version} and deleted ${purged} stored entr${purged === 1 ? "y" : "ies"}.`
        : `Uninstalled **${entry.name}** ${entry.version}. Its stored data is kept (\`/skills uninstall <skill> --purge\` deletes it with the skill).`;
    },

    async enable(ctx) {
      const skill = await loadedSkill(marketplace, skills, textArg(ctx, "skill"));
      const state = skills.state(ctx.chatKey, skill.name);
      if (state === "enabled") return `**${skill.name}** is already enabled here.`;
      const permissions = flattenPermissions(skill.manifest.permissions);
      const pendingNew = state === "needs-reapproval" ? skills.pendingPermissions(ctx.chatKey, skill.name) : undefined;
      const text =
        pendingNew === undefined
          ? [
              `Enable **${skill.name}** ${skill.version} in this chat? It asks for:`,
              formatPermissions(permissions),
            ].join("\n")
          : [`**${skill.name}** ${skill.version} asks for new permissions here:`, formatPermissions(pendingNew)].join(
              "\n",
            );
      return ask(
        ctx,
        {
          kind: "enable",
          chatKey: ctx.chatKey,
          requestedBy: ctx.userKey,
          skill: skill.name,
          version: skill.version,
          permissions,
        },
        text,
      );
    },

    async disable(ctx) {
      const skill = await loadedSkill(marketplace, skills, textArg(ctx, "skill"));
      await skills.disable(ctx.chatKey, skill.name, ctx.userKey);
      return `**${skill.name}** is disabled in this chat.`;
    },

    async approve(ctx) {
      const given = ctx.options.id === undefined ? undefined : String(ctx.options.id);
      const id = given ?? (await core.kv.get<string>(newestKey(ctx.chatKey, ctx.userKey))) ?? "";
      if (given === undefined && id === "") {
        throw new SwitchboardError("E_NOT_FOUND", `no pending approval asked by ${ctx.userKey} in ${ctx.chatKey}`, {
          chatMessage: "You have nothing waiting for approval here. Give the id, or ask again.",
        });
      }
      const pending = /^[0-9a-f]{10}$/.test(id) ? await core.kv.get<PendingApproval>(pendingKey(id)) : undefined;
      if (pending === undefined || pending.chatKey !== ctx.chatKey) {
        throw new SwitchboardError("E_NOT_FOUND", `no pending approval ${id} in ${ctx.chatKey}`, {
          chatMessage: "That approval is unknown or has expired. Ask again.",
        });
      }
      await core.kv.delete(pendingKey(id));
      if (given === undefined) await core.kv.delete(newestKey(ctx.chatKey, ctx.userKey));
      const skill = skills.get(pending.skill);
      if (
        skill === undefined ||
        skill.version !== pending.version ||
        flattenPermissions(skill.manifest.permissions).join() !== pending.permissions.join()
      ) {
        return `**${pending.skill}** changed since this approval was asked for. Run \`/skills enable ${pending.skill}\` again.`;
      }
      await skills.enable(ctx.chatKey, pending.skill, ctx.userKey);
      await core.audit({
        actor: ctx.userKey,
        chatKey: ctx.chatKey,
        action: "skills.approve",
        target: pending.skill,
        after: { version: pending.version, permissions: pending.permissions, requestedBy: pending.requestedBy },
      });
      return `**${pending.skill}** ${pending.version} is enabled in this chat.`;
    },

    async settings(ctx) {
      const skill = await loadedSkill(marketplace, skills, textArg(ctx, "skill"));
      const { key, value } = ctx.options;
      if (key !== undefined && value !== undefined) {
        await skills.setSetting(ctx.chatKey, skill.name, {
          key: String(key),
          value: parseValue(String(value)),
          actorUserKey: ctx.userKey,
        });
        return `Set \`${key}\` for **${skill.name}** in this chat.`;
      }
      const values = await skills.getSettings(ctx.chatKey, skill.name);
      const keys = Object.keys(values);
      return keys.length === 0
        ? `**${skill.name}** has no settings here.`
        : [`**${skill.name}** settings:`, ...keys.map((k) => `- \`${k}\` = ${JSON.stringify(values[k])}`)].join("\n");
    },
  };

  const node = (
    name: string,
    defaultRole: Role,
    about: { description: string; args: CommandArgSpec[] },
  ): CommandNode => ({
    name,
    defaultRole,
    ...about,
    handler: (ctx) => handlers[name]!(ctx),
  });
  const skillArg = (required = true): CommandArgSpec => ({
    name: "skill",
    description: "the skill's name",
    type: "string",
    required,
  });
  const packageArg: CommandArgSpec = {
    name: "package",
    description: "the npm package, with an optional @range",
    type: "string",
    required: true,
  };
  return {
    name: "skills",
    description: "Find, install, enable and manage skills",
    usage: "/skills search|info|list|enable|disable|approve|settings|install|update|rollback|uninstall …",
    defaultRole: "member",
    source: "builtin",
    handler: () => USAGE,
    subcommands: [
      { name: "help", description: "How to use /skills", handler: () => USAGE },
      node("search", "member", {
        description: "Search the registry for skills",
        args: [{ name: "words", description: "what to look for", type: "string", rest: true }],
      }),
      node("info", "member", { description: "A package's versions and permissions", args: [packageArg] }),
      node("list", "member", { description: "Skills here: built-in and installed", args: [] }),
      node("enable", "admin", { description: "Enable a skill in this chat (asks for approval)", args: [skillArg()] }),
      node("disable", "admin", { description: "Disable a skill in this chat", args: [skillArg()] }),
      node("approve", "admin", {
        description: "Approve a pending request",
        args: [{ name: "id", description: "the request's id (default: your newest)", type: "string" }],
      }),
      node("settings", "admin", {
        description: "Show or change a skill's settings here",
        args: [
          skillArg(),
          { name: "key", description: "a setting", type: "string" },
          { name: "value", description: "its new value", type: "string", rest: true },
        ],
      }),
      {
        ...node("install", "owner", {
          description: "Install a skill package (asks for confirmation)",
          args: [
            packageArg,
            { name: "allow-downgrade", description: "allow an older version", type: "boolean", flag: true },
          ],
        }),
        confirm: true,
        describe: async (ctx) => {
          const spec = textArg(ctx, "package");
          const planned = await marketplace.installer.install(spec, {
            actor: ctx.userKey,
            allowDowngrade: ctx.options["allow-downgrade"] === true,
            confirm: () => false,
          });
          if (planned.status === "unchanged") {
            throw new SwitchboardError("E_CONFLICT", `${spec} is already installed`, {
              chatMessage: `${parseSpec(spec).name}@${planned.plan.version} is already installed.`,
            });
          }
          return showPlan(ctx, `install:${spec}`, planned.plan);
        },
      },
      {
        ...node("update", "owner", {
          description: "Update an installed skill (asks for confirmation)",
          args: [skillArg()],
        }),
        confirm: true,
        describe: async (ctx) => {
          const entry = await requireInstalled(marketplace, textArg(ctx, "skill"));
          const planned = await marketplace.installer.update(entry.name, { actor: ctx.userKey, confirm: () => false });
          if (planned.status === "unchanged") {
            // Nothing to confirm: say so, and name a newer version outside the pinned range.
            const newer = await marketplace.newerOutsideRange(entry).catch(() => undefined);
            throw new SwitchboardError("E_CONFLICT", `${entry.name} is up to date`, {
              chatMessage:
                newer === undefined
                  ? `${entry.name} is up to date (${entry.version}, range ${entry.range}).`
                  : `${entry.name} is up to date within its range ${entry.range} (${entry.version}). ${newer} is published outside that range: \`/skills install ${entry.name}@^${newer}\` moves to it (with its own confirmation).`,
            });
          }
          return showPlan(ctx, `update:${entry.name}`, planned.plan);
        },
      },
      node("rollback", "owner", { description: "Go back to the previous version", args: [skillArg()] }),
      {
        ...node("uninstall", "owner", {
          description: "Uninstall a skill (with --purge, asks for confirmation)",
          args: [
            skillArg(),
            { name: "purge", description: "also delete its stored data", type: "boolean", flag: true },
          ],
        }),
        confirm: (o) => o.purge === true,
        describe: async (ctx) => {
          const entry = await requireInstalled(marketplace, textArg(ctx, "skill"));
          return `Uninstall **${entry.name}** ${entry.version} and delete its stored data in every chat?`;
        },
      },
    ],
  };
}

/** A string argument the node declares; the router refuses a missing required one first, this says so too. */
function textArg(ctx: CommandContext, name: string): string {
  const value = ctx.options[name];
  if (value === undefined || value === "")
    throw new SwitchboardError("E_BAD_ARGS", `missing ${name}`, { chatMessage: `Give the ${name}. ${USAGE}` });
  return String(value);
}

async function requireInstalled(marketplace: Marketplace, name: string) {
  const entry = await marketplace.find(name);
  if (entry === undefined)
    throw new SwitchboardError("E_NOT_FOUND", `${name} is not installed`, { chatMessage: `${name} is not installed.` });
  return entry;
}

async function loadedSkill(marketplace: Marketplace, skills: SkillRuntime, name: string) {
  const direct = skills.get(name);
  if (direct !== undefined) return direct;
  const entry = await marketplace.find(name);
  const viaPackage = entry === undefined ? undefined : skills.get(entry.skill);
  if (viaPackage !== undefined) return viaPackage;
  throw new SwitchboardError("E_NOT_FOUND", `skill ${name} is not loaded`, {
    chatMessage: `No skill named ${name} is installed and loaded. See \`/skills list\`.`,
  });
}

/** The effective limits of a loaded skill, or nothing. */
function limitsLine(skills: SkillRuntime, name: string): string {
  const limits = skills.describeLimits(name);
  return limits === undefined ? "" : `Limits: ${limits}.`;
}

function parseValue(raw: string): unknown {
  if (/^(true|false|-?\d+(\.\d+)?)$/.test(raw)) return JSON.parse(raw);
  return raw;
}
