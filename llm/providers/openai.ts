/**
 * OpenAI-compatible chat completions (OpenAI, Azure, vLLM, llama.cpp server, LM Studio, OpenRouter), spoken over
 * undici: `request` on a keep-alive connection pool per model, the body serialised once, server-sent events
 * read with eventsource-parser. No retries here: the fallback chain decides what happens next. undici loads with
 * the first request: a bot with no model configured never needs it, and its import cost about 0.15 s of CPU at
 * every start (docs/architecture.md, start by phase).
 */
import { createParser, type EventSourceMessage } from "eventsource-parser";
import type { Dispatcher, Pool } from "undici";
import type { Clock } from "../../bot/index.ts";
import type { ChatMessage, ChatProvider, ChatRequest, ChatResult, ModelConfig, ToolCall } from "../types.ts";
import { kindOfStatus, ProviderFailure, retryAfterFrom } from "./failure.ts";
import { startDeadline } from "./deadline.ts";
import { toExportMessage } from "../export.ts";

/** undici, once the first request has loaded it. */
let undici: typeof import("undici") | undefined;

/** Idle connections to an endpoint are kept this long (or as long as its `Keep-Alive` answer says, if shorter). */
const KEEP_ALIVE_MS = 30_000;

/** One streamed chunk, as far as it is read here. */
interface WireChunk {
  choices?: Array<{
    delta?: {
      content?: string | null;
      tool_calls?: Array<{ index: number; id?: string; function?: { name?: string; arguments?: string } }>;
    };
    finish_reason?: string | null;
  }>;
  usage?: { prompt_tokens: number; completion_tokens: number } | null;
  error?: { message?: string };
}

/** A whole (not streamed) answer, as far as it is read here. */
interface WireAnswer {
  choices?: Array<{
    message: {
      content?: string | null;
      tool_calls?: Array<{ type: string; id: string; function: { name: string; arguments?: string } }>;
    };
    finish_reason?: string | null;
  }>;
  usage?: { prompt_tokens: number; completion_tokens: number } | null;
}

/** Talks to one model on an OpenAI-compatible endpoint. */
export class OpenAiProvider implements ChatProvider {
  readonly kind = "openai" as const;
  readonly #model: ModelConfig;
  readonly #clock: Clock;
  readonly #origin: string;
  readonly #path: string;
  /** Built once: every call sends the same headers. */
  readonly #headers: Record<string, string>;
  /**
   * Keep-alive connections to the endpoint, opened on the first call. One request per connection at a time (no
   * pipelining), so a long streamed answer never holds up another call; idle connections do not hold the
   * process open.
   */
  #pool: Pool | undefined;

  constructor(model: ModelConfig, clock: Clock) {
    this.#model = model;
    this.#clock = clock;
    const url = new URL(`${(model.baseUrl ?? "https://api.openai.com/v1").replace(/\/+$/, "")}/chat/completions`);
    this.#origin = url.origin;
    this.#path = `${url.pathname}${url.search}`;
    // The model's own headers last, as the SDK's `defaultHeaders` did: they may replace ours (names in lower case,
    // so one header is never sent twice under two spellings).
    this.#headers = {
      authorization: `Bearer ${model.apiKey !== undefined && model.apiKey !== "" ? model.apiKey : "unused"}`,
      "content-type": "application/json",
      accept: "application/json",
      "user-agent": "switchboard",
      ...Object.fromEntries(Object.entries(model.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
    };
  }

  async chat(request: ChatRequest): Promise<ChatResult> {
    const deadline = startDeadline(request.signal, this.#model.timeoutMs);
    const stream = this.#model.stream;
    const body = {
      model: this.#model.model,
      messages: request.messages.map(toWire),
      max_tokens: request.maxTokens ?? this.#model.maxOutputTokens,
      ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
      ...(request.tools === undefined || request.tools.length === 0 ? {} : { tools: request.tools.map(toolToWire) }),
      ...outputControls(request),
      ...(stream ? { stream: true, stream_options: { include_usage: true } } : { stream: false }),
    };
    try {
      const res = await this.#post(body, deadline.signal);
      if (!stream) return readAnswer((await res.body.json()) as WireAnswer);
      const result = await collect(res.body, request);
      if (result.finishReason === "")
        throw new ProviderFailure("bad_response", "the stream ended before the answer did");
      return result;
    } catch (error) {
      throw this.#classify(error, deadline.timedOut, request.signal);
    } finally {
      deadline.done();
    }
  }

  /** POST the body; an HTTP error status is a classified failure (its body read and dropped). */
  async #post(body: unknown, signal: AbortSignal): Promise<Dispatcher.ResponseData> {
    undici ??= await import("undici");
    this.#pool ??= new undici.Pool(this.#origin, { keepAliveTimeout: KEEP_ALIVE_MS });
    const res = await this.#pool.request({
      method: "POST",
      path: this.#path,
      headers: this.#headers,
      body: JSON.stringify(body),
      signal,
    });
    if (res.statusCode < 400) return res;
    await res.body.dump().catch(() => undefined);
    const headers = res.headers;
    const header = (name: string): string | undefined => {
      const v = headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const retryAfterMs = retryAfterFrom(header, this.#clock.now());
    throw new ProviderFailure(kindOfStatus(res.statusCode), `HTTP ${res.statusCode}`, {
      status: res.statusCode,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }

  #classify(error: unknown, timedOut: boolean, parent: AbortSignal): unknown {
    if (error instanceof ProviderFailure) return error;
    if (timedOut)
      return new ProviderFailure("timeout", `no complete answer within ${this.#model.timeoutMs} ms`, { cause: error });
    if (parent.aborted) return error; // the caller gave up: not the model's fault
    if (error instanceof SyntaxError) return new ProviderFailure("bad_response", "unparsable answer", { cause: error });
    // An error from undici means it is loaded: before the first request nothing it throws can arrive here.
    const e = undici?.errors;
    if (
      e !== undefined &&
      (error instanceof e.ConnectTimeoutError ||
        error instanceof e.HeadersTimeoutError ||
        error instanceof e.BodyTimeoutError)
    )
      return new ProviderFailure("timeout", "request timed out", { cause: error });
    if (e !== undefined && error instanceof e.RequestAbortedError)
      return new ProviderFailure("timeout", "request aborted", { cause: error });
    const code = (error as { code?: unknown } | null)?.code;
    if ((e !== undefined && error instanceof e.UndiciError) || (typeof code === "string" && /^E[A-Z]/.test(code)))
      return new ProviderFailure("network", "connection failed", { cause: error });
    return unknownFailure(error);
  }
}

function unknownFailure(error: unknown): ProviderFailure {
  return new ProviderFailure("bad_response", error instanceof Error ? error.message.slice(0, 200) : "unknown failure", {
    cause: error,
  });
}

function readAnswer(res: WireAnswer): ChatResult {
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

/** Accumulate a streamed answer: text deltas, tool-call fragments by index, and the usage chunk. */
async function collect(
  body: Dispatcher.ResponseData["body"],
  { onText, onToolCall }: Pick<ChatRequest, "onText" | "onToolCall">,
): Promise<ChatResult> {
  let text = "";
  let finishReason = "";
  let usage: ChatResult["usage"];
  let done = false;
  const calls = new Map<number, { id: string; name: string; arguments: string }>();
  const onChunk = (chunk: WireChunk): void => {
    // An error event mid-stream, as OpenAI sends it.
    if (chunk.error !== undefined && chunk.error !== null)
      throw new ProviderFailure("server", String(chunk.error.message ?? "error in the stream").slice(0, 200));
    if (chunk.usage !== undefined && chunk.usage !== null)
      usage = { inputTokens: chunk.usage.prompt_tokens, outputTokens: chunk.usage.completion_tokens };
    const choice = chunk.choices?.[0];
    if (choice === undefined) return;
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
  };
  const parser = createParser({
    onEvent: (event: EventSourceMessage) => {
      if (done) return;
      if (event.data === "[DONE]") {
        done = true;
        return;
      }
      // Events of other kinds (OpenAI's assistants' `thread.*`) carry no chat chunk.
      if (event.event !== undefined && event.event.startsWith("thread.")) return;
      onChunk(JSON.parse(event.data) as WireChunk);
    },
  });
  body.setEncoding("utf8");
  for await (const piece of body as AsyncIterable<string>) {
    parser.feed(piece);
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
function toWire(m: ChatMessage): unknown {
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
  return toExportMessage(m);
}

function toolToWire(t: { name: string; description: string; parameters: Record<string, unknown> }): unknown {
  return { type: "function", function: { name: t.name, description: t.description, parameters: t.parameters } };
}
