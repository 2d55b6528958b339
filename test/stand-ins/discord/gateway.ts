/**
 * The stand-in Discord gateway: HELLO → IDENTIFY → READY (+ GUILD_CREATE), heartbeats answered with op 11,
 * RESUME replaying every dispatch after the client's sequence, and knobs to drop a connection or go deaf
 * (stop acknowledging heartbeats and stop sending events) so the client's recovery can be tested.
 */
import { EventEmitter } from "node:events";
import { WebSocketServer, type WebSocket } from "ws";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";

/** One frame the stand-in received from a client. */
export interface GatewayFrame {
  op: number;
  d: unknown;
  at: number;
}

/** A dispatch as sent (or buffered) on a session. */
interface Dispatch {
  op: 0;
  t: string;
  s: number;
  d: unknown;
}

interface Session {
  id: string;
  /** The intents the client identified with (a bit field). */
  intents: number;
  seq: number;
  buffer: Dispatch[];
  socket: WebSocket | undefined;
}

/** Options for the gateway. */
export interface GatewayOptions {
  token: string;
  /** Heartbeat interval told in HELLO, in ms. */
  heartbeatIntervalMs: number;
  /** READY's payload, minus session fields. */
  readyData(): Record<string, unknown>;
  /** GUILD_CREATE payloads sent after READY. */
  guildCreates(): Record<string, unknown>[];
  /** The ws:// URL clients should resume on. */
  resumeUrl(): string;
}

/** The gateway half of the stand-in. Emits `frame` for every client frame and `connection` per socket. */
export class StandInGateway extends EventEmitter {
  readonly frames: GatewayFrame[] = [];
  readonly #wss = new WebSocketServer({ noServer: true });
  readonly #options: GatewayOptions;
  readonly #sessions = new Map<string, Session>();
  readonly #deaf = new WeakSet<WebSocket>();
  #current: Session | undefined;
  #sessionCounter = 0;
  #helloWithheld = 0;
  /** Connections opened so far. */
  connections = 0;
  identifies = 0;
  resumes = 0;

  constructor(options: GatewayOptions) {
    super();
    this.#options = options;
    this.#wss.on("connection", (socket) => this.#onConnection(socket));
  }

  /** Hand an HTTP upgrade on the gateway path to the ws server. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#wss.emit("connection", ws, req));
  }

  /**
   * Send a dispatch to every session, as Discord does (buffered for RESUME where no live socket hears it).
   * Returns its sequence number on the current session.
   */
  dispatch(t: string, d: unknown): number {
    const current = this.#current;
    if (current === undefined) throw new Error("no gateway session yet: start the client first");
    // Like Discord, reaction events reach only a session that identified with the matching intent.
    const needed = requiredIntent(t, d);
    if (needed !== 0 && (current.intents & needed) === 0) return -1;
    for (const session of this.#sessions.values()) if (session !== current) this.#send(session, t, d);
    return this.#send(current, t, d);
  }

  /** Send one text frame as it is (malformed on purpose, in fuzz tests) on the live connection. */
  sendRaw(text: string): void {
    const socket = this.#current?.socket;
    if (socket === undefined || socket.readyState !== socket.OPEN) throw new Error("no live gateway connection");
    socket.send(text);
  }

  /** Close the live connection with a code (4000 "unknown error" lets the client RESUME). */
  drop(code = 4000): void {
    const socket = this.#current?.socket;
    if (socket === undefined) throw new Error("no live gateway connection to drop");
    this.#current!.socket = undefined;
    socket.close(code, "stand-in dropped the connection");
  }

  /** Make the live connection deaf: no heartbeat acks, no events (they are buffered for a RESUME). */
  goDeaf(): void {
    const socket = this.#current?.socket;
    if (socket === undefined) throw new Error("no live gateway connection to make deaf");
    this.#deaf.add(socket);
  }

  /** The next `count` connections get no HELLO: a gateway that accepts the socket and then says nothing. */
  withholdHello(count = 1): void {
    this.#helloWithheld += count;
  }

  /** Sockets open now. */
  openSockets(): number {
    return [...this.#wss.clients].filter((c) => c.readyState === c.OPEN).length;
  }

  /** Client frames with this op code. */
  framesWithOp(op: number): GatewayFrame[] {
    return this.frames.filter((f) => f.op === op);
  }

  /** Close every socket. */
  async close(): Promise<void> {
    for (const client of this.#wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }

  #send(session: Session, t: string, d: unknown): number {
    session.seq += 1;
    const frame: Dispatch = { op: 0, t, s: session.seq, d };
    session.buffer.push(frame);
    if (session.buffer.length > 1_000) session.buffer.shift();
    const socket = session.socket;
    if (socket !== undefined && socket.readyState === socket.OPEN && !this.#deaf.has(socket))
      socket.send(JSON.stringify(frame));
    return frame.s;
  }

  #onConnection(socket: WebSocket): void {
    this.connections += 1;
    this.emit("connection");
    if (this.#helloWithheld > 0) {
      this.#helloWithheld -= 1;
      return;
    }
    socket.send(
      JSON.stringify({ op: 10, d: { heartbeat_interval: this.#options.heartbeatIntervalMs }, s: null, t: null }),
    );
    socket.on("message", (raw) => {
      let frame: { op?: unknown; d?: unknown };
      try {
        frame = JSON.parse(String(raw)) as { op?: unknown; d?: unknown };
      } catch {
        socket.close(4002, "decode error");
        return;
      }
      if (typeof frame.op !== "number") return;
      const recorded: GatewayFrame = { op: frame.op, d: frame.d, at: Date.now() };
      this.frames.push(recorded);
      this.emit("frame", recorded);
      this.#onFrame(socket, recorded);
    });
    socket.on("close", (code) => {
      for (const session of this.#sessions.values()) {
        if (session.socket !== socket) continue;
        session.socket = undefined;
        // A client closing with 1000/1001 ends its session for good (it cannot be resumed).
        if (code === 1000 || code === 1001) {
          this.#sessions.delete(session.id);
          if (this.#current === session) this.#current = [...this.#sessions.values()].pop();
        }
      }
    });
  }

  #onFrame(socket: WebSocket, frame: GatewayFrame): void {
    switch (frame.op) {
      case 1:
        if (!this.#deaf.has(socket)) socket.send(JSON.stringify({ op: 11, d: null, s: null, t: null }));
        return;
      case 2: {
        const d = frame.d as { token?: string; intents?: number };
        if (d.token !== this.#options.token) {
          socket.close(4004, "Authentication failed.");
          return;
        }
        this.identifies += 1;
        this.#sessionCounter += 1;
        const session: Session = {
          id: `session-${this.#sessionCounter}`,
          intents: typeof d.intents === "number" ? d.intents : 0,
          seq: 0,
          buffer: [],
          socket,
        };
        this.#sessions.set(session.id, session);
        this.#current = session;
        this.#send(session, "READY", {
          ...this.#options.readyData(),
          session_id: session.id,
          resume_gateway_url: this.#options.resumeUrl(),
          shard: [0, 1],
        });
        // Discord sends the guilds a moment after READY; back to back, discord.js can see them before READY
        // has been processed and then waits its full guild timeout.
        setTimeout(() => {
          for (const guild of this.#options.guildCreates()) this.#send(session, "GUILD_CREATE", guild);
        }, 25);
        return;
      }
      case 6: {
        const d = frame.d as { token?: string; session_id?: string; seq?: number };
        const session = d.session_id === undefined ? undefined : this.#sessions.get(d.session_id);
        if (d.token !== this.#options.token || session === undefined) {
          socket.send(JSON.stringify({ op: 9, d: false, s: null, t: null }));
          return;
        }
        this.resumes += 1;
        session.socket = socket;
        this.#current = session;
        const after = d.seq ?? 0;
        for (const missed of session.buffer.filter((f) => f.s > after)) socket.send(JSON.stringify(missed));
        this.#send(session, "RESUMED", {});
        return;
      }
      default:
        return;
    }
  }
}

/** GUILD_MESSAGE_REACTIONS (1 << 10) and DIRECT_MESSAGE_REACTIONS (1 << 13) gate the reaction events. */
function requiredIntent(t: string, d: unknown): number {
  if (!t.startsWith("MESSAGE_REACTION_")) return 0;
  return typeof (d as { guild_id?: unknown } | null)?.guild_id === "string" ? 1 << 10 : 1 << 13;
}
