/**
 * The model registry: the configured models (quick-start `llm.openai` / `llm.ollama` become entries when no
 * `models` list is given), one provider per model, and fallback chains.
 */
import { llmModelSchema } from "../config/sections/llm.ts";
import { type Clock, SwitchboardError } from "../bot/index.ts";
import { OllamaProvider } from "./providers/ollama.ts";
import { OpenAiProvider } from "./providers/openai.ts";
import type { ChatProvider, LlmConfig, ModelConfig } from "./types.ts";

/** What to tell someone who turns the AI on with no model configured. */
export const HOW_TO_CONFIGURE = [
  "No language model is configured. Set one of:",
  "- `OPENAI_BASE_URL` and `OPENAI_API_KEY` (and `OPENAI_MODEL`, default gpt-4o-mini) for any OpenAI-compatible endpoint",
  "- `OLLAMA_HOST` (and `OLLAMA_MODEL`, default llama3.2) for a local Ollama",
  "- or an `llm.models` list in switchboard.config.yaml (see llm/README.md), then restart.",
].join("\n");

/** The models from config, quick-start entries included. */
export function resolveModels(config: LlmConfig): ModelConfig[] {
  if (config.models.length > 0) return config.models;
  const out: ModelConfig[] = [];
  const o = config.openai;
  if (o !== undefined && (o.baseUrl !== undefined || (o.apiKey !== undefined && o.apiKey !== ""))) {
    out.push(
      llmModelSchema.parse({
        name: safeName(o.model),
        provider: "openai",
        model: o.model,
        ...(o.baseUrl === undefined ? {} : { baseUrl: o.baseUrl }),
        ...(o.apiKey === undefined ? {} : { apiKey: o.apiKey }),
      }),
    );
  }
  const l = config.ollama;
  if (l?.host !== undefined) {
    const name = safeName(l.model);
    out.push(
      llmModelSchema.parse({
        name: out.some((m) => m.name === name) ? `ollama-${name}`.slice(0, 64) : name,
        provider: "ollama",
        model: l.model,
        host: /^[a-z]+:\/\//i.test(l.host) ? l.host : `http://${l.host}`,
        priority: -1,
      }),
    );
  }
  return out;
}

function safeName(model: string): string {
  const cleaned = model.replace(/[^A-Za-z0-9._:-]/g, "-").replace(/^[^A-Za-z0-9]+/, "");
  return (cleaned === "" ? "model" : cleaned).slice(0, 64);
}

/** Models by name, with their providers. */
export class ModelRegistry {
  readonly #models = new Map<string, ModelConfig>();
  readonly #providers = new Map<string, ChatProvider>();

  constructor(models: readonly ModelConfig[], clock: Clock) {
    for (const m of models) {
      if (this.#models.has(m.name))
        throw new SwitchboardError("E_CONFIG_INVALID", `llm.models: duplicate model name ${m.name}`);
      this.#models.set(m.name, m);
      this.#providers.set(
        m.name,
        m.provider === "openai" ? new OpenAiProvider(m, clock) : new OllamaProvider(m, clock),
      );
    }
  }

  /** True when at least one model is configured. */
  get isConfigured(): boolean {
    return this.#models.size > 0;
  }

  get(name: string): ModelConfig | undefined {
    return this.#models.get(name);
  }

  provider(name: string): ChatProvider {
    const p = this.#providers.get(name);
    if (p === undefined) throw new SwitchboardError("E_NOT_FOUND", `unknown model ${name}`);
    return p;
  }

  /** Every model, highest priority first (config order breaks ties). */
  list(): ModelConfig[] {
    return [...this.#models.values()]
      .map((m, i) => ({ m, i }))
      .sort((a, b) => b.m.priority - a.m.priority || a.i - b.i)
      .map(({ m }) => m);
  }

  /** The chain to try: the named models that exist, or every chat model by priority when none are named. */
  chain(names: readonly string[]): ModelConfig[] {
    if (names.length === 0) return this.list().filter((m) => m.capabilities.includes("chat"));
    return names.flatMap((n) => {
      const m = this.#models.get(n);
      return m === undefined ? [] : [m];
    });
  }

  /** Names that are not configured models (for validating `/ai model`). */
  unknown(names: readonly string[]): string[] {
    return names.filter((n) => !this.#models.has(n));
  }
}
