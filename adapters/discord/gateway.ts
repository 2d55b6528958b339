/**
 * Gateway mode: one discord.js `Client` per session, run under the shared `ReconnectSupervisor`. discord.js
 * does HELLO/IDENTIFY/heartbeats and resumes a dropped or zombie connection by itself (RESUME replays what
 * was missed, so nothing is lost); we read every dispatch raw (`Events.Raw`) so gateway and HTTP
 * interactions share one normalisation. Health follows the shard: reconnecting while discord.js resumes, up
 * again on RESUMED. A session that gives up for good (an unrecoverable close) ends, and the supervisor starts
 * a fresh one with backoff; the watchdog restarts a session whose heartbeats have stopped being acknowledged
 * and that discord.js has not noticed.
 */
import { Client, Events, GatewayIntentBits, Options, Partials } from "discord.js";
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

/** Dispatches the adapter handles itself and discord.js never sees. */
const RAW_ONLY_EVENTS = new Set([
  "INTERACTION_CREATE",
  "MESSAGE_CREATE",
  "MESSAGE_UPDATE",
  "MESSAGE_DELETE",
  "MESSAGE_REACTION_ADD",
  "MESSAGE_REACTION_REMOVE",
  "TYPING_START",
]);

/** Close codes after which discord.js gives up (bad token, intents, version, sharding). */
const FATAL_CLOSE_CODES = new Set([4004, 4010, 4011, 4012, 4013, 4014]);

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

/** How long a client's destroy may take before the session moves on without it, in ms. */
const DESTROY_TIMEOUT_MS = 5_000;

/**
 * Destroy a client, bounded. discord.js 14.28 can hang in `destroy()` when it is called while a shard waits for
 * HELLO or READY (its aborted wait starts a second, reconnecting destroy that steals the first one's close
 * handler), and the shard then reconnects on its own. So: wait at most DESTROY_TIMEOUT_MS, and if the orphaned
 * shard comes back up, destroy its socket manager again — nothing is waiting then, so that one completes. Its
 * events are ignored meanwhile (the session marked itself dead).
 */
async function destroyClient(client: Client, log: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const isDone = await Promise.race([
    client.destroy().then(
      () => true,
      (error: unknown) => {
        log.debug({ adapter: "discord", err: error }, "client destroy failed");
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
  log.warn({ adapter: "discord" }, "gateway client did not close in time; reaping it when its shard comes back");
  const inner = (
    client.ws as unknown as { _ws?: { destroy(options: { code: number; reason: string }): Promise<void> } }
  )._ws;
  const reap = () => {
    void inner?.destroy({ code: 1_000, reason: "orphaned session" }).catch(() => undefined);
  };
  client.once(Events.ShardReady, reap);
  client.once(Events.ShardResume, reap);
}

/** One gateway connection at a time. */
export class DiscordGateway {
  readonly #o: GatewayOptions;
  #client: Client | undefined;
  #botUserId: string | undefined;
  #applicationId: string | undefined;
  #lastStateChangeAt = Date.now();

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
    const client = new Client({
      intents: GATEWAY_INTENTS,
      // Reactions on messages discord.js never cached arrive as partials (they are read raw anyway).
      partials: [Partials.Channel, Partials.Message, Partials.Reaction, Partials.User],
      rest: { api: this.#o.apiRoot },
      makeCache: Options.cacheWithLimits({
        ...Options.DefaultMakeCacheSettings,
        MessageManager: 0,
        PresenceManager: 0,
        ReactionManager: 0,
      }),
    });
    this.#client = client;
    let failGiveUp: (error: Error) => void = () => undefined;
    const gaveUp = new Promise<never>((_, reject) => {
      failGiveUp = reject;
    });
    gaveUp.catch(() => undefined);
    let isLive = true;
    client.on(Events.Raw, (packet: GatewayDispatch) => {
      if (!isLive) {
        packet.t = `SWITCHBOARD_RAW_${packet.t}`;
        return;
      }
      if (packet.t === "READY") this.#onReady(packet.d);
      this.#o.onDispatch(packet);
      // Events we handle raw are hidden from discord.js's own handlers: it would build objects nobody uses, and
      // it throws on a malformed payload in a way that becomes an unhandled rejection. Same for any payload
      // that is not an object. (Raw is emitted synchronously, before discord.js looks at `t`.)
      if (packet.t !== null && (RAW_ONLY_EVENTS.has(packet.t) || typeof packet.d !== "object" || packet.d === null)) {
        packet.t = `SWITCHBOARD_RAW_${packet.t}`;
      }
    });
    client.on(Events.ShardReconnecting, () => {
      if (!isLive || signal.aborted) return; // our own shutdown closes the socket too
      this.#lastStateChangeAt = Date.now();
      health.setState("reconnecting");
      log.info({ adapter: "discord" }, "gateway reconnecting (resume)");
    });
    client.on(Events.ShardResume, (_id, replayed) => {
      if (!isLive) return;
      this.#lastStateChangeAt = Date.now();
      health.setState("up");
      log.info({ adapter: "discord", replayed }, "gateway resumed");
    });
    client.on(Events.ShardReady, () => {
      if (!isLive) return;
      this.#lastStateChangeAt = Date.now();
      health.setState("up");
    });
    client.on(Events.ShardDisconnect, (event) => {
      failGiveUp(Object.assign(new Error(`gateway closed for good (code ${event.code})`), { closeCode: event.code }));
    });
    client.on(Events.Debug, (message) => log.trace({ adapter: "discord" }, message));
    client.on(Events.ShardError, (error) => log.warn({ adapter: "discord", err: error }, "gateway error"));
    client.on(Events.Error, (error) => log.warn({ adapter: "discord", err: error }, "discord client error"));
    const aborted = new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener("abort", () => resolve(), { once: true });
    });
    try {
      const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
      const timeoutMs = this.#o.readyTimeoutMs ?? 30_000;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`gateway not ready after ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        await Promise.race([client.login(this.#o.token).then(() => ready), timedOut, gaveUp, aborted]);
      } finally {
        clearTimeout(timer);
      }
      if (signal.aborted) return;
      this.#lastStateChangeAt = Date.now();
      markUp();
      await Promise.race([aborted, gaveUp]);
    } finally {
      isLive = false;
      this.#client = undefined;
      await destroyClient(client, log);
    }
  }

  #onReady(data: unknown): void {
    const d = data as { user?: { id?: unknown }; application?: { id?: unknown } } | undefined;
    if (typeof d?.user?.id === "string") this.#botUserId = d.user.id;
    if (typeof d?.application?.id === "string") this.#applicationId = d.application.id;
  }

  /**
   * Why the connection looks deaf, or undefined: discord.js has been reconnecting for longer than
   * `stuckAfterMs`, or its last acknowledged heartbeat is older than that.
   */
  deafReason(stuckAfterMs: number): string | undefined {
    const client = this.#client;
    if (client === undefined) return undefined;
    const sinceChangeMs = Date.now() - this.#lastStateChangeAt;
    if (this.#o.health.state !== "up") {
      return sinceChangeMs > stuckAfterMs ? `gateway not ready for ${Math.round(sinceChangeMs / 1000)} s` : undefined;
    }
    const shard = client.ws.shards.first();
    const lastAckAt = shard?.lastPingTimestamp ?? -1;
    if (lastAckAt > 0 && Date.now() - lastAckAt > stuckAfterMs && sinceChangeMs > stuckAfterMs) {
      return `no heartbeat acknowledged for ${Math.round((Date.now() - lastAckAt) / 1000)} s`;
    }
    return undefined;
  }
}
