/**
 * Events the bot publishes for listeners (skills that subscribe in their manifest, plugins): messages seen,
 * reactions, inbound hook deliveries, schedule fires and skill lifecycle. Publishing never blocks and never
 * throws: a listener runs after the command path, so it can never delay a reply, and its failure stays its own.
 */
import type { ConversationTarget, Inbound } from "./model.ts";

/** Something that happened in a chat that listeners may react to. */
export type ChatEvent =
  /** A message that went through the router (after its command or conversation handling was started). */
  | { readonly type: "message"; readonly chatKey: string; readonly inbound: Inbound }
  /** A reaction added to or removed from a message (`inbound.reaction` is set). */
  | { readonly type: "reaction"; readonly chatKey: string; readonly inbound: Inbound }
  /** An inbound hook delivery that was verified, queued and rendered for a chat. */
  | {
      readonly type: "hook";
      readonly chatKey: string;
      readonly target: ConversationTarget;
      readonly hook: { readonly id: string; readonly name: string; readonly template: string };
      /** The delivery's id (dedupe key): `X-GitHub-Delivery`, the Alertmanager group key and time, … */
      readonly deliveryId: string;
      /** The parsed JSON payload: hostile data, validate before use. */
      readonly payload: unknown;
      /** The message the template rendered (platform-neutral Markdown subset). */
      readonly text: string;
    }
  /** A schedule fired in a chat. */
  | {
      readonly type: "schedule";
      readonly chatKey: string;
      readonly target: ConversationTarget;
      readonly scheduleId: string;
      readonly commandLine: string;
    }
  /** A skill was enabled or disabled in a chat, or its settings there changed. */
  | {
      readonly type: "lifecycle";
      readonly chatKey: string;
      readonly skill: string;
      readonly event: "enabled" | "disabled" | "settingsChanged";
    };

/** The type names of `ChatEvent`. */
export type ChatEventType = ChatEvent["type"];

/** Where events are published and subscribed to. */
export interface EventBus {
  /** Hand an event to every subscriber. Never throws, never waits for them. */
  publish(event: ChatEvent): void;
  /** Called for every event (synchronously, in order); returns the unsubscribe function. */
  subscribe(listener: (event: ChatEvent) => void): () => void;
  /** How many subscribers there are (publishers may skip building events nobody hears). */
  readonly size: number;
}

/** A bus whose subscribers are called in order; a subscriber that throws is reported to `onError` and skipped. */
export function createEventBus(onError: (error: unknown, event: ChatEvent) => void): EventBus {
  const listeners = new Set<(event: ChatEvent) => void>();
  return {
    publish(event) {
      for (const listener of listeners) {
        try {
          listener(event);
        } catch (error) {
          onError(error, event);
        }
      }
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    get size() {
      return listeners.size;
    },
  };
}
