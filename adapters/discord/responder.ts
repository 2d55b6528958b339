/**
 * Answers one interaction within Discord's 3-second window. The first reply goes out as the interaction's
 * own answer (type 4). When no reply is ready after `deferAfterMs`, the interaction is deferred (type 5,
 * "thinking…") and the first reply later edits that deferred message. Further replies and the parts of a
 * reply beyond 2000 characters are follow-ups. Replies to one interaction go out in order.
 *
 * How the answer travels is the mode's business (`acknowledge`): a REST callback on the gateway, the HTTP
 * response itself in interactions mode.
 */
import type { Reply, SentMessage } from "../../bot/index.ts";
import type { MessageBody } from "./api.ts";
import type { DiscordApi } from "./api.ts";
import { EPHEMERAL_FLAG, renderDiscordReply } from "./render.ts";
import type { MessageAddress, Outbox } from "./outbox.ts";

/** An interaction answer body (4: message, 5: deferred). */
export interface InteractionAnswer {
  type: 4 | 5;
  data?: Partial<MessageBody>;
}

/** Any answer to an interaction: also PONG (1) and autocomplete choices (8). */
export type AnyInteractionAnswer = InteractionAnswer | { type: 1 | 8; data?: unknown };

/** Options for one responder. */
export interface ResponderOptions {
  interactionId: string;
  token: string;
  channelId: string;
  api: DiscordApi;
  outbox: Outbox;
  /** Send the interaction's answer (exactly once). */
  acknowledge(answer: InteractionAnswer): Promise<void>;
  /** Defer when no reply is ready after this long, in ms. */
  deferAfterMs: number;
  /** Where the defer deadline is kept (one timer for every interaction in flight). */
  deadlines: DeadlineSweeper;
  /** Clean up a deferred answer nobody filled after this long, in ms. */
  abandonAfterMs: number;
  onError(error: unknown, what: string): void;
  /** Called once no timer is left (answered, or a deferred answer cleaned up). */
  onIdle?(): void;
}

/**
 * Deadlines checked by one interval instead of a timer each. Entries come due in the order they were added
 * (every defer uses the same delay), so a sweep stops at the first one not yet due.
 */
export class DeadlineSweeper {
  readonly #entries = new Map<number, { at: number; fire: () => void }>();
  readonly #periodMs: number;
  #nextId = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(periodMs: number) {
    this.#periodMs = periodMs;
  }

  /** Call `fire` at about `at` (epoch ms, within one period). Returns a cancel function. */
  add(at: number, fire: () => void): () => void {
    const id = this.#nextId++;
    this.#entries.set(id, { at, fire });
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#sweep(), this.#periodMs);
      this.#timer.unref();
    }
    return () => {
      this.#entries.delete(id);
    };
  }

  #sweep(): void {
    const now = Date.now();
    for (const [id, entry] of this.#entries) {
      if (entry.at > now) break;
      this.#entries.delete(id);
      entry.fire();
    }
    if (this.#entries.size === 0) this.stop();
  }

  /** Drop every deadline and the timer. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#entries.clear();
  }
}

/** The state of one interaction's answer. */
export class InteractionResponder {
  readonly #o: ResponderOptions;
  #state: "pending" | "deferred" | "answered" = "pending";
  #hasOriginal = false;
  #queue: Promise<unknown> = Promise.resolve();
  #cancelDefer: (() => void) | undefined;
  #abandonTimer: NodeJS.Timeout | undefined;

  constructor(options: ResponderOptions) {
    this.#o = options;
    this.#cancelDefer = options.deadlines.add(Date.now() + options.deferAfterMs, () => {
      this.#cancelDefer = undefined;
      this.#enqueue(() => this.#defer()).catch((error: unknown) => options.onError(error, "defer"));
    });
  }

  /** `pending` (nothing sent), `deferred` (thinking…), or `answered`. */
  get state(): "pending" | "deferred" | "answered" {
    return this.#state;
  }

  /** Answer now with a short ephemeral notice (refusals before the router), unless already answered. */
  notice(text: string): Promise<SentMessage> {
    return this.respond({ text, ephemeral: true, format: "plain" });
  }

  /** Send a reply for this interaction. */
  respond(reply: Reply): Promise<SentMessage> {
    return this.#enqueue(() => this.#respond(reply));
  }

  /** Stop the timers (adapter stopping). */
  dispose(): void {
    this.#cancelDefer?.();
    if (this.#abandonTimer !== undefined) clearTimeout(this.#abandonTimer);
  }

  #enqueue<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(work, work);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #defer(): Promise<void> {
    if (this.#state !== "pending") return;
    this.#state = "deferred";
    await this.#o.acknowledge({ type: 5 });
    this.#abandonTimer = setTimeout(() => {
      this.#abandonTimer = undefined;
      this.#enqueue(() => this.#abandon()).catch((error: unknown) => this.#o.onError(error, "abandon"));
    }, this.#o.abandonAfterMs);
    this.#abandonTimer.unref();
  }

  /** Nobody answered a deferred interaction (the router dropped it): remove the "thinking…" message. */
  async #abandon(): Promise<void> {
    if (this.#state !== "deferred" || this.#hasOriginal) return;
    this.#hasOriginal = true;
    this.#o.onIdle?.();
    await this.#o.api.deleteInteractionMessage(this.#o.channelId, this.#o.token, "@original");
  }

  async #respond(reply: Reply): Promise<SentMessage> {
    const { interactionId, channelId } = this.#o;
    const bodies = renderDiscordReply(reply, true);
    const isEphemeral = ((bodies[0]!.flags ?? 0) & EPHEMERAL_FLAG) !== 0;
    const members: MessageAddress[] = [];
    let rest = bodies;
    if (this.#state === "pending") {
      this.#cancelDefer?.();
      this.#cancelDefer = undefined;
      this.#state = "answered";
      this.#hasOriginal = true;
      this.#o.onIdle?.();
      await this.#o.acknowledge({ type: 4, data: bodies[0]! });
      members.push({ kind: "interaction", channelId, interactionId, messageId: "@original" });
      rest = bodies.slice(1);
    } else if (this.#state === "deferred" && !this.#hasOriginal) {
      this.#hasOriginal = true;
      if (this.#abandonTimer !== undefined) clearTimeout(this.#abandonTimer);
      this.#o.onIdle?.();
      if (isEphemeral) {
        // The deferred answer is public: an ephemeral reply must not land in it. Remove it, follow up privately.
        await this.#o.api.deleteInteractionMessage(channelId, this.#o.token, "@original");
      } else {
        const { flags: _flags, ...patch } = bodies[0]!;
        await this.#o.api.editInteractionMessage(channelId, this.#o.token, "@original", patch);
        members.push({ kind: "interaction", channelId, interactionId, messageId: "@original" });
        rest = bodies.slice(1);
      }
      this.#state = "answered";
    }
    members.push(...(await this.#o.outbox.followup(channelId, interactionId, rest)));
    return this.#o.outbox.recordChain(members, bodies.map((b) => b.content));
  }
}
