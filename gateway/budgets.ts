/**
 * Cost budgets per chat, person or key, per UTC day or month (`gateway.budgets`). After every recorded use (a
 * chat turn, a skill's completion, a gateway request) the budgets it touches are summed from the usage table;
 * crossing 80% and then 100% posts one alert each to `gateway.alertChat` per period (marked once in the shared
 * store, so several processes post it once) and counts `switchboard_gateway_budget_alerts_total`. At 100% a
 * `block` budget refuses what it counts until the period ends: gateway requests of that person or key (429
 * `budget_exceeded`), chat turns and skills' completions of that chat or person (`E_QUOTA_EXCEEDED`, through
 * the LLM layer's usage gate). `warn` only posts the alert.
 */
import type { Logger } from "pino";
import type { Clock, Keyv, KvRepo } from "../bot/index.ts";
import { rememberOnce, SwitchboardError, toReply } from "../bot/index.ts";
import type { Config } from "../config/index.ts";
import { dayOf, type LlmService, type UsageEvent } from "../llm/index.ts";
import { GatewayError } from "./errors.ts";
import type { KeyInfo } from "./keys.ts";

/** One budget, as configured or as set with `/ai budget set`. */
export type Budget = Config["gateway"]["budgets"][number];

/** Where budgets set in chat are kept (the durable key-value store). */
const STORED = { namespace: "gateway", scope: "budgets", key: "list" } as const;
/** Budgets set in chat are read again at most this often per process. */
const STORED_TTL_MS = 5_000;
/** A period's spend is read from the store at most this often per subject; this process's uses are added as they come. */
const SPEND_TTL_MS = 1_000;
/** Most spends held (subject and period). */
const MAX_SPENDS = 1_000;
/** Most budgets set in chat. */
export const MAX_STORED_BUDGETS = 100;

/** What an alert is sent through. */
export interface AlertSender {
  send(chatKey: string, text: string): Promise<void>;
}

/** What `Budgets` uses. */
export interface BudgetOptions {
  llm: LlmService;
  /** The durable key-value store, for budgets set in chat. */
  repo: KvRepo;
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
  readonly #configured: readonly Budget[];
  readonly #o: BudgetOptions;
  #stored: { list: Budget[]; untilMs: number } | undefined;
  /** Spends by scope, subject and first day of the period: read from the store, then kept up by `#count`. */
  readonly #spends = new Map<string, { cost: number; untilMs: number }>();

  constructor(configured: readonly Budget[], o: BudgetOptions) {
    this.#configured = configured;
    this.#o = o;
  }

  /** Every budget: the configured ones, then those set in chat. */
  async list(): Promise<Array<Budget & { source: "config" | "chat" }>> {
    return [
      ...this.#configured.map((b) => ({ ...b, source: "config" as const })),
      ...(await this.#storedList()).map((b) => ({ ...b, source: "chat" as const })),
    ];
  }

  /** Add or replace (same scope, id and period) a budget set in chat; returns the one it replaced. */
  async set(b: Budget): Promise<Budget | undefined> {
    const list = await this.#storedList();
    const same = (x: Budget) => x.scope === b.scope && x.id === b.id && x.period === b.period;
    const kept = list.filter((x) => !same(x));
    if (kept.length >= MAX_STORED_BUDGETS)
      throw new SwitchboardError("E_CONFLICT", `${kept.length} budgets set in chat`, {
        chatMessage: `At most ${MAX_STORED_BUDGETS} budgets may be set in chat; remove one first.`,
      });
    await this.#save([...kept, b]);
    return list.find(same);
  }

  /** Remove a budget set in chat; returns it, or undefined when there is none like it. */
  async remove(match: Pick<Budget, "scope" | "id" | "period">): Promise<Budget | undefined> {
    const list = await this.#storedList();
    const same = (x: Budget) => x.scope === match.scope && x.id === match.id && x.period === match.period;
    const removed = list.find(same);
    if (removed === undefined) return undefined;
    await this.#save(list.filter((x) => !same(x)));
    return removed;
  }

  /** What a budget has spent in its current period. */
  async spent(b: Budget, subject: string): Promise<{ cost: number; label: string }> {
    const { fromDay, label } = this.#period(b);
    return { cost: (await this.#o.llm.usage.spentSince(fromDay, whoOf(b, subject))).cost, label };
  }

  async #storedList(): Promise<Budget[]> {
    const now = this.#o.clock.now();
    if (this.#stored !== undefined && this.#stored.untilMs > now) return this.#stored.list;
    const list = (await this.#o.repo.get<Budget[]>(STORED.namespace, STORED.scope, STORED.key)) ?? [];
    this.#stored = { list, untilMs: now + STORED_TTL_MS };
    return list;
  }

  async #save(list: Budget[]): Promise<void> {
    await this.#o.repo.set(STORED.namespace, STORED.scope, { key: STORED.key, value: list });
    this.#stored = { list, untilMs: this.#o.clock.now() + STORED_TTL_MS };
  }

  /**
   * What a subject spent since the period began. Read from the store at most once a `SPEND_TTL_MS` (other
   * processes' uses arrive then); this process's uses are added as they are recorded, so a request or turn right
   * after the one that crossed a budget is refused without a store round trip.
   */
  async #spentCost(b: Budget, subject: string, fromDay: string): Promise<number> {
    const key = spendKey(b.scope, subject, fromDay);
    const now = this.#o.clock.now();
    const held = this.#spends.get(key);
    if (held !== undefined && held.untilMs > now) return held.cost;
    const cost = (await this.#o.llm.usage.spentSince(fromDay, whoOf(b, subject))).cost;
    if (!this.#spends.has(key) && this.#spends.size >= MAX_SPENDS)
      this.#spends.delete(this.#spends.keys().next().value as string);
    this.#spends.set(key, { cost, untilMs: now + SPEND_TTL_MS });
    return cost;
  }

  /** Add one use to the spends held (synchronously: before anything awaits). */
  #count(e: UsageEvent): void {
    if (e.cost === 0) return;
    const today = dayOf(this.#o.clock.now());
    const isApi = e.chatKey.startsWith("api:");
    const subjects: Array<[Budget["scope"], string]> = [
      ["user", e.userKey],
      isApi ? ["key", e.chatKey.slice(4)] : ["chat", e.chatKey],
    ];
    for (const [scope, subject] of subjects)
      for (const fromDay of new Set([today, `${today.slice(0, 7)}-01`])) {
        const held = this.#spends.get(spendKey(scope, subject, fromDay));
        if (held !== undefined) held.cost += e.cost;
      }
  }

  /** Check the budgets one use touches; post what was crossed. */
  async onUsage(e: UsageEvent): Promise<void> {
    this.#count(e);
    for (const b of await this.list()) {
      const subject = subjectOf(b, e);
      if (subject === undefined) continue;
      const { fromDay, label } = this.#period(b);
      const spent = await this.#spentCost(b, subject, fromDay);
      // Sums of binary fractions miss by a hair (0.04 / 0.05 = 0.7999…): compare with a tolerance.
      const share = spent / b.cost + 1e-9;
      const threshold = share >= 1 ? 100 : share >= 0.8 ? 80 : undefined;
      if (threshold === undefined) continue;
      // One alert per budget, subject, period and threshold; a jump past both marks 80% too.
      const mark = (t: number) =>
        rememberOnce(
          this.#o.kv,
          `gateway:budget:${b.scope}:${b.id}:${b.period}:${b.cost}:${subject}:${fromDay}:${t}`,
          40 * 86_400_000,
        );
      const isNew = await mark(threshold);
      if (threshold === 100) await mark(80);
      if (!isNew) continue;
      this.#o.counted(b.scope, String(threshold));
      const text =
        `Budget alert: ${describe(b, subject)} has spent ${spent.toFixed(4)} of ${b.cost} ${label} ` +
        `(${Math.floor(share * 100)}%).` +
        (threshold === 100
          ? b.policy === "block"
            ? " Its gateway requests and chat turns are refused until the period ends."
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
    const spent = await this.#blocking({ key: key.id, user: key.userKey });
    if (spent === undefined) return;
    const { b, cost, label } = spent;
    throw new GatewayError(
      429,
      `The ${b.scope === "key" ? "key's" : "person's"} budget of ${b.cost} ${label} is spent (${cost.toFixed(4)}).`,
      {
        type: "insufficient_quota",
        code: "budget_exceeded",
        headers: { "retry-after": String(this.#secondsToPeriodEnd(b)) },
      },
    );
  }

  /** Refuse (`E_QUOTA_EXCEEDED`) a chat turn whose chat or person has reached a `block` budget. */
  async admitChat(chatKey: string, userKey: string): Promise<void> {
    const spent = await this.#blocking({ chat: chatKey, user: userKey });
    if (spent === undefined) return;
    const { b, cost, label } = spent;
    const whose = b.scope === "chat" ? "This chat's" : "Your";
    throw new SwitchboardError(
      "E_QUOTA_EXCEEDED",
      `${describe(b, b.scope === "chat" ? chatKey : userKey)}: budget spent`,
      {
        chatMessage: `${whose} budget of ${b.cost} ${label} is spent (${cost.toFixed(4)}). It renews in ${durationText(this.#secondsToPeriodEnd(b))}.`,
      },
    );
  }

  /** The first `block` budget of these subjects that is spent, with what it spent. */
  async #blocking(
    subjects: Partial<Record<Budget["scope"], string>>,
  ): Promise<{ b: Budget; cost: number; label: string } | undefined> {
    for (const b of await this.list()) {
      if (b.policy !== "block") continue;
      const subject = subjects[b.scope];
      if (subject === undefined || (b.id !== "*" && b.id !== subject)) continue;
      const { fromDay, label } = this.#period(b);
      const cost = await this.#spentCost(b, subject, fromDay);
      if (cost + 1e-9 >= b.cost) return { b, cost, label };
    }
    return undefined;
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

const spendKey = (scope: string, subject: string, fromDay: string): string => `${scope}\n${subject}\n${fromDay}`;

/** "3 h 12 min", "2 d 4 h". */
function durationText(seconds: number): string {
  const minutes = Math.max(1, Math.ceil(seconds / 60));
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  return d > 0 ? `${d} d ${h} h` : h > 0 ? `${h} h ${m} min` : `${m} min`;
}

function whoOf(b: Budget, subject: string): { chatKey: string } | { userKey: string } {
  return b.scope === "user" ? { userKey: subject } : { chatKey: b.scope === "key" ? `api:${subject}` : subject };
}

/** "person telegram:1", "key 1a2b…", "chat slack:C1". */
export function describe(b: Pick<Budget, "scope">, subject: string): string {
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
