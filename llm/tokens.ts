/**
 * Token counting. Models of the OpenAI families are counted with their real tokenizer (js-tiktoken:
 * `o200k_base` for gpt-4o, gpt-4.1, gpt-5 and the o-series; `cl100k_base` for gpt-4 and gpt-3.5). Other
 * families (Llama, Qwen, Mistral, Gemma…) have no tokenizer here and use the documented estimate:
 *
 *   tokens ≈ ceil(ASCII characters / 3.5) + non-ASCII code points, plus 4 per message.
 *
 * English prose runs about 4 characters per token on these tokenizers, so 3.5 over-counts a little on purpose
 * (trimming then leaves head room rather than overflowing); CJK and emoji are about one token per code point.
 * Building a tokenizer's table takes most of a second of CPU, so tables load once, at plugin start, for the
 * configured models only; until one is loaded its models use the estimate.
 *
 * js-tiktoken is an optional peer dependency: its rank tables are about 21 MB on disk, a seventh of a production
 * install, for counts that only sharpen history trimming. Without it every model uses the estimate (which errs
 * high on purpose), and `warm` says so once; `npm install js-tiktoken` next to switchboard brings exact counts.
 */
import type { Tiktoken } from "js-tiktoken/lite";
import type { ChatMessage, ModelConfig, ToolDefinition } from "./types.ts";

/** A tokenizer choice. */
export type Encoding = "o200k_base" | "cl100k_base" | "estimate";

/** Tokens added per message for role and framing (OpenAI's published rule of thumb). */
export const PER_MESSAGE_TOKENS = 4;

/** The tokenizer for a model: its configured choice, or by model family. */
export function encodingFor(model: Pick<ModelConfig, "model" | "tokenizer">): Encoding {
  if (model.tokenizer !== "auto") return model.tokenizer;
  const id = model.model.toLowerCase().replace(/^.*\//, ""); // openrouter's `openai/gpt-4o`
  if (/^(gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|chatgpt-4o|o1|o3|o4)/.test(id)) return "o200k_base";
  if (/^(gpt-4|gpt-3\.5|gpt-35)/.test(id)) return "cl100k_base";
  return "estimate";
}

/** The documented estimate for text with no tokenizer. */
export function estimateTokens(text: string): number {
  let ascii = 0;
  let other = 0;
  for (const ch of text) {
    if (ch.charCodeAt(0) < 128) ascii++;
    else other++;
  }
  return Math.ceil(ascii / 3.5) + other;
}

/** Counts tokens per model, loading real tokenizers on demand. */
export class TokenCounter {
  readonly #encoders = new Map<Encoding, Tiktoken>();
  readonly #loading = new Map<Encoding, Promise<void>>();
  /** Why exact counting is off (js-tiktoken is not installed), once a load has failed. */
  unavailable: string | undefined;

  /**
   * Load the tokenizers these models need (slow: call at start, not per message). Resolves with a note when they
   * could not be loaded, so the caller can say the estimate is used.
   */
  async warm(models: readonly Pick<ModelConfig, "model" | "tokenizer">[]): Promise<string | undefined> {
    await Promise.all([...new Set(models.map(encodingFor))].map((e) => this.load(e)));
    return this.unavailable;
  }

  /** Load one tokenizer. */
  load(encoding: Encoding): Promise<void> {
    if (encoding === "estimate" || this.#encoders.has(encoding)) return Promise.resolve();
    let p = this.#loading.get(encoding);
    if (p === undefined) {
      p = (async () => {
        const { Tiktoken } = await import("js-tiktoken/lite");
        const ranks =
          encoding === "o200k_base"
            ? (await import("js-tiktoken/ranks/o200k_base")).default
            : (await import("js-tiktoken/ranks/cl100k_base")).default;
        this.#encoders.set(encoding, new Tiktoken(ranks));
      })().catch((error: unknown) => {
        this.unavailable = `exact token counts need js-tiktoken (npm install js-tiktoken); using the estimate (${(error as Error).message})`;
      });
      this.#loading.set(encoding, p);
    }
    return p;
  }

  /** True when counting for `encoding` uses its real tokenizer now. */
  isExact(encoding: Encoding): boolean {
    return encoding !== "estimate" && this.#encoders.has(encoding);
  }

  /** Tokens in `text` for this tokenizer (the estimate until the tokenizer is loaded). */
  count(text: string, encoding: Encoding): number {
    const enc = encoding === "estimate" ? undefined : this.#encoders.get(encoding);
    return enc === undefined ? estimateTokens(text) : enc.encode(text, [], []).length;
  }

  /** Tokens a list of messages takes in a prompt. */
  countMessages(messages: readonly ChatMessage[], encoding: Encoding): number {
    let total = 0;
    for (const m of messages) {
      total += PER_MESSAGE_TOKENS + this.count(m.content, encoding);
      if (m.role === "assistant" && m.toolCalls !== undefined) {
        for (const c of m.toolCalls) total += this.count(c.name, encoding) + this.count(c.arguments, encoding) + 3;
      }
    }
    return total;
  }

  /** Tokens the tool definitions take (their JSON, which is about how providers render them). */
  countTools(tools: readonly ToolDefinition[], encoding: Encoding): number {
    return tools.length === 0 ? 0 : this.count(JSON.stringify(tools), encoding);
  }
}
