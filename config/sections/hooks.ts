/**
 * hooks settings (owned by the hooks module; see hooks/README.md): signed inbound webhooks that post into chats
 * (`POST /hooks/<id>`), their limits and delivery queue, and the workflow triggers that call out and are answered
 * through a hook.
 */
import { z } from "zod";

export const hooksSection = z
  .object({
    /** Serve `POST /hooks/<id>` on the bot's listener and offer `/hooks` and `/workflow` in chats. */
    enabled: z.boolean().default(true),
    /**
     * Key that encrypts hook and workflow secrets at rest (AES-256-GCM): 32 bytes as 64 hex characters or base64
     * (`SWITCHBOARD_HOOKS__SECRET_KEY`). Without it the embedded store keeps a generated key in
     * `<bot.dataDir>/hooks.key`; with PostgreSQL it is required for `/hooks add` (every process needs the same key).
     */
    secretKey: z.string().min(1).optional(),
    /** Largest hook payload accepted, in bytes (413 beyond). */
    maxPayloadBytes: z.number().int().positive().default(262_144),
    /** Requests one hook may make per minute (429 with `Retry-After` beyond); for every process together with Redis. */
    ratePerMinute: z.number().int().positive().default(120),
    /** Timestamped HMAC requests older or newer than this are refused (replay window), in ms. */
    replayWindowMs: z.number().int().positive().default(300_000),
    /** Most hooks one chat may have. */
    maxPerChat: z.number().int().positive().default(20),
    /** Attempts to hand a delivery to the platform before it is given up. */
    maxAttempts: z.number().int().positive().default(8),
    /** Longest wait between attempts of a failed delivery, in ms. */
    retryMaxMs: z.number().int().positive().default(60_000),
    /** Delivered or given-up deliveries are kept this long (the durable dedupe window), in ms. */
    retentionMs: z
      .number()
      .int()
      .positive()
      .default(7 * 86_400_000),
    /** Deliveries handed to adapters at once. */
    concurrency: z.number().int().positive().default(128),
    /** Rendered messages are cut to this many characters. */
    maxMessageChars: z.number().int().positive().default(4_000),
    /** A workflow run's POST times out after this long, in ms. */
    workflowTimeoutMs: z.number().int().positive().default(10_000),
    /** Most workflows one chat may have. */
    maxWorkflowsPerChat: z.number().int().positive().default(20),
  })
  .strict()
  .default({
    enabled: true,
    maxPayloadBytes: 262_144,
    ratePerMinute: 120,
    replayWindowMs: 300_000,
    maxPerChat: 20,
    maxAttempts: 8,
    retryMaxMs: 60_000,
    retentionMs: 7 * 86_400_000,
    concurrency: 128,
    maxMessageChars: 4_000,
    workflowTimeoutMs: 10_000,
    maxWorkflowsPerChat: 20,
  });
