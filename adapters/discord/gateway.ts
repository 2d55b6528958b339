/**
 * Gateway mode: one `@discordjs/ws` `WebSocketManager` (one shard) per session, run under the shared
 * `ReconnectSupervisor`. The manager does HELLO/IDENTIFY/heartbeats and resumes a dropped or zombie connection by
 * itself (RESUME replays what was missed, so nothing is lost); every dispatch is handed on raw, so gateway and
 * HTTP interactions share one normalisation. Health follows the shard: reconnecting while it resumes, up again
 * on RESUMED. A session that gives up for good (an unrecoverable close) ends, and the supervisor starts a fresh
 * one with backoff; the watchdog restarts a session whose heartbeats have stopped being acknowledged and that
 * the manager has not noticed.
 *
 * discord.js's `Client` ran this same manager underneath, plus object caches and handlers the adapter never
 * used (it reads every dispatch raw); loading it cost about 0.25 s of CPU at start (docs/architecture.md).
 */
import { REST } from "@discordjs/rest";
import { type SessionInfo, WebSocketManager, WebSocketShardEvents } from "@discordjs/ws";
import { GatewayCloseCodes, GatewayIntentBits } from "discord-api-types/v10";
import type { Logger } from "pino";
import type { HealthTracker } from "../shared/health.ts";

/**
 * The intents the adapter asks for: guilds (roles, owners), guild and DM messages, and their content, and the
 * reactions on messages in both.
 */
export const GATEWAY_INTENTS = [
  GatewayIntentBits.Guilds,
  GatewayIntentBits.GuildMessages,
  GatewayIntentBits.DirectMessages,
  GatewayIntentBits.MessageContent,
  GatewayIntentBits.GuildMessageReactions,
  GatewayIntentBits.DirectMessageReactions,
];

/** A raw gateway dispatch. */
export interface GatewayDispatch {
  t: string | null;
  s: number | null;
  d: unknown;
}

/** Options for the gateway connection. */
export interface GatewayOptions {
  token: string;
  apiRoot: string;
  health: HealthTracker;
  log: Logger;
  onDispatch(packet: GatewayDispatch): void;
  /** Longest wait for READY and the guilds, in ms. Default 30 s. */
  readyTimeoutMs?: number;
}

/** Close codes after which the gateway gives up (bad token, intents, version, sharding). */
const FATAL_CLOSE_CODES = new Set<number>([
  GatewayCloseCodes.AuthenticationFailed,
  GatewayCloseCodes.InvalidShard,
  GatewayCloseCodes.ShardingRequired,
  GatewayCloseCodes.InvalidAPIVersion,
  GatewayCloseCodes.InvalidIntents,
  GatewayCloseCodes.DisallowedIntents,
]);

/** An error that should not be retried (the token or the intents are wrong). */
export function isFatalGatewayError(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const e = error as { code?: unknown; closeCode?: unknown };
  return (
    e.code === "TokenInvalid" ||
    e.code === "DisallowedIntents" ||
    (typeof e.closeCode === "number" && FATAL_CLOSE_CODES.has(e.closeCode))
  );
}

/** How long a manager's destroy may take before the session moves on without it, in ms. */
const DESTROY_TIMEOUT_MS = 5_000;

/** The close code of our own shutdown. */
const NORMAL_CLOSE = 1_000;

/**
 * Destroy a manager, bounded. A shard destroyed while it waits for HELLO or READY can hang (its aborted wait
 * starts a second, reconnecting destroy that steals the first one's close handler), and the shard then
 * reconnects on its own. So: wait at most DESTROY_TIMEOUT_MS, and if the orphaned shard comes back up, destroy
 * the manager again — nothing is waiting then, so that one completes. Its events are ignored meanwhile (the
 * session marked itself dead).
 */
async function destroyManager(manager: WebSocketManager, log: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const destroy = async () => {
    await manager.destroy({ code: NORMAL_CLOSE, reason: "session ended" });
  };
  const isDone = await Promise.race([
    destroy().then(
      () => true,
      (error: unknown) => {
        log.debug({ adapter: "discord", err: error }, "gateway destroy failed");
        return true;
      },
    ),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), DESTROY_TIMEOUT_MS);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
  if (isDone) return;
  log.warn({ adapter: "discord" }, "gateway session did not close in time; reaping it when its shard comes back");
  const reap = () => {
    void destroy().catch(() => undefined);
  };
  manager.once(WebSocketShardEvents.Ready, reap);
  manager.once(WebSocketShardEvents.Resumed, reap);
}

/** One gateway connection at a time. */
export class DiscordGateway {
  readonly #o: GatewayOptions;
  #manager: WebSocketManager | undefined;
  #botUserId: string | undefined;
  #applicationId: string | undefined;
  #lastStateChangeAt = Date.now();
  /** When the current session's last heartbeat was acknowledged (ms since the epoch), or -1. */
  #lastAckAt = -1;

  constructor(options: GatewayOptions) {
    this.#o = options;
  }

  /** The bot's user id, from READY. */
  get botUserId(): string | undefined {
    return this.#botUserId;
  }

  /** The application id, from READY. */
  get applicationId(): string | undefined {
    return this.#applicationId;
  }

  /** Run one session until `signal` aborts (resolve) or the gateway gives up (reject). */
  async runSession(signal: AbortSignal, markUp: () => void): Promise<void> {
    const { health, log } = this.#o;
    this.#lastStateChangeAt = Date.now(); // a new session gets the full grace period before it can look stuck
    this.#lastAckAt = -1;
    // Each session keeps its own resume state: the package's default store is one per process, so a fresh
    // session would otherwise try to resume the one it replaces.
    let session: SessionInfo | null = null;
    const manager = new WebSocketManager({
      token: this.#o.token,
      intents: GATEWAY_INTENTS.reduce<number>((all, bit) => all | bit, 0),
      rest: new REST({ api: this.#o.apiRoot }).setToken(this.#o.token),
      shardCount: 1,
      retrieveSessionInfo: () => session,
      updateSessionInfo: (_shardId, info) => {
        session = info;
      },
    });
    this.#manager = manager;
    let failGiveUp: (error: Error) => void = () => undefined;
    const gaveUp = new Promise<never>((_, reject) => {
      failGiveUp = reject;
    });
    gaveUp.catch(() => undefined);
    let onReady: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => {
      onReady = resolve;
    });
    let isLive = true;
    manager.on(WebSocketShardEvents.Dispatch, ({ data }) => {
      if (!isLive) return;
      const packet = data as GatewayDispatch;
      if (packet.t === "READY") this.#onReady(packet.d);
      this.#o.onDispatch(packet);
      if (packet.t === "READY") {
        // Up on READY itself: guilds arrive as GUILD_CREATE afterwards and are read raw (roles look them up on
        // demand), so nothing waits for them.
        this.#lastStateChangeAt = Date.now();
        health.setState("up");
        onReady();
      }
    });
    manager.on(WebSocketShardEvents.Closed, ({ code }) => {
      if (!isLive || signal.aborted) return; // our own shutdown closes the socket too
      if (FATAL_CLOSE_CODES.has(code)) {
        failGiveUp(Object.assign(new Error(`gateway closed for good (code ${code})`), { closeCode: code }));
        return;
      }
      this.#lastStateChangeAt = Date.now();
      health.setState("reconnecting");
      log.info({ adapter: "discord", code }, "gateway reconnecting (resume)");
    });
    manager.on(WebSocketShardEvents.Resumed, () => {
      if (!isLive) return;
      this.#lastStateChangeAt = Date.now();
      health.setState("up");
      log.info({ adapter: "discord" }, "gateway resumed");
    });
    manager.on(WebSocketShardEvents.HeartbeatComplete, ({ ackAt }) => {
      if (isLive) this.#lastAckAt = ackAt;
    });
    manager.on(WebSocketShardEvents.Debug, ({ message }) => log.trace({ adapter: "discord" }, message));
    manager.on(WebSocketShardEvents.Error, ({ error }) =>
      log.warn({ adapter: "discord", err: error }, "gateway error"),
    );
    const aborted = new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener("abort", () => resolve(), { once: true });
    });
    try {
      const timeoutMs = this.#o.readyTimeoutMs ?? 30_000;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`gateway not ready after ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        await Promise.race([connect(manager).then(() => ready), timedOut, gaveUp, aborted]);
      } finally {
        clearTimeout(timer);
      }
      if (signal.aborted) return;
      this.#lastStateChangeAt = Date.now();
      markUp();
      await Promise.race([aborted, gaveUp]);
    } finally {
      isLive = false;
      this.#manager = undefined;
      await destroyManager(manager, log);
    }
  }

  #onReady(data: unknown): void {
    const d = data as { user?: { id?: unknown }; application?: { id?: unknown } } | undefined;
    if (typeof d?.user?.id === "string") this.#botUserId = d.user.id;
    if (typeof d?.application?.id === "string") this.#applicationId = d.application.id;
  }

  /**
   * Why the connection looks deaf, or undefined: the shard has been reconnecting for longer than
   * `stuckAfterMs`, or its last acknowledged heartbeat is older than that.
   */
  deafReason(stuckAfterMs: number): string | undefined {
    if (this.#manager === undefined) return undefined;
    const sinceChangeMs = Date.now() - this.#lastStateChangeAt;
    if (this.#o.health.state !== "up") {
      return sinceChangeMs > stuckAfterMs ? `gateway not ready for ${Math.round(sinceChangeMs / 1000)} s` : undefined;
    }
    const lastAckAt = this.#lastAckAt;
    if (lastAckAt > 0 && Date.now() - lastAckAt > stuckAfterMs && sinceChangeMs > stuckAfterMs) {
      return `no heartbeat acknowledged for ${Math.round((Date.now() - lastAckAt) / 1000)} s`;
    }
    return undefined;
  }
}

/** Fetch the gateway's address and connect; a token Discord refuses (401) is `TokenInvalid`, never retried. */
async function connect(manager: WebSocketManager): Promise<void> {
  await manager.fetchGatewayInformation().catch((error: unknown) => {
    const status = (error as { status?: unknown } | null)?.status;
    throw status === 401
      ? Object.assign(new Error("Discord refused the token (401)"), { code: "TokenInvalid" })
      : error;
  });
  await manager.connect();
}
