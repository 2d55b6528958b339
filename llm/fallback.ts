/**
 * The fallback chain. Each model is tried in order; a model that fails with a 429, a 5xx, a timeout or a
 * network error goes into cooldown on its own (never its whole provider) for the server's `Retry-After`, or an
 * exponential backoff with jitter, and the next model is tried. Cooldowns live in the shared ephemeral store so
 * every bot process respects them.
 */
import type Keyv from "keyv";
import { type Clock, SwitchboardError } from "../bot/index.ts";
import { describeFailure, ProviderFailure } from "./providers/failure.ts";
import type { FailureKind, LlmConfig, ModelConfig } from "./types.ts";

/** One model's cooldown state. */
export interface CooldownState {
  untilMs: number;
  /** Consecutive failures; drives the backoff when the server gives no Retry-After. */
  failures: number;
  kind: FailureKind;
}

/** One attempt, for statistics. */
export interface AttemptRecord {
  model: string;
  ok: boolean;
  kind?: FailureKind;
  latencyMs: number;
}

/** What the chain produced: the result, the model that gave it, and what failed first. */
export interface ChainResult<T> {
  value: T;
  model: ModelConfig;
  /** Models tried before, with why they failed or were skipped. */
  passedOver: Array<{ model: string; reason: string }>;
}

/** Options for `FallbackChain`. */
export interface FallbackOptions {
  kv: Keyv;
  clock: Clock;
  settings: LlmConfig["fallback"];
  /** Called after every attempt (statistics). */
  onAttempt?: (record: AttemptRecord) => void;
  /** Random source for jitter, in [0, 1). */
  random?: () => number;
  /** Waits `ms` (tests inject one that advances their clock). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

const COOLDOWN_KINDS: ReadonlySet<FailureKind> = new Set([
  "rate_limit",
  "server",
  "timeout",
  "network",
  "auth",
  "bad_response",
]);

/** Runs a call along a chain of models with per-model cooldowns. */
export class FallbackChain {
  readonly #o: FallbackOptions;
  readonly #random: () => number;

  constructor(options: FallbackOptions) {
    this.#o = options;
    this.#random = options.random ?? Math.random;
  }

  /** The model's cooldown, or undefined when it may be called now. */
  async cooldown(model: string): Promise<CooldownState | undefined> {
    return this.#active(await this.#o.kv.get<CooldownState>(key(model)));
  }

  #active(state: CooldownState | undefined): CooldownState | undefined {
    return state !== undefined && state.untilMs > this.#o.clock.now() ? state : undefined;
  }

  /** Try `call` on each model of `chain` in turn. Throws `E_LLM_UNAVAILABLE` naming each model and why. */
  async run<T>(
    chain: readonly ModelConfig[],
    call: (model: ModelConfig) => Promise<T>,
    signal: AbortSignal,
  ): Promise<ChainResult<T>> {
    if (chain.length === 0) throw new SwitchboardError("E_LLM_NOT_CONFIGURED", "empty model chain");
    const passedOver: ChainResult<T>["passedOver"] = [];
    let soonest: { model: ModelConfig; untilMs: number } | undefined;
    for (const model of chain) {
      const state = await this.#o.kv.get<CooldownState>(key(model.name));
      const cool = this.#active(state);
      if (cool !== undefined) {
        passedOver.push({
          model: model.name,
          reason: `cooling down after ${kindText(cool.kind)} (${secondsLeft(cool.untilMs, this.#o.clock.now())} s left)`,
        });
        if (soonest === undefined || cool.untilMs < soonest.untilMs) soonest = { model, untilMs: cool.untilMs };
        continue;
      }
      const outcome = await this.#attempt(model, call, { hadFailed: state !== undefined });
      if (outcome.ok) return { value: outcome.value, model, passedOver };
      passedOver.push({ model: model.name, reason: describeFailure(outcome.failure) });
    }
    const waitMs = soonest === undefined ? Infinity : soonest.untilMs - this.#o.clock.now();
    if (soonest !== undefined && waitMs <= this.#o.settings.maxWaitMs) {
      await (this.#o.sleep ?? sleep)(Math.max(0, waitMs), signal);
      const outcome = await this.#attempt(soonest.model, call, { hadFailed: true });
      if (outcome.ok) return { value: outcome.value, model: soonest.model, passedOver };
      passedOver.push({ model: soonest.model.name, reason: describeFailure(outcome.failure) });
    }
    const list = passedOver.map((p) => `${p.model}: ${p.reason}`).join("; ");
    throw new SwitchboardError("E_LLM_UNAVAILABLE", `every model failed: ${list}`, {
      chatMessage: `No language model could answer right now. ${list}.`,
      details: { passedOver },
    });
  }

  /** `hadFailed`: the model had a cooldown record (its failure count), which a success clears. */
  async #attempt<T>(
    model: ModelConfig,
    call: (model: ModelConfig) => Promise<T>,
    { hadFailed }: { hadFailed: boolean },
  ): Promise<{ ok: true; value: T } | { ok: false; failure: ProviderFailure }> {
    const started = performance.now();
    try {
      const value = await call(model);
      this.#o.onAttempt?.({ model: model.name, ok: true, latencyMs: performance.now() - started });
      // A model without a record has nothing to clear: no store round trip on the usual path.
      if (hadFailed) await this.#o.kv.delete(key(model.name));
      return { ok: true, value };
    } catch (error) {
      if (!(error instanceof ProviderFailure)) throw error; // aborted, or our own bug: not the model's fault
      this.#o.onAttempt?.({ model: model.name, ok: false, kind: error.kind, latencyMs: performance.now() - started });
      if (COOLDOWN_KINDS.has(error.kind)) await this.#coolDown(model.name, error);
      return { ok: false, failure: error };
    }
  }

  async #coolDown(model: string, failure: ProviderFailure): Promise<void> {
    const previous = await this.#o.kv.get<CooldownState>(key(model));
    const failures = (previous?.failures ?? 0) + 1;
    const { baseBackoffMs, maxBackoffMs } = this.#o.settings;
    const backoffMs = Math.min(maxBackoffMs, baseBackoffMs * 2 ** (failures - 1)) * (0.5 + 0.5 * this.#random());
    const waitMs = failure.retryAfterMs ?? Math.round(backoffMs);
    const state: CooldownState = { untilMs: this.#o.clock.now() + waitMs, failures, kind: failure.kind };
    // Kept well past the cooldown so the failure count survives to size the next backoff.
    await this.#o.kv.set(key(model), state, Math.max(waitMs, maxBackoffMs) * 4);
  }
}

function key(model: string): string {
  return `llm:cooldown:${model}`;
}

function kindText(kind: FailureKind): string {
  return describeFailure(new ProviderFailure(kind, ""));
}

function secondsLeft(untilMs: number, nowMs: number): number {
  return Math.max(1, Math.ceil((untilMs - nowMs) / 1000));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
