/**
 * Cost budgets per chat, person or key, per UTC day or month (`gateway.budgets`). After every recorded use (a
 * chat turn, a skill's completion, a gateway request) the budgets it touches are summed from the usage table;
 * crossing 80% and then 100% posts one alert each to `gateway.alertChat` per period (marked once in the shared
 * store, so several processes post it once) and counts `switchboard_gateway_budget_alerts_total`. At 100% a
 * `block` budget refuses the gateway requests of that person or key until the period ends; chat turns are
 * alerted, not blocked (the chat quotas of `llm.quotas` block those).
 */
import type { Logger } from "pino";
import type { Clock, Keyv } from "../bot/index.ts";
import { rememberOnce, toReply } from "../bot/index.ts";
import type { Config } from "../config/index.ts";
import { dayOf, type LlmService, type UsageEvent } from "../llm/index.ts";
import { GatewayError } from "./errors.ts";
import type { KeyInfo } from "./keys.ts";

type Budget = Config["gateway"]["budgets"][number];

/** What an alert is sent through. */
export interface AlertSender {
  send(chatKey: string, text: string): Promise<void>;
}

/** What `Budgets` uses. */
export interface BudgetOptions {
  llm: LlmService;
  kv: Keyv;
  clock: Clock;
  log: Logger;
  alertChat: string | undefined;
  sender: AlertSender;
  /** Count one alert (metrics). */
  counted: (scope: string, threshold: string) => void;
}

/** The budgets' checks and alerts. */
export class Budgets {
  readonly #budgets: readonly Budget[];
  readonly #o: BudgetOptions;

  constructor(budgets: readonly Budget[], o: BudgetOptions) {
    this.#budgets = budgets;
    this.#o = o;
  }

  /** True when any budget is configured. */
  get isEmpty(): boolean {
    return this.#budgets.length === 0;
  }

  /** Check the budgets one use touches; post what was crossed. */
  async onUsage(e: UsageEvent): Promise<void> {
    for (const [index, b] of this.#budgets.entries()) {
      const subject = subjectOf(b, e);
      if (subject === undefined) continue;
      const { fromDay, label } = this.#period(b);
      const spent = (await this.#o.llm.store.spentSince(fromDay, whoOf(b, subject))).cost;
      // Sums of binary fractions miss by a hair (0.04 / 0.05 = 0.7999…): compare with a tolerance.
      const share = spent / b.cost + 1e-9;
      const threshold = share >= 1 ? 100 : share >= 0.8 ? 80 : undefined;
      if (threshold === undefined) continue;
      // One alert per budget, subject, period and threshold; a jump past both marks 80% too.
      const mark = (t: number) =>
        rememberOnce(this.#o.kv, `gateway:budget:${index}:${subject}:${fromDay}:${t}`, 40 * 86_400_000);
      const isNew = await mark(threshold);
      if (threshold === 100) await mark(80);
      if (!isNew) continue;
      this.#o.counted(b.scope, String(threshold));
      const text =
        `Budget alert: ${describe(b, subject)} has spent ${spent.toFixed(4)} of ${b.cost} ${label} ` +
        `(${Math.floor(share * 100)}%).` +
        (threshold === 100
          ? b.policy === "block"
            ? " Its gateway requests are refused until the period ends."
            : " Policy: warn."
          : "");
      this.#o.log.warn(
        { scope: b.scope, subject: b.scope === "key" ? `key ${subject}` : subject, threshold },
        "llm budget crossed",
      );
      if (this.#o.alertChat !== undefined) await this.#o.sender.send(this.#o.alertChat, text);
    }
  }

  /** Refuse (429) a gateway request whose person or key has reached a `block` budget. */
  async admit(key: KeyInfo): Promise<void> {
    for (const b of this.#budgets) {
      if (b.policy !== "block" || b.scope === "chat") continue;
      const subject = b.scope === "key" ? key.id : key.userKey;
      if (b.id !== "*" && b.id !== subject) continue;
      const { fromDay, label } = this.#period(b);
      const spent = (await this.#o.llm.store.spentSince(fromDay, whoOf(b, subject))).cost;
      if (spent + 1e-9 >= b.cost)
        throw new GatewayError(
          429,
          `The ${b.scope === "key" ? "key's" : "person's"} budget of ${b.cost} ${label} is spent (${spent.toFixed(4)}).`,
          {
            type: "insufficient_quota",
            code: "budget_exceeded",
            headers: { "retry-after": String(this.#secondsToPeriodEnd(b)) },
          },
        );
    }
  }

  #period(b: Budget): { fromDay: string; label: string } {
    const today = dayOf(this.#o.clock.now());
    return b.period === "day"
      ? { fromDay: today, label: "today" }
      : { fromDay: `${today.slice(0, 7)}-01`, label: "this month" };
  }

  #secondsToPeriodEnd(b: Budget): number {
    const now = new Date(this.#o.clock.now());
    const end =
      b.period === "day"
        ? Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1)
        : Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
    return Math.max(1, Math.ceil((end - now.getTime()) / 1000));
  }
}

/** Who a budget counts for this use: the chat, the person or the key; undefined when it does not apply. */
function subjectOf(b: Budget, e: UsageEvent): string | undefined {
  const isApi = e.chatKey.startsWith("api:");
  const subject =
    b.scope === "chat"
      ? isApi
        ? undefined
        : e.chatKey
      : b.scope === "user"
        ? e.userKey
        : isApi
          ? e.chatKey.slice(4)
          : undefined;
  if (subject === undefined) return undefined;
  return b.id === "*" || b.id === subject ? subject : undefined;
}

function whoOf(b: Budget, subject: string): { chatKey: string } | { userKey: string } {
  return b.scope === "user" ? { userKey: subject } : { chatKey: b.scope === "key" ? `api:${subject}` : subject };
}

function describe(b: Budget, subject: string): string {
  return b.scope === "chat" ? `chat ${subject}` : b.scope === "user" ? `person ${subject}` : `key ${subject}`;
}

/** Send alerts through the running adapters. */
export function adapterSender(adapters: {
  send(target: { platform: string; chatId: string }, reply: ReturnType<typeof toReply>): Promise<unknown>;
}): AlertSender {
  return {
    async send(chatKey, text) {
      const i = chatKey.indexOf(":");
      await adapters.send({ platform: chatKey.slice(0, i), chatId: chatKey.slice(i + 1) }, toReply(text));
    },
  };
}
