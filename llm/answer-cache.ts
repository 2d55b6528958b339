/**
 * The seam through which chat turns use an exact-match answer cache kept elsewhere (the model gateway's, in
 * keyv). The LLM layer decides which turns may use it (the profile's `cache`, a first round with no tool results,
 * `temperature: 0` unless `sampled`) and what identifies a turn; the cache keeps answers and counts hits.
 * Unset, chat turns never use a cache.
 */
import type { ChatMessage, ChatResult } from "./types.ts";

/** What identifies one cacheable turn: everything that changes the answer. */
export interface TurnCacheQuery {
  /** The person, or `*` when the profile shares its cache. */
  who: string;
  /** The chain's model names, first to last (as a gateway request names a model or alias). */
  chain: string[];
  messages: ChatMessage[];
  /** The parameters that change the answer (temperature, offered tools). */
  params: Record<string, unknown>;
}

/** A kept answer. */
export interface CachedTurn {
  text: string;
  finishReason: string;
  /** The configured model that answered it. */
  model: string;
}

/** The cache, as the conversation engine uses it. */
export interface TurnAnswerCache {
  /** A kept answer for this turn, or undefined. */
  get(q: TurnCacheQuery): Promise<CachedTurn | undefined>;
  /** Keep an answer (never one with tool calls). */
  set(
    q: TurnCacheQuery,
    answer: { result: Pick<ChatResult, "text" | "toolCalls" | "finishReason">; model: string },
  ): Promise<void>;
  /** Count one hit for a chat turn (metrics, the hits table). */
  hit(h: { model: string; chatKey: string; userKey: string }): Promise<void>;
  /** Hits per model since a UTC day (`/models`). */
  hitsSince(fromDay: string): Promise<Map<string, number>>;
}

/** Holds the cache once a module provides it. */
export class AnswerCacheSlot {
  #cache: TurnAnswerCache | undefined;

  /** The cache in use, if any. */
  get current(): TurnAnswerCache | undefined {
    return this.#cache;
  }

  /** Provide the cache; returns the undo. */
  use(cache: TurnAnswerCache): () => void {
    this.#cache = cache;
    return () => {
      if (this.#cache === cache) this.#cache = undefined;
    };
  }
}
