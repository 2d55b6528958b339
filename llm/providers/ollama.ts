/**
 * Ollama's /api/chat through the `ollama` SDK. Streams NDJSON; tool-call arguments arrive as objects (we keep
 * them as JSON text like OpenAI's, and turn them back into objects when the history goes out again). The SDK
 * takes no abort signal, so each call gets its own client whose `fetch` joins our deadline and records
 * `Retry-After`. The SDK (with its fetch polyfill) loads with the first call, as undici does for the OpenAI-compatible
 * provider: a bot with no Ollama model never needs it.
 */
import type { ChatResponse, Message, Tool } from "ollama";
import type { Clock } from "../../bot/index.ts";
import type { ChatMessage, ChatProvider, ChatRequest, ChatResult, ModelConfig, ToolCall } from "../types.ts";
import { kindOfStatus, ProviderFailure, retryAfterFrom } from "./failure.ts";
import { startDeadline } from "./deadline.ts";

/** Talks to one model on an Ollama host. */
export class OllamaProvider implements ChatProvider {
  readonly kind = "ollama" as const;
  readonly #model: ModelConfig;
  readonly #clock: Clock;

  constructor(model: ModelConfig, clock: Clock) {
    this.#model = model;
    this.#clock = clock;
  }

  async chat(request: ChatRequest): Promise<ChatResult> {
    const { Ollama } = await import("ollama");
    const deadline = startDeadline(request.signal, this.#model.timeoutMs);
    let retryAfterMs: number | undefined;
    const client = new Ollama({
      host: this.#model.host ?? "http://127.0.0.1:11434",
      ...(this.#model.headers === undefined ? {} : { headers: this.#model.headers }),
      fetch: async (input, init) => {
        const signal = init?.signal ? AbortSignal.any([init.signal, deadline.signal]) : deadline.signal;
        const res = await fetch(input, { ...init, signal });
        if (!res.ok) retryAfterMs = retryAfterFrom((n) => res.headers.get(n), this.#clock.now());
        return res;
      },
    });
    const body = {
      model: this.#model.model,
      messages: request.messages.map(toWire),
      options: {
        num_predict: request.maxTokens ?? this.#model.maxOutputTokens,
        num_ctx: this.#model.contextWindow,
        ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
        ...(request.topP === undefined ? {} : { top_p: request.topP }),
        ...(request.stop === undefined || request.stop.length === 0 ? {} : { stop: request.stop }),
      },
      // Ollama's `format`: "json" for JSON mode, or the schema itself.
      ...(request.responseFormat === undefined
        ? {}
        : { format: request.responseFormat.type === "json_object" ? "json" : request.responseFormat.schema }),
      ...(request.tools === undefined || request.tools.length === 0 || request.toolChoice === "none"
        ? {}
        : {
            tools: request.tools.map(
              (t): Tool => ({
                type: "function",
                function: {
                  name: t.name,
                  description: t.description,
                  parameters: t.parameters as Tool["function"]["parameters"],
                },
              }),
            ),
          }),
    };
    try {
      if (!this.#model.stream) {
        const res = await client.chat({ ...body, stream: false });
        return finish(res, res.message?.content ?? "", toolCallsOf(res.message, 0));
      }
      const parts = await client.chat({ ...body, stream: true });
      let text = "";
      const toolCalls: ToolCall[] = [];
      let last: ChatResponse | undefined;
      for await (const part of parts) {
        const fragment = part.message?.content ?? "";
        if (fragment !== "") {
          text += fragment;
          request.onText?.(fragment);
        }
        const calls = toolCallsOf(part.message, toolCalls.length);
        for (const [i, c] of calls.entries())
          request.onToolCall?.({ index: toolCalls.length + i, id: c.id, name: c.name, arguments: c.arguments });
        toolCalls.push(...calls);
        last = part;
      }
      if (last === undefined) throw new ProviderFailure("bad_response", "empty stream");
      return finish(last, text, toolCalls);
    } catch (error) {
      throw this.#classify(error, { timedOut: deadline.timedOut, parent: request.signal, retryAfterMs });
    } finally {
      deadline.done();
    }
  }

  #classify(
    error: unknown,
    { timedOut, parent, retryAfterMs }: { timedOut: boolean; parent: AbortSignal; retryAfterMs: number | undefined },
  ): unknown {
    if (error instanceof ProviderFailure) return error;
    if (timedOut)
      return new ProviderFailure("timeout", `no complete answer within ${this.#model.timeoutMs} ms`, { cause: error });
    if (parent.aborted) return error;
    const status = (error as { status_code?: unknown }).status_code;
    if (typeof status === "number") {
      return new ProviderFailure(kindOfStatus(status), `HTTP ${status}`, {
        status,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
        cause: error,
      });
    }
    if (error instanceof TypeError) return new ProviderFailure("network", "connection failed", { cause: error });
    if (error instanceof SyntaxError) return new ProviderFailure("bad_response", "unparsable answer", { cause: error });
    // The SDK throws a plain Error for an `{error}` line inside a stream.
    return new ProviderFailure("server", error instanceof Error ? error.message.slice(0, 200) : "unknown failure", {
      cause: error,
    });
  }
}

function finish(res: ChatResponse, text: string, toolCalls: ToolCall[]): ChatResult {
  const usage =
    typeof res.prompt_eval_count === "number" || typeof res.eval_count === "number"
      ? { inputTokens: res.prompt_eval_count ?? 0, outputTokens: res.eval_count ?? 0 }
      : undefined;
  return { text, toolCalls, usage, finishReason: toolCalls.length > 0 ? "tool_calls" : res.done_reason || "stop" };
}

function toolCallsOf(message: Message | undefined, offset: number): ToolCall[] {
  return (message?.tool_calls ?? []).map((c, i) => {
    const args: unknown = c.function.arguments;
    return {
      id: `call_${offset + i}`,
      name: c.function.name,
      // Objects are the norm; a string here is passed through so a malformed one is reported to the model.
      arguments: typeof args === "string" ? args : JSON.stringify(args ?? {}),
    };
  });
}

function toWire(m: ChatMessage): Message {
  switch (m.role) {
    case "system":
      return { role: m.role, content: m.content };
    case "user":
      // Vision: Ollama takes a message's images as base64 strings.
      return m.images === undefined || m.images.length === 0
        ? { role: m.role, content: m.content }
        : { role: m.role, content: m.content, images: m.images.map((i) => i.base64) };
    case "assistant":
      return m.toolCalls === undefined || m.toolCalls.length === 0
        ? { role: "assistant", content: m.content }
        : {
            role: "assistant",
            content: m.content,
            tool_calls: m.toolCalls.map((c) => ({ function: { name: c.name, arguments: parseObject(c.arguments) } })),
          };
    case "tool":
      return { role: "tool", content: m.content, tool_name: m.toolName };
  }
}

function parseObject(text: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
