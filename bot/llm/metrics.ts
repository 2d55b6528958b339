/** Prometheus metrics of the LLM layer, on the bot's registry: calls by model and outcome, latency, tokens. */
import { Counter, Histogram, type Registry } from "prom-client";

/** What the conversation engine reports per model call. */
export interface LlmMetrics {
  call(
    model: string,
    outcome: string,
    measured: { seconds: number; tokens: { inputTokens: number; outputTokens: number } | undefined },
  ): void;
}

/** Register the LLM metrics on `registry`. */
export function createLlmMetrics(registry: Registry): LlmMetrics {
  const calls = new Counter({
    name: "switchboard_llm_calls_total",
    help: "Model calls by model and outcome (ok or a failure kind)",
    labelNames: ["model", "outcome"],
    registers: [registry],
  });
  const latency = new Histogram({
    name: "switchboard_llm_call_seconds",
    help: "Model call time (a whole streamed answer), successful calls",
    labelNames: ["model"],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    registers: [registry],
  });
  const tokens = new Counter({
    name: "switchboard_llm_tokens_total",
    help: "Tokens by model and direction",
    labelNames: ["model", "direction"],
    registers: [registry],
  });
  return {
    call(model, outcome, { seconds, tokens: usage }) {
      calls.inc({ model, outcome });
      if (outcome !== "ok") return;
      latency.observe({ model }, seconds);
      if (usage !== undefined) {
        tokens.inc({ model, direction: "in" }, usage.inputTokens);
        tokens.inc({ model, direction: "out" }, usage.outputTokens);
      }
    },
  };
}
