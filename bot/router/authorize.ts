/**
 * The one check a command line passes before it runs, whoever or whatever runs it (a typed command, a button, a
 * schedule, an LLM tool): every node of the command's tree on the way to the one that runs must allow the person.
 */
import type { CommandDef, CommandNode, ResolvedCommand } from "../commands.ts";
import { SwitchboardError } from "../errors.ts";
import type { Inbound } from "../model.ts";
import { checkCommand, type ChatPolicy, type Decision, type Role } from "../permissions.ts";

/** Who asks, where: the person's role and the chat's policy, the chat's kind, the operator's defaults. */
export interface AuthorizeOptions {
  role: Role;
  policy: ChatPolicy | undefined;
  chatKind: Inbound["chat"]["kind"];
  /** The operator's default for a policy key (config `permissions.commandRoles`), else the node's own. */
  defaultRoleOf(key: string, fallback: Role): Role;
}

/** A denial names the node that refused, as typed: `/skills install`. */
export type PathDecision = Decision & { label?: string };

/** The minimum role of one node here, before the chat's policy: its DM role in a DM, else its default. */
function nodeDefault(node: CommandNode, inherited: Role, chatKind: Inbound["chat"]["kind"]): Role {
  return chatKind === "dm" && node.dmRole !== undefined ? node.dmRole : inherited;
}

/** Check the command alone (no subcommand walked): the router's path for most messages. */
export function authorizeRoot(def: CommandDef, options: AuthorizeOptions): PathDecision {
  return checkCommand(options.role, options.policy, {
    name: def.name,
    defaultRole: options.defaultRoleOf(def.name, nodeDefault(def, def.defaultRole, options.chatKind)),
    skill: def.skill,
  });
}

/** Check every node from the command down to the one that runs; the first refusal wins. */
export function authorizePath(
  resolved: Pick<ResolvedCommand, "def" | "steps">,
  options: AuthorizeOptions,
): PathDecision {
  const { role, policy } = options;
  let label = "";
  for (const step of resolved.steps) {
    label = label === "" ? `/${step.node.name}` : `${label} ${step.node.name}`;
    const decision = checkCommand(role, policy, {
      name: step.key,
      defaultRole: options.defaultRoleOf(step.key, nodeDefault(step.node, step.defaultRole, options.chatKind)),
      skill: resolved.def.skill,
    });
    if (!decision.allowed) return { ...decision, label };
  }
  return { allowed: true, role };
}

/** The minimum role a node needs here: the chat's policy for it (or its skill), else its default. */
export function minimumRoleOf(
  step: { key: string; node: CommandNode; defaultRole: Role },
  { skill, ...options }: AuthorizeOptions & { skill?: string | undefined },
): Role {
  const policy = options.policy;
  const own =
    policy !== undefined && Object.hasOwn(policy.commandRoles, step.key) ? policy.commandRoles[step.key] : undefined;
  const bySkill =
    policy !== undefined && skill !== undefined && Object.hasOwn(policy.commandRoles, `skill:${skill}`)
      ? policy.commandRoles[`skill:${skill}`]
      : undefined;
  return own ?? bySkill ?? options.defaultRoleOf(step.key, nodeDefault(step.node, step.defaultRole, options.chatKind));
}

/** The error a chat sees for a refused command (`label` as typed: `/skills install`). */
export function refusal(decision: Exclude<PathDecision, { allowed: true }>, label: string): SwitchboardError {
  const shown = decision.label ?? label;
  return new SwitchboardError(decision.code, decision.reason, {
    chatMessage:
      decision.code === "E_NO_POLICY"
        ? `${shown} is a privileged command and this chat has no policy yet. A bot owner can set one up with /perms.`
        : decision.code === "E_PERMISSION_DENIED"
          ? `You can't run ${shown} here: it needs the ${decision.required ?? "a higher"} role and you are ${decision.role}.`
          : new SwitchboardError(decision.code).chatMessage,
  });
}
