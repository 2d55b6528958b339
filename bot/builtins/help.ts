/** `/help`, `/whoami` and `/status`. */
import { resolveCommand, usageOf, type CommandDef } from "../commands.ts";
import type { Core, Plugin } from "../core.ts";
import { SwitchboardError } from "../errors.ts";
import type { Person, Role } from "../permissions.ts";
import { authorizePath, authorizeRoot } from "../router/authorize.ts";
import type { CachedPermissionService } from "../router/permission-service.ts";

/**
 * `/help` lists what the caller may run here; `/help <command> [subcommand…]` shows a node's usage, the role it
 * needs and its subcommands, all read from the command tree (skills' commands included).
 */
export function helpCommand(core: Core, permissions: CachedPermissionService): CommandDef {
  return {
    name: "help",
    description: "List the commands you can run here, or show one command's usage",
    usage: "/help [command] [subcommand]",
    args: [{ name: "command", description: "A command to explain", type: "string", rest: true }],
    defaultRole: "guest",
    urgent: true,
    source: "builtin",
    handler: (ctx) => {
      const options = {
        role: ctx.role,
        policy: ctx.policy,
        chatKind: ctx.inbound.chat.kind,
        defaultRoleOf: (key: string, fallback: Role) => permissions.defaultRoleOf(key, fallback),
      };
      const available = (def: CommandDef) => def.availableIn === undefined || def.availableIn(ctx.chatKey);
      const words = ctx.args.map((w) => w.replace(/^\//, "").toLowerCase());
      const wanted = words[0];
      if (wanted !== undefined) {
        const def = core.commands.get(wanted);
        if (def === undefined || !available(def)) {
          const near = core.commands.suggest(wanted, ctx.chatKey);
          throw new SwitchboardError("E_UNKNOWN_COMMAND", `help for unknown /${wanted}`, {
            chatMessage: `There is no /${wanted} here.${near.length > 0 ? ` Did you mean ${near.map((n) => `/${n}`).join(", ")}?` : ""}`,
          });
        }
        const resolved = resolveCommand(def, words.slice(1), words.slice(1).join(" "));
        const step = resolved.steps.at(-1)!;
        const label = `/${[def.name, ...resolved.path].join(" ")}`;
        const decision = authorizePath(resolved, options);
        const minimum =
          ctx.policy?.commandRoles[step.key] ??
          (def.skill === undefined ? undefined : ctx.policy?.commandRoles[`skill:${def.skill}`]) ??
          permissions.defaultRoleOf(step.key, step.defaultRole);
        const lines = [
          `**${label}**: ${resolved.node.description}`,
          `Usage: \`${usageOf(resolved.node, label)}\``,
          `Needs: ${minimum} (you are ${ctx.role}${decision.allowed ? "" : ", so you can't run it here"})`,
        ];
        if (resolved.node.confirm === true || resolved.node.dangerous === true) lines.push("Asks for confirmation.");
        else if (typeof resolved.node.confirm === "function") lines.push("May ask for confirmation.");
        if (resolved.node.subcommands !== undefined) {
          lines.push("Subcommands:");
          for (const sub of resolved.node.subcommands) {
            const subAllowed = authorizePath(
              {
                def,
                steps: [
                  ...resolved.steps,
                  { key: `${step.key}.${sub.name}`, node: sub, defaultRole: sub.defaultRole ?? step.defaultRole },
                ],
              },
              options,
            ).allowed;
            lines.push(
              `- \`${usageOf(sub, `${label} ${sub.name}`)}\` — ${sub.description}${subAllowed ? "" : " (not for you here)"}`,
            );
          }
        }
        if (def.source !== "builtin") lines.push(`Provided by ${def.source}`);
        return lines.join("\n");
      }
      const visible = core.commands
        .list()
        .filter((def) => def.hidden !== true && available(def) && authorizeRoot(def, options).allowed);
      if (visible.length === 0) return "There are no commands you can run here.";
      return [
        "**Commands you can run here**",
        ...visible.map((def) => `/${def.name} — ${def.description}`),
        "",
        "Send /help <command> for usage.",
      ].join("\n");
    },
  };
}

/** `/whoami`: platform, ids, role in this chat and the identities linked with this one (`/link`). */
export function whoamiCommand(
  linkedWith: (userKey: string) => string[] = (userKey) => [userKey],
  personFor: (userKey: string) => Pick<Person, "key" | "identities"> | undefined = () => undefined,
): CommandDef {
  return {
    name: "whoami",
    description: "Show your platform, ids and role in this chat",
    defaultRole: "guest",
    source: "builtin",
    handler: (ctx) => {
      const { inbound } = ctx;
      // Joined from an array: one flat string (a template would be a chain of pieces, flattened later).
      return [
        `Platform: ${inbound.platform}`,
        `User: ${inbound.user.displayName} (\`${ctx.userKey}\`)`,
        `Chat: ${inbound.chat.title ?? inbound.chat.id} (\`${ctx.chatKey}\`, ${inbound.chat.kind})`,
        `Role here: **${ctx.role}**${inbound.user.platformRole === undefined ? "" : ` (platform role: ${inbound.user.platformRole})`}`,
        ...linkedLine(linkedWith(ctx.userKey), ctx.userKey),
        ...personLine(personFor(ctx.userKey)),
      ].join("\n");
    },
  };
}

/** `Person: principal:ada (…identities)` for an identity of a person named in config, else nothing. */
function personLine(person: Pick<Person, "key" | "identities"> | undefined): string[] {
  return person === undefined
    ? []
    : [`Person: \`${person.key}\` (${person.identities.map((k) => `\`${k}\``).join(", ")})`];
}

/** `Linked with: …` when the identity is linked, else nothing. */
function linkedLine(identities: readonly string[], self: string): string[] {
  const others = identities.filter((k) => k !== self);
  return others.length === 0 ? [] : [`Linked with: ${others.map((k) => `\`${k}\``).join(", ")}`];
}

/** `/status`: version, uptime, adapters and their health, modules. */
export function statusCommand(core: Core, plugins: () => readonly Plugin[]): CommandDef {
  return {
    name: "status",
    description: "Show version, uptime, adapters and their health",
    defaultRole: "member",
    urgent: true,
    source: "builtin",
    handler: () => {
      const now = core.clock.now();
      const lines = [
        `**${core.config.bot.name}** (Switchboard ${core.version}), up ${formatDuration(now - core.startedAt)}`,
        "Adapters:",
      ];
      for (const adapter of core.adapters.list()) {
        const h = adapter.health();
        const seen =
          h.lastInboundAt === null ? "no messages yet" : `last message ${formatDuration(now - h.lastInboundAt)} ago`;
        lines.push(`- ${h.platform}: ${h.state}, ${seen}${h.detail === undefined ? "" : ` (${h.detail})`}`);
      }
      const modules = plugins().map((p) => formatModuleStatus(p));
      if (modules.length > 0) lines.push("Modules:", ...modules.map((m) => `- ${m}`));
      lines.push(
        `Storage: ${core.store.sql.driver === "sqlite" ? "embedded (SQLite)" : "PostgreSQL"}; shared state: ${core.config.storage.redisUrl === undefined ? "in-memory" : "Redis"}`,
      );
      return lines.join("\n");
    },
  };
}

/** One /status line for a module: `llm: off — no model configured`. A module without `status()` is just named. */
export function formatModuleStatus(plugin: Pick<Plugin, "name" | "status">): string {
  if (plugin.status === undefined) return plugin.name;
  const { state, detail } = plugin.status();
  return `${plugin.name}: ${state}${detail === undefined || detail === "" ? "" : ` — ${detail}`}`;
}

/** `1d 2h`, `3m 4s`, `5s`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s % 60}s`;
  return `${s}s`;
}
