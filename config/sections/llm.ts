/**
 * llm settings (owned by the llm module; see llm/README.md). Models are listed under `models`; for a quick
 * start, `openai` (OPENAI_BASE_URL / OPENAI_API_KEY / OPENAI_MODEL) and `ollama` (OLLAMA_HOST / OLLAMA_MODEL)
 * each become one model entry when no `models` list is given.
 */
import { z } from "zod";

const modelName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/, "model names are letters, digits, . _ : - (at most 64)");

/** One model the bot may call. */
export const llmModelSchema = z
  .object({
    /** The name chats and profiles use (`/ai model <name>`). */
    name: modelName,
    provider: z.enum(["openai", "ollama"]),
    /** The model id at the provider (`gpt-4o-mini`, `llama3.2`). */
    model: z.string().min(1),
    /** OpenAI-compatible endpoint, including `/v1` (OpenAI, Azure, vLLM, llama.cpp, LM Studio, OpenRouter). */
    baseUrl: z.string().url().optional(),
    /** API key for an OpenAI-compatible endpoint (local servers often need none). */
    apiKey: z.string().optional(),
    /** Ollama host (`http://127.0.0.1:11434`). */
    host: z.string().url().optional(),
    /** What the model can do; tools are offered only to models with `tools`. */
    capabilities: z.array(z.enum(["chat", "tools", "vision"])).default(["chat", "tools"]),
    /** Context window in tokens. */
    contextWindow: z.number().int().positive().default(8192),
    /** Tokens reserved for the answer (sent as max_tokens / num_predict). */
    maxOutputTokens: z.number().int().positive().default(1024),
    /** Cost per 1,000 input tokens, in your currency of account. */
    costPer1kInput: z.number().nonnegative().default(0),
    /** Cost per 1,000 output tokens. */
    costPer1kOutput: z.number().nonnegative().default(0),
    /** Higher first when a chain is not given explicitly. */
    priority: z.number().int().default(0),
    /** One request (a whole streamed answer) may take this long, in ms. */
    timeoutMs: z.number().int().positive().default(60_000),
    /** Stream tokens (edits in chat) or wait for the whole answer. */
    stream: z.boolean().default(true),
    /** Token counter: `auto` picks by model family, `estimate` uses the documented character estimate. */
    tokenizer: z.enum(["auto", "o200k_base", "cl100k_base", "estimate"]).default("auto"),
    /** Extra HTTP headers (OpenRouter's `HTTP-Referer`, Azure's `api-key`). */
    headers: z.record(z.string(), z.string()).optional(),
  })
  .strict()
  .superRefine((m, ctx) => {
    if (m.provider === "ollama" && m.baseUrl !== undefined) {
      ctx.addIssue({ code: "custom", path: ["baseUrl"], message: "ollama models take `host`, not `baseUrl`" });
    }
    if (m.provider === "openai" && m.host !== undefined) {
      ctx.addIssue({ code: "custom", path: ["host"], message: "openai models take `baseUrl`, not `host`" });
    }
  });

/** Caps on usage per UTC day. Absent means no cap. */
const capsSchema = z
  .object({
    dailyTokens: z.number().int().positive().optional(),
    dailyCost: z.number().positive().optional(),
  })
  .strict();

/** A chat profile: the defaults a chat starts from (the chat's own settings override them). */
export const llmProfileSchema = z
  .object({
    /** Fallback chain, first to last. Empty: every model with `chat`, by priority. */
    models: z.array(modelName).default([]),
    systemPrompt: z.string().max(8_000).optional(),
    temperature: z.number().min(0).max(2).optional(),
    /** Which enabled skills' tools are offered: `all`, `none`, or skill/tool names. */
    tools: z.union([z.enum(["all", "none"]), z.array(z.string().min(1))]).default("all"),
    /** Most past turns sent with a message (also trimmed to the context window). */
    historyTurns: z.number().int().min(0).max(200).optional(),
    /** In groups: answer on mention or reply to the bot, every message, or never. */
    groupTrigger: z.enum(["mention-or-reply", "always", "never"]).optional(),
    /**
     * Answer repeated turns from the model gateway's answer cache (`gateway.cache` sets its size and age). Only
     * first rounds without tool calls, and only with `temperature: 0` unless `sampled`.
     */
    cache: z
      .object({
        enabled: z.boolean().default(false),
        /** One cache for everyone in the profile's chats; otherwise each person has their own. */
        shared: z.boolean().default(false),
        /** Also cache turns with a temperature other than 0 (their answers vary). */
        sampled: z.boolean().default(false),
      })
      .strict()
      .optional(),
  })
  .strict();

const DEFAULT_PROMPT = "You are a helpful assistant in a chat. Answer concisely. Use the tools offered when they help.";

export const llmSection = z
  .object({
    /** Chats with no setting of their own answer conversation (`/ai on|off` per chat). */
    enabled: z.boolean().default(true),
    models: z.array(llmModelSchema).default([]),
    /** Quick start: one OpenAI-compatible model from OPENAI_BASE_URL / OPENAI_API_KEY / OPENAI_MODEL. */
    openai: z
      .object({
        baseUrl: z.string().url().optional(),
        apiKey: z.string().optional(),
        model: z.string().min(1).default("gpt-4o-mini"),
      })
      .strict()
      .optional(),
    /** Quick start: one Ollama model from OLLAMA_HOST / OLLAMA_MODEL. */
    ollama: z
      .object({
        host: z.string().min(1).optional(),
        model: z.string().min(1).default("llama3.2"),
      })
      .strict()
      .optional(),
    /** Named profiles; `default` applies to every chat not mapped in `chats`. */
    profiles: z.record(z.string(), llmProfileSchema).default({}),
    /** Chat key (`telegram:-100123`) → profile name. */
    chats: z.record(z.string(), z.string()).default({}),
    systemPrompt: z.string().max(8_000).default(DEFAULT_PROMPT),
    historyTurns: z.number().int().min(0).max(200).default(20),
    groupTrigger: z.enum(["mention-or-reply", "always", "never"]).default("mention-or-reply"),
    /** Model calls per turn that may ask for tools, before the model must answer in text. */
    maxToolRounds: z.number().int().min(0).max(20).default(4),
    /** Least time between two streaming edits of one message, in ms. */
    editIntervalMs: z.number().int().min(0).default(1_000),
    /** Typing indicator refresh while the model works, in ms. */
    typingIntervalMs: z.number().int().positive().default(4_000),
    /** Turns further apart than this start a new conversation in exports, in ms. */
    conversationGapMs: z
      .number()
      .int()
      .positive()
      .default(30 * 60_000),
    /** 👍/👎 buttons under answers where the platform has buttons. */
    feedbackButtons: z.boolean().default(true),
    /** Per-call records kept for /models statistics, in days. */
    statsRetentionDays: z.number().int().positive().default(30),
    fallback: z
      .object({
        /** First cooldown after a failure without Retry-After, in ms (doubles per failure, with jitter). */
        baseBackoffMs: z.number().int().positive().default(2_000),
        maxBackoffMs: z
          .number()
          .int()
          .positive()
          .default(5 * 60_000),
        /** When every model is cooling down, wait this long at most for the first to come back, in ms. */
        maxWaitMs: z.number().int().min(0).default(0),
      })
      .strict()
      .default({ baseBackoffMs: 2_000, maxBackoffMs: 300_000, maxWaitMs: 0 }),
    quotas: z
      .object({
        perChat: capsSchema.default({}),
        perUser: capsSchema.default({}),
        global: capsSchema.default({}),
        /** Chat key → caps replacing `perChat` for that chat. */
        chats: z.record(z.string(), capsSchema).default({}),
      })
      .strict()
      .default({ perChat: {}, perUser: {}, global: {}, chats: {} }),
  })
  .strict()
  .default({
    enabled: true,
    models: [],
    profiles: {},
    chats: {},
    systemPrompt: DEFAULT_PROMPT,
    historyTurns: 20,
    groupTrigger: "mention-or-reply",
    maxToolRounds: 4,
    editIntervalMs: 1_000,
    typingIntervalMs: 4_000,
    conversationGapMs: 1_800_000,
    feedbackButtons: true,
    statsRetentionDays: 30,
    fallback: { baseBackoffMs: 2_000, maxBackoffMs: 300_000, maxWaitMs: 0 },
    quotas: { perChat: {}, perUser: {}, global: {}, chats: {} },
  });
