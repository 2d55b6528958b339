/**
 * Socket Mode: Bolt's `SocketModeReceiver` (apps.connections.open → WebSocket → hello → envelopes, each acked)
 * with its own reconnect logic switched off. Instead the shared `ReconnectSupervisor` runs one connection at a
 * time and reconnects with backoff and jitter, and a `DeafWatchdog` recycles a connection that looks open but
 * has delivered nothing for `idleRecycleMs` (Slack redelivers unacked envelopes on the new connection).
 */
import type { LogLevel, Logger as BoltLogger } from "@slack/bolt";
import type * as webApi from "@slack/web-api";
import { createRequire } from "node:module";
import type { Logger } from "pino";
import { DeafWatchdog, ReconnectSupervisor, type BackoffOptions, type HealthTracker } from "../shared/index.ts";

// Bolt's receiver from its own module, not the package index (which loads Express): see adapter.ts.
const { default: SocketModeReceiver } = createRequire(import.meta.url)(
  "@slack/bolt/dist/receivers/SocketModeReceiver.js",
) as typeof import("@slack/bolt/dist/receivers/SocketModeReceiver.js");
type SocketModeReceiver = InstanceType<typeof SocketModeReceiver>;

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
    guardFrames(this.receiver.client, options.log);
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

  /** Drop the connection and open a new one now (a fault inside the SDK was contained). */
  restart(reason: string): void {
    this.#supervisor.restart(reason);
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
      // A failed start disconnects too: then the start's own error (a refused app token) is the one to report.
      let startError: unknown;
      const onDisconnected = () =>
        settle(signal.aborted ? undefined : (startError ?? new Error("socket mode connection closed")));
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
          startError = error ?? new Error("socket mode start failed");
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

/** Frame types the SDK reads a `payload` object from. */
const PAYLOAD_TYPES = new Set(["events_api", "slash_commands", "interactive"]);

/**
 * Why a Socket Mode frame is malformed, or undefined when the SDK can take it. `@slack/socket-mode` reads
 * `event.type`, and for events `payload.event.type`, without checking: `null`, `{"type":"events_api"}` or a
 * payload without `event` each become an unhandled rejection inside it.
 */
export function socketFrameProblem(text: string): string | undefined {
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch {
    return undefined; // the SDK ignores what is not JSON by itself
  }
  if (typeof frame !== "object" || frame === null || Array.isArray(frame)) return "frame is not an object";
  const { type, payload, envelope_id: envelopeId } = frame as Record<string, unknown>;
  if (typeof type !== "string") return "frame has no type";
  if (type === "hello" || type === "disconnect") return undefined;
  if (typeof envelopeId !== "string" || envelopeId === "") return `${type} frame has no envelope_id`;
  if (!PAYLOAD_TYPES.has(type)) return undefined;
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) return `${type} frame has no payload`;
  if (type === "events_api") {
    const event = (payload as { event?: unknown }).event;
    if (typeof event !== "object" || event === null || typeof (event as { type?: unknown }).type !== "string")
      return "events_api payload has no event type";
  }
  return undefined;
}

/**
 * Put a check in front of the SDK's frame handler: malformed frames are dropped (and logged, rate-limited by
 * the logger) before the SDK sees them, and a rejection of the handler itself is caught and logged.
 */
function guardFrames(client: SocketModeReceiver["client"], log: Logger): void {
  const handlers = client.listeners("ws_message") as Array<(data: unknown, isBinary: boolean) => unknown>;
  client.removeAllListeners("ws_message");
  // The SDK emits "error" for a socket error; an EventEmitter with no listener for it throws.
  client.on("error", (error: unknown) => log.warn({ adapter: "slack", err: error }, "socket mode error"));
  client.on("ws_message", (data: unknown, isBinary: boolean) => {
    if (!isBinary) {
      const text = typeof data === "string" ? data : Buffer.isBuffer(data) ? data.toString("utf8") : undefined;
      const problem = text === undefined ? undefined : socketFrameProblem(text);
      if (problem !== undefined) {
        log.warn({ adapter: "slack", problem }, "malformed socket mode frame dropped");
        return;
      }
    }
    for (const handler of handlers) {
      try {
        Promise.resolve(handler.call(client, data, isBinary)).catch((error: unknown) =>
          log.warn({ adapter: "slack", err: error }, "socket mode frame handling failed"),
        );
      } catch (error) {
        log.warn({ adapter: "slack", err: error }, "socket mode frame handling failed");
      }
    }
  });
}
