/**
 * Socket Mode: Bolt's `SocketModeReceiver` (apps.connections.open → WebSocket → hello → envelopes, each acked)
 * with its own reconnect logic switched off. Instead the shared `ReconnectSupervisor` runs one connection at a
 * time and reconnects with backoff and jitter, and a `DeafWatchdog` recycles a connection that looks open but
 * has delivered nothing for `idleRecycleMs` (Slack redelivers unacked envelopes on the new connection).
 */
import { SocketModeReceiver, type LogLevel, type Logger as BoltLogger, type webApi } from "@slack/bolt";
import type { Logger } from "pino";
import { DeafWatchdog, ReconnectSupervisor, type BackoffOptions, type HealthTracker } from "../shared/index.ts";

/** Options for the Socket Mode connection. */
export interface SlackSocketOptions {
  appToken: string;
  clientOptions: webApi.WebClientOptions;
  health: HealthTracker;
  log: Logger;
  boltLogger: BoltLogger;
  logLevel: LogLevel;
  now: () => number;
  /** Recycle a connection that delivered nothing for this long, in ms. */
  idleRecycleMs: number;
  /** Give up on a connection whose server sent no ping for this long, in ms. */
  serverPingTimeoutMs?: number;
  /** Give up on a connection whose server answers no ping for this long, in ms. */
  clientPingTimeoutMs?: number;
  backoff?: BackoffOptions;
}

/** Failures that reconnecting cannot fix. */
const FATAL = new Set(["invalid_auth", "not_authed", "account_inactive", "token_revoked", "not_allowed_token_type"]);

/** One supervised Socket Mode connection. `receiver` is handed to Bolt's `App`. */
export class SlackSocketConnection {
  readonly receiver: SocketModeReceiver;
  readonly #o: SlackSocketOptions;
  readonly #supervisor: ReconnectSupervisor;
  readonly #watchdog: DeafWatchdog;
  #lastTrafficAt = 0;

  constructor(options: SlackSocketOptions) {
    this.#o = options;
    this.receiver = new SocketModeReceiver({
      appToken: options.appToken,
      logger: options.boltLogger,
      logLevel: options.logLevel,
      autoReconnectEnabled: false,
      ...(options.serverPingTimeoutMs === undefined ? {} : { serverPingTimeout: options.serverPingTimeoutMs }),
      ...(options.clientPingTimeoutMs === undefined ? {} : { clientPingTimeout: options.clientPingTimeoutMs }),
      installerOptions: { clientOptions: { ...options.clientOptions } },
    });
    this.receiver.client.on("slack_event", () => this.noteTraffic());
    this.#supervisor = new ReconnectSupervisor({
      name: "slack socket",
      health: options.health,
      runSession: (signal, markUp) => this.#session(signal, markUp),
      isFatal: (error) => FATAL.has(String((error as { data?: { error?: unknown } }).data?.error ?? "")),
      log: options.log,
      ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
    });
    this.#watchdog = new DeafWatchdog({
      intervalMs: Math.max(50, Math.min(10_000, Math.floor(options.idleRecycleMs / 4))),
      check: () => this.#deafReason(),
      onDeaf: (reason) => this.#supervisor.restart(reason),
      onError: (error) => options.log.warn({ err: error }, "slack socket watchdog failed"),
    });
  }

  /** Connect; resolves once the first connection said hello (or failed in a way worth retrying). */
  async start(): Promise<void> {
    await this.#supervisor.start();
    this.#watchdog.start();
  }

  /** Close the connection and stop reconnecting. */
  async stop(): Promise<void> {
    this.#watchdog.stop();
    await this.#supervisor.stop();
  }

  /** Connections restarted by the watchdog. */
  get restarts(): number {
    return this.#supervisor.restarts;
  }

  /** Something arrived on the socket (an envelope, or a fresh hello). */
  noteTraffic(): void {
    this.#lastTrafficAt = this.#o.now();
  }

  /** Run one connection until it closes (reject) or the supervisor ends it (resolve). */
  #session(signal: AbortSignal, markUp: () => void): Promise<void> {
    const client = this.receiver.client;
    return new Promise<void>((resolve, reject) => {
      let isSettled = false;
      const settle = (error?: unknown) => {
        if (isSettled) return;
        isSettled = true;
        client.off("disconnected", onDisconnected);
        signal.removeEventListener("abort", onAbort);
        if (error === undefined) resolve();
        else reject(error);
      };
      const onDisconnected = () => settle(signal.aborted ? undefined : new Error("socket mode connection closed"));
      const onAbort = () => {
        client.disconnect().then(
          () => settle(),
          (error: unknown) => settle(error),
        );
      };
      client.on("disconnected", onDisconnected);
      signal.addEventListener("abort", onAbort, { once: true });
      client.start().then(
        () => {
          this.noteTraffic();
          this.#o.log.info({ adapter: "slack" }, "socket mode connected");
          markUp();
        },
        (error: unknown) => {
          // A failed start may leave a half-open socket behind; close it before the next attempt.
          client
            .disconnect()
            .catch(() => undefined)
            .finally(() => settle(error ?? new Error("socket mode start failed")));
        },
      );
    });
  }

  #deafReason(): string | undefined {
    if (this.#o.health.state !== "up") return undefined;
    const idleMs = this.#o.now() - this.#lastTrafficAt;
    return idleMs > this.#o.idleRecycleMs ? `no envelope for ${idleMs} ms` : undefined;
  }
}
