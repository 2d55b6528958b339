/**
 * Chat profiles: what a chat's conversation uses. Config gives the defaults (`llm.*`, then the named profile the
 * chat maps to in `llm.chats`, else `llm.profiles.default`); a chat's own settings (`/ai …`) override them and
 * are stored in the durable key-value store (`llm.profile`, scoped by chat key).
 */
import type { KvRepo } from "../bot/index.ts";
import type { LlmConfig } from "./types.ts";

/** What a chat may set for itself. Absent fields fall back to the profile. */
export interface ChatSettings {
  enabled?: boolean;
  models?: string[];
  systemPrompt?: string;
  temperature?: number;
  tools?: "all" | "none" | string[];
  historyTurns?: number;
  groupTrigger?: "mention-or-reply" | "always" | "never";
}

/** The settings in force for a chat. */
export interface EffectiveProfile {
  profileName: string;
  enabled: boolean;
  /** Fallback chain by name; empty means every chat model by priority. */
  models: string[];
  systemPrompt: string;
  temperature: number | undefined;
  tools: "all" | "none" | string[];
  historyTurns: number;
  groupTrigger: "mention-or-reply" | "always" | "never";
  /** Whether turns use the answer cache (profile config only; a chat cannot change it). */
  cache: { enabled: boolean; shared: boolean; sampled: boolean };
}

const NAMESPACE = "llm.profile";
const KEY = "settings";
const CACHE_MS = 5_000;

/** Reads and writes chat profiles, with a short per-process cache. */
export class ProfileService {
  readonly #config: LlmConfig;
  readonly #kv: KvRepo;
  readonly #cache = new Map<string, { at: number; settings: ChatSettings }>();

  constructor(config: LlmConfig, kv: KvRepo) {
    this.#config = config;
    this.#kv = kv;
  }

  /** The chat's own settings (what `/ai` changed). */
  async settings(chatKey: string): Promise<ChatSettings> {
    const hit = this.#cache.get(chatKey);
    if (hit !== undefined && Date.now() - hit.at < CACHE_MS) return hit.settings;
    const settings = (await this.#kv.get<ChatSettings>(NAMESPACE, chatKey, KEY)) ?? {};
    this.#cache.set(chatKey, { at: Date.now(), settings });
    return settings;
  }

  /** Read once from the store so the first chat's lookup does not pay for planning the statement. */
  async warm(): Promise<void> {
    await this.#kv.get(NAMESPACE, "warm:up", KEY);
  }

  /** The effective profile for a chat. */
  async resolve(chatKey: string): Promise<EffectiveProfile> {
    return this.merge(chatKey, await this.settings(chatKey));
  }

  /** Config defaults overlaid with a chat's settings. */
  merge(chatKey: string, own: ChatSettings): EffectiveProfile {
    const c = this.#config;
    const profileName = c.chats[chatKey] ?? "default";
    const p = c.profiles[profileName];
    return {
      profileName,
      enabled: own.enabled ?? c.enabled,
      models: own.models ?? p?.models ?? [],
      systemPrompt: own.systemPrompt ?? p?.systemPrompt ?? c.systemPrompt,
      temperature: own.temperature ?? p?.temperature,
      tools: own.tools ?? p?.tools ?? "all",
      historyTurns: own.historyTurns ?? p?.historyTurns ?? c.historyTurns,
      groupTrigger: own.groupTrigger ?? p?.groupTrigger ?? c.groupTrigger,
      cache: p?.cache ?? { enabled: false, shared: false, sampled: false },
    };
  }

  /** Change a chat's settings; `undefined` values return a field to the profile default. */
  async update(chatKey: string, change: Partial<ChatSettings>): Promise<ChatSettings> {
    const current = { ...(await this.#kv.get<ChatSettings>(NAMESPACE, chatKey, KEY)) };
    for (const [k, v] of Object.entries(change) as Array<[keyof ChatSettings, unknown]>) {
      if (v === undefined) delete current[k];
      else (current as Record<string, unknown>)[k] = v;
    }
    await this.#kv.set(NAMESPACE, chatKey, { key: KEY, value: current });
    this.#cache.set(chatKey, { at: Date.now(), settings: current });
    return current;
  }
}
