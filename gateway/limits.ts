/**
 * Quotas and rate limits of keys and people, checked before a request reaches a model:
 * - requests per minute per key and per person (`gateway.perKey`, `gateway.perUser`), counted in the shared
 *   ephemeral store (`countInWindow`: atomic on Redis, so every bot process enforces one limit);
 * - tokens and cost per UTC day per key and per person, read from the same usage table as chat turns. The
 *   person's day includes their chat usage and the chat quotas' `llm.quotas.perUser` and `global` caps apply
 *   too, so switching from chat to API dodges nothing.
 * A request that starts under a daily cap may finish over it (its size is unknown in advance); the next is refused.
 * The day's figures of a key and person are read from the store at most once a `USED_TTL_MS` (other processes'
 * uses arrive then) and kept up from this process's uses as they are recorded: no store round trip per request.
 */
import type { Clock, Keyv } from "../bot/index.ts";
import { countInWindow } from "../bot/index.ts";
import type { Config } from "../config/index.ts";
import { dayOf, type LlmService, resetText, type UsageTotals } from "../llm/index.ts";
import { GatewayError } from "./errors.ts";
import type { KeyInfo } from "./keys.ts";

/** How long the day's figures of a key and person are used before they are read again. */
const USED_TTL_MS = 1_000;
/** Most figures held (key and person). */
const MAX_HELD = 1_000;

type Used = { chat: UsageTotals; user: UsageTotals; global: UsageTotals };

type Caps = {
  requestsPerMinute?: number | undefined;
  dailyTokens?: number | undefined;
  dailyCost?: number | undefined;
};

/** Admits or refuses requests. */
export class Limits {
  readonly #kv: Keyv;
  readonly #llm: LlmService;
  readonly #config: Config["gateway"];
  readonly #clock: Clock;
  readonly #held = new Map<string, Used & { day: string; chatKey: string; userKey: string; untilMs: number }>();
  readonly #unsubscribe: () => void;

  constructor(o: { kv: Keyv; llm: LlmService; config: Config["gateway"]; clock: Clock }) {
    this.#kv = o.kv;
    this.#llm = o.llm;
    this.#config = o.config;
    this.#clock = o.clock;
    // Every use recorded in this process (chat turns too) is added to the figures held, as it is recorded.
    this.#unsubscribe = o.llm.usage.onRecorded((e) => {
      const day = dayOf(this.#clock.now());
      for (const h of this.#held.values()) {
        if (h.day !== day) continue;
        h.global = add(h.global, e);
        if (h.userKey === e.userKey) h.user = add(h.user, e);
        if (h.chatKey === e.chatKey) h.chat = add(h.chat, e);
      }
    });
  }

  /** Stop following recorded uses. */
  close(): void {
    this.#unsubscribe();
  }

  /** Today's figures of the key (its "chat") and its person, and everyone's. */
  async #today(chatKey: string, userKey: string): Promise<Used> {
    const now = this.#clock.now();
    const day = dayOf(now);
    const name = `${day}\n${chatKey}\n${userKey}`;
    const held = this.#held.get(name);
    if (held !== undefined && held.untilMs > now) return held;
    const used = await this.#llm.usage.today(chatKey, userKey);
    if (!this.#held.has(name) && this.#held.size >= MAX_HELD)
      this.#held.delete(this.#held.keys().next().value as string);
    this.#held.set(name, { ...used, day, chatKey, userKey, untilMs: now + USED_TTL_MS });
    return used;
  }

  /** Throw a 429 (with `Retry-After`) when the key or its person is over a limit; count the request otherwise. */
  async admit(key: KeyInfo): Promise<void> {
    const now = this.#clock.now();
    const { perKey, perUser } = this.#config;
    const q = this.#llm.config.quotas;
    const hasDaily = [perKey, perUser, q.perUser, q.global].some(
      (c) => c.dailyTokens !== undefined || c.dailyCost !== undefined,
    );
    if (hasDaily) {
      const used = await this.#today(`api:${key.id}`, key.userKey);
      const over =
        exceeded("This key", used.chat, perKey) ??
        exceeded("You", used.user, perUser) ??
        exceeded("You", used.user, q.perUser) ??
        exceeded("The bot", used.global, q.global);
      if (over !== undefined) {
        const nextDayMs = Math.floor(now / 86_400_000) * 86_400_000 + 86_400_000;
        throw new GatewayError(429, `${over}. It resets at ${resetText(now)}.`, {
          type: "insufficient_quota",
          code: "insufficient_quota",
          headers: { "retry-after": String(Math.max(1, Math.ceil((nextDayMs - now) / 1000))) },
        });
      }
    }
    const minute = Math.floor(now / 60_000);
    const retryAfter = String(Math.max(1, Math.ceil(((minute + 1) * 60_000 - now) / 1000)));
    for (const [who, limit, name] of [
      ["This key", perKey.requestsPerMinute, `gateway:rpm:key:${key.id}:${minute}`],
      ["You", perUser.requestsPerMinute, `gateway:rpm:user:${key.userKey}:${minute}`],
    ] as const) {
      if (limit === undefined) continue;
      const count = await countInWindow(this.#kv, name, 60_000);
      if (count > limit)
        throw new GatewayError(429, `${who} made more than ${limit} requests this minute; retry in ${retryAfter} s.`, {
          type: "rate_limit_error",
          code: "rate_limit_exceeded",
          headers: { "retry-after": retryAfter },
        });
    }
  }
}

function add(t: UsageTotals, e: { tokens: number; cost: number }): UsageTotals {
  return { tokens: t.tokens + e.tokens, cost: t.cost + e.cost };
}

function exceeded(who: string, used: UsageTotals, cap: Caps): string | undefined {
  const verb = who === "You" ? "have" : "has";
  if (cap.dailyTokens !== undefined && used.tokens >= cap.dailyTokens)
    return `${who} ${verb} used the daily token quota (${used.tokens} of ${cap.dailyTokens} tokens)`;
  if (cap.dailyCost !== undefined && used.cost >= cap.dailyCost)
    return `${who} ${verb} used the daily budget (${used.cost.toFixed(4)} of ${cap.dailyCost} spent)`;
  return undefined;
}
