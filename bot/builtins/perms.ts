/** `/perms` (show and change this chat's policy) and `/audit` (read the audit log). */
import type { CommandContext, CommandDef } from "../commands.ts";
import type { Core } from "../core.ts";
import { SwitchboardError } from "../errors.ts";
import { GLOBAL_POLICY_KEY, ROLES, isRole, roleAtLeast, type ChatPolicy, type Role } from "../permissions.ts";
import { parseUserRef, type CachedPermissionService } from "../router/permission-service.ts";
import type { AuditEntry } from "../storage/types.ts";

const PERMS_USAGE = [
  "/perms — show this chat's policy",
  "/perms set <command|skill:name> <owner|admin|member|guest|default> — minimum role for a command",
  "/perms role <user> <admin|member|guest|default> — override someone's role in this chat",
  "/perms allow <user> | deny <user> | unlist <user> — allow and deny lists",
  "/perms platform-admins on|off — whether platform admins are admins here",
  "/perms dm open|allowlist|closed — who may DM the bot (bot owners only)",
].join("\n");

function bad(message: string): SwitchboardError {
  return new SwitchboardError("E_BAD_ARGS", message, { chatMessage: `${message}\nUsage:\n${PERMS_USAGE}` });
}

/** Render a policy for chat. */
export function describePolicy(
  policy: ChatPolicy | undefined,
  global: ChatPolicy | undefined,
  defaultDm: string,
): string {
  if (policy === undefined) {
    return "This chat has no policy yet: privileged commands are for bot owners only. Any /perms change creates one.";
  }
  const roles =
    Object.entries(policy.commandRoles)
      .map(([c, r]) => `${c}→${r}`)
      .join(", ") || "(defaults)";
  const overrides =
    Object.entries(policy.roleOverrides)
      .map(([u, r]) => `${u}→${r}`)
      .join(", ") || "(none)";
  return [
    "**Policy for this chat**",
    `Command roles: ${roles}`,
    `Role overrides: ${overrides}`,
    `Allow list: ${policy.allow.join(", ") || "(empty)"}`,
    `Deny list: ${policy.deny.join(", ") || "(empty)"}`,
    `Platform admins are admins here: ${policy.trustPlatformAdmins ? "yes" : "no"}`,
    `DMs to the bot: ${global?.dm ?? defaultDm}`,
  ].join("\n");
}

/** `/perms`. Showing needs admin (the command's minimum); changing the bot-wide DM policy needs owner. */
export function permsCommand(core: Core, permissions: CachedPermissionService): CommandDef {
  return {
    name: "perms",
    description: "Show or change who may do what in this chat",
    usage: PERMS_USAGE,
    args: [
      {
        name: "action",
        description: "show, set, role, allow, deny, unlist, platform-admins, dm",
        type: "string",
        choices: ["show", "set", "role", "allow", "deny", "unlist", "platform-admins", "dm"],
      },
      { name: "arguments", description: "What the action needs", type: "string", rest: true },
    ],
    defaultRole: "admin",
    source: "builtin",
    handler: async (ctx) => {
      const [action = "show", a1, a2] = ctx.args;
      const platform = ctx.inbound.platform;
      switch (action) {
        case "show": {
          const global = await permissions.policy(GLOBAL_POLICY_KEY);
          return describePolicy(ctx.policy, global, core.config.permissions.dm);
        }
        case "set": {
          if (a1 === undefined || a2 === undefined) throw bad("Say which command and which role.");
          const name = a1.replace(/^\//, "").toLowerCase();
          const isSkill = name.startsWith("skill:");
          if (!isSkill && !core.commands.has(name)) throw bad(`There is no /${name}.`);
          if (a2 === "default")
            return change(ctx, permissions, {
              action: "perms.set",
              target: name,
              mutate: (p) => {
                delete p.commandRoles[name];
              },
              done: `/${name} is back to its default role.`,
            });
          if (!isRole(a2)) throw bad(`${a2} is not a role (${ROLES.join(", ")}).`);
          if (name === "perms" && !roleAtLeast(ctx.role, a2)) throw bad("You can't raise /perms above your own role.");
          return change(ctx, permissions, {
            action: "perms.set",
            target: name,
            mutate: (p) => {
              p.commandRoles[name] = a2;
            },
            done: `${isSkill ? name : `/${name}`} now needs ${a2}.`,
          });
        }
        case "role": {
          if (a1 === undefined || a2 === undefined) throw bad("Say whose role and which one.");
          const user = parseUserRef(a1, platform);
          if (a2 === "default")
            return change(ctx, permissions, {
              action: "perms.role",
              target: user,
              mutate: (p) => {
                delete p.roleOverrides[user];
              },
              done: `${user} is back to their platform role.`,
            });
          if (!isRole(a2) || a2 === "owner")
            throw bad("A chat role is admin, member or guest (bot owners are set in config).");
          if (!roleAtLeast(ctx.role, a2)) throw bad("You can't give a role above your own.");
          return change(ctx, permissions, {
            action: "perms.role",
            target: user,
            mutate: (p) => {
              p.roleOverrides[user] = a2 as Role;
            },
            done: `${user} is now ${a2} in this chat.`,
          });
        }
        case "allow":
        case "deny":
        case "unlist": {
          if (a1 === undefined) throw bad("Say which user.");
          const user = parseUserRef(a1, platform);
          if (user === ctx.userKey && action === "deny") throw bad("You can't deny yourself.");
          return change(ctx, permissions, {
            action: `perms.${action}`,
            target: user,
            mutate: (p) => {
              p.allow = p.allow.filter((u) => u !== user);
              p.deny = p.deny.filter((u) => u !== user);
              if (action === "allow") p.allow.push(user);
              if (action === "deny") p.deny.push(user);
            },
            done:
              action === "unlist" ? `${user} is off the allow and deny lists.` : `${user} is on the ${action} list.`,
          });
        }
        case "platform-admins": {
          if (a1 !== "on" && a1 !== "off") throw bad("Say on or off.");
          return change(ctx, permissions, {
            action: "perms.platform-admins",
            target: a1,
            mutate: (p) => {
              p.trustPlatformAdmins = a1 === "on";
            },
            done:
              a1 === "on"
                ? "Platform admins are admins in this chat."
                : "Platform admins are members here unless given a role.",
          });
        }
        case "dm": {
          if (a1 !== "open" && a1 !== "allowlist" && a1 !== "closed") throw bad("Say open, allowlist or closed.");
          if (ctx.role !== "owner") {
            throw new SwitchboardError("E_PERMISSION_DENIED", "dm policy change by non-owner", {
              chatMessage: "Only bot owners can change who may DM the bot.",
            });
          }
          const updated = await permissions.updatePolicy(
            GLOBAL_POLICY_KEY,
            { actor: ctx.userKey, action: "perms.dm", target: a1 },
            (p) => {
              p.dm = a1;
            },
          );
          return `DMs to the bot are now ${updated.dm}.${a1 === "allowlist" ? " Use /perms allow <user> in a DM to add people." : ""}`;
        }
        default:
          throw bad(`Unknown action ${action}.`);
      }
    },
  };
}

async function change(
  ctx: CommandContext,
  permissions: CachedPermissionService,
  { action, target, mutate, done }: { action: string; target: string; mutate: (p: ChatPolicy) => void; done: string },
): Promise<string> {
  // In a DM the allow list is the bot-wide DM allow list.
  const key =
    ctx.inbound.chat.kind === "dm" && (action === "perms.allow" || action === "perms.unlist")
      ? GLOBAL_POLICY_KEY
      : ctx.chatKey;
  if (key === GLOBAL_POLICY_KEY && ctx.role !== "owner") {
    throw new SwitchboardError("E_PERMISSION_DENIED", "global allow list change by non-owner", {
      chatMessage: "Only bot owners can change the DM allow list.",
    });
  }
  await permissions.updatePolicy(key, { actor: ctx.userKey, action, target }, mutate);
  return done;
}

/** `/audit [count]`: the newest audit entries for this chat (`/audit all` for every chat, owners only). */
export function auditCommand(core: Core): CommandDef {
  return {
    name: "audit",
    description: "Show the latest privileged changes in this chat",
    usage: "/audit [count] | /audit all [count]",
    args: [{ name: "count", description: "How many entries (default 10, at most 50)", type: "string" }],
    defaultRole: "admin",
    source: "builtin",
    handler: async (ctx) => {
      const everywhere = ctx.args[0] === "all";
      if (everywhere && ctx.role !== "owner") {
        throw new SwitchboardError("E_PERMISSION_DENIED", "audit all by non-owner", {
          chatMessage: "Only bot owners can read every chat's audit log.",
        });
      }
      const n = Number.parseInt(ctx.args[everywhere ? 1 : 0] ?? "10", 10);
      const limit = Number.isFinite(n) ? Math.min(Math.max(n, 1), 50) : 10;
      const entries = await core.store.audit.list(everywhere ? null : ctx.chatKey, { limit });
      if (entries.length === 0) return "No audit entries yet.";
      return { text: ["Audit log (newest first)", ...entries.map(formatAudit)].join("\n"), format: "plain" };
    },
  };
}

/** One audit entry on one line. */
export function formatAudit(entry: AuditEntry): string {
  const when = new Date(entry.at).toISOString().replace("T", " ").slice(0, 19);
  const target = entry.target === undefined || entry.target === null ? "" : ` ${entry.target}`;
  return `${when} ${entry.actor} ${entry.action}${target}${entry.chatKey === "*" ? " (bot-wide)" : ""}`;
}
