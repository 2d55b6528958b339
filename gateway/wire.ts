/**
 * The OpenAI chat-completions wire format: the request as a zod schema (validated and documented by the
 * listener), its translation to the LLM layer's messages, and the answer and stream chunks built back.
 * Parameters OpenAI accepts but no provider here honours (`seed`, penalties, `logit_bias`, `user`, …) are
 * dropped; ones whose answer cannot be given (`n` > 1, `logprobs`, audio) are refused; unknown ones are refused
 * as OpenAI refuses them ("Unrecognized request argument supplied").
 */
import { z } from "zod";
import type { ChatMessage, ChatResult, ResponseFormat, TokenUsage, ToolDefinition } from "../llm/index.ts";
import { badRequest } from "./errors.ts";

const textPart = z.object({ type: z.literal("text"), text: z.string() });
const anyPart = z.object({ type: z.string() }).passthrough();
const content = z.union([z.string(), z.array(z.union([textPart, anyPart]))]);

const toolCallWire = z.object({
  id: z.string(),
  type: z.literal("function").default("function"),
  function: z.object({ name: z.string(), arguments: z.string() }),
});

const message = z.discriminatedUnion("role", [
  z.object({ role: z.literal("system"), content, name: z.string().optional() }),
  z.object({ role: z.literal("developer"), content, name: z.string().optional() }),
  z.object({ role: z.literal("user"), content, name: z.string().optional() }),
  z.object({
    role: z.literal("assistant"),
    content: content.nullable().optional(),
    name: z.string().optional(),
    tool_calls: z.array(toolCallWire).optional(),
    refusal: z.string().nullable().optional(),
  }),
  z.object({ role: z.literal("tool"), content, tool_call_id: z.string() }),
]);

const tool = z.object({
  type: z.literal("function"),
  function: z.object({
    name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "letters, digits, _ and -, at most 64"),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullable().optional(),
  }),
});

/** `POST /v1/chat/completions`: OpenAI's request body, plus `cache` (Switchboard's answer cache, per request). */
export const completionRequestSchema = z
  .object({
    model: z.string().min(1),
    messages: z.array(message).min(1),
    stream: z.boolean().nullable().optional(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).nullable().optional(),
    temperature: z.number().min(0).max(2).nullable().optional(),
    top_p: z.number().min(0).max(1).nullable().optional(),
    max_tokens: z.number().int().positive().nullable().optional(),
    max_completion_tokens: z.number().int().positive().nullable().optional(),
    stop: z
      .union([z.string(), z.array(z.string()).max(4)])
      .nullable()
      .optional(),
    n: z.number().int().positive().nullable().optional(),
    tools: z.array(tool).max(128).optional(),
    tool_choice: z
      .union([
        z.enum(["none", "auto", "required"]),
        z.object({ type: z.literal("function"), function: z.object({ name: z.string() }) }),
      ])
      .optional(),
    response_format: z
      .discriminatedUnion("type", [
        z.object({ type: z.literal("text") }),
        z.object({ type: z.literal("json_object") }),
        z.object({
          type: z.literal("json_schema"),
          json_schema: z.object({
            name: z.string(),
            description: z.string().optional(),
            schema: z.record(z.string(), z.unknown()).optional(),
            strict: z.boolean().nullable().optional(),
          }),
        }),
      ])
      .optional(),
    logprobs: z.boolean().nullable().optional(),
    top_logprobs: z.number().int().nullable().optional(),
    modalities: z.array(z.string()).nullable().optional(),
    audio: z.unknown().optional(),
    // Accepted and dropped: no provider here honours them, and OpenAI treats them as hints.
    seed: z.number().int().nullable().optional(),
    presence_penalty: z.number().min(-2).max(2).nullable().optional(),
    frequency_penalty: z.number().min(-2).max(2).nullable().optional(),
    logit_bias: z.record(z.string(), z.number()).nullable().optional(),
    user: z.string().optional(),
    parallel_tool_calls: z.boolean().optional(),
    metadata: z.record(z.string(), z.string()).nullable().optional(),
    store: z.boolean().nullable().optional(),
    service_tier: z.string().nullable().optional(),
    reasoning_effort: z.string().nullable().optional(),
    /** Switchboard: `false` keeps this request out of the answer cache. */
    cache: z.boolean().optional(),
  })
  .strict();

/** A validated request. */
export type CompletionRequest = z.output<typeof completionRequestSchema>;

/** What the gateway asks of a model, in the LLM layer's terms. */
export interface ModelAsk {
  messages: ChatMessage[];
  tools: ToolDefinition[];
  temperature?: number;
  topP?: number;
  maxTokens?: number;
  stop?: string[];
  responseFormat?: ResponseFormat;
  toolChoice?: "none" | "auto" | "required" | { name: string };
}

/** Translate a request, refusing what cannot be answered (400 naming the field). */
export function toModelAsk(req: CompletionRequest): ModelAsk {
  if (req.n !== undefined && req.n !== null && req.n !== 1)
    throw badRequest("Only n=1 is supported.", "n", "unsupported_value");
  if (req.logprobs === true) throw badRequest("logprobs are not supported by this gateway.", "logprobs");
  if (req.top_logprobs !== undefined && req.top_logprobs !== null)
    throw badRequest("top_logprobs is not supported by this gateway.", "top_logprobs");
  if (req.audio !== undefined || (req.modalities ?? []).some((m) => m !== "text"))
    throw badRequest("Only text output is supported.", "modalities");
  if (req.stream_options !== undefined && req.stream_options !== null && req.stream !== true)
    throw badRequest("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options");
  const toolNames = new Map<string, string>();
  const messages = req.messages.map((m, i): ChatMessage => {
    const text = (c: z.output<typeof content> | null | undefined): string => textOf(c, `messages[${i}].content`);
    switch (m.role) {
      case "system":
      case "developer":
        return { role: "system", content: text(m.content) };
      case "user":
        return { role: "user", content: text(m.content), ...(m.name === undefined ? {} : { name: m.name }) };
      case "assistant": {
        for (const c of m.tool_calls ?? []) toolNames.set(c.id, c.function.name);
        const calls = (m.tool_calls ?? []).map((c) => ({
          id: c.id,
          name: c.function.name,
          arguments: c.function.arguments,
        }));
        return { role: "assistant", content: text(m.content), ...(calls.length === 0 ? {} : { toolCalls: calls }) };
      }
      default: {
        // role "tool"
        const name = toolNames.get(m.tool_call_id);
        if (name === undefined)
          throw badRequest(
            `Invalid parameter: messages with role 'tool' must be a response to a preceding message with 'tool_calls'.`,
            `messages[${i}].tool_call_id`,
          );
        return { role: "tool", content: text(m.content), toolCallId: m.tool_call_id, toolName: name };
      }
    }
  });
  const tools = (req.tools ?? []).map(
    (t): ToolDefinition => ({
      name: t.function.name,
      description: t.function.description ?? "",
      parameters: t.function.parameters ?? { type: "object", properties: {} },
    }),
  );
  if (
    typeof req.tool_choice === "object" &&
    !tools.some((t) => typeof req.tool_choice === "object" && t.name === req.tool_choice.function.name)
  )
    throw badRequest("tool_choice names a function that is not in tools.", "tool_choice");
  const stop = req.stop === undefined || req.stop === null ? undefined : [req.stop].flat();
  const maxTokens = req.max_completion_tokens ?? req.max_tokens ?? undefined;
  const format = req.response_format;
  return {
    messages,
    tools,
    ...(req.temperature === undefined || req.temperature === null ? {} : { temperature: req.temperature }),
    ...(req.top_p === undefined || req.top_p === null ? {} : { topP: req.top_p }),
    ...(maxTokens === undefined ? {} : { maxTokens }),
    ...(stop === undefined ? {} : { stop }),
    ...(format === undefined || format.type === "text"
      ? {}
      : {
          responseFormat:
            format.type === "json_object"
              ? { type: "json_object" }
              : {
                  type: "json_schema",
                  name: format.json_schema.name,
                  schema: format.json_schema.schema ?? {},
                  ...(typeof format.json_schema.strict === "boolean" ? { strict: format.json_schema.strict } : {}),
                },
        }),
    ...(req.tool_choice === undefined
      ? {}
      : {
          toolChoice: typeof req.tool_choice === "string" ? req.tool_choice : { name: req.tool_choice.function.name },
        }),
  };
}

function textOf(c: z.output<typeof content> | null | undefined, param: string): string {
  if (c === null || c === undefined) return "";
  if (typeof c === "string") return c;
  return c
    .map((part, j) => {
      if (part.type === "text" && typeof part.text === "string") return part.text;
      throw badRequest(`Content parts of type '${part.type}' are not supported by this gateway.`, `${param}[${j}]`);
    })
    .join("");
}

/** OpenAI's usage object. */
export function usageWire(u: TokenUsage): { prompt_tokens: number; completion_tokens: number; total_tokens: number } {
  return {
    prompt_tokens: u.inputTokens,
    completion_tokens: u.outputTokens,
    total_tokens: u.inputTokens + u.outputTokens,
  };
}

/** OpenAI's finish reason for a result (tool calls win, as OpenAI reports them). */
export function finishOf(r: Pick<ChatResult, "toolCalls" | "finishReason">): string {
  if (r.toolCalls.length > 0) return "tool_calls";
  return r.finishReason === "length" ? "length" : r.finishReason === "content_filter" ? "content_filter" : "stop";
}

/** The non-streamed answer. */
export function completionBody(o: {
  id: string;
  created: number;
  model: string;
  result: Pick<ChatResult, "text" | "toolCalls" | "finishReason">;
  usage: TokenUsage;
}): Record<string, unknown> {
  const calls = o.result.toolCalls;
  return {
    id: o.id,
    object: "chat.completion",
    created: o.created,
    model: o.model,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: calls.length > 0 && o.result.text === "" ? null : o.result.text,
          refusal: null,
          ...(calls.length === 0
            ? {}
            : {
                tool_calls: calls.map((c) => ({
                  id: c.id,
                  type: "function",
                  function: { name: c.name, arguments: c.arguments },
                })),
              }),
        },
        logprobs: null,
        finish_reason: finishOf(o.result),
      },
    ],
    usage: usageWire(o.usage),
    system_fingerprint: null,
  };
}

/** One server-sent event carrying a `chat.completion.chunk`. */
export function chunkEvent(o: {
  id: string;
  created: number;
  model: string;
  delta?: Record<string, unknown>;
  finishReason?: string | null;
  usage?: TokenUsage | null;
  withUsageField: boolean;
}): string {
  const chunk = {
    id: o.id,
    object: "chat.completion.chunk",
    created: o.created,
    model: o.model,
    system_fingerprint: null,
    choices:
      o.delta === undefined
        ? []
        : [{ index: 0, delta: o.delta, logprobs: null, finish_reason: o.finishReason ?? null }],
    ...(o.withUsageField ? { usage: o.usage === undefined || o.usage === null ? null : usageWire(o.usage) } : {}),
  };
  return `data: ${JSON.stringify(chunk)}\n\n`;
}
