/**
 * Usage and quotas: tokens and cost per chat, per user and overall, per UTC day. Caps come from config
 * (`llm.quotas`); a turn is refused once a cap is reached, with a message saying which cap and when it resets.
 * A turn that starts under the cap may finish over it (its size is unknown in advance); the next one is stopped.
 * A person named in config (`permissions.principals`) is counted once, under `principal:<name>`, on every platform.
 *
 * Uses recorded with `add` (gateway requests, skills' completions) are summed in memory per day, chat and person
 * and written every `FLUSH_MS` (or at `MAX_PENDING` sums, and at `close`), one statement per sum: a busy gateway
 * does not pay a store round trip per request. This process's reads (`check`, `today`, `spentSince`) add what is
 * not written yet; other processes see it within `FLUSH_MS`. A crash loses at most that much usage.
 */
import type { Logger } from "pino";
import { type Clock, SwitchboardError } from "../bot/index.ts";
import type { LlmStore, UsageTotals } from "./store.ts";
import type { LlmConfig, ModelConfig, TokenUsage } from "./types.ts";

const DAY_MS = 86_400_000;
/** Uses are written at most this long after they are recorded. */
export const FLUSH_MS = 200;
/** Most sums (day, chat, person) kept unwritten; one more writes them at once. */
export const MAX_PENDING = 1_000;

/** Usage summed in memory, not written yet. */
interface PendingUsage {
  day: string;
  chatKey: string;
  userKey: string;
  inputTokens: number;
  outputTokens: number;
  cost: number;
  turns: number;
}

// The last day asked for: every request asks for today several times (usage, quotas, budgets, cache hits).
let lastDay = Number.NaN;
let lastDayText = "";

/** The UTC day (`YYYY-MM-DD`) of an instant. */
export function dayOf(ms: number): string {
  const day = Math.floor(ms / DAY_MS);
  if (day !== lastDay) {
    lastDayText = new Date(day * DAY_MS).toISOString().slice(0, 10);
    lastDay = day;
  }
  return lastDayText;
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

/** Where writes are tracked for shutdown, and failures logged. */
export interface UsageServiceOptions {
  track?: <T>(p: Promise<T>) => Promise<T>;
  log?: Pick<Logger, "warn">;
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
  #personOf: (userKey: string) => string = (userKey) => userKey;
  readonly #o: UsageServiceOptions;
  #pending = new Map<string, PendingUsage>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  /** `clock` with, optionally, where writes are tracked for shutdown and failures logged. */
  constructor(store: LlmStore, quotas: LlmConfig["quotas"], clock: Clock & UsageServiceOptions) {
    this.#store = store;
    this.#quotas = quotas;
    this.#clock = clock;
    this.#o = clock;
  }

  /**
   * Count a person's usage under their principal (`principal:<name>`, from `permissions.principals`) rather than
   * per identity, so their quota and usage follow them on every platform.
   */
  keyPeopleBy(personOf: (userKey: string) => string): void {
    this.#personOf = personOf;
  }

  /** The key a user's usage is counted under. */
  keyOf(userKey: string): string {
    return this.#personOf(userKey);
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
    const used = await this.#usageOn(dayOf(now), chatKey, this.#personOf(userKey));
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

  /** Record one use: summed now, written within `FLUSH_MS`. */
  async add(chatKey: string, userKey: string, { usage, cost }: { usage: TokenUsage; cost: number }): Promise<void> {
    const person = this.#personOf(userKey);
    const day = dayOf(this.#clock.now());
    const key = `${day}\n${chatKey}\n${person}`;
    const sum = this.#pending.get(key);
    if (sum === undefined) {
      this.#pending.set(key, { day, chatKey, userKey: person, ...usage, cost, turns: 1 });
    } else {
      sum.inputTokens += usage.inputTokens;
      sum.outputTokens += usage.outputTokens;
      sum.cost += cost;
      sum.turns += 1;
    }
    if (this.#pending.size >= MAX_PENDING) void this.flush();
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => void this.flush(), FLUSH_MS);
      this.#timer.unref?.();
    }
    this.recorded({ chatKey, userKey: person, cost, tokens: usage.inputTokens + usage.outputTokens });
  }

  /** Write what is summed. Never rejects: a failed write is logged, and its sums kept for the next one. */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.size === 0) return this.#flushing;
    const batch = this.#pending;
    this.#pending = new Map();
    const track = this.#o.track ?? ((p) => p);
    this.#flushing = track(
      this.#flushing.then(async () => {
        for (const [key, u] of batch) {
          try {
            await this.#store.addUsage(u);
            batch.delete(key);
          } catch (error) {
            this.#o.log?.warn({ err: error, sums: batch.size }, "could not record LLM usage; kept for the next try");
            break;
          }
        }
        // What could not be written goes back, within the bound (the oldest sums are dropped past it).
        for (const [key, u] of batch) {
          if (this.#pending.size >= MAX_PENDING) break;
          const now = this.#pending.get(key);
          if (now === undefined) this.#pending.set(key, u);
          else {
            now.inputTokens += u.inputTokens;
            now.outputTokens += u.outputTokens;
            now.cost += u.cost;
            now.turns += u.turns;
          }
        }
      }),
    );
    return this.#flushing;
  }

  /** Write what is summed and stop the timer (shutdown). */
  async close(): Promise<void> {
    await this.flush();
  }

  /** Spent since a UTC day by a chat or a person (budgets), what is not written yet included. */
  async spentSince(fromDay: string, whom: { chatKey: string } | { userKey: string }): Promise<UsageTotals> {
    const who = "userKey" in whom ? { userKey: this.#personOf(whom.userKey) } : whom;
    await this.#flushing;
    const pending = [...this.#pending.values()].filter(
      (u) => u.day >= fromDay && ("chatKey" in who ? u.chatKey === who.chatKey : u.userKey === who.userKey),
    );
    const stored = await this.#store.spentSince(fromDay, who);
    return pending.reduce(
      (t, u) => ({ tokens: t.tokens + u.inputTokens + u.outputTokens, cost: t.cost + u.cost }),
      stored,
    );
  }

  async #usageOn(
    day: string,
    chatKey: string,
    userKey: string,
  ): Promise<{ chat: UsageTotals; user: UsageTotals; global: UsageTotals }> {
    await this.#flushing;
    const pending = [...this.#pending.values()].filter((u) => u.day === day);
    const used = await this.#store.usageOn(day, chatKey, userKey);
    for (const u of pending) {
      const tokens = u.inputTokens + u.outputTokens;
      used.global = { tokens: used.global.tokens + tokens, cost: used.global.cost + u.cost };
      if (u.chatKey === chatKey) used.chat = { tokens: used.chat.tokens + tokens, cost: used.chat.cost + u.cost };
      if (u.userKey === userKey) used.user = { tokens: used.user.tokens + tokens, cost: used.user.cost + u.cost };
    }
    return used;
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
    return this.#usageOn(dayOf(this.#clock.now()), chatKey, this.#personOf(userKey));
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
