/**
 * OpenAI-compatible chat completions through the `openai` SDK (OpenAI, Azure, vLLM, llama.cpp server, LM Studio,
 * OpenRouter). One client per model, made on the first call and reused; its `fetch` is undici's on a keep-alive
 * connection `Pool` of the model's own. The SDK's own retries are off (`maxRetries: 0`): the fallback chain decides
 * what happens next.
 */
import type OpenAIClient from "openai";
import type { ClientOptions } from "openai";
import type {
  ChatCompletionChunk,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from "openai/resources/chat/completions";
import { fetch as undiciFetch, Pool } from "undici";
import type { Clock } from "../../bot/index.ts";
import type { ChatMessage, ChatProvider, ChatRequest, ChatResult, ModelConfig, ToolCall } from "../types.ts";
import { kindOfStatus, ProviderFailure, retryAfterFrom } from "./failure.ts";
import { startDeadline } from "./deadline.ts";
import { toExportMessage } from "../export.ts";

// The SDK (about 150 modules, ~19 MB resident) loads with the first request, not with the bot.
type OpenAiSdk = typeof import("openai").default;
let sdk: OpenAiSdk | undefined;
async function loadSdk(): Promise<OpenAiSdk> {
  sdk ??= (await import("openai")).default;
  return sdk;
}

/** Idle connections to an endpoint are kept this long (or as long as its `Keep-Alive` answer says, if shorter). */
const KEEP_ALIVE_MS = 30_000;

/**
 * The SDK's `fetch`: undici's own on `pool`, one request per connection at a time (no pipelining, so a long
 * streamed answer never holds up another call); idle connections do not hold the process open.
 */
function pooledFetch(pool: Pool): NonNullable<ClientOptions["fetch"]> {
  const fetchOn = (input: Parameters<typeof undiciFetch>[0], init?: Parameters<typeof undiciFetch>[1]) =>
    undiciFetch(input, { ...init, dispatcher: pool });
  // undici's Request/Response types are its own spelling of the web types the SDK names.
  return fetchOn as unknown as NonNullable<ClientOptions["fetch"]>;
}

/** Talks to one model on an OpenAI-compatible endpoint. */
export class OpenAiProvider implements ChatProvider {
  readonly kind = "openai" as const;
  readonly #model: ModelConfig;
  readonly #clock: Clock;
  #client: Promise<OpenAIClient> | undefined;
  #pool: Pool | undefined;

  constructor(model: ModelConfig, clock: Clock) {
    this.#model = model;
    this.#clock = clock;
  }

  #clientOf(): Promise<OpenAIClient> {
    const model = this.#model;
    this.#client ??= loadSdk().then((OpenAI) => {
      const baseURL = model.baseUrl ?? "https://api.openai.com/v1";
      this.#pool = new Pool(new URL(baseURL).origin, { keepAliveTimeout: KEEP_ALIVE_MS });
      return new OpenAI({
        baseURL,
        apiKey: model.apiKey !== undefined && model.apiKey !== "" ? model.apiKey : "unused",
        maxRetries: 0,
        timeout: model.timeoutMs,
        fetch: pooledFetch(this.#pool),
        // The model's own headers last: they may replace the SDK's and ours (names in lower case, so one header is
        // never sent twice under two spellings).
        defaultHeaders: {
          "user-agent": "switchboard",
          ...Object.fromEntries(Object.entries(model.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
        },
      });
    });
    return this.#client;
  }

  async chat(request: ChatRequest): Promise<ChatResult> {
    const deadline = startDeadline(request.signal, this.#model.timeoutMs);
    const body = {
      model: this.#model.model,
      messages: request.messages.map(toWire),
      max_tokens: request.maxTokens ?? this.#model.maxOutputTokens,
      ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
      ...(request.tools === undefined || request.tools.length === 0 ? {} : { tools: request.tools.map(toolToWire) }),
      ...outputControls(request),
    };
    try {
      if (!this.#model.stream) {
        const res = await (await this.#clientOf()).chat.completions.create(
          { ...body, stream: false },
          { signal: deadline.signal },
        );
        const choice = res.choices?.[0];
        if (choice === undefined) throw new ProviderFailure("bad_response", "answer had no choices");
        return {
          text: choice.message.content ?? "",
          toolCalls: (choice.message.tool_calls ?? []).flatMap((c) =>
            c.type === "function" ? [{ id: c.id, name: c.function.name, arguments: c.function.arguments ?? "" }] : [],
          ),
          usage:
            res.usage === undefined || res.usage === null
              ? undefined
              : { inputTokens: res.usage.prompt_tokens, outputTokens: res.usage.completion_tokens },
          finishReason: choice.finish_reason ?? "stop",
        };
      }
      const stream = await (await this.#clientOf()).chat.completions.create(
        { ...body, stream: true, stream_options: { include_usage: true } },
        { signal: deadline.signal },
      );
      const result = await collect(stream, request);
      // The SDK ends a stream quietly when it is aborted: tell a deadline or a caller's abort from a real end.
      if (deadline.timedOut)
        throw new ProviderFailure("timeout", `no complete answer within ${this.#model.timeoutMs} ms`);
      if (request.signal.aborted) throw request.signal.reason;
      if (result.finishReason === "")
        throw new ProviderFailure("bad_response", "the stream ended before the answer did");
      return result;
    } catch (error) {
      throw this.#classify(error, deadline.timedOut, request.signal);
    } finally {
      deadline.done();
    }
  }

  #classify(error: unknown, timedOut: boolean, parent: AbortSignal): unknown {
    if (error instanceof ProviderFailure) return error;
    if (timedOut)
      return new ProviderFailure("timeout", `no complete answer within ${this.#model.timeoutMs} ms`, { cause: error });
    if (parent.aborted) return error; // the caller gave up: not the model's fault
    const OpenAI = sdk;
    if (OpenAI === undefined) return this.#classifyOther(error);
    if (error instanceof OpenAI.APIConnectionTimeoutError)
      return new ProviderFailure("timeout", "request timed out", { cause: error });
    if (error instanceof OpenAI.APIUserAbortError)
      return new ProviderFailure("timeout", "request aborted", { cause: error });
    if (error instanceof OpenAI.APIConnectionError)
      return new ProviderFailure("network", "connection failed", { cause: error });
    if (error instanceof OpenAI.APIError && typeof error.status === "number") {
      const headers = error.headers;
      const retryAfterMs = headers === undefined ? undefined : retryAfterFrom((n) => headers.get(n), this.#clock.now());
      return new ProviderFailure(kindOfStatus(error.status), `HTTP ${error.status}`, {
        status: error.status,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
        cause: error,
      });
    }
    if (error instanceof OpenAI.APIError)
      return new ProviderFailure("server", error.message.slice(0, 200), { cause: error });
    return this.#classifyOther(error);
  }

  #classifyOther(error: unknown): unknown {
    if (error instanceof SyntaxError) return new ProviderFailure("bad_response", "unparsable answer", { cause: error });
    if (error instanceof TypeError) return new ProviderFailure("network", "connection failed", { cause: error });
    return new ProviderFailure(
      "bad_response",
      error instanceof Error ? error.message.slice(0, 200) : "unknown failure",
      { cause: error },
    );
  }
}

/** Accumulate a streamed answer: text deltas, tool-call fragments by index, and the usage chunk. */
async function collect(
  stream: AsyncIterable<ChatCompletionChunk>,
  { onText, onToolCall }: Pick<ChatRequest, "onText" | "onToolCall">,
): Promise<ChatResult> {
  let text = "";
  let finishReason = "";
  let usage: ChatResult["usage"];
  const calls = new Map<number, { id: string; name: string; arguments: string }>();
  for await (const chunk of stream) {
    if (chunk.usage !== undefined && chunk.usage !== null) {
      usage = { inputTokens: chunk.usage.prompt_tokens, outputTokens: chunk.usage.completion_tokens };
    }
    const choice = chunk.choices?.[0];
    if (choice === undefined) continue;
    const delta = choice.delta;
    if (typeof delta?.content === "string" && delta.content !== "") {
      text += delta.content;
      onText?.(delta.content);
    }
    for (const frag of delta?.tool_calls ?? []) {
      const slot = calls.get(frag.index) ?? { id: "", name: "", arguments: "" };
      if (frag.id) slot.id = frag.id;
      if (frag.function?.name) slot.name += frag.function.name;
      if (frag.function?.arguments) slot.arguments += frag.function.arguments;
      calls.set(frag.index, slot);
      onToolCall?.({
        index: frag.index,
        ...(frag.id ? { id: frag.id } : {}),
        ...(frag.function?.name ? { name: frag.function.name } : {}),
        ...(frag.function?.arguments ? { arguments: frag.function.arguments } : {}),
      });
    }
    if (choice.finish_reason) finishReason = choice.finish_reason;
  }
  const toolCalls: ToolCall[] = [...calls.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([i, c]) => ({ id: c.id || `call_${i}`, name: c.name, arguments: c.arguments }));
  return { text, toolCalls, usage, finishReason };
}

/** `top_p`, `stop`, `response_format` and `tool_choice` in their wire form, for those the request sets. */
function outputControls(r: ChatRequest): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (r.topP !== undefined) out.top_p = r.topP;
  if (r.stop !== undefined && r.stop.length > 0) out.stop = r.stop;
  if (r.responseFormat?.type === "json_object") out.response_format = { type: "json_object" };
  if (r.responseFormat?.type === "json_schema") {
    const { name, schema, strict } = r.responseFormat;
    out.response_format = {
      type: "json_schema",
      json_schema: { name, schema, ...(strict === undefined ? {} : { strict }) },
    };
  }
  if (r.toolChoice !== undefined && r.tools !== undefined && r.tools.length > 0) {
    out.tool_choice =
      typeof r.toolChoice === "string" ? r.toolChoice : { type: "function", function: { name: r.toolChoice.name } };
  }
  return out;
}

/** The OpenAI wire form of a message is the chat-format export form (`../export.ts`), one definition for both. */
function toWire(m: ChatMessage): ChatCompletionMessageParam {
  if (m.role === "user" && m.images !== undefined && m.images.length > 0) {
    // Vision: the text and each image as content parts, images as data URLs.
    return {
      role: "user",
      content: [
        { type: "text", text: m.content },
        ...m.images.map((i) => ({
          type: "image_url" as const,
          image_url: { url: `data:${i.mimeType};base64,${i.base64}` },
        })),
      ],
    };
  }
  return toExportMessage(m) as ChatCompletionMessageParam;
}

function toolToWire(t: { name: string; description: string; parameters: Record<string, unknown> }): ChatCompletionTool {
  return { type: "function", function: { name: t.name, description: t.description, parameters: t.parameters } };
}
