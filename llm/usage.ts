/**
 * Usage and quotas: tokens and cost per chat, per user and overall, per UTC day. Caps come from config
 * (`llm.quotas`); a turn is refused once a cap is reached, with a message saying which cap and when it resets.
 * A turn that starts under the cap may finish over it (its size is unknown in advance); the next one is stopped.
 */
import { type Clock, SwitchboardError } from "../bot/index.ts";
import type { LlmStore, UsageTotals } from "./store.ts";
import type { LlmConfig, ModelConfig, TokenUsage } from "./types.ts";

const DAY_MS = 86_400_000;

/** The UTC day (`YYYY-MM-DD`) of an instant. */
export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Cost of a call at the model's prices. */
export function costOf(model: Pick<ModelConfig, "costPer1kInput" | "costPer1kOutput">, usage: TokenUsage): number {
  return (usage.inputTokens * model.costPer1kInput + usage.outputTokens * model.costPer1kOutput) / 1000;
}

/** "00:00 UTC, in 3 h 12 min" for the next reset after `nowMs`. */
export function resetText(nowMs: number): string {
  const next = Math.floor(nowMs / DAY_MS) * DAY_MS + DAY_MS;
  const minutes = Math.max(1, Math.ceil((next - nowMs) / 60_000));
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return `00:00 UTC, in ${h > 0 ? `${h} h ` : ""}${m} min`;
}

/** One recorded use of a model: a chat turn, a skill's completion or a gateway request. */
export interface UsageEvent {
  chatKey: string;
  userKey: string;
  cost: number;
  tokens: number;
}

/** A check before a turn reaches a model; throws to refuse it. */
export type UsageGate = (chatKey: string, userKey: string) => Promise<void>;

/** Checks caps and records usage. */
export class UsageService {
  readonly #listeners = new Set<(e: UsageEvent) => void>();
  readonly #gates = new Set<UsageGate>();
  readonly #store: LlmStore;
  readonly #quotas: LlmConfig["quotas"];
  readonly #clock: Clock;

  constructor(store: LlmStore, quotas: LlmConfig["quotas"], clock: Clock) {
    this.#store = store;
    this.#quotas = quotas;
    this.#clock = clock;
  }

  /** The caps that apply to a chat. */
  capsFor(chatKey: string): {
    chat: LlmConfig["quotas"]["perChat"];
    user: LlmConfig["quotas"]["perUser"];
    global: LlmConfig["quotas"]["global"];
  } {
    return {
      chat: this.#quotas.chats[chatKey] ?? this.#quotas.perChat,
      user: this.#quotas.perUser,
      global: this.#quotas.global,
    };
  }

  /** True when no cap is configured anywhere (the check can be skipped). */
  get hasCaps(): boolean {
    const q = this.#quotas;
    const any = (c: { dailyTokens?: number | undefined; dailyCost?: number | undefined }) =>
      c.dailyTokens !== undefined || c.dailyCost !== undefined;
    return any(q.perChat) || any(q.perUser) || any(q.global) || Object.values(q.chats).some(any);
  }

  /**
   * Add a check every chat turn and skill completion passes before it reaches a model (the gateway's `block`
   * budgets). A gate refuses by throwing a `SwitchboardError`. Returns the undo.
   */
  addGate(gate: UsageGate): () => void {
    this.#gates.add(gate);
    return () => this.#gates.delete(gate);
  }

  /** Throw `E_QUOTA_EXCEEDED` when the chat, the user or everyone has reached a daily cap, or a gate refuses. */
  async check(chatKey: string, userKey: string): Promise<void> {
    for (const gate of this.#gates) await gate(chatKey, userKey);
    if (!this.hasCaps) return;
    const now = this.#clock.now();
    const used = await this.#store.usageOn(dayOf(now), chatKey, userKey);
    const caps = this.capsFor(chatKey);
    const over =
      exceeded("This chat", used.chat, caps.chat) ??
      exceeded("You", used.user, caps.user) ??
      exceeded("The bot", used.global, caps.global);
    if (over !== undefined) {
      throw new SwitchboardError("E_QUOTA_EXCEEDED", `quota reached for ${chatKey}/${userKey}: ${over}`, {
        chatMessage: `${over}. It resets at ${resetText(now)}.`,
      });
    }
  }

  /** Record a turn's usage. */
  async add(chatKey: string, userKey: string, { usage, cost }: { usage: TokenUsage; cost: number }): Promise<void> {
    await this.#store.addUsage({ day: dayOf(this.#clock.now()), chatKey, userKey, ...usage, cost });
    this.recorded({ chatKey, userKey, cost, tokens: usage.inputTokens + usage.outputTokens });
  }

  /** Be told after each recorded use (budget alerts). Returns the undo. Listeners must not throw. */
  onRecorded(listener: (e: UsageEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Tell the listeners about usage written elsewhere (a chat turn is stored with its usage in one statement). */
  recorded(e: UsageEvent): void {
    for (const listener of this.#listeners) listener(e);
  }

  /** Today's totals for the chat, the user and everyone. */
  today(chatKey: string, userKey: string): Promise<{ chat: UsageTotals; user: UsageTotals; global: UsageTotals }> {
    return this.#store.usageOn(dayOf(this.#clock.now()), chatKey, userKey);
  }
}

function exceeded(
  who: string,
  used: UsageTotals,
  cap: { dailyTokens?: number | undefined; dailyCost?: number | undefined },
): string | undefined {
  const verb = who === "You" ? "have" : "has";
  if (cap.dailyTokens !== undefined && used.tokens >= cap.dailyTokens) {
    return `${who} ${verb} used the daily language-model quota (${fmt(used.tokens)} of ${fmt(cap.dailyTokens)} tokens)`;
  }
  if (cap.dailyCost !== undefined && used.cost >= cap.dailyCost) {
    return `${who} ${verb} used the daily language-model budget (${used.cost.toFixed(4)} of ${cap.dailyCost} spent)`;
  }
  return undefined;
}

function fmt(n: number): string {
  return n.toLocaleString("en-US");
}
