/**
 * The budget of one invocation, kept in the bot process where capabilities are answered. Every check is a few
 * integer comparisons made before any work starts: a call over the budget is refused at once (`E_SKILL_BUDGET`),
 * nothing is queued, so a flood of ten thousand calls costs the bot ten thousand small JSON answers and no more.
 */
import { SwitchboardError } from "../../bot/index.ts";
import type { SkillsConfig } from "../../config/sections/skills.ts";
import type { SkillManifest } from "../manifest.ts";

/** What one invocation may do, after the manifest's request was clamped to the operator's maximums. */
export interface InvocationBudget {
  fetchInFlight: number;
  fetchRequests: number;
  fetchBytesIn: number;
  fetchBytesOut: number;
  fileBytesIn: number;
  capCallsPerSecond: number;
  capCalls: number;
  storageWrites: number;
  llmCalls: number;
  llmTokens: number;
  replies: number;
  replyChars: number;
}

/** Which part of the budget ran out. */
export type BudgetKind = "fetch" | "files" | "calls" | "storage" | "llm" | "replies";

/** The effective budget of a skill: its manifest's `limits.budget` within the operator's maximums, else the defaults. */
export function effectiveBudget(manifest: SkillManifest, config: SkillsConfig): InvocationBudget {
  const asked = manifest.limits.budget ?? {};
  const pick = (key: keyof SkillsConfig["budget"]): number =>
    Math.min(asked[key] ?? config.budget[key], Math.max(config.budget[key], config.budgetMax[key]));
  return {
    fetchInFlight: pick("fetchInFlight"),
    fetchRequests: pick("fetchRequests"),
    fetchBytesIn: pick("fetchBytesIn"),
    fetchBytesOut: pick("fetchBytesOut"),
    fileBytesIn: pick("fileBytesIn"),
    capCallsPerSecond: pick("capCallsPerSecond"),
    capCalls: pick("capCalls"),
    storageWrites: pick("storageWrites"),
    llmCalls: pick("llmCalls"),
    llmTokens: pick("llmTokens"),
    replies: Math.min(
      asked.replies ?? config.maxRepliesPerInvocation,
      Math.max(config.maxRepliesPerInvocation, config.replyMax.maxRepliesPerInvocation),
    ),
    replyChars: Math.min(
      asked.replyChars ?? config.maxReplyChars,
      Math.max(config.maxReplyChars, config.replyMax.maxReplyChars),
    ),
  };
}

/** Estimated tokens of a text (4 characters a token, the usual rule of thumb for English). */
export function estimateTokens(chars: number): number {
  return Math.ceil(chars / 4);
}

/** Counts one invocation's use against its budget. */
export class BudgetMeter {
  readonly budget: InvocationBudget;
  readonly used = {
    calls: 0,
    fetchInFlight: 0,
    fetchRequests: 0,
    fetchBytesIn: 0,
    fetchBytesOut: 0,
    fileBytesIn: 0,
    storageWrites: 0,
    llmCalls: 0,
    llmTokens: 0,
    replies: 0,
    replyChars: 0,
  };
  /** Calls refused, by what ran out. */
  readonly refused = new Map<BudgetKind, number>();
  /** The first refusal, shown in the chat. */
  firstRefusal: SwitchboardError | undefined;
  readonly #now: () => number;
  readonly #errors = new Map<string, SwitchboardError>();
  #tokens: number;
  #refilledAt: number;

  constructor(budget: InvocationBudget, now: () => number = () => performance.now()) {
    this.budget = budget;
    this.#now = now;
    this.#tokens = budget.capCallsPerSecond;
    this.#refilledAt = now();
  }

  /** Any capability call: the per-second bucket and the total. */
  chargeCall(): void {
    const now = this.#now();
    const rate = this.budget.capCallsPerSecond;
    this.#tokens = Math.min(rate, this.#tokens + ((now - this.#refilledAt) * rate) / 1000);
    this.#refilledAt = now;
    if (this.used.calls >= this.budget.capCalls)
      throw this.#refuse("calls", `at most ${this.budget.capCalls} capability calls per invocation`);
    if (this.#tokens < 1) throw this.#refuse("calls", `at most ${rate} capability calls per second`);
    this.#tokens -= 1;
    this.used.calls++;
  }

  /** A fetch about to start: in flight, total, bytes out. Returns the most response bytes it may read. */
  beginFetch(bytesOut: number): number {
    const b = this.budget;
    if (this.used.fetchRequests >= b.fetchRequests)
      throw this.#refuse("fetch", `at most ${b.fetchRequests} fetch requests per invocation`);
    if (this.used.fetchInFlight >= b.fetchInFlight)
      throw this.#refuse("fetch", `at most ${b.fetchInFlight} fetch requests at once`);
    if (this.used.fetchBytesOut + bytesOut > b.fetchBytesOut)
      throw this.#refuse("fetch", `at most ${b.fetchBytesOut} bytes sent by fetch per invocation`);
    const left = b.fetchBytesIn - this.used.fetchBytesIn;
    if (left <= 0) throw this.#refuse("fetch", `at most ${b.fetchBytesIn} bytes read by fetch per invocation`);
    this.used.fetchRequests++;
    this.used.fetchInFlight++;
    this.used.fetchBytesOut += bytesOut;
    return left;
  }

  /** A fetch ended (with or without a body). */
  endFetch(bytesIn: number): void {
    this.used.fetchInFlight--;
    this.used.fetchBytesIn += bytesIn;
  }

  /**
   * A file read about to start, of `size` bytes when the platform told it. Returns the most bytes it may read;
   * refused at once when the budget is spent or the known size does not fit what is left.
   */
  beginFileRead(size: number | undefined): number {
    const b = this.budget;
    const left = b.fileBytesIn - this.used.fileBytesIn;
    if (left <= 0 || (size !== undefined && size > left))
      throw this.#refuse("files", `at most ${b.fileBytesIn} bytes of files read per invocation`);
    return left;
  }

  /** A file read ended with this many bytes. */
  endFileRead(bytes: number): void {
    this.used.fileBytesIn += bytes;
  }

  /** The error `beginFileRead` gives, for a read that ran past what was left while it downloaded. */
  fileBudgetSpent(): SwitchboardError {
    return this.#refuse("files", `at most ${this.budget.fileBytesIn} bytes of files read per invocation`);
  }

  /** A storage write (`set` or `delete`). */
  chargeStorageWrite(): void {
    if (this.used.storageWrites >= this.budget.storageWrites)
      throw this.#refuse("storage", `at most ${this.budget.storageWrites} storage writes per invocation`);
    this.used.storageWrites++;
  }

  /** An LLM call about to start with a prompt of this many tokens. */
  beginLlm(promptTokens: number): void {
    const b = this.budget;
    if (this.used.llmCalls >= b.llmCalls) throw this.#refuse("llm", `at most ${b.llmCalls} LLM calls per invocation`);
    if (this.used.llmTokens + promptTokens > b.llmTokens)
      throw this.#refuse("llm", `at most ${b.llmTokens} LLM tokens per invocation`);
    this.used.llmCalls++;
    this.used.llmTokens += promptTokens;
  }

  /** Tokens of an LLM answer. */
  endLlm(answerTokens: number): void {
    this.used.llmTokens += answerTokens;
  }

  /** A reply or `send` of this many characters. */
  chargeReply(chars: number): void {
    const b = this.budget;
    if (this.used.replies + 1 > b.replies) throw this.#refuse("replies", `at most ${b.replies} replies per invocation`);
    if (this.used.replyChars + chars > b.replyChars)
      throw this.#refuse("replies", `replies are limited to ${b.replyChars} characters per invocation`);
    this.used.replies++;
    this.used.replyChars += chars;
  }

  /** Calls refused in all. */
  get refusedTotal(): number {
    let n = 0;
    for (const count of this.refused.values()) n += count;
    return n;
  }

  /** Calls refused elsewhere (the host refuses a flood past `capCalls` itself). */
  countRefused(kind: BudgetKind, count: number): void {
    this.refused.set(kind, (this.refused.get(kind) ?? 0) + count);
  }

  #refuse(kind: BudgetKind, what: string): SwitchboardError {
    this.refused.set(kind, (this.refused.get(kind) ?? 0) + 1);
    // One error per reason: a flood of refusals must not pay for a stack trace each.
    let error = this.#errors.get(what);
    if (error === undefined) {
      error = new SwitchboardError("E_SKILL_BUDGET", `over budget: ${what}`, {
        chatMessage: `over its budget: ${what}`,
        details: { kind },
      });
      this.#errors.set(what, error);
    }
    this.firstRefusal ??= error;
    return error;
  }
}

/** One line per budget entry, for `/skills info` and the docs. */
export function describeBudget(b: InvocationBudget): string {
  return [
    `fetch ${b.fetchRequests} requests (${b.fetchInFlight} at once), ${b.fetchBytesOut} B out, ${b.fetchBytesIn} B in`,
    `files ${b.fileBytesIn} B in`,
    `capability calls ${b.capCalls} (${b.capCallsPerSecond}/s)`,
    `storage writes ${b.storageWrites}`,
    `LLM ${b.llmCalls} calls, ${b.llmTokens} tokens`,
    `replies ${b.replies}, ${b.replyChars} characters`,
  ].join("; ");
}
