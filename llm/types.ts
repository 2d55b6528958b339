/**
 * The LLM layer's own message model: provider-neutral chat messages, tool calls and results. Providers translate
 * to and from their wire formats (OpenAI JSON-string arguments, Ollama object arguments).
 */
import type { Config } from "../config/index.ts";

/** One model entry from config (after quick-start entries are resolved). */
export type ModelConfig = Config["llm"]["models"][number];

/** The settings section of the LLM layer. */
export type LlmConfig = Config["llm"];

/** A tool call the model asked for. `arguments` is the raw JSON text, however the provider sent it. */
export interface ToolCall {
  id: string;
  name: string;
  arguments: string;
}

/** One message in a conversation. */
export type ChatMessage =
  | { role: "system"; content: string }
  | { role: "user"; content: string; name?: string; images?: ChatImage[] }
  | { role: "assistant"; content: string; toolCalls?: ToolCall[] }
  | { role: "tool"; content: string; toolCallId: string; toolName: string };

/** An image sent with a user message to a vision-capable model (never stored with the turn). */
export interface ChatImage {
  mimeType: string;
  /** The bytes as base64. */
  base64: string;
}

/** A function tool as offered to the model. */
export interface ToolDefinition {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
}

/** Token counts a provider reported (or we counted when it did not). */
export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

/** A piece of a streamed tool call. */
export interface ToolCallFragment {
  index: number;
  id?: string;
  name?: string;
  arguments?: string;
}

/** One request to one model. */
export interface ChatRequest {
  messages: ChatMessage[];
  tools?: ToolDefinition[];
  temperature?: number;
  /** Aborts the request (shutdown, handler timeout). */
  signal: AbortSignal;
  /** Called with each text fragment as it streams; not called when the model does not stream. */
  onText?: (fragment: string) => void;
  /**
   * Called with each tool-call fragment as it streams, by the call's index: the first carries its id and name,
   * later ones pieces of its arguments (Ollama sends each call whole, in one fragment). Not called when the model
   * does not stream.
   */
  onToolCall?: (fragment: ToolCallFragment) => void;
  /** Nucleus sampling (the gateway passes the client's `top_p` through). */
  topP?: number;
  /** Most tokens of the answer; default the model's `maxOutputTokens`. */
  maxTokens?: number;
  /** Sequences that end the answer. */
  stop?: string[];
  /** JSON mode, or JSON following a schema. */
  responseFormat?: ResponseFormat;
  /** Whether and which tool the model must call (Ollama has no such control: it only drops tools for `none`). */
  toolChoice?: "none" | "auto" | "required" | { name: string };
}

/** The shape an answer must take: any JSON object, or JSON following a schema. */
export type ResponseFormat =
  | { type: "json_object" }
  | { type: "json_schema"; name: string; schema: Record<string, unknown>; strict?: boolean };

/** What one model answered. */
export interface ChatResult {
  text: string;
  toolCalls: ToolCall[];
  /** Undefined when the provider reported none. */
  usage: TokenUsage | undefined;
  finishReason: string;
}

/** A way to talk to one model (OpenAI-compatible or Ollama). */
export interface ChatProvider {
  readonly kind: "openai" | "ollama";
  chat(request: ChatRequest): Promise<ChatResult>;
}

/** Why a model call failed, as the fallback chain and the statistics see it. */
export type FailureKind = "rate_limit" | "server" | "timeout" | "network" | "auth" | "bad_request" | "bad_response";
