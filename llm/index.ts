/**
 * The LLM layer's entry: `createLlmPlugin` (conversation handler, `/ai` and `/models`, the skills' `llm`
 * capability, migrations). `registerLlmCli` (`switchboard models`, `switchboard ai export`) is `cli.ts`.
 */
import { type CapabilityCall, type Plugin, SwitchboardError } from "../bot/index.ts";
import { llmCommands } from "./commands.ts";
import { createLlmService, type LlmService, type LlmServiceOptions } from "./service.ts";
import { LLM_MIGRATIONS } from "./store.ts";
import { subscribeReactionFeedback } from "./reaction-feedback.ts";
import type { ChatMessage } from "./types.ts";
import type { LlmServices } from "./needs.ts";

export { LLM_NEEDS, type LlmServices } from "./needs.ts";

export type { LlmService } from "./service.ts";
// What the model gateway (gateway/) builds on: the same registry, chain, accounting and failure kinds as chats.
export type {
  ChatMessage,
  ChatResult,
  ModelConfig,
  ResponseFormat,
  TokenUsage,
  ToolCall,
  ToolCallFragment,
  ToolDefinition,
} from "./types.ts";
export { ProviderFailure, describeFailure } from "./providers/failure.ts";
export { costOf, dayOf, resetText, type UsageEvent, type UsageGate } from "./usage.ts";
export type { CachedTurn, TurnAnswerCache, TurnCacheQuery } from "./answer-cache.ts";
export { encodingFor } from "./tokens.ts";
export type { UsageTotals } from "./store.ts";
export { LLM_MIGRATIONS } from "./store.ts";

/** The LLM plugin, with its services for tests and other modules. */
export interface LlmPlugin extends Plugin {
  readonly service: LlmService;
}

/** Plug the LLM layer into the bot. */
export async function createLlmPlugin(core: LlmServices, options: LlmServiceOptions = {}): Promise<LlmPlugin> {
  const service = createLlmService(core, options);
  const engine = service.engine!;
  for (const def of llmCommands(service)) core.commands.register(def);
  core.router.setConversationHandler(engine.handler);
  const unprovide = core.capabilities.provide("llm", (call) => skillCompletion(service, call));
  const unsubscribe = subscribeReactionFeedback(core, service.store);
  return {
    name: "llm",
    migrations: LLM_MIGRATIONS,
    routes: async () => (await import("./api.ts")).llmRoutes(core, service),
    service,
    async start() {
      // Tokenizer tables take most of a second to build, and the store plans a statement the first time it
      // runs one: do both now rather than in someone's first turn.
      const [tokenizerNote] = await Promise.all([
        service.counter.warm(service.registry.list()),
        service.store.warm(),
        service.profiles.warm(),
      ]);
      if (tokenizerNote !== undefined && service.registry.isConfigured) core.log.info(`llm: ${tokenizerNote}`);
      const before = core.clock.now() - service.config.statsRetentionDays * 86_400_000;
      void core.track(
        service.store
          .pruneCalls(before)
          .catch((error: unknown) => core.log.warn({ err: error }, "could not prune LLM call records")),
      );
      if (!service.registry.isConfigured) core.log.info("llm: no model configured; /ai on explains what to set");
    },
    async stop() {
      core.router.setConversationHandler(undefined);
      unprovide();
      unsubscribe();
      await Promise.all([service.stats.close(), service.usage.close()]);
    },
    status() {
      const models = service.registry.list().map((m) => m.name);
      return models.length === 0
        ? { state: "off", detail: "no model configured" }
        : { state: "ok", detail: models.join(", ") };
    },
  };
}

const MAX_SKILL_MESSAGES = 50;
const MAX_SKILL_CHARS = 32_000;

/** The `llm` capability: `{ prompt }` or `{ messages: [{role, content}] }`, optional `system`. Returns `{ text, model }`. */
export async function skillCompletion(
  service: LlmService,
  call: CapabilityCall,
): Promise<{ text: string; model: string }> {
  const args = call.args as { prompt?: unknown; messages?: unknown; system?: unknown } | null;
  const bad = (why: string) =>
    new SwitchboardError("E_BAD_ARGS", `llm capability from ${call.skill}: ${why}`, {
      chatMessage: `The skill ${call.skill} asked the language model with bad arguments: ${why}.`,
    });
  if (args === null || typeof args !== "object") throw bad("expected { prompt } or { messages }");
  let messages: ChatMessage[];
  if (typeof args.prompt === "string") {
    messages = [{ role: "user", content: args.prompt }];
  } else if (Array.isArray(args.messages)) {
    if (args.messages.length === 0 || args.messages.length > MAX_SKILL_MESSAGES)
      throw bad(`between 1 and ${MAX_SKILL_MESSAGES} messages`);
    messages = args.messages.map((m: unknown) => {
      const { role, content } = (m ?? {}) as { role?: unknown; content?: unknown };
      if ((role !== "user" && role !== "assistant") || typeof content !== "string")
        throw bad("each message is { role: user|assistant, content: string }");
      return { role, content };
    });
  } else {
    throw bad("expected { prompt } or { messages }");
  }
  if (args.system !== undefined && typeof args.system !== "string") throw bad("system must be a string");
  const chars =
    messages.reduce((n, m) => n + m.content.length, 0) + (typeof args.system === "string" ? args.system.length : 0);
  if (chars > MAX_SKILL_CHARS) throw bad(`at most ${MAX_SKILL_CHARS} characters`);
  if (service.engine === undefined) throw new SwitchboardError("E_LLM_NOT_CONFIGURED", "no conversation engine");
  return service.engine.completeForSkill({
    chatKey: call.chatKey,
    userKey: call.userKey,
    system: typeof args.system === "string" ? args.system : undefined,
    messages,
    signal: call.signal,
  });
}

export { usageReport, type UsageGrouping, type UsageReportRow } from "./usage-report.ts";
