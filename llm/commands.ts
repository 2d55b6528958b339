/**
 * Chat commands: `/ai on|off|model|prompt|temperature|tools|history|trigger|reset|usage|export` and `/models`.
 * Declared as a tree: settings changes need an admin in groups (each subcommand's `defaultRole`); in a DM the
 * person is the whole audience and may change them (`dmRole`).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type CommandContext, type CommandDef, SwitchboardError } from "../bot/index.ts";
import type { LlmService } from "./service.ts";
import { exportJsonl } from "./export.ts";
import { HOW_TO_CONFIGURE } from "./registry.ts";
import { dayOf, resetText } from "./usage.ts";

const USAGE =
  "/ai on|off | model [name…|default] | prompt [text|default] | temperature <0-2|default> | tools all|none|<skill…> | history <turns> | trigger mention-or-reply|always|never | reset | usage | export";

/** A settings change: admin in a group; in a DM the person is the whole audience and may change them. */
const SETTING = { defaultRole: "admin", dmRole: "member" } as const;

/** Every LLM command, ready to register: `/ai` is a tree, each subcommand with its own minimum role. */
export function llmCommands(service: LlmService): CommandDef[] {
  const s = service;
  return [
    {
      name: "ai",
      description: "Conversation with the language model: on/off, model, prompt, reset, usage",
      usage: USAGE,
      defaultRole: "member",
      source: "builtin",
      handler: (ctx) => status(s, ctx),
      subcommands: [
        { name: "status", description: "This chat's AI settings", handler: (ctx) => status(s, ctx) },
        ...(["on", "off"] as const).map((state) => ({
          name: state,
          description: `Turn AI conversation ${state} in this chat`,
          ...SETTING,
          handler: async (ctx: CommandContext) => {
            if (state === "on" && !s.registry.isConfigured) return HOW_TO_CONFIGURE;
            await s.profiles.update(ctx.chatKey, { enabled: state === "on" });
            const p = await s.profiles.resolve(ctx.chatKey);
            if (state === "off") return "AI conversation is off in this chat.";
            return ctx.inbound.chat.kind === "dm"
              ? "AI conversation is on: just write to me."
              : `AI conversation is on: ${p.groupTrigger === "always" ? "I answer every message" : p.groupTrigger === "never" ? "but the trigger is `never`" : "mention me or reply to me"}.`;
          },
        })),
        {
          name: "models",
          description: "The configured models and this chat's chain",
          handler: (ctx) => modelList(s, ctx),
        },
        {
          name: "model",
          description: "Choose this chat's model chain (or default)",
          ...SETTING,
          args: [
            { name: "names", description: "model names, first choice first, or default", type: "string", rest: true },
          ],
          handler: (ctx) => setModels(s, ctx),
        },
        {
          name: "prompt",
          description: "Show or set the system prompt (or default)",
          ...SETTING,
          args: [{ name: "text", description: "the new system prompt, or default", type: "string", rest: true }],
          handler: async (ctx) => {
            const text = String(ctx.options.text ?? "");
            if (text === "") return `System prompt:\n${(await s.profiles.resolve(ctx.chatKey)).systemPrompt}`;
            if (text.length > 8_000)
              throw new SwitchboardError("E_BAD_ARGS", "prompt too long", {
                chatMessage: "The system prompt may be at most 8000 characters.",
              });
            await s.profiles.update(ctx.chatKey, { systemPrompt: text === "default" ? undefined : text });
            return text === "default" ? "System prompt reset to the default." : "System prompt updated.";
          },
        },
        {
          name: "temperature",
          description: "Sampling temperature, 0 to 2 (or default)",
          ...SETTING,
          args: [{ name: "value", description: "0 to 2, or default", type: "string", required: true }],
          handler: async (ctx) => {
            const value = String(ctx.options.value);
            if (value === "default") {
              await s.profiles.update(ctx.chatKey, { temperature: undefined });
              return "Temperature reset to the default.";
            }
            const t = Number(value);
            if (!Number.isFinite(t) || t < 0 || t > 2) {
              throw new SwitchboardError("E_BAD_ARGS", "bad temperature", {
                chatMessage: "Usage: /ai temperature <0 to 2|default>, e.g. /ai temperature 0.3",
              });
            }
            await s.profiles.update(ctx.chatKey, { temperature: t });
            return `Temperature set to ${t}.`;
          },
        },
        {
          name: "tools",
          description: "Which skills' tools the model is offered",
          ...SETTING,
          args: [
            {
              name: "tools",
              description: "all, none, or skill and tool names",
              type: "string",
              required: true,
              rest: true,
            },
          ],
          handler: async (ctx) => {
            const rest = ctx.args;
            const tools =
              rest[0] === "all" || rest[0] === "none" ? rest[0] : rest.flatMap((r) => r.split(",")).filter(Boolean);
            await s.profiles.update(ctx.chatKey, { tools });
            return `Tools offered: ${Array.isArray(tools) ? tools.join(", ") : tools} (always only those the speaker may run).`;
          },
        },
        {
          name: "history",
          description: "Past turns sent with each message",
          ...SETTING,
          args: [{ name: "turns", description: "0 to 200", type: "integer", required: true }],
          handler: async (ctx) => {
            const n = Number(ctx.options.turns);
            if (n < 0 || n > 200) {
              throw new SwitchboardError("E_BAD_ARGS", "bad history", {
                chatMessage: "Usage: /ai history <0 to 200 turns>",
              });
            }
            await s.profiles.update(ctx.chatKey, { historyTurns: n });
            return `Up to ${n} past turns are sent with each message (fewer when the model's context is full).`;
          },
        },
        {
          name: "trigger",
          description: "When I answer in groups",
          ...SETTING,
          args: [
            {
              name: "when",
              description: "mention-or-reply, always or never",
              type: "string",
              required: true,
              choices: ["mention-or-reply", "always", "never"],
            },
          ],
          handler: async (ctx) => {
            const v = ctx.options.when as "mention-or-reply" | "always" | "never";
            await s.profiles.update(ctx.chatKey, { groupTrigger: v });
            return `In groups I now answer: ${v}.`;
          },
        },
        {
          name: "reset",
          description: "Forget this chat's conversation history",
          ...SETTING,
          handler: async (ctx) => {
            const n = await s.store.forgetChat(ctx.chatKey);
            return `Forgot this chat's conversation history (${n} turn${n === 1 ? "" : "s"}).`;
          },
        },
        { name: "usage", description: "Tokens and cost, today and this week", handler: (ctx) => usageReport(s, ctx) },
        {
          name: "export",
          description: "Export this chat's conversations as JSON lines",
          defaultRole: "admin",
          dmRole: "member",
          handler: async (ctx) => {
            const file = await exportChatToFile(s, ctx.chatKey);
            return `Exported ${file.conversations} conversation(s), ${file.turns} turn(s) to ${file.path}`;
          },
        },
        {
          name: "feedback",
          description: "Rate an answer",
          args: [
            { name: "id", description: "the answer's id", type: "integer", required: true },
            { name: "vote", description: "up or down", type: "string", required: true, choices: ["up", "down"] },
          ],
          handler: (ctx) => feedback(s, ctx),
        },
      ],
    },
    {
      name: "models",
      description: "Language models: chain, health and statistics",
      defaultRole: "admin",
      source: "builtin",
      handler: () => modelsReport(service),
    },
  ];
}

async function setModels(s: LlmService, ctx: CommandContext): Promise<string> {
  const rest = ctx.args;
  if (rest.length === 0) return modelList(s, ctx);
  if (!s.registry.isConfigured) return HOW_TO_CONFIGURE;
  if (rest.length === 1 && rest[0] === "default") {
    await s.profiles.update(ctx.chatKey, { models: undefined });
    return "This chat uses the default model chain again.";
  }
  const names = rest
    .flatMap((r) => r.split(","))
    .map((n) => n.trim())
    .filter(Boolean);
  const unknown = s.registry.unknown(names);
  if (unknown.length > 0) {
    throw new SwitchboardError("E_BAD_ARGS", `unknown models ${unknown.join(", ")}`, {
      chatMessage: `Unknown model${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")}. Configured: ${s.registry
        .list()
        .map((m) => m.name)
        .join(", ")}.`,
    });
  }
  await s.profiles.update(ctx.chatKey, { models: names });
  return `Model chain for this chat: ${names.join(" → ")}.`;
}

/** Write a chat's export under `<dataDir>/exports/`. */
export async function exportChatToFile(
  s: LlmService,
  chatKey: string,
  path?: string,
): Promise<{ path: string; conversations: number; turns: number }> {
  const out = exportJsonl(await s.store.chatTurns(chatKey), s.config.conversationGapMs);
  const target =
    path ??
    join(
      s.dataDir,
      "exports",
      `llm-${chatKey.replace(/[^A-Za-z0-9_-]+/g, "_")}-${new Date(s.clock.now()).toISOString().replace(/[:.]/g, "-")}.jsonl`,
    );
  await mkdir(join(target, ".."), { recursive: true });
  await writeFile(target, out.text, "utf8");
  return { path: target, conversations: out.conversations, turns: out.turns };
}

async function status(s: LlmService, ctx: CommandContext): Promise<string> {
  if (!s.registry.isConfigured) return HOW_TO_CONFIGURE;
  const p = await s.profiles.resolve(ctx.chatKey);
  const chain = s.registry.chain(p.models).map((m) => m.name);
  return [
    `AI conversation: **${p.enabled ? "on" : "off"}**${ctx.inbound.chat.kind === "dm" ? "" : ` (groups: ${p.groupTrigger})`}`,
    `Models: ${chain.length === 0 ? "(none of the chosen models is configured)" : chain.join(" → ")}`,
    `Temperature: ${p.temperature ?? "model default"}; history: ${p.historyTurns} turns; tools: ${Array.isArray(p.tools) ? p.tools.join(", ") : p.tools}`,
    `Usage: ${USAGE}`,
  ].join("\n");
}

async function modelList(s: LlmService, ctx: CommandContext): Promise<string> {
  if (!s.registry.isConfigured) return HOW_TO_CONFIGURE;
  const p = await s.profiles.resolve(ctx.chatKey);
  const chain = s.registry.chain(p.models).map((m) => m.name);
  const lines = s.registry
    .list()
    .map(
      (m) =>
        `- ${m.name} (${m.provider} ${m.model})${chain.includes(m.name) ? ` — #${chain.indexOf(m.name) + 1} in this chat's chain` : ""}`,
    );
  return `Models:\n${lines.join("\n")}\nChoose with /ai model <name> [fallback…]`;
}

async function usageReport(s: LlmService, ctx: CommandContext): Promise<string> {
  const now = s.clock.now();
  const today = await s.usage.today(ctx.chatKey, ctx.userKey);
  const caps = s.usage.capsFor(ctx.chatKey);
  const week = await s.store.chatUsage(ctx.chatKey, dayOf(now - 6 * 86_400_000));
  const cap = (c: { dailyTokens?: number | undefined; dailyCost?: number | undefined }) =>
    c.dailyTokens === undefined && c.dailyCost === undefined
      ? "no cap"
      : [
          c.dailyTokens === undefined ? "" : `cap ${c.dailyTokens.toLocaleString("en-US")} tokens`,
          c.dailyCost === undefined ? "" : `cap ${c.dailyCost} cost`,
        ]
          .filter(Boolean)
          .join(", ");
  const lines = [
    `**Usage today** (UTC day, resets at ${resetText(now)})`,
    `- this chat: ${today.chat.tokens.toLocaleString("en-US")} tokens, cost ${today.chat.cost.toFixed(4)} (${cap(caps.chat)})`,
    `- you: ${today.user.tokens.toLocaleString("en-US")} tokens, cost ${today.user.cost.toFixed(4)} (${cap(caps.user)})`,
  ];
  if (week.days.length > 0) {
    lines.push(
      "**Last 7 days in this chat**",
      ...week.days.map(
        (d) => `- ${d.day}: ${d.turns} turns, ${d.tokens.toLocaleString("en-US")} tokens, cost ${d.cost.toFixed(4)}`,
      ),
    );
  }
  if (week.users.length > 1)
    lines.push(`Top users: ${week.users.map((u) => `${u.userKey} (${u.tokens.toLocaleString("en-US")})`).join(", ")}`);
  return lines.join("\n");
}

async function feedback(s: LlmService, ctx: CommandContext): Promise<string> {
  const id = Number(ctx.options.id);
  const vote = ctx.options.vote;
  const ok = await s.store.setFeedback(id, ctx.chatKey, {
    value: vote === "up" ? 1 : -1,
    by: ctx.userKey,
    at: s.clock.now(),
  });
  if (!ok)
    throw new SwitchboardError("E_NOT_FOUND", `no turn ${id} in ${ctx.chatKey}`, {
      chatMessage: "That answer is no longer stored here.",
    });
  return vote === "up" ? "Thanks for the 👍." : "Thanks, noted 👎.";
}

/**
 * The `/models` and `switchboard models` report. Cache hits come from the answer cache in use, or from
 * `o.hitsSince` where none runs (the CLI reads them from the store).
 */
export async function modelsReport(
  s: LlmService,
  o: { hitsSince?: (fromDay: string) => Promise<Map<string, number>> } = {},
): Promise<string> {
  if (!s.registry.isConfigured) return HOW_TO_CONFIGURE;
  const since = s.clock.now() - s.config.statsRetentionDays * 86_400_000;
  const stats = new Map((await s.stats.read(since)).map((x) => [x.model, x]));
  // Answers served from the answer cache (chat turns and gateway requests) reached no model: counted apart.
  const cache = s.answerCache.current;
  const hits =
    (await (cache !== undefined ? cache.hitsSince(dayOf(since)) : o.hitsSince?.(dayOf(since)))) ??
    new Map<string, number>();
  const lines = [`**Models** (statistics over ${s.config.statsRetentionDays} days)`];
  for (const m of s.registry.list()) {
    const st = stats.get(m.name);
    const cool = await s.chain.cooldown(m.name);
    const failures =
      st === undefined
        ? ""
        : Object.entries(st.failures)
            .map(([k, n]) => `${k} ${n}`)
            .join(", ");
    lines.push(
      `- **${m.name}** — ${m.provider} ${m.model}, priority ${m.priority}, context ${m.contextWindow}, tools ${m.capabilities.includes("tools") ? "yes" : "no"}` +
        (cool === undefined
          ? ""
          : `, cooling down ${Math.ceil((cool.untilMs - s.clock.now()) / 1000)} s after ${cool.kind}`),
      st === undefined
        ? "  no calls yet"
        : `  ${st.calls} calls${failures === "" ? "" : ` (failed: ${failures})`}; latency p50 ${ms(st.p50Ms)}, p95 ${ms(st.p95Ms)}; tokens ${st.inputTokens.toLocaleString("en-US")} in / ${st.outputTokens.toLocaleString("en-US")} out; cost ${st.cost.toFixed(4)}; feedback 👍 ${st.thumbsUp} 👎 ${st.thumbsDown}`,
    );
    const n = hits.get(m.name) ?? 0;
    if (n > 0) lines.push(`  ${n} answered from the cache (cost 0)`);
  }
  return lines.join("\n");
}

function ms(v: number | null): string {
  return v === null ? "–" : `${Math.round(v)} ms`;
}
