/**
 * Outbound rate limiting per a platform's published limits: one global budget, one per chat (serialised, so
 * split messages keep their order) and an optional one per group chat. A call refused with "retry after"
 * (Telegram 429 `retry_after`, HTTP `Retry-After`) is retried after that delay while the chat's slot is held, a
 * bounded number of times. With a Redis URL the budgets live in Redis (bottleneck clustering), so every process
 * using the same `id` shares them.
 */
import { createRequire } from "node:module";
import Bottleneck from "bottleneck";
import type { Redis as RedisClient } from "ioredis";

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
  /**
   * Each attempt is aborted after this, in ms. Default: no limiter-side timer (give the SDK client its own
   * timeout, as the adapters do); the call's signal then aborts only at stop.
   */
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

/** Maps of a call's final outcome: a result into what the caller returns, an error into the one to throw. */
export interface OutcomeMaps<T, R> {
  onValue?: (value: T) => R;
  onError?: (error: unknown) => unknown;
}

/** Raised to queued calls when the limiter stops before they ran. */
export class LimiterStoppedError extends Error {
  constructor() {
    super("outbound limiter stopped before the call ran");
    this.name = "LimiterStoppedError";
  }
}

/** Where the budgets live: in this process, or in Redis through bottleneck's clustering. */
interface Budgets {
  /** Serialise per chat and keep the per-chat spacing. */
  chat<T>(chatId: string, expirationMs: number, job: () => Promise<T>): Promise<T>;
  /** The per-group-chat allowance per minute. */
  group<T>(chatId: string, expirationMs: number, job: () => Promise<T>): Promise<T>;
  /** The global spacing. */
  global<T>(expirationMs: number, job: () => Promise<T>): Promise<T>;
  /** The platform asked to wait `ms` before sending to this chat again (a "retry after" refusal). */
  hold(chatId: string, ms: number): void;
  /** True when a call to this chat would start at once through `chat` (no spacing, queue or hold). */
  isOpen(chatId: string): boolean;
  /** True when a call would start at once through `global` (no global spacing). */
  globalIsOpen(): boolean;
  stop(): Promise<void>;
}

/**
 * Schedules outbound calls within a platform's limits. One per adapter instance. In one process the budgets are
 * kept in memory (bottleneck's local datastore passes every job through timer ticks, about 1,000 jobs/s on
 * these machines); with Redis they are bottleneck limiters clustered under a shared id.
 */
export class OutboundLimiter {
  readonly #options: OutboundLimiterOptions;
  readonly #budgets: Budgets;
  readonly #stopController = new AbortController();
  readonly #maxRetries: number;
  readonly #maxRetryAfterMs: number;
  readonly #expirationMs: number;
  readonly #globalExpirationMs: number;
  readonly #viaGroups: boolean;
  #isStopped = false;
  /** The signals of attempts under way, aborted at stop. */
  readonly #running = new Set<AbortController>();
  /** Calls queued or running, and who waits for them to reach zero (stop). */
  #pending = 0;
  #onIdle: (() => void) | undefined;
  readonly #settle = (): void => {
    if (--this.#pending === 0 && this.#onIdle !== undefined) this.#onIdle();
  };

  constructor(options: OutboundLimiterOptions) {
    this.#options = options;
    this.#budgets =
      options.redisUrl === undefined
        ? new LocalBudgets(options.limits, this.#stopController.signal)
        : new ClusteredBudgets(options);
    this.#maxRetries = options.maxRetries ?? 3;
    this.#maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
    const attemptMs = options.attemptTimeoutMs ?? 30_000;
    // In Redis a chat's slot held by a process that died is freed only when it expires: a slot kept for the whole
    // retry budget (7 minutes by default) silenced every chat a killed process had been answering for that long.
    // Expired early, a slot lets the chat's next call start (still spaced by the chat's interval).
    this.#expirationMs = attemptMs + 5_000;
    this.#globalExpirationMs = attemptMs + 5_000;
    this.#viaGroups = (options.limits.perGroupPerMinute ?? 0) > 0;
  }

  /** True when budgets are shared through Redis. */
  get isClustered(): boolean {
    return this.#budgets instanceof ClusteredBudgets;
  }

  /**
   * Run `call` within the limits for `key`. Each attempt gets a signal of its own that aborts on the attempt
   * timeout or at stop. Rejects with the call's own error once retries are spent. `onValue` and `onError` map the
   * final outcome (a result into what the caller returns, an error into the one to throw) in the same step that
   * settles the call, so a caller needs no `then` of its own.
   */
  run<T, R = T>(
    key: OutboundKey,
    call: (signal: AbortSignal) => Promise<T>,
    { onValue, onError }: OutcomeMaps<T, R> = {},
  ): Promise<R> {
    if (this.#isStopped)
      return Promise.reject(onError === undefined ? new LimiterStoppedError() : onError(new LimiterStoppedError()));
    const chatId = key.chatId;
    this.#pending++;
    // An edit, or a chat with nothing to wait for: the attempts start now and settle the call themselves.
    if (key.isEdit === true || (!(this.#viaGroups && key.isGroup === true) && this.#budgets.isOpen(chatId))) {
      return this.#attempts(chatId, call, { settles: true, onValue, onError });
    }
    const attempts = (): Promise<T> => this.#attempts(chatId, call, { settles: false });
    const promise =
      this.#viaGroups && key.isGroup === true
        ? this.#budgets.chat(chatId, this.#expirationMs, () =>
            this.#budgets.group(chatId, this.#expirationMs, attempts),
          )
        : this.#budgets.chat(chatId, this.#expirationMs, attempts);
    return promise.then(
      (value) => {
        this.#settle();
        return onValue === undefined ? (value as unknown as R) : onValue(value);
      },
      (error: unknown) => {
        this.#settle();
        throw onError === undefined ? error : onError(error);
      },
    );
  }

  /**
   * The attempts of one call through the global budget; a "retry after" refusal waits (holding the chat's slot)
   * and tries again, a bounded number of times. Each attempt starts with a signal of its own, aborted at stop or
   * on the attempt timeout — never the limiter's long-lived stop signal: a client that adds an abort listener per
   * request and never removes it (@discordjs/rest does) would pile listeners on it for as long as the
   * bot runs. With `settles`, the call is counted settled here and its outcome mapped.
   */
  async #attempts<T, R>(
    chatId: string,
    call: (signal: AbortSignal) => Promise<T>,
    { settles, onValue, onError }: { settles: boolean } & OutcomeMaps<T, R>,
  ): Promise<R> {
    for (let attempt = 0; ; attempt++) {
      const running: RunningCall = { controller: undefined, timer: undefined };
      let value: T;
      try {
        value = await (this.#budgets.globalIsOpen()
          ? this.#begin(call, running)
          : this.#budgets.global(this.#globalExpirationMs, () => this.#begin(call, running)));
      } catch (error) {
        this.#end(running);
        const retryAfterMs = this.#options.retryAfterMsOf(error);
        if (
          retryAfterMs === undefined ||
          attempt >= this.#maxRetries ||
          retryAfterMs > this.#maxRetryAfterMs ||
          this.#isStopped
        ) {
          throw this.#failed(settles, error, onError);
        }
        this.#options.onRetry?.({ key: chatId, attempt: attempt + 1, retryAfterMs });
        this.#budgets.hold(chatId, retryAfterMs);
        try {
          await sleep(retryAfterMs, this.#stopController.signal);
        } catch (stopped) {
          throw this.#failed(settles, stopped, onError);
        }
        continue;
      }
      this.#end(running);
      if (settles) this.#settle();
      return onValue === undefined ? (value as unknown as R) : onValue(value);
    }
  }

  /** Start one attempt with a fresh signal (and its timeout timer, when configured). */
  #begin<T>(call: (signal: AbortSignal) => Promise<T>, running: RunningCall): Promise<T> {
    if (this.#stopController.signal.aborted) return Promise.reject(new LimiterStoppedError());
    const controller = new AbortController();
    running.controller = controller;
    this.#running.add(controller);
    const attemptTimeoutMs = this.#options.attemptTimeoutMs;
    if (attemptTimeoutMs !== undefined) {
      running.timer = setTimeout(
        () => controller.abort(new DOMException(`outbound call exceeded ${attemptTimeoutMs} ms`, "TimeoutError")),
        attemptTimeoutMs,
      );
    }
    try {
      return call(controller.signal);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #end(running: RunningCall): void {
    if (running.controller !== undefined) this.#running.delete(running.controller);
    if (running.timer !== undefined) clearTimeout(running.timer);
  }

  /** The error a call ends with: counted settled when it `settles`, and mapped. */
  #failed(settles: boolean, error: unknown, onError: ((error: unknown) => unknown) | undefined): unknown {
    if (settles) this.#settle();
    return onError === undefined ? error : onError(error);
  }

  /** Calls queued or running in this process. */
  pending(): number {
    return this.#pending;
  }

  /** Wait for queued work (up to the drain timeout), then fail what is left and close Redis connections. */
  async stop(): Promise<void> {
    if (this.#isStopped) return;
    this.#isStopped = true;
    const drainTimeoutMs = this.#options.drainTimeoutMs ?? 5_000;
    if (this.#pending > 0) {
      const timer = new AbortController();
      const idle = new Promise<void>((resolve) => (this.#onIdle = resolve));
      await Promise.race([idle, sleep(drainTimeoutMs, timer.signal).catch(() => undefined)]);
      timer.abort();
    }
    const stopped = new LimiterStoppedError();
    this.#stopController.abort(stopped);
    for (const controller of this.#running) controller.abort(stopped);
    this.#running.clear();
    await this.#budgets.stop();
  }
}

/** One attempt's signal and timeout timer, released when it settles. */
interface RunningCall {
  controller: AbortController | undefined;
  timer: NodeJS.Timeout | undefined;
}

interface ChatState {
  /** Settles when the chat's last queued call has; undefined before the first. */
  tail: Promise<unknown> | undefined;
  lastStartAt: number;
  pending: number;
  /** Bound once per chat state: `#settled` for this chat. */
  settle: () => void;
}

/** Budgets in this process: a promise chain per chat, a next-slot time globally, a window count per group. */
class LocalBudgets implements Budgets {
  readonly #perChatIntervalMs: number;
  readonly #globalIntervalMs: number;
  readonly #perGroupPerMinute: number;
  readonly #signal: AbortSignal;
  readonly #chats = new Map<string, ChatState>();
  readonly #groups = new Map<string, { windowStartAt: number; used: number }>();
  #nextGlobalAt = 0;
  #sweepAtSize = 10_000;
  /** Chats held by a "retry after", until when (epoch ms); only for chats without spacing. */
  readonly #holds = new Map<string, number>();

  constructor(limits: OutboundLimits, signal: AbortSignal) {
    this.#perChatIntervalMs = limits.perChatIntervalMs ?? 0;
    this.#globalIntervalMs = (limits.globalPerSecond ?? 0) > 0 ? 1000 / limits.globalPerSecond! : 0;
    this.#perGroupPerMinute = limits.perGroupPerMinute ?? 0;
    this.#signal = signal;
  }

  chat<T>(chatId: string, _expirationMs: number, job: () => Promise<T>): Promise<T> {
    if (this.#perChatIntervalMs === 0) return this.#unspaced(chatId, job);
    let s = this.#chats.get(chatId);
    if (s === undefined) {
      if (this.#chats.size >= this.#sweepAtSize) this.#sweep();
      s = { tail: undefined, lastStartAt: Number.NEGATIVE_INFINITY, pending: 0, settle: undefined! };
      const state = s;
      s.settle = () => this.#settled(state);
      this.#chats.set(chatId, s);
    }
    const state = s;
    let result: Promise<T>;
    if (
      state.pending === 0 &&
      !this.#signal.aborted &&
      (this.#perChatIntervalMs === 0 || state.lastStartAt + this.#perChatIntervalMs <= Date.now())
    ) {
      // Nothing queued for this chat and no spacing to wait for: start now.
      state.lastStartAt = this.#perChatIntervalMs === 0 ? 0 : Date.now();
      try {
        result = job();
      } catch (error) {
        result = Promise.reject(error);
      }
    } else {
      result = (state.tail ?? Promise.resolve()).then(async (): Promise<T> => {
        if (this.#signal.aborted) throw new LimiterStoppedError();
        const waitMs = state.lastStartAt + this.#perChatIntervalMs - Date.now();
        if (waitMs > 0) await sleep(waitMs, this.#signal);
        state.lastStartAt = Date.now();
        return job();
      });
    }
    state.pending++;
    state.tail = result.then(state.settle, state.settle);
    return result;
  }

  /**
   * A chat without spacing has no queue: calls start at once, in the order they come, unless the chat is held
   * by a "retry after" (then they wait it out).
   */
  #unspaced<T>(chatId: string, job: () => Promise<T>): Promise<T> {
    if (this.#holds.size > 0) {
      const until = this.#holds.get(chatId);
      if (until !== undefined) {
        const waitMs = until - Date.now();
        if (waitMs > 0) return sleep(waitMs, this.#signal).then(() => this.#unspaced(chatId, job));
        this.#holds.delete(chatId);
      }
    }
    if (this.#signal.aborted) return Promise.reject(new LimiterStoppedError());
    try {
      return job();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  isOpen(chatId: string): boolean {
    return (
      this.#perChatIntervalMs === 0 && (this.#holds.size === 0 || !this.#holds.has(chatId)) && !this.#signal.aborted
    );
  }

  globalIsOpen(): boolean {
    return this.#globalIntervalMs === 0;
  }

  hold(chatId: string, ms: number): void {
    // A spaced chat's queue already waits behind the call that is waiting to retry.
    if (this.#perChatIntervalMs !== 0) return;
    const until = Date.now() + ms;
    if ((this.#holds.get(chatId) ?? 0) < until) this.#holds.set(chatId, until);
  }

  #settled(s: ChatState): void {
    s.pending--;
  }

  #sweep(): void {
    const now = Date.now();
    // Idle chats are forgotten only here, when there are many: most chats send again soon.
    for (const [id, s] of this.#chats)
      if (s.pending === 0 && now - s.lastStartAt >= this.#perChatIntervalMs) this.#chats.delete(id);
    this.#sweepAtSize = Math.max(10_000, this.#chats.size * 2);
  }

  async group<T>(chatId: string, _expirationMs: number, job: () => Promise<T>): Promise<T> {
    for (;;) {
      const now = Date.now();
      let window = this.#groups.get(chatId);
      if (window === undefined || now - window.windowStartAt >= 60_000) {
        window = { windowStartAt: now, used: 0 };
        this.#groups.set(chatId, window);
        if (this.#groups.size > 10_000) {
          for (const [id, w] of this.#groups) if (now - w.windowStartAt >= 60_000) this.#groups.delete(id);
        }
      }
      if (window.used < this.#perGroupPerMinute) {
        window.used++;
        return job();
      }
      await sleep(window.windowStartAt + 60_000 - now, this.#signal);
    }
  }

  global<T>(_expirationMs: number, job: () => Promise<T>): Promise<T> {
    if (this.#globalIntervalMs === 0) return job();
    const now = Date.now();
    const slotAt = Math.max(now, this.#nextGlobalAt);
    this.#nextGlobalAt = slotAt + this.#globalIntervalMs;
    return slotAt > now ? sleep(slotAt - now, this.#signal).then(job) : job();
  }

  async stop(): Promise<void> {
    this.#holds.clear();
    this.#chats.clear();
    this.#groups.clear();
  }
}

/** Budgets in Redis: bottleneck limiters with `datastore: "ioredis"` sharing one connection and one id. */
class ClusteredBudgets implements Budgets {
  readonly #global: Bottleneck;
  readonly #chats: Bottleneck.Group;
  readonly #groups: Bottleneck.Group;
  readonly #connection: Bottleneck.IORedisConnection;

  constructor(options: OutboundLimiterOptions) {
    const { limits } = options;
    // ioredis loads here, with the first shared budget: a bot without a Redis URL never carries it (about 2 MB).
    const Redis = (createRequire(import.meta.url)("ioredis") as { Redis: typeof RedisClient }).Redis;
    const client = new Redis(options.redisUrl!, { maxRetriesPerRequest: 2 });
    this.#connection = new Bottleneck.IORedisConnection({ client, Redis } as Bottleneck.IORedisConnectionOptions);
    this.#connection.on("error", (e) => options.onError?.(e));
    const store = { datastore: "ioredis" as const, connection: this.#connection, clearDatastore: false, Redis };
    const perSecond = limits.globalPerSecond ?? 0;
    this.#global = new Bottleneck({
      ...store,
      id: `${options.id}:global`,
      minTime: perSecond > 0 ? Math.ceil(1000 / perSecond) : 0,
    });
    this.#chats = new Bottleneck.Group({
      ...store,
      id: `${options.id}:chat`,
      maxConcurrent: 1,
      minTime: limits.perChatIntervalMs ?? 0,
    });
    const perGroup = limits.perGroupPerMinute ?? 0;
    this.#groups = new Bottleneck.Group({
      ...store,
      id: `${options.id}:group`,
      ...(perGroup > 0
        ? { reservoir: perGroup, reservoirRefreshAmount: perGroup, reservoirRefreshInterval: 60_000 }
        : {}),
    });
    for (const emitter of [this.#global, this.#chats, this.#groups])
      emitter.on("error", (e: unknown) => options.onError?.(e));
  }

  chat<T>(chatId: string, expirationMs: number, job: () => Promise<T>): Promise<T> {
    return this.#chats.key(chatId).schedule({ expiration: expirationMs }, job);
  }

  group<T>(chatId: string, expirationMs: number, job: () => Promise<T>): Promise<T> {
    return this.#groups.key(chatId).schedule({ expiration: expirationMs }, job);
  }

  global<T>(expirationMs: number, job: () => Promise<T>): Promise<T> {
    return this.#global.schedule({ expiration: expirationMs }, job);
  }

  hold(_chatId: string, _ms: number): void {
    // The chat's limiter runs one job at a time: it waits behind the call that is waiting to retry.
  }

  isOpen(_chatId: string): boolean {
    return false; // every call goes through the shared per-chat limiter
  }

  globalIsOpen(): boolean {
    return false; // the global budget is shared through Redis
  }

  async stop(): Promise<void> {
    const stopOptions = { dropWaitingJobs: true, dropErrorMessage: new LimiterStoppedError().message };
    await Promise.allSettled([
      this.#global.stop(stopOptions),
      ...this.#chats.limiters().map(({ limiter }) => limiter.stop(stopOptions)),
      ...this.#groups.limiters().map(({ limiter }) => limiter.stop(stopOptions)),
    ]);
    await this.#connection.disconnect(false).catch(() => undefined);
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
