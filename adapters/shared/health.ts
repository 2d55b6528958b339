/**
 * Health from real traffic and recovery: `HealthTracker` keeps what `/status` and `/readyz` show;
 * `ReconnectSupervisor` runs one connection at a time and reconnects with exponential backoff and jitter;
 * `DeafWatchdog` restarts a connection that looks up but has stopped hearing anything.
 */
import { systemClock, turnClock, type AdapterHealth, type Clock, type Platform } from "../../bot/index.ts";
import { sleep } from "./outbound-limiter.ts";

/** Tracks one adapter's state and the times of its last inbound event and last good API call. */
export class HealthTracker {
  readonly #platform: Platform;
  readonly #clock: Clock;
  #state: AdapterHealth["state"] = "starting";
  #lastInboundAt: number | null = null;
  #lastApiOkAt: number | null = null;
  #detail: string | undefined;
  #mode: string | undefined;
  #reconnects = 0;
  #lastError: string | undefined;
  #apiError: string | undefined;

  /** Marks come with every message: the system clock is read once per event-loop turn (`turnClock`). */
  constructor(platform: Platform, clock: Clock = systemClock) {
    this.#platform = platform;
    this.#clock = turnClock(clock);
  }

  /** An inbound event arrived. */
  markInbound(): void {
    this.#lastInboundAt = this.#clock.now();
  }

  /** A platform API call succeeded. */
  markApiOk(): void {
    this.#lastApiOkAt = this.#clock.now();
    this.#apiError = undefined;
  }

  /**
   * A platform API call failed at the network layer (no answer at all): replies cannot go out until a call
   * succeeds again. Refusals by the platform (a 403 for one chat) are not this.
   */
  markApiUnreachable(reason: string): void {
    this.#apiError = reason;
  }

  /** Set while the platform's API cannot be reached. */
  get apiError(): string | undefined {
    return this.#apiError;
  }

  /** Record the connection mode shown in `detail` (`polling`, `webhook`, `gateway`…). */
  setMode(mode: string): void {
    this.#mode = mode;
  }

  /** Move to a state; `error` is kept as the last error shown in `detail`. */
  setState(state: AdapterHealth["state"], error?: string): void {
    if (state === "reconnecting" && this.#state !== "reconnecting") this.#reconnects++;
    this.#state = state;
    if (error !== undefined) this.#lastError = error;
  }

  /** Extra free text for `detail`. */
  setDetail(detail: string | undefined): void {
    this.#detail = detail;
  }

  get state(): AdapterHealth["state"] {
    return this.#state;
  }

  get reconnects(): number {
    return this.#reconnects;
  }

  get lastInboundAt(): number | null {
    return this.#lastInboundAt;
  }

  get lastApiOkAt(): number | null {
    return this.#lastApiOkAt;
  }

  /** The `AdapterHealth` snapshot. */
  snapshot(): AdapterHealth {
    const parts = [
      this.#mode === undefined ? undefined : `mode ${this.#mode}`,
      this.#reconnects > 0 ? `${this.#reconnects} reconnect${this.#reconnects === 1 ? "" : "s"}` : undefined,
      this.#lastError === undefined ? undefined : `last error: ${this.#lastError}`,
      this.#detail,
    ].filter((p): p is string => p !== undefined);
    const health: AdapterHealth = {
      platform: this.#platform,
      state: this.#state,
      lastInboundAt: this.#lastInboundAt,
      lastApiOkAt: this.#lastApiOkAt,
      reconnects: this.#reconnects,
    };
    if (parts.length > 0) health.detail = parts.join("; ");
    if (this.#apiError !== undefined) health.apiError = this.#apiError;
    return health;
  }
}

/** Exponential backoff with jitter. */
export interface BackoffOptions {
  /** First delay, in ms. Default 1 s. */
  initialMs?: number;
  /** Largest delay, in ms. Default 60 s. */
  maxMs?: number;
  /** Growth per attempt. Default 2. */
  factor?: number;
  /** Share of the delay that is random, 0..1. Default 0.5. */
  jitter?: number;
}

/** Delay before reconnect attempt `attempt` (1-based): grows by `factor`, capped, with part of it random. */
export function backoffDelayMs(
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const { initialMs = 1_000, maxMs = 60_000, factor = 2, jitter = 0.5 } = options;
  const base = Math.min(maxMs, initialMs * factor ** Math.max(0, attempt - 1));
  return Math.round(base * (1 - jitter) + random() * base * jitter);
}

/** A logger as the supervisor needs it (pino fits). */
export interface SupervisorLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** Options for a `ReconnectSupervisor`. */
export interface ReconnectSupervisorOptions {
  /** For logs: `telegram polling`. */
  name: string;
  health: HealthTracker;
  /**
   * Run one connection until it ends. Call `markUp()` once connected. Resolve when it ends on purpose (the
   * signal aborted), reject when it fails; either way a new session starts after a backoff unless stopping.
   */
  runSession(signal: AbortSignal, markUp: () => void): Promise<void>;
  /** Failures not worth retrying (a revoked token): the adapter goes down. */
  isFatal?(error: unknown): boolean;
  backoff?: BackoffOptions;
  log?: SupervisorLog;
  random?: () => number;
}

/** Keeps one connection alive: reconnects with backoff and jitter, restarts on request, never touches others. */
export class ReconnectSupervisor {
  readonly #options: ReconnectSupervisorOptions;
  readonly #stopController = new AbortController();
  #session: AbortController | undefined;
  #loop: Promise<void> | undefined;
  #restarts = 0;

  constructor(options: ReconnectSupervisorOptions) {
    this.#options = options;
  }

  /** Sessions restarted on purpose (by the watchdog or `restart`). */
  get restarts(): number {
    return this.#restarts;
  }

  /**
   * Start the loop. Resolves when the first session is up, or after its first non-fatal failure (the loop keeps
   * trying in the background, state `reconnecting`). Rejects when the first failure is fatal.
   */
  start(): Promise<void> {
    if (this.#loop !== undefined) throw new Error(`${this.#options.name} already started`);
    return new Promise<void>((resolve, reject) => {
      let isSettled = false;
      const settle = (error?: unknown) => {
        if (isSettled) return;
        isSettled = true;
        if (error === undefined) resolve();
        else reject(error);
      };
      this.#loop = this.#run(settle);
    });
  }

  /** Drop the current session and start a new one now (a deaf connection). */
  restart(reason: string): void {
    if (this.#stopController.signal.aborted || this.#session === undefined) return;
    this.#restarts++;
    this.#options.log?.warn({ adapter: this.#options.name, reason }, "restarting connection");
    this.#session.abort(new Error(`restart: ${reason}`));
  }

  /** End the current session and the loop. */
  async stop(): Promise<void> {
    this.#stopController.abort(new Error("stopping"));
    this.#session?.abort(new Error("stopping"));
    await this.#loop;
    this.#options.health.setState("down");
  }

  async #run(settle: (error?: unknown) => void): Promise<void> {
    const { health, log, name } = this.#options;
    let attempt = 0;
    const stopSignal = this.#stopController.signal;
    while (!stopSignal.aborted) {
      const session = new AbortController();
      this.#session = session;
      const markUp = () => {
        attempt = 0;
        health.setState("up");
        settle();
      };
      let failure: unknown;
      try {
        await this.#options.runSession(session.signal, markUp);
      } catch (error) {
        failure = error;
      }
      if (stopSignal.aborted) break;
      const isRestart = session.signal.aborted;
      if (failure !== undefined && !isRestart && this.#options.isFatal?.(failure) === true) {
        health.setState("down", errorText(failure));
        log?.warn({ adapter: name, err: errorText(failure) }, "connection failed for good");
        settle(failure);
        return;
      }
      attempt++;
      health.setState("reconnecting", failure === undefined || isRestart ? undefined : errorText(failure));
      if (!isRestart) settle();
      const delayMs =
        isRestart && attempt === 1 ? 0 : backoffDelayMs(attempt, this.#options.backoff, this.#options.random);
      log?.info(
        {
          adapter: name,
          attempt,
          delayMs,
          ...(failure === undefined || isRestart ? {} : { err: errorText(failure) }),
        },
        "reconnecting",
      );
      try {
        await sleep(delayMs, stopSignal);
      } catch {
        break;
      }
    }
    settle();
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Options for a `DeafWatchdog`. */
export interface DeafWatchdogOptions {
  /** How often to look, in ms. */
  intervalMs: number;
  /** A reason when the connection is deaf, undefined when it is fine. */
  check(): string | undefined | Promise<string | undefined>;
  /** Called with the reason (typically `supervisor.restart`). */
  onDeaf(reason: string): void;
  onError?(error: unknown): void;
}

/** Looks at a connection periodically and reports when it has gone deaf. */
export class DeafWatchdog {
  readonly #options: DeafWatchdogOptions;
  #timer: NodeJS.Timeout | undefined;
  #isChecking = false;

  constructor(options: DeafWatchdogOptions) {
    this.#options = options;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      void this.checkNow();
    }, this.#options.intervalMs);
    this.#timer.unref();
  }

  /** Run one check now (also used by tests). Resolves with the reason when it was deaf. */
  async checkNow(): Promise<string | undefined> {
    if (this.#isChecking) return undefined;
    this.#isChecking = true;
    try {
      const reason = await this.#options.check();
      if (reason !== undefined) this.#options.onDeaf(reason);
      return reason;
    } catch (error) {
      this.#options.onError?.(error);
      return undefined;
    } finally {
      this.#isChecking = false;
    }
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
