/**
 * The exact-match answer cache, in keyv: a bounded in-memory store of its own by default, the shared ephemeral
 * store (Redis) when the bot is scaled out. Keyed on the SHA-256 of (who, model name, messages after
 * translation, every parameter that changes the answer); `who` is the key's person unless `gateway.cache.shared`.
 *
 * Opt-in: `gateway.cache.enabled` for keys left at `default`, a key's own `on`/`off`, and per request
 * `"cache": false` or the header `x-switchboard-cache: off`. Never cached: answers with tool calls, requests
 * carrying tool results, and (unless `gateway.cache.sampled`) requests without `temperature: 0`, whose answers
 * vary. Entries hold the answer and the model's name, never its configuration.
 */
import { createHash } from "node:crypto";
import Keyv from "keyv";
import type { ApiRequest, Clock, SqlClient } from "../bot/index.ts";
import type { Config } from "../config/index.ts";
import type {
  CachedTurn,
  ChatResult,
  LlmService,
  ModelConfig,
  TokenUsage,
  TurnAnswerCache,
  TurnCacheQuery,
} from "../llm/index.ts";
import { dayOf } from "../llm/index.ts";
import { chatHitKey, hitsByModel, recordHit } from "./hits.ts";
import type { KeyInfo } from "./keys.ts";
import type { CompletionRequest, ModelAsk } from "./wire.ts";

/** What is kept per answer. */
interface Entry {
  result: Pick<ChatResult, "text" | "toolCalls" | "finishReason">;
  usage: TokenUsage;
  model: string;
}

/** An answer as the completions handler has it. */
export interface CachedAnswer {
  result: Pick<ChatResult, "text" | "toolCalls" | "finishReason">;
  usage: TokenUsage;
  model: ModelConfig;
  passedOver: Array<{ model: string; reason: string }>;
}

/** A Map that forgets its oldest entries past `max` (keyv's in-memory store, bounded). */
export class BoundedMap<K, V> extends Map<K, V> {
  readonly #max: number;
  constructor(max: number) {
    super();
    this.#max = max;
  }
  override set(key: K, value: V): this {
    if (!this.has(key) && this.size >= this.#max) this.delete(this.keys().next().value as K);
    return super.set(key, value);
  }
}

/** The cache. */
export class AnswerCache {
  readonly #kv: Keyv;
  readonly #config: Config["gateway"]["cache"];
  readonly #registry: LlmService["registry"];

  /** `shared`: the bot's ephemeral store; used when it is Redis, else a bounded in-memory keyv of its own. */
  constructor(o: { shared: Keyv; config: Config["gateway"]["cache"]; registry: LlmService["registry"] }) {
    this.#config = o.config;
    this.#registry = o.registry;
    this.#kv =
      o.shared.store instanceof Map
        ? new Keyv({ store: new BoundedMap<string, unknown>(o.config.maxEntries), namespace: "gateway-cache" })
        : o.shared;
  }

  /** The cache key for a request, or undefined when this request is not to be cached. */
  keyFor(o: {
    key: KeyInfo;
    request: CompletionRequest;
    ask: ModelAsk;
    headers: ApiRequest<unknown, unknown, unknown>["headers"];
  }): string | undefined {
    const isOn = o.key.cache === "on" || (o.key.cache === "default" && this.#config.enabled);
    if (!isOn || o.request.cache === false) return undefined;
    const header = o.headers["x-switchboard-cache"];
    if (typeof header === "string" && /^(off|no-store|false)$/i.test(header.trim())) return undefined;
    if (o.ask.messages.some((m) => m.role === "tool")) return undefined;
    if (o.ask.temperature !== 0 && !this.#config.sampled) return undefined;
    const { messages, ...params } = o.ask;
    const who = this.#config.shared ? "*" : o.key.userKey;
    return keyOf("gateway:cache:", [who, o.request.model, messages, params]);
  }

  /** A chat turn's kept answer (the profile decided the turn may use the cache, and who shares it). */
  async getTurn(q: TurnCacheQuery): Promise<CachedTurn | undefined> {
    const entry = await this.#kv.get<Entry>(turnKey(q));
    if (entry === undefined) return undefined;
    return { text: entry.result.text, finishReason: entry.result.finishReason, model: entry.model };
  }

  /** Keep a chat turn's answer: not one with tool calls, not one larger than `maxEntryBytes`. */
  async setTurn(
    q: TurnCacheQuery,
    a: { result: Pick<ChatResult, "text" | "toolCalls" | "finishReason">; model: string },
  ): Promise<void> {
    if (a.result.toolCalls.length > 0) return;
    await this.#put(turnKey(q), {
      result: { text: a.result.text, toolCalls: [], finishReason: a.result.finishReason },
      usage: { inputTokens: 0, outputTokens: 0 },
      model: a.model,
    });
  }

  /** A kept answer, with its model as configured now (a model since removed is a miss). */
  async get(cacheKey: string): Promise<CachedAnswer | undefined> {
    const entry = await this.#kv.get<Entry>(cacheKey);
    if (entry === undefined) return undefined;
    const model = this.#registry.get(entry.model);
    return model === undefined ? undefined : { result: entry.result, usage: entry.usage, model, passedOver: [] };
  }

  /** Keep an answer: not one with tool calls, not one larger than `maxEntryBytes`. */
  async set(cacheKey: string, a: CachedAnswer): Promise<void> {
    if (a.result.toolCalls.length > 0) return;
    const entry: Entry = {
      result: { text: a.result.text, toolCalls: [], finishReason: a.result.finishReason },
      usage: a.usage,
      model: a.model.name,
    };
    await this.#put(cacheKey, entry);
  }

  async #put(cacheKey: string, entry: Entry): Promise<void> {
    if (Buffer.byteLength(JSON.stringify(entry)) > this.#config.maxEntryBytes) return;
    await this.#kv.set(cacheKey, entry, this.#config.ttlMs);
  }
}

/** The cache as chat turns use it, hits counted in the metrics and the hits table like the gateway's. */
export function chatTurnCache(
  cache: AnswerCache,
  o: { sql: SqlClient; clock: Clock; cacheHit: (model: string) => void },
): TurnAnswerCache {
  return {
    get: (q) => cache.getTurn(q),
    set: (q, a) => cache.setTurn(q, a),
    async hit(h) {
      o.cacheHit(h.model);
      await recordHit(o.sql, {
        day: dayOf(o.clock.now()),
        model: h.model,
        userKey: h.userKey,
        keyId: chatHitKey(h.chatKey),
      });
    },
    hitsSince: (fromDay) => hitsByModel(o.sql, fromDay),
  };
}

/** Chat turns have keys of their own: a turn never answers a gateway request, nor the other way round. */
const turnKey = (q: TurnCacheQuery): string => keyOf("gateway:cache:chat:", [q.who, q.chain, q.messages, q.params]);

const keyOf = (prefix: string, material: unknown[]): string =>
  `${prefix}${createHash("sha256").update(JSON.stringify(material)).digest("hex")}`;
