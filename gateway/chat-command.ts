/**
 * `/ai keys …` in chat: the gateway's one piece of chat-command wiring, kept to this file. `keysCommand` is the
 * subcommand itself (a declarative command tree can adopt it as `ai keys`); `mountAiKeys` hangs it under the
 * existing `/ai` command until then, passing every other `/ai …` on to it untouched.
 *
 * - `/ai keys create [name]`: DM only; the key is sent in that DM, once.
 * - `/ai keys list`: your keys (never their secrets). `/ai keys revoke <id>`: one of yours.
 */
import type { CommandContext, CommandDef, CommandRegistry, ReplyInput } from "../bot/index.ts";
import { SwitchboardError } from "../bot/index.ts";
import type { KeyService } from "./keys.ts";

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

/**
 * Hang `keys` under `/ai`: the registered `/ai` is wrapped so `/ai keys …` reaches `keysCommand` and everything
 * else reaches the original handler. Returns the undo (the original `/ai` back).
 */
export function mountAiKeys(commands: CommandRegistry, keys: KeyService): () => void {
  const ai = commands.get("ai");
  const wrapped: CommandDef =
    ai === undefined
      ? {
          name: "ai",
          description: "Personal keys for the model gateway",
          usage: "/ai keys create [name] | list | revoke <id>",
          defaultRole: "member",
          source: "builtin",
          handler: (ctx) => keysCommand(keys, ctx, ctx.args.slice(1)),
        }
      : {
          ...ai,
          usage: `${ai.usage ?? "/ai"}\n/ai keys create [name] | list | revoke <id>`,
          handler: (ctx) =>
            ctx.args[0]?.toLowerCase() === "keys" ? keysCommand(keys, ctx, ctx.args.slice(1)) : ai.handler(ctx),
        };
  if (ai !== undefined) commands.unregister("ai");
  commands.register(wrapped);
  return () => {
    commands.unregister("ai");
    if (ai !== undefined) commands.register(ai);
  };
}
