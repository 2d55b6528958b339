/**
 * Outbound rate limiting per a platform's published limits: one global budget, one per chat (serialised, so
 * split messages keep their order) and an optional one per group chat. A call refused with "retry after"
 * (Telegram 429 `retry_after`, HTTP `Retry-After`) is retried after that delay while the chat's slot is held, a
 * bounded number of times. With a Redis URL the budgets live in Redis (bottleneck clustering), so every process
 * using the same `id` shares them.
 */
import Bottleneck from "bottleneck";
import { Redis } from "ioredis";

/** A platform's outbound limits. Zero or absent disables that budget. */
export interface OutboundLimits {
  /** Across all chats, messages per second. */
  globalPerSecond?: number;
  /** Least time between two messages to one chat, in ms. */
  perChatIntervalMs?: number;
  /** Messages per minute to one group chat. */
  perGroupPerMinute?: number;
}

/** Options for an `OutboundLimiter`. */
export interface OutboundLimiterOptions {
  /** Shared budget name: processes with the same id (and Redis) share limits, e.g. `telegram:<botId>`. */
  id: string;
  limits: OutboundLimits;
  /** Cluster through this Redis; in-process when absent. */
  redisUrl?: string;
  /** How many times a call refused with retry-after is tried again. Default 3. */
  maxRetries?: number;
  /** Longest retry-after honoured, in ms; a longer one fails the call at once. Default 60 s. */
  maxRetryAfterMs?: number;
  /** Each attempt is aborted after this, in ms. Default 30 s. */
  attemptTimeoutMs?: number;
  /** How long `stop()` waits for queued work before failing it, in ms. Default 5 s. */
  drainTimeoutMs?: number;
  /** The delay a failure asks for (in ms), or undefined when it is not a "retry later" refusal. */
  retryAfterMsOf(error: unknown): number | undefined;
  /** Told about each retry (for logs and metrics). */
  onRetry?(info: { key: string; attempt: number; retryAfterMs: number }): void;
  /** Told about clustering connection errors. */
  onError?(error: unknown): void;
}

/** What one outbound call is for: which chat, whether it is a group chat, and whether it is an edit. */
export interface OutboundKey {
  chatId: string;
  isGroup?: boolean;
  /** Edits skip the per-chat message budget (they are throttled per message by `EditThrottle`). */
  isEdit?: boolean;
}

const NO_LIMIT = { minTime: 0 } as const;

/** Raised to queued calls when the limiter stops before they ran. */
export class LimiterStoppedError extends Error {
  constructor() {
    super("outbound limiter stopped before the call ran");
    this.name = "LimiterStoppedError";
  }
}

/** Schedules outbound calls within a platform's limits. One per adapter instance. */
export class OutboundLimiter {
  readonly #options: OutboundLimiterOptions;
  readonly #global: Bottleneck;
  readonly #chats: Bottleneck.Group;
  readonly #groups: Bottleneck.Group | undefined;
  readonly #connection: Bottleneck.IORedisConnection | undefined;
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #stopController = new AbortController();
  #isStopped = false;
  readonly #hasGlobalBudget: boolean;

  constructor(options: OutboundLimiterOptions) {
    this.#options = options;
    const { limits } = options;
    const clustered = options.redisUrl !== undefined;
    if (clustered) {
      const client = new Redis(options.redisUrl!, { maxRetriesPerRequest: 2, lazyConnect: false });
      this.#connection = new Bottleneck.IORedisConnection({ client, Redis } as Bottleneck.IORedisConnectionOptions);
      this.#connection.on("error", (e) => options.onError?.(e));
    }
    const store = clustered ? { datastore: "ioredis" as const, connection: this.#connection, clearDatastore: false, Redis } : {};
    const perSecond = limits.globalPerSecond ?? 0;
    this.#hasGlobalBudget = perSecond > 0 || clustered;
    this.#global = new Bottleneck({
      ...store,
      id: `${options.id}:global`,
      ...(perSecond > 0 ? { minTime: Math.ceil(1000 / perSecond) } : NO_LIMIT),
    });
    this.#chats = new Bottleneck.Group({
      ...store,
      id: `${options.id}:chat`,
      maxConcurrent: 1,
      minTime: limits.perChatIntervalMs ?? 0,
    });
    const perGroup = limits.perGroupPerMinute ?? 0;
    if (perGroup > 0) {
      this.#groups = new Bottleneck.Group({
        ...store,
        id: `${options.id}:group`,
        reservoir: perGroup,
        reservoirRefreshAmount: perGroup,
        reservoirRefreshInterval: 60_000,
      });
    }
    for (const emitter of [this.#global, this.#chats, this.#groups]) emitter?.on("error", (e: unknown) => options.onError?.(e));
  }

  /** True when budgets are shared through Redis. */
  get isClustered(): boolean {
    return this.#connection !== undefined;
  }

  /**
   * Run `call` within the limits for `key`. The call gets a signal that aborts on its attempt timeout or at
   * stop. Rejects with the call's own error once retries are spent.
   */
  run<T>(key: OutboundKey, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (this.#isStopped) return Promise.reject(new LimiterStoppedError());
    const attemptTimeoutMs = this.#options.attemptTimeoutMs ?? 30_000;
    const expiration = this.#jobBudgetMs(attemptTimeoutMs);
    const attempt = () => {
      const signal = AbortSignal.any([this.#stopController.signal, AbortSignal.timeout(attemptTimeoutMs)]);
      return call(signal);
    };
    // No global budget in this process: skip bottleneck's scheduler (about 3 ms a job) altogether.
    const once = (): Promise<T> => (this.#hasGlobalBudget ? this.#global.schedule({ expiration: attemptTimeoutMs + 5_000 }, attempt) : attempt());
    const withRetries = () => this.#withRetries(key.chatId, once);
    let job: () => Promise<T>;
    if (key.isEdit === true) job = withRetries;
    else {
      const viaGroup = this.#groups !== undefined && key.isGroup === true
        ? () => this.#groups!.key(key.chatId).schedule({ expiration }, withRetries)
        : withRetries;
      job = () => this.#chats.key(key.chatId).schedule({ expiration }, viaGroup);
    }
    const promise = job();
    this.#inFlight.add(promise);
    const forget = () => this.#inFlight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  async #withRetries<T>(chatId: string, once: () => Promise<T>): Promise<T> {
    const maxRetries = this.#options.maxRetries ?? 3;
    const maxRetryAfterMs = this.#options.maxRetryAfterMs ?? 60_000;
    for (let attempt = 0; ; attempt++) {
      try {
        return await once();
      } catch (error) {
        const retryAfterMs = this.#options.retryAfterMsOf(error);
        if (retryAfterMs === undefined || attempt >= maxRetries || retryAfterMs > maxRetryAfterMs || this.#isStopped) throw error;
        this.#options.onRetry?.({ key: chatId, attempt: attempt + 1, retryAfterMs });
        // The chat's slot stays held while waiting: "retry after" applies to everything sent to this chat.
        await sleep(retryAfterMs, this.#stopController.signal);
      }
    }
  }

  #jobBudgetMs(attemptTimeoutMs: number): number {
    const retries = (this.#options.maxRetries ?? 3) + 1;
    return retries * (attemptTimeoutMs + (this.#options.maxRetryAfterMs ?? 60_000)) + 60_000;
  }

  /** Calls queued or running in this process. */
  pending(): number {
    return this.#inFlight.size;
  }

  /** Wait for queued work (up to the drain timeout), then fail what is left and close Redis connections. */
  async stop(): Promise<void> {
    if (this.#isStopped) return;
    this.#isStopped = true;
    const drainTimeoutMs = this.#options.drainTimeoutMs ?? 5_000;
    if (this.#inFlight.size > 0) {
      const timer = new AbortController();
      await Promise.race([Promise.allSettled([...this.#inFlight]), sleep(drainTimeoutMs, timer.signal).catch(() => undefined)]);
      timer.abort();
    }
    this.#stopController.abort(new LimiterStoppedError());
    const stopOptions = { dropWaitingJobs: true, dropErrorMessage: new LimiterStoppedError().message };
    await Promise.allSettled([
      this.#global.stop(stopOptions),
      ...this.#chats.limiters().map(({ limiter }) => limiter.stop(stopOptions)),
      ...(this.#groups?.limiters() ?? []).map(({ limiter }) => limiter.stop(stopOptions)),
    ]);
    if (this.#connection !== undefined) await this.#connection.disconnect(false).catch(() => undefined);
    else {
      await Promise.allSettled([this.#global.disconnect(), this.#chats.disconnect(), this.#groups?.disconnect()]);
    }
  }
}

/** Resolve after `ms`, or reject when `signal` aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Parse an HTTP `Retry-After` header (seconds or an HTTP date) into ms; undefined when absent or unreadable. */
export function parseRetryAfterMs(value: string | null | undefined, nowMs = Date.now()): number | undefined {
  if (value === null || value === undefined || value.trim() === "") return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.round(seconds * 1000));
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}
