/**
 * `/hooks` in chat, declared once as a command tree: `add <name> [--template alertmanager|github|grafana|generic]
 * [--mentions] [--map title=a.b,text=c,link=d] [--format <mustache…>]` and `rotate <name>` (admins; the URL and secret are answered privately),
 * `list`, `remove <name>` (admins, confirmed). Every change is audited by the registry.
 */
import type { AdapterHub, CommandContext, CommandDef, CommandNode, ReplyInput } from "../bot/index.ts";
import { SwitchboardError } from "../bot/index.ts";
import type { HookRegistry, OpenHook } from "./registry.ts";
import type { HookOptions, TemplateName } from "./store.ts";
import { checkFormat } from "./templates/index.ts";

const USER_TEMPLATES = ["alertmanager", "github", "grafana", "generic"] as const;
const USAGE =
  "/hooks add <name> [--template alertmanager|github|grafana|generic] [--mentions] [--map title=a.b,text=c] [--format <template…>] · /hooks list · /hooks rotate <name> · /hooks remove <name>";

/** What the command uses. */
export interface HooksCommandDeps {
  registry: HookRegistry;
  adapters: AdapterHub;
  /** `<publicUrl>/hooks/<id>`. */
  urlOf(hookId: string): string;
}

/**
 * Answer a secret to the speaker alone: in a DM as it is; as an ephemeral reply where the platform has them;
 * in a DM opened by the bot elsewhere (Telegram). The console has no DM: it answers there and says so.
 */
export async function answerPrivately(
  ctx: CommandContext,
  d: Pick<HooksCommandDeps, "adapters">,
  text: string,
): Promise<ReplyInput> {
  const { platform } = ctx.inbound;
  if (platform === "console")
    return { text: `(The console has no direct messages: shown here only.)\n${text}`, format: "plain" };
  if (ctx.inbound.chat.kind === "dm") return { text, format: "plain" };
  if (d.adapters.get(platform)?.capabilities.ephemeral === true) return { text, ephemeral: true, format: "plain" };
  await d.adapters.send({ platform, chatId: ctx.inbound.user.id }, { text, format: "plain" });
  return "I sent the URL and secret to you in a direct message.";
}

function describeSecret(hook: OpenHook, url: string): string {
  const how =
    hook.template === "github"
      ? "GitHub: Payload URL = the URL, Content type = application/json, Secret = the secret."
      : "Send it as `Authorization: Bearer <secret>`, or sign `<unix seconds>.<body>` with HMAC-SHA256 in X-Switchboard-Signature: sha256=<hex> with X-Switchboard-Timestamp.";
  return `Hook ${hook.name} (${hook.template}), shown this once:\nURL: ${url}\nSecret: ${hook.secret}\n${how}`;
}

/** `title=alert.name,text=alert.body,link=url` → the generic template's field map. */
export function parseMap(text: string | undefined): Record<string, string> {
  const map: Record<string, string> = {};
  for (const pair of (text ?? "").split(",")) {
    const [field, path] = pair.split("=", 2).map((p) => p.trim());
    if (
      (field !== "title" && field !== "text" && field !== "link") ||
      path === undefined ||
      !/^[\w.-]{1,200}$/.test(path)
    )
      throw new SwitchboardError("E_BAD_ARGS", `bad field map ${String(text)}`, {
        chatMessage: "A field map is title=<path>,text=<path>,link=<path> with dotted paths into the payload.",
      });
    map[field] = path;
  }
  return map;
}

/** Parse `add`'s words: name, template and flags. */
export function parseAdd(words: readonly string[]): { name: string; template: TemplateName; options: HookOptions } {
  const [name = "", ...rest] = words;
  let template: TemplateName = "generic";
  const options: HookOptions = {};
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i]!;
    if (word === "--template" || word.startsWith("--template=")) {
      const value = word.includes("=") ? word.slice(11) : rest[++i];
      if (!USER_TEMPLATES.includes(value as (typeof USER_TEMPLATES)[number]))
        throw new SwitchboardError("E_BAD_ARGS", `unknown hook template ${String(value)}`, {
          chatMessage: `Templates: ${USER_TEMPLATES.join(", ")}.`,
        });
      template = value as TemplateName;
    } else if (word === "--mentions") options.allowMentions = true;
    else if (word === "--map") options.map = parseMap(rest[++i]);
    else if (word === "--format") {
      options.format = checkFormat(rest.slice(i + 1).join(" "));
      break;
    } else throw new SwitchboardError("E_BAD_ARGS", `unknown option ${word}`, { chatMessage: `Usage: ${USAGE}` });
  }
  return { name: name.toLowerCase(), template, options };
}

async function addHook(d: HooksCommandDeps, ctx: CommandContext): Promise<ReplyInput> {
  if (ctx.args.length === 0) return `Usage: ${USAGE}`;
  const { name, template, options } = parseAdd(ctx.args);
  const { platform, chat, threadId } = ctx.inbound;
  const hook = await d.registry.create({
    chatKey: ctx.chatKey,
    name,
    template,
    options,
    actor: ctx.userKey,
    target: threadId === undefined ? { platform, chatId: chat.id } : { platform, chatId: chat.id, threadId },
  });
  try {
    return await answerPrivately(ctx, d, describeSecret(hook, d.urlOf(hook.id)));
  } catch (error) {
    // The secret could not reach the speaker alone: a hook nobody can use is not kept.
    await d.registry.remove({ id: hook.id, chatKey: ctx.chatKey, actor: ctx.userKey });
    throw new SwitchboardError("E_PERMISSION_DENIED", `could not send the hook secret privately: ${String(error)}`, {
      chatMessage: "I could not message you privately: start a direct message with me, then add the hook again.",
    });
  }
}

async function listHooks(d: HooksCommandDeps, ctx: CommandContext): Promise<ReplyInput> {
  const hooks = await d.registry.list(ctx.chatKey);
  if (hooks.length === 0) return "This chat has no hooks. Add one with /hooks add <name> [--template …].";
  const stats = await d.registry.stats(hooks.map((h) => h.id));
  return {
    format: "plain",
    text: hooks
      .map((h) => {
        const s = stats.get(h.id);
        const last = s?.lastAt == null ? "never delivered" : `last delivery ${new Date(s.lastAt).toISOString()}`;
        return `${h.name} (${h.template}) — ${last}, ${s?.failed ?? 0} failed; added by ${h.createdBy}${
          h.rotatedAt === null ? "" : `, secret rotated ${new Date(h.rotatedAt).toISOString()}`
        }`;
      })
      .join("\n"),
  };
}

const WORDS = [{ name: "words", description: "the rest of the line", type: "string", rest: true }] as const;

/** The `/hooks` command tree. */
export function hooksCommand(d: HooksCommandDeps): CommandDef {
  const leaf = (node: Omit<CommandNode, "args">): CommandNode => ({ ...node, args: [...WORDS] });
  return {
    name: "hooks",
    description: "Signed inbound webhooks that post into this chat",
    usage: USAGE,
    defaultRole: "member",
    source: "builtin",
    subcommands: [
      leaf({
        name: "add",
        description: "Add a hook; its URL and secret are sent to you privately",
        defaultRole: "admin",
        handler: (ctx) => addHook(d, ctx),
      }),
      leaf({
        name: "list",
        description: "This chat's hooks (never their secrets)",
        handler: (ctx) => listHooks(d, ctx),
      }),
      leaf({
        name: "rotate",
        description: "A new secret for a hook, sent to you privately",
        defaultRole: "admin",
        handler: async (ctx) => {
          const name = ctx.args[0];
          if (name === undefined) return "Usage: /hooks rotate <name>";
          const hook = await d.registry.rotate({ chatKey: ctx.chatKey, name: name.toLowerCase(), actor: ctx.userKey });
          if (hook === undefined) return `This chat has no hook named ${name}.`;
          return answerPrivately(
            ctx,
            d,
            `New secret (the old one no longer works). ${describeSecret(hook, d.urlOf(hook.id))}`,
          );
        },
      }),
      leaf({
        name: "remove",
        description: "Remove a hook: its URL stops working",
        defaultRole: "admin",
        confirm: true,
        handler: async (ctx) => {
          const name = ctx.args[0];
          if (name === undefined) return "Usage: /hooks remove <name>";
          const done = await d.registry.remove({ chatKey: ctx.chatKey, name: name.toLowerCase(), actor: ctx.userKey });
          return done ? `Hook ${name} is removed.` : `This chat has no hook named ${name}.`;
        },
      }),
    ],
  };
}
