/** The fallback chain: per-model cooldowns, Retry-After, backoff with jitter, and clear errors. */
import Keyv from "keyv";
import { describe, expect, it } from "vitest";
import { isSwitchboardError } from "../../../bot/index.ts";
import { FallbackChain } from "../../../llm/fallback.ts";
import { ProviderFailure } from "../../../llm/providers/failure.ts";
import type { ModelConfig } from "../../../llm/types.ts";
import { llmModelSchema } from "../../../config/sections/llm.ts";

const m = (name: string, provider: "openai" | "ollama" = "openai"): ModelConfig =>
  llmModelSchema.parse({
    name,
    provider,
    model: name,
    ...(provider === "openai" ? { baseUrl: "http://127.0.0.1:9/v1" } : { host: "http://127.0.0.1:9" }),
  });

function setup(settings: Partial<{ baseBackoffMs: number; maxBackoffMs: number; maxWaitMs: number }> = {}) {
  const clock = {
    t: 1_000_000,
    now() {
      return this.t;
    },
  };
  const slept: number[] = [];
  const chain = new FallbackChain({
    kv: new Keyv(),
    clock,
    settings: { baseBackoffMs: 1_000, maxBackoffMs: 60_000, maxWaitMs: 0, ...settings },
    random: () => 1, // no jitter reduction: the backoff is exact
    sleep: async (ms) => {
      slept.push(ms);
      clock.t += ms;
    },
  });
  return { clock, chain, slept };
}

const signal = new AbortController().signal;

describe("FallbackChain", () => {
  it("moves to the next model on 429 and keeps only that model cooling for Retry-After", async () => {
    const { clock, chain } = setup();
    const a = m("a");
    const a2 = m("a2"); // same provider, another model: not affected
    const b = m("b");
    const calls: string[] = [];
    const call = async (model: ModelConfig) => {
      calls.push(model.name);
      if (model.name === "a" && calls.filter((c) => c === "a").length === 1)
        throw new ProviderFailure("rate_limit", "429", { status: 429, retryAfterMs: 20_000 });
      return model.name;
    };
    const first = await chain.run([a, b], call, signal);
    expect(first.value).toBe("b");
    expect(first.passedOver).toEqual([{ model: "a", reason: "rate limited (retry in 20 s)" }]);
    expect((await chain.run([a2, b], call, signal)).value).toBe("a2");
    clock.t += 19_000;
    const second = await chain.run([a, b], call, signal);
    expect(second.value).toBe("b");
    expect(second.passedOver[0]!.reason).toMatch(/cooling down after rate limited \(1 s left\)/);
    expect(calls.filter((c) => c === "a")).toHaveLength(1);
    clock.t += 1_001;
    expect((await chain.run([a, b], call, signal)).value).toBe("a");
    expect(await chain.cooldown("a")).toBeUndefined();
  });

  it("backs off exponentially without Retry-After, and resets after a success", async () => {
    const { clock, chain } = setup({ baseBackoffMs: 1_000 });
    const a = m("a");
    let failing = true;
    const call = async () => {
      if (failing) throw new ProviderFailure("server", "500", { status: 500 });
      return "ok";
    };
    const untils: number[] = [];
    for (let i = 0; i < 3; i++) {
      await chain.run([a], call, signal).catch(() => undefined);
      const c = (await chain.cooldown("a"))!;
      untils.push(c.untilMs - clock.t);
      clock.t = c.untilMs + 1;
    }
    expect(untils).toEqual([1_000, 2_000, 4_000]);
    failing = false;
    await chain.run([a], call, signal);
    failing = true;
    await chain.run([a], call, signal).catch(() => undefined);
    expect((await chain.cooldown("a"))!.untilMs - clock.t).toBe(1_000);
  });

  it("applies jitter between half and all of the backoff", async () => {
    const clock = { now: () => 0 };
    const chain = new FallbackChain({
      kv: new Keyv(),
      clock,
      settings: { baseBackoffMs: 1_000, maxBackoffMs: 60_000, maxWaitMs: 0 },
      random: () => 0,
    });
    await chain
      .run(
        [m("a")],
        async () => {
          throw new ProviderFailure("timeout", "slow");
        },
        signal,
      )
      .catch(() => undefined);
    expect((await chain.cooldown("a"))!.untilMs).toBe(500);
  });

  it("names every model and why when all fail", async () => {
    const { chain } = setup();
    const error = await chain
      .run(
        [m("a"), m("b"), m("c", "ollama")],
        async (model) => {
          if (model.name === "a") throw new ProviderFailure("rate_limit", "429", { status: 429, retryAfterMs: 5_000 });
          if (model.name === "b") throw new ProviderFailure("server", "503", { status: 503 });
          throw new ProviderFailure("network", "down");
        },
        signal,
      )
      .catch((e: unknown) => e);
    expect(isSwitchboardError(error) && error.code).toBe("E_LLM_UNAVAILABLE");
    expect((error as { chatMessage: string }).chatMessage).toBe(
      "No language model could answer right now. a: rate limited (retry in 5 s); b: server error 503; c: unreachable.",
    );
  });

  it("waits for the first model back when every model cools and the wait is short enough", async () => {
    const { chain, slept } = setup({ maxWaitMs: 10_000 });
    let n = 0;
    const result = await chain
      .run(
        [m("a")],
        async () => {
          if (n++ === 0) throw new ProviderFailure("rate_limit", "429", { retryAfterMs: 3_000 });
          return "after wait";
        },
        signal,
      )
      .catch((e: unknown) => e);
    // First pass fails and cools a; nothing was skipped, so nothing to wait for: a clear error.
    expect(isSwitchboardError(result)).toBe(true);
    const again = await chain.run([m("a")], async () => "after wait", signal);
    expect(again.value).toBe("after wait");
    expect(slept).toEqual([3_000]);
  });

  it("does not count an abort or a bug as the model's failure", async () => {
    const { chain } = setup();
    const error = await chain
      .run(
        [m("a"), m("b")],
        async () => {
          throw new Error("aborted by shutdown");
        },
        signal,
      )
      .catch((e: unknown) => e);
    expect((error as Error).message).toBe("aborted by shutdown");
    expect(await chain.cooldown("a")).toBeUndefined();
  });

  it("does not cool a model down for a request it rejected", async () => {
    const { chain } = setup();
    await chain.run(
      [m("a"), m("b")],
      async (model) => {
        if (model.name === "a") throw new ProviderFailure("bad_request", "400", { status: 400 });
        return "b";
      },
      signal,
    );
    expect(await chain.cooldown("a")).toBeUndefined();
  });
});
