/**
 * Building one prompt: the system prompt, the conversation's past turns (newest kept, trimmed to the model's
 * context budget and the profile's turn limit), and the turn in progress. Only the conversation's own turns are
 * ever passed in; the store is queried by conversation id.
 */
import { SwitchboardError } from "../bot/index.ts";
import type { TurnRecord } from "./store.ts";
import type { Encoding, TokenCounter } from "./tokens.ts";
import type { ChatMessage, ModelConfig, ToolDefinition } from "./types.ts";

/** Inputs for `buildPrompt`. */
export interface PromptInput {
  model: Pick<ModelConfig, "contextWindow" | "maxOutputTokens">;
  encoding: Encoding;
  counter: TokenCounter;
  systemPrompt: string;
  /** Past turns, oldest first (already limited to the profile's history length). */
  history: readonly TurnRecord[];
  /** This turn so far: the user's message, then any tool rounds. */
  current: readonly ChatMessage[];
  tools: readonly ToolDefinition[];
}

/** The prompt and what went into it. */
export interface BuiltPrompt {
  messages: ChatMessage[];
  /** Past turns included. */
  historyTurns: number;
  /** Estimated prompt tokens. */
  promptTokens: number;
}

/**
 * Fit the prompt into `contextWindow - maxOutputTokens`. Whole turns are dropped oldest first, so a tool call
 * never loses its result. Throws `E_MESSAGE_TOO_LONG` when the turn alone does not fit.
 */
export function buildPrompt(input: PromptInput): BuiltPrompt {
  const { counter, encoding } = input;
  const system: ChatMessage = { role: "system", content: input.systemPrompt };
  const fixed =
    counter.countMessages([system], encoding) +
    counter.countTools(input.tools, encoding) +
    counter.countMessages(input.current, encoding);
  const budget = input.model.contextWindow - input.model.maxOutputTokens;
  if (fixed > budget) {
    throw new SwitchboardError("E_MESSAGE_TOO_LONG", `prompt needs ${fixed} tokens, budget ${budget}`, {
      chatMessage: `That message is too long for the model's context window (about ${fixed} tokens; ${budget} fit).`,
    });
  }
  let used = fixed;
  let keep = 0;
  for (let i = input.history.length - 1; i >= 0; i--) {
    const t = input.history[i]!;
    if (used + t.tokens > budget) break;
    used += t.tokens;
    keep++;
  }
  const past = input.history.slice(input.history.length - keep).flatMap((t) => t.messages);
  return { messages: [system, ...past, ...input.current], historyTurns: keep, promptTokens: used };
}
