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

/** What every responder of one adapter shares. */
export interface ResponderContext {
  api: DiscordApi;
  outbox: Outbox;
  /** Defer when no reply is ready after this long, in ms. */
  deferAfterMs: number;
  /** Where the defer deadlines are kept (one timer for every interaction in flight). */
  deadlines: DeadlineSweeper;
  /** Clean up a deferred answer nobody filled after this long, in ms. */
  abandonAfterMs: number;
  onError(error: unknown, what: string, interactionId: string): void;
  /** Called when a responder deferred: it holds a timer until `onIdle`. */
  onDeferred?(responder: InteractionResponder): void;
  /** Called once a deferred responder has no timer left (answered, or its deferred answer cleaned up). */
  onIdle?(responder: InteractionResponder): void;
}

/** An entry of a `DeadlineSweeper`. */
export interface Deadline {
  /** When it is due (epoch ms); 0 once cancelled. */
  deadlineAt: number;
  /** Called once, when due (unless cancelled before). */
  onDeadline(): void;
}

/**
 * Deadlines checked by one interval instead of a timer each. Entries come due in the order they were added
 * (every defer uses the same delay), so a sweep stops at the first one not yet due. An entry is cancelled by
 * setting its `deadlineAt` to 0; cancelled entries at the front are dropped as new ones arrive, so answered
 * interactions are not kept until their deadline.
 */
export class DeadlineSweeper {
  #entries: Deadline[] = [];
  #head = 0;
  readonly #periodMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(periodMs: number) {
    this.#periodMs = periodMs;
  }

  /** Call `entry.onDeadline()` at about `entry.deadlineAt` (within one period). */
  add(entry: Deadline): void {
    this.#dropCancelled();
    this.#entries.push(entry);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#sweep(), this.#periodMs);
      this.#timer.unref();
    }
  }

  /** Entries kept (due or cancelled ones not yet dropped included). */
  get size(): number {
    return this.#entries.length - this.#head;
  }

  #dropCancelled(): void {
    const entries = this.#entries;
    let head = this.#head;
    while (head < entries.length && entries[head]!.deadlineAt === 0) entries[head++] = undefined as never;
    if (head === entries.length) {
      if (head > 0) this.#entries = [];
      head = 0;
    } else if (head > 1_024 && head * 2 > entries.length) {
      this.#entries = entries.slice(head);
      head = 0;
    }
    this.#head = head;
  }

  #sweep(): void {
    const now = Date.now();
    const entries = this.#entries;
    while (this.#head < entries.length) {
      const entry = entries[this.#head]!;
      if (entry.deadlineAt > now) break;
      entries[this.#head++] = undefined as never;
      if (entry.deadlineAt === 0) continue;
      entry.deadlineAt = 0;
      entry.onDeadline();
    }
    this.#dropCancelled();
    if (this.size === 0) this.stop();
  }

  /** Drop every deadline and the timer. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#entries = [];
    this.#head = 0;
  }
}

/** The state of one interaction's answer. */
export class InteractionResponder implements Deadline {
  readonly #c: ResponderContext;
  readonly #interactionId: string;
  readonly #token: string;
  readonly #channelId: string;
  readonly #acknowledge: (answer: InteractionAnswer) => Promise<void>;
  #state: "pending" | "deferred" | "answered" = "pending";
  #hasOriginal = false;
  /** Settles after the last queued piece of work; undefined when nothing is queued. */
  #queue: Promise<unknown> | undefined;
  #queued = 0;
  #abandonTimer: NodeJS.Timeout | undefined;
  /** When to defer (the sweeper's entry); 0 once answered, deferred or disposed. */
  deadlineAt: number;

  /**
   * `acknowledge` sends the interaction's answer (exactly once): a REST callback on the gateway, the HTTP
   * response itself in interactions mode.
   */
  constructor(
    context: ResponderContext,
    {
      interactionId,
      token,
      channelId,
      acknowledge,
    }: {
      interactionId: string;
      token: string;
      channelId: string;
      acknowledge: (answer: InteractionAnswer) => Promise<void>;
    },
  ) {
    this.#c = context;
    this.#interactionId = interactionId;
    this.#token = token;
    this.#channelId = channelId;
    this.#acknowledge = acknowledge;
    this.deadlineAt = Date.now() + context.deferAfterMs;
    context.deadlines.add(this);
  }

  /** `pending` (nothing sent), `deferred` (thinking…), or `answered`. */
  get state(): "pending" | "deferred" | "answered" {
    return this.#state;
  }

  /** The defer deadline passed with no reply ready: defer (the sweeper calls this). */
  onDeadline(): void {
    this.#enqueue(this.#defer).catch((error: unknown) => this.#c.onError(error, "defer", this.#interactionId));
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
    this.deadlineAt = 0;
    if (this.#abandonTimer !== undefined) clearTimeout(this.#abandonTimer);
  }

  /** Run `work` after the work queued before it (at once when none is), in order. */
  #enqueue<T>(work: () => Promise<T>): Promise<T> {
    const previous = this.#queue;
    let next: Promise<T>;
    if (previous === undefined) {
      try {
        next = work.call(this);
      } catch (error) {
        next = Promise.reject(error);
      }
    } else
      next = previous.then(
        () => work.call(this),
        () => work.call(this),
      );
    this.#queued++;
    const settled = next.then(this.#dequeue, this.#dequeue);
    this.#queue = settled;
    return next;
  }

  readonly #dequeue = (): void => {
    if (--this.#queued === 0) this.#queue = undefined;
  };

  async #defer(): Promise<void> {
    if (this.#state !== "pending") return;
    this.#state = "deferred";
    this.#c.onDeferred?.(this);
    await this.#acknowledge({ type: 5 });
    this.#abandonTimer = setTimeout(() => {
      this.#abandonTimer = undefined;
      this.#enqueue(this.#abandon).catch((error: unknown) => this.#c.onError(error, "abandon", this.#interactionId));
    }, this.#c.abandonAfterMs);
    this.#abandonTimer.unref();
  }

  /** Nobody answered a deferred interaction (the router dropped it): remove the "thinking…" message. */
  async #abandon(): Promise<void> {
    if (this.#state !== "deferred" || this.#hasOriginal) return;
    this.#hasOriginal = true;
    this.#c.onIdle?.(this);
    await this.#c.api.deleteInteractionMessage(this.#channelId, this.#token, "@original");
  }

  async #respond(reply: Reply): Promise<SentMessage> {
    const interactionId = this.#interactionId;
    const channelId = this.#channelId;
    const c = this.#c;
    const bodies = renderDiscordReply(reply, true);
    const members: MessageAddress[] = [];
    let rest = bodies;
    if (this.#state === "pending") {
      this.deadlineAt = 0;
      this.#state = "answered";
      this.#hasOriginal = true;
      await this.#acknowledge({ type: 4, data: bodies[0]! });
      if (bodies.length === 1) return c.outbox.original(channelId, interactionId);
      members.push({ kind: "interaction", channelId, interactionId, messageId: "@original" });
      rest = bodies.slice(1);
    } else if (this.#state === "deferred" && !this.#hasOriginal) {
      this.#hasOriginal = true;
      if (this.#abandonTimer !== undefined) clearTimeout(this.#abandonTimer);
      c.onIdle?.(this);
      if (((bodies[0]!.flags ?? 0) & EPHEMERAL_FLAG) !== 0) {
        // The deferred answer is public: an ephemeral reply must not land in it. Remove it, follow up privately.
        await c.api.deleteInteractionMessage(channelId, this.#token, "@original");
      } else {
        const { flags: _flags, ...patch } = bodies[0]!;
        await c.api.editInteractionMessage(channelId, { token: this.#token, messageId: "@original", body: patch });
        members.push({ kind: "interaction", channelId, interactionId, messageId: "@original" });
        rest = bodies.slice(1);
      }
      this.#state = "answered";
    }
    if (rest.length > 0) members.push(...(await c.outbox.followup(channelId, interactionId, rest)));
    return c.outbox.recordChain(members, members.length > 1 ? bodies.map((b) => b.content) : []);
  }
}
