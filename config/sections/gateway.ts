/**
 * gateway settings (owned by the gateway module; see gateway/README.md): the OpenAI-compatible API on the bot's
 * listener, its aliases, the limits of personal keys and people, and the answer cache.
 */
import { z } from "zod";

/** Limits of one key or one person. Absent means no limit. */
const limitsSchema = z
  .object({
    /** Requests per minute (a sliding minute, shared by every bot process through the ephemeral store). */
    requestsPerMinute: z.number().int().positive().optional(),
    /** Tokens per UTC day, counted with the person's chat usage. */
    dailyTokens: z.number().int().positive().optional(),
    /** Cost per UTC day, counted with the person's chat usage. */
    dailyCost: z.number().positive().optional(),
  })
  .strict();

const cacheSchema = z
  .object({
    /** Keys use the answer cache unless they or the request say otherwise. */
    enabled: z.boolean().default(false),
    /** How long an answer is kept, in ms. */
    ttlMs: z.number().int().positive().default(3_600_000),
    /** Most answers kept in memory (Redis keeps them for `ttlMs`). */
    maxEntries: z.number().int().positive().default(10_000),
    /** Answers larger than this are not kept, in bytes. */
    maxEntryBytes: z.number().int().positive().default(65_536),
    /** Also cache requests with `temperature > 0` (their answers vary). */
    sampled: z.boolean().default(false),
    /** One cache for everyone; otherwise each person has their own. */
    shared: z.boolean().default(false),
  })
  .strict();

/** A cost budget: crossing 80% and 100% posts an alert to `alertChat`; at 100% `block` refuses gateway requests. */
const budgetSchema = z
  .object({
    /** What is counted: a chat's turns, a person's turns and API calls, or one key's API calls. */
    scope: z.enum(["chat", "user", "key"]),
    /** The chat key, the person (`platform:userId`) or the key id; `*` gives each one this budget. */
    id: z.string().min(1),
    /** Per UTC day or per calendar month (UTC). */
    period: z.enum(["day", "month"]).default("day"),
    /** The budget, in the currency of the models' `costPer1k…`. */
    cost: z.number().positive(),
    /** At 100%: `warn` (alert only) or `block` (gateway requests of that person or key are refused). */
    policy: z.enum(["warn", "block"]).default("warn"),
  })
  .strict();

export const gatewaySection = z
  .object({
    /** Serve `/v1/chat/completions` and `/v1/models` on the bot's listener (it opens the listener). */
    enabled: z.boolean().default(false),
    /** Alias → models tried in order (`team-default: [hosted, local]`); an alias may be asked for by name. */
    aliases: z
      .record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/), z.array(z.string().min(1)).min(1))
      .default({}),
    /** Most active keys one person may hold. */
    maxKeysPerUser: z.number().int().positive().default(20),
    /** Limits every key has (a key may not exceed them). */
    perKey: limitsSchema.default({}),
    /** Limits of a person across all their keys, counted with their chat usage. */
    perUser: limitsSchema.default({}),
    budgets: z.array(budgetSchema).default([]),
    /** Where budget alerts are posted: a chat key, `platform:chatId`. Without one they are logged only. */
    alertChat: z
      .string()
      .regex(/^[a-z0-9_-]+:.+$/, "a chat key, platform:chatId")
      .optional(),
    /** Usage rows older than this are rolled up into one row per day, in days (about six months). */
    usageRollupAfterDays: z.number().int().positive().default(183),
    cache: cacheSchema.default({
      enabled: false,
      ttlMs: 3_600_000,
      maxEntries: 10_000,
      maxEntryBytes: 65_536,
      sampled: false,
      shared: false,
    }),
  })
  .strict()
  .default({
    enabled: false,
    aliases: {},
    maxKeysPerUser: 20,
    perKey: {},
    perUser: {},
    budgets: [],
    usageRollupAfterDays: 183,
    cache: {
      enabled: false,
      ttlMs: 3_600_000,
      maxEntries: 10_000,
      maxEntryBytes: 65_536,
      sampled: false,
      shared: false,
    },
  });
