/**
 * `/ai keys …` and `/ai budget …` in chat: the gateway's one piece of chat-command wiring, kept to this file.
 * `keysCommand` and `budgetCommand` run the subcommands; `mountAiKeys` adds them to `/ai`'s command tree as the
 * `keys` and `budget` nodes.
 *
 * - `/ai keys create [name]`: DM only; the key is sent in that DM, once.
 * - `/ai keys list`: your keys (never their secrets). `/ai keys revoke <id>`: one of yours.
 * - `/ai budget`: the budgets that concern you and this chat, with what they have spent (owners see all).
 * - `/ai budget set <chat|user|key> <id|*> <day|month> <cost> [warn|block]` · `/ai budget remove <scope> <id>
 *   <period>`: bot owners; audited.
 */
import type { CommandContext, CommandDef, CommandNode, CommandRegistry, ReplyInput } from "../bot/index.ts";
import { SwitchboardError } from "../bot/index.ts";
import { type Budget, type Budgets, describe } from "./budgets.ts";
import type { AuditWriter, KeyService } from "./keys.ts";

/** What the chat commands use. */
export interface ChatCommandDeps {
  keys: KeyService;
  budgets: Budgets;
  audit: AuditWriter;
}

const BUDGET_USAGE =
  "Usage: /ai budget · /ai budget set <chat|user|key> <id|*> <day|month> <cost> [warn|block] · /ai budget remove <chat|user|key> <id|*> <day|month>";

/** The `budget` subcommand. */
export async function budgetCommand(
  d: ChatCommandDeps,
  ctx: CommandContext,
  args: readonly string[],
): Promise<ReplyInput> {
  const [action = "", ...rest] = args;
  const isOwner = ctx.role === "owner";
  if (action === "") {
    const mine = await d.keys.list(ctx.userKey);
    const lines: string[] = [];
    for (const b of await d.budgets.list()) {
      const subjects =
        b.scope === "chat"
          ? [ctx.chatKey]
          : b.scope === "user"
            ? [ctx.userKey]
            : mine.filter((k) => k.revokedAt === null).map((k) => k.id);
      for (const subject of subjects) {
        if (b.id !== "*" && b.id !== subject) continue;
        const spent = await d.budgets.spent(b, subject);
        lines.push(
          `${describe(b, subject)}: ${spent.cost.toFixed(4)} of ${b.cost} ${spent.label} (${b.policy}, ${b.source})`,
        );
      }
      if (isOwner && b.id !== "*" && !subjects.includes(b.id))
        lines.push(`${describe(b, b.id)}: ${b.cost} per ${b.period} (${b.policy}, ${b.source})`);
    }
    return lines.length === 0 ? "No budget concerns you or this chat." : lines.join("\n");
  }
  if (!isOwner)
    throw new SwitchboardError("E_PERMISSION_DENIED", `/ai budget ${action} by ${ctx.userKey}`, {
      chatMessage: "Only the bot's owners set budgets.",
    });
  const [scope, id, period, costText, policy = "warn"] = rest;
  const isScope = scope === "chat" || scope === "user" || scope === "key";
  const isPeriod = period === "day" || period === "month";
  if (!isScope || id === undefined || !isPeriod) return BUDGET_USAGE;
  const by = { actor: ctx.userKey, chatKey: "*", via: "chat" };
  if (action === "remove") {
    const removed = await d.budgets.remove({ scope, id, period });
    if (removed === undefined) return "No budget set in chat matches that.";
    await d.audit({
      ...by,
      action: "gateway.budget.remove",
      target: `${scope}:${id}:${period}`,
      before: removed,
      after: null,
    });
    return `Removed the ${period} budget of ${describe({ scope }, id)}.`;
  }
  const cost = Number(costText);
  if (action !== "set" || !(cost > 0) || (policy !== "warn" && policy !== "block")) return BUDGET_USAGE;
  const budget: Budget = { scope, id, period, cost, policy };
  const replaced = await d.budgets.set(budget);
  await d.audit({
    ...by,
    action: "gateway.budget.set",
    target: `${scope}:${id}:${period}`,
    before: replaced ?? null,
    after: budget,
  });
  return `Budget set: ${describe({ scope }, id)}, ${cost} per ${period}, ${policy} at 100%.`;
}

/** The subcommand: `create [name]`, `list`, `revoke <id>`. */
export async function keysCommand(keys: KeyService, ctx: CommandContext, args: readonly string[]): Promise<ReplyInput> {
  const [action = "list", ...rest] = args;
  const by = { actor: ctx.userKey, via: "chat" };
  switch (action.toLowerCase()) {
    case "create": {
      if (ctx.inbound.chat.kind !== "dm")
        throw new SwitchboardError("E_PERMISSION_DENIED", "/ai keys create outside a DM", {
          chatMessage: "Create keys in a direct message with me: a key is shown once, to you only.",
        });
      const name = rest.join(" ").trim().slice(0, 64);
      const { key, info } = await keys.create({ userKey: ctx.userKey, ...(name === "" ? {} : { name }) }, by);
      return `Your key ${info.id}${info.name === null ? "" : ` (${info.name})`}, shown this once:\n${key}\nUse it as the OpenAI API key with base URL <bot>/v1. Revoke it with /ai keys revoke ${info.id}.`;
    }
    case "list": {
      const mine = await keys.list(ctx.userKey);
      if (mine.length === 0) return "You have no keys. Create one in a DM with /ai keys create [name].";
      return mine
        .map((k) => {
          const state =
            k.revokedAt !== null ? "revoked" : k.expiresAt !== null && k.expiresAt <= Date.now() ? "expired" : "active";
          return `${k.shown} ${k.name ?? ""} — ${state}${k.models === null ? "" : `, models: ${k.models.join(", ")}`}`;
        })
        .join("\n");
    }
    case "revoke": {
      const id = rest[0];
      if (id === undefined) return "Usage: /ai keys revoke <id>";
      const done = await keys.revoke(id, { ...by, onlyOf: ctx.userKey });
      return done ? `Key ${id} is revoked.` : `You have no active key ${id}.`;
    }
    default:
      return "Usage: /ai keys create [name] | list | revoke <id>";
  }
}

const WORDS = [{ name: "words", description: "the rest of the line", type: "string", rest: true }] as const;

/**
 * Hang `keys` and `budget` under `/ai` as nodes of its command tree (added to the registered `/ai`, or a bare
 * `/ai` when the LLM module is off), so the router's one check authorises them like every other subcommand:
 * `ai.keys` for members, `ai.budget.set` and `ai.budget.remove` for owners. Returns the undo.
 */
export function mountAiKeys(commands: CommandRegistry, d: ChatCommandDeps): () => void {
  const { keys } = d;
  const keysLeaf = (name: "create" | "list" | "revoke", description: string): CommandNode => ({
    name,
    description,
    args: [...WORDS],
    handler: (ctx) => keysCommand(keys, ctx, [name, ...ctx.args]),
  });
  const keysNode: CommandNode = {
    name: "keys",
    description: "Personal keys for the model gateway",
    usage: "/ai keys create [name] | list | revoke <id>",
    defaultRole: "member",
    subcommands: [
      keysLeaf("create", "A new personal key, sent in this DM once"),
      keysLeaf("list", "Your keys (never their secrets)"),
      keysLeaf("revoke", "Revoke one of your keys"),
    ],
  };
  const budgetLeaf = (name: "set" | "remove", description: string): CommandNode => ({
    name,
    description,
    defaultRole: "owner",
    args: [...WORDS],
    handler: (ctx) => budgetCommand(d, ctx, [name, ...ctx.args]),
  });
  const budgetNode: CommandNode = {
    name: "budget",
    description: "Cost budgets of the model gateway and the chats",
    usage: BUDGET_USAGE.slice(7),
    defaultRole: "member",
    handler: (ctx) => budgetCommand(d, ctx, ctx.args),
    subcommands: [
      budgetLeaf("set", "Set a daily or monthly budget (owners)"),
      budgetLeaf("remove", "Remove a budget (owners)"),
    ],
  };
  const ai = commands.get("ai");
  const extended: CommandDef =
    ai === undefined
      ? {
          name: "ai",
          description: "Personal keys and budgets of the model gateway",
          defaultRole: "member",
          source: "builtin",
          subcommands: [keysNode, budgetNode],
        }
      : {
          ...ai,
          subcommands: [
            ...(ai.subcommands ?? []).filter((n) => n.name !== "keys" && n.name !== "budget"),
            keysNode,
            budgetNode,
          ],
        };
  if (ai !== undefined) commands.unregister("ai");
  commands.register(extended);
  return () => {
    commands.unregister("ai");
    if (ai !== undefined) commands.register(ai);
  };
}
