/**
 * Skills that listen: which loaded skills an event goes to, what they are handed, and the bounded queues the
 * events wait in. Each (chat, skill) pair has one queue, run one event at a time; the queue's length, the age of
 * what waits in it and the number of queues are bounded, and an event over a bound is dropped at once (counted),
 * never queued. Message patterns are matched here with RE2's linear-time matcher on text cut to a bound, so no
 * pattern and no message can make matching slow.
 */
import type { ChatEvent } from "../../bot/index.ts";
import { compilePattern, type SkillManifest } from "../manifest.ts";
import type { RE2JS } from "re2js";

/** Why an event was not handed to a listener. */
export type DropReason = "queue-full" | "too-many-queues" | "stale" | "busy" | "failed";

/** What a skill's event handler receives (JSON data; the SDK's `SkillEvent`). */
export type SkillEventPayload =
  | {
      type: "message";
      text: string;
      match: string[];
      messageId?: string;
      isCommand: boolean;
    }
  | { type: "reaction"; emoji: string; added: boolean; messageId: string; onBotMessage?: boolean }
  | {
      type: "hook";
      hook: { name: string; template: string };
      deliveryId: string;
      payload: unknown;
      text: string;
    }
  | { type: "schedule"; scheduleId: string; command: string }
  | { type: "lifecycle"; event: "enabled" | "disabled" | "settingsChanged" };

/** A compiled message pattern (RE2: linear time in the text's length). */
export type CompiledPattern = RE2JS;

/** Compile a manifest's message pattern, or undefined when it has none. */
export function messagePatternOf(manifest: SkillManifest): CompiledPattern | undefined {
  const pattern = manifest.events.messages?.pattern;
  return pattern === undefined ? undefined : compilePattern(pattern);
}

/**
 * What a skill subscribed as `manifest` (with its compiled `pattern`) is handed for `event`, or undefined when it
 * did not subscribe to it (or the message does not match). Grants and enablement are checked by the caller.
 */
export function payloadFor(
  event: ChatEvent,
  skill: { name: string; manifest: SkillManifest; pattern: CompiledPattern | undefined },
  maxMessageChars: number,
): SkillEventPayload | undefined {
  const events = skill.manifest.events;
  switch (event.type) {
    case "message": {
      if (skill.pattern === undefined) return undefined;
      const text = event.inbound.text.slice(0, maxMessageChars);
      const matcher = skill.pattern.matcher(text);
      if (!matcher.find()) return undefined;
      const match: string[] = [];
      for (let i = 0; i <= matcher.groupCount(); i++) match.push(matcher.group(i) ?? "");
      return {
        type: "message",
        text,
        match,
        ...(event.inbound.messageId === undefined ? {} : { messageId: event.inbound.messageId }),
        isCommand: event.inbound.command !== undefined,
      };
    }
    case "reaction": {
      const reaction = event.inbound.reaction;
      if (events.reactions !== true || reaction === undefined) return undefined;
      return {
        type: "reaction",
        emoji: reaction.emoji.slice(0, 100),
        added: reaction.added,
        messageId: reaction.messageId,
        ...(reaction.onBotMessage === undefined ? {} : { onBotMessage: reaction.onBotMessage }),
      };
    }
    case "hook":
      if (events.hooks?.includes(event.hook.name) !== true) return undefined;
      return {
        type: "hook",
        hook: { name: event.hook.name, template: event.hook.template },
        deliveryId: event.deliveryId,
        payload: event.payload,
        text: event.text,
      };
    case "schedule":
      if (events.schedule !== true) return undefined;
      return { type: "schedule", scheduleId: event.scheduleId, command: event.commandLine };
    case "lifecycle":
      if (event.skill !== skill.name || events.lifecycle?.includes(event.event) !== true) return undefined;
      return { type: "lifecycle", event: event.event };
  }
}

interface Waiting<T> {
  job: T;
  queuedAt: number;
}

/** Bounds of the listener queues. */
export interface ListenerQueueOptions<J> {
  /** Events one queue holds. */
  queueLength: number;
  /** Longest an event may wait, in ms. */
  maxAgeMs: number;
  /** Queues at most. */
  maxQueues: number;
  now: () => number;
  /** Runs one event; a queue runs its next event only when this settles. Must not throw. */
  run: (job: J) => Promise<void>;
  /** An event was dropped. */
  dropped: (job: J, reason: DropReason) => void;
}

/** Per-key FIFO queues, each run one job at a time, bounded by length, age and count. */
export class ListenerQueues<J> {
  readonly #options: ListenerQueueOptions<J>;
  readonly #queues = new Map<string, Waiting<J>[]>();
  /** Who waits for a queue to empty (`whenIdle`); at most one entry per queue in use. */
  readonly #idle = new Map<string, Array<() => void>>();

  constructor(options: ListenerQueueOptions<J>) {
    this.#options = options;
  }

  /** Queues in use (each holds a running job, and maybe waiting ones). */
  get size(): number {
    return this.#queues.size;
  }

  /** Resolves once nothing runs or waits under `key` (at once when nothing does). */
  whenIdle(key: string): Promise<void> {
    if (!this.#queues.has(key)) return Promise.resolve();
    return new Promise((resolve) => {
      const waiting = this.#idle.get(key);
      if (waiting === undefined) this.#idle.set(key, [resolve]);
      else waiting.push(resolve);
    });
  }

  /** Queue `job` under `key`; false when it was dropped at once (full queue, too many queues). */
  push(key: string, job: J): boolean {
    const queue = this.#queues.get(key);
    if (queue === undefined) {
      if (this.#queues.size >= this.#options.maxQueues) {
        this.#options.dropped(job, "too-many-queues");
        return false;
      }
      const fresh: Waiting<J>[] = [{ job, queuedAt: this.#options.now() }];
      this.#queues.set(key, fresh);
      void this.#drain(key, fresh);
      return true;
    }
    // The head of a queue is the job running; the rest wait.
    if (queue.length - 1 >= this.#options.queueLength) {
      this.#options.dropped(job, "queue-full");
      return false;
    }
    queue.push({ job, queuedAt: this.#options.now() });
    return true;
  }

  async #drain(key: string, queue: Waiting<J>[]): Promise<void> {
    while (queue.length > 0) {
      const head = queue[0]!;
      if (this.#options.now() - head.queuedAt > this.#options.maxAgeMs) this.#options.dropped(head.job, "stale");
      else await this.#options.run(head.job);
      queue.shift();
    }
    this.#queues.delete(key);
    const idle = this.#idle.get(key);
    this.#idle.delete(key);
    for (const resolve of idle ?? []) resolve();
  }
}
