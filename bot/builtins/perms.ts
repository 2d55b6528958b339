/** `/perms` (show and change this chat's policy) and `/audit` (read the audit log). */
import { findNode, type CommandContext, type CommandDef } from "../commands.ts";
import type { Core } from "../core.ts";
import { SwitchboardError } from "../errors.ts";
import { GLOBAL_POLICY_KEY, ROLES, roleAtLeast, type ChatPolicy, type DmPolicy, type Role } from "../permissions.ts";
import { parseUserRef, type CachedPermissionService } from "../router/permission-service.ts";
import type { AuditEntry } from "../storage/types.ts";

const PERMS_USAGE = [
  "/perms — show this chat's policy",
  "/perms set <command|skill:name> <owner|admin|member|guest|default> — minimum role for a command",
  "/perms role <user> <admin|member|guest|default> — override someone's role in this chat",
  "/perms allow <user> | deny <user> | unlist <user> — allow and deny lists",
  "/perms platform-admins on|off — whether platform admins are admins here",
  "/perms confirm <command> on|off — ask the requester to confirm <command> here",
  "/perms approvals <command> <0-5> — other people who must approve <command> here",
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
    `Confirmation asked for: ${Object.keys(policy.confirm ?? {}).join(", ") || "(defaults)"}`,
    `Approvals needed: ${
      Object.entries(policy.approvals ?? {})
        .map(([c, n]) => `${c}→${n}`)
        .join(", ") || "(defaults)"
    }`,
    `Platform admins are admins here: ${policy.trustPlatformAdmins ? "yes" : "no"}`,
    `DMs to the bot: ${global?.dm ?? defaultDm}`,
  ].join("\n");
}

/** Options of a `/perms` node, as the router parsed them. */
function opt(ctx: CommandContext, name: string): string {
  return String(ctx.options[name] ?? "");
}

/**
 * `/perms`, a tree: each action is a subcommand with typed arguments and its own minimum role (policy key
 * `perms.<action>`). Showing and changing need admin; the bot-wide DM policy needs owner.
 */
export function permsCommand(core: Core, permissions: CachedPermissionService): CommandDef {
  const show = async (ctx: CommandContext) => {
    const global = await permissions.policy(GLOBAL_POLICY_KEY);
    return describePolicy(ctx.policy, global, core.config.permissions.dm);
  };
  const user = {
    name: "user",
    description: "platform:id, a mention, or an id on this platform",
    type: "user",
  } as const;
  return {
    name: "perms",
    description: "Show or change who may do what in this chat",
    usage: PERMS_USAGE,
    defaultRole: "admin",
    source: "builtin",
    handler: show,
    subcommands: [
      { name: "show", description: "Show this chat's policy", handler: show },
      {
        name: "set",
        description: "Minimum role for a command, subcommand or skill",
        args: [
          {
            name: "command",
            description: "A command (perms), subcommand (skills.install) or skill:name",
            type: "string",
            required: true,
          },
          {
            name: "role",
            description: "The minimum role",
            type: "string",
            required: true,
            choices: [...ROLES, "default"],
          },
        ],
        handler: (ctx) => setRole(core, permissions, ctx),
      },
      {
        name: "role",
        description: "Override someone's role in this chat",
        confirm: true,
        args: [
          { ...user, required: true },
          {
            name: "role",
            description: "Their role here",
            type: "string",
            required: true,
            choices: ["admin", "member", "guest", "default"],
          },
        ],
        handler: (ctx) => {
          const target = targetOf(ctx, permissions);
          const role = opt(ctx, "role");
          if (role === "default")
            return change(ctx, permissions, {
              action: "perms.role",
              target,
              mutate: (p) => {
                delete p.roleOverrides[target];
              },
              done: `${target} is back to their platform role.`,
            });
          if (!roleAtLeast(ctx.role, role)) throw bad("You can't give a role above your own.");
          return change(ctx, permissions, {
            action: "perms.role",
            target,
            mutate: (p) => {
              p.roleOverrides[target] = role as Role;
            },
            done: `${target} is now ${role} in this chat.`,
          });
        },
      },
      ...(["allow", "deny", "unlist"] as const).map((action) => ({
        name: action,
        description:
          action === "unlist" ? "Take someone off the allow and deny lists" : `Put someone on the ${action} list`,
        args: [{ ...user, required: true }],
        handler: (ctx: CommandContext) => {
          const target = targetOf(ctx, permissions);
          if ((target === ctx.userKey || target === permissions.personOf(ctx.userKey)) && action === "deny")
            throw bad("You can't deny yourself.");
          return change(ctx, permissions, {
            action: `perms.${action}`,
            target,
            mutate: (p) => {
              p.allow = p.allow.filter((u) => u !== target);
              p.deny = p.deny.filter((u) => u !== target);
              if (action === "allow") p.allow.push(target);
              if (action === "deny") p.deny.push(target);
            },
            done:
              action === "unlist"
                ? `${target} is off the allow and deny lists.`
                : `${target} is on the ${action} list.`,
          });
        },
      })),
      {
        name: "platform-admins",
        description: "Whether platform admins are admins here",
        args: [{ name: "state", description: "on or off", type: "boolean", required: true }],
        handler: (ctx) => {
          const on = ctx.options.state === true;
          return change(ctx, permissions, {
            action: "perms.platform-admins",
            target: on ? "on" : "off",
            mutate: (p) => {
              p.trustPlatformAdmins = on;
            },
            done: on
              ? "Platform admins are admins in this chat."
              : "Platform admins are members here unless given a role.",
          });
        },
      },
      {
        name: "confirm",
        description: "Make a command ask its requester to confirm here (on), or go back to its default (off)",
        args: [
          { name: "command", description: "A command or subcommand (skills.install)", type: "string", required: true },
          { name: "state", description: "on or off", type: "boolean", required: true },
        ],
        handler: (ctx) => {
          const { key, shown } = nodeRef(core, opt(ctx, "command"));
          const on = ctx.options.state === true;
          return change(ctx, permissions, {
            action: "perms.confirm",
            target: key,
            mutate: (p) => {
              const confirm = { ...p.confirm };
              if (on) confirm[key] = true;
              else delete confirm[key];
              if (Object.keys(confirm).length === 0) delete p.confirm;
              else p.confirm = confirm;
            },
            done: on
              ? `${shown} now asks for confirmation here.`
              : `${shown} asks for confirmation only if it does by default.`,
          });
        },
      },
      {
        name: "approvals",
        description: "How many other people must approve a command here (0: its default)",
        args: [
          { name: "command", description: "A command or subcommand (skills.install)", type: "string", required: true },
          { name: "count", description: "0 to 5", type: "integer", required: true },
        ],
        handler: (ctx) => {
          const { key, shown } = nodeRef(core, opt(ctx, "command"));
          const count = Number(ctx.options.count);
          if (count < 0 || count > 5) throw bad("Approvals are 0 to 5.");
          return change(ctx, permissions, {
            action: "perms.approvals",
            target: key,
            mutate: (p) => {
              const approvals = { ...p.approvals };
              if (count > 0) approvals[key] = count;
              else delete approvals[key];
              if (Object.keys(approvals).length === 0) delete p.approvals;
              else p.approvals = approvals;
            },
            done:
              count > 0
                ? `${shown} now needs ${count} approval${count === 1 ? "" : "s"} from other people here.`
                : `${shown} needs only its default approvals here.`,
          });
        },
      },
      {
        name: "dm",
        description: "Who may DM the bot (bot owners only)",
        defaultRole: "owner",
        args: [
          {
            name: "policy",
            description: "open, allowlist or closed",
            type: "string",
            required: true,
            choices: ["open", "allowlist", "closed"],
          },
        ],
        handler: async (ctx) => {
          const dm = opt(ctx, "policy") as DmPolicy;
          const updated = await permissions.updatePolicy(
            GLOBAL_POLICY_KEY,
            { actor: ctx.userKey, action: "perms.dm", target: dm },
            (p) => {
              p.dm = dm;
            },
          );
          return `DMs to the bot are now ${updated.dm}.${dm === "allowlist" ? " Use /perms allow <user> in a DM to add people." : ""}`;
        },
      },
    ],
  };
}

/** A command or subcommand named in chat, by its policy key; refused when there is none. */
function nodeRef(core: Core, raw: string): { key: string; shown: string } {
  const found = findNode(core.commands, raw);
  if (found === undefined) throw bad(`There is no /${raw.replace(/^\//, "").replace(/\./g, " ")}.`);
  return { key: found.key, shown: `/${found.key.replace(/\./g, " ")}` };
}

/** `/perms set <command> <role>`: the command may be a subcommand (`skills.install`) or a whole skill. */
function setRole(core: Core, permissions: CachedPermissionService, ctx: CommandContext): Promise<string> {
  const raw = opt(ctx, "command").replace(/^\//, "").toLowerCase();
  const role = opt(ctx, "role");
  const isSkill = raw.startsWith("skill:");
  const found = isSkill ? undefined : findNode(core.commands, raw);
  if (!isSkill && found === undefined) throw bad(`There is no /${raw.replace(/\./g, " ")}.`);
  const name = found?.key ?? raw;
  const shown = isSkill ? name : `/${name.replace(/\./g, " ")}`;
  if (role === "default")
    return change(ctx, permissions, {
      action: "perms.set",
      target: name,
      mutate: (p) => {
        delete p.commandRoles[name];
      },
      done: `${shown} is back to its default role.`,
    });
  if (name.split(".")[0] === "perms" && !roleAtLeast(ctx.role, role))
    throw bad("You can't raise /perms above your own role.");
  return change(ctx, permissions, {
    action: "perms.set",
    target: name,
    mutate: (p) => {
      p.commandRoles[name] = role as Role;
    },
    done: `${shown} now needs ${role}.`,
  });
}

/** The user a `/perms` change names: `platform:id`, an id here, or a principal config names (`principal:ada`). */
function targetOf(ctx: CommandContext, permissions: CachedPermissionService): string {
  const target = parseUserRef(opt(ctx, "user"), ctx.inbound.platform);
  if (target.startsWith("principal:") && !permissions.isPerson(target)) {
    throw bad(`No one is named ${target.slice("principal:".length)} in the config (permissions.principals).`);
  }
  return target;
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
  const list = async (ctx: CommandContext, everywhere: boolean) => {
    const n = typeof ctx.options.count === "number" ? ctx.options.count : 10;
    const limit = Math.min(Math.max(n, 1), 50);
    const entries = await core.store.audit.list(everywhere ? null : ctx.chatKey, { limit });
    if (entries.length === 0) return "No audit entries yet.";
    return { text: ["Audit log (newest first)", ...entries.map(formatAudit)].join("\n"), format: "plain" as const };
  };
  const count = { name: "count", description: "How many entries (default 10, at most 50)", type: "integer" } as const;
  return {
    name: "audit",
    description: "Show the latest privileged changes in this chat",
    usage: "/audit [count] | /audit all [count]",
    args: [count],
    defaultRole: "admin",
    source: "builtin",
    handler: (ctx) => list(ctx, false),
    subcommands: [
      {
        name: "all",
        description: "Every chat's audit log (bot owners only)",
        defaultRole: "owner",
        args: [count],
        handler: (ctx) => list(ctx, true),
      },
    ],
  };
}

/** One audit entry on one line, with what changed: `before → after`, each shown briefly. */
export function formatAudit(entry: AuditEntry): string {
  const when = new Date(entry.at).toISOString().replace("T", " ").slice(0, 19);
  const target = entry.target === undefined || entry.target === null ? "" : ` ${entry.target}`;
  const head = `${when} ${entry.actor} ${entry.action}${target}${entry.chatKey === "*" ? " (bot-wide)" : ""}`;
  const hasBefore = entry.before !== undefined && entry.before !== null;
  const hasAfter = entry.after !== undefined && entry.after !== null;
  if (!hasBefore && !hasAfter) return head;
  const [before, after] = changedParts(entry.before, entry.after);
  return `${head}: ${hasBefore ? brief(before) : "(none)"} → ${hasAfter ? brief(after) : "(none)"}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Two objects cut down to the fields that differ (a whole policy shows as the one list that changed). */
function changedParts(before: unknown, after: unknown): [unknown, unknown] {
  if (!isRecord(before) || !isRecord(after)) return [before, after];
  const b: Record<string, unknown> = {};
  const a: Record<string, unknown> = {};
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (JSON.stringify(before[key]) === JSON.stringify(after[key])) continue;
    if (Object.hasOwn(before, key)) b[key] = before[key];
    if (Object.hasOwn(after, key)) a[key] = after[key];
  }
  return Object.keys(a).length + Object.keys(b).length === 0 ? [before, after] : [b, a];
}

/** A value in at most 160 characters. */
function brief(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length <= 160 ? text : `${text.slice(0, 159)}…`;
}
