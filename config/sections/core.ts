/** Core settings: identity, owners, data folder, HTTP listener, logging, storage, limits, permissions. */
import { z } from "zod";

const role = z.enum(["owner", "admin", "member", "guest"]);

export const botSection = z
  .object({
    /** Shown in /status and used as the mention name where a platform has none. */
    name: z.string().min(1).default("switchboard"),
    /** Bot owners by `platform:userId`; the console operator (`console:operator`) is always one. */
    owners: z
      .array(z.string().regex(/^[a-z0-9_-]+:.+$/, "owners are written platform:userId, e.g. telegram:123456"))
      .default([]),
    /** Folder for the embedded store, installed skills and the lockfile. */
    dataDir: z.string().min(1).default("./data"),
    /**
     * Longest wait for one adapter to come up at start, in ms. Adapters start at the same time; one still not up
     * after this keeps trying in the background (logging each attempt) while the others serve.
     */
    adapterStartTimeoutMs: z.number().int().positive().default(10_000),
  })
  .strict()
  .default({ name: "switchboard", owners: [], dataDir: "./data", adapterStartTimeoutMs: 10_000 });

export const httpSection = z
  .object({
    /**
     * `auto` (default): listen when a platform adapter is configured (webhooks and health checks need it), not
     * for a console-only session, which then cannot fail on a busy port. `true`/`false` force it.
     */
    enabled: z.union([z.boolean(), z.literal("auto")]).default("auto"),
    host: z.string().min(1).default("127.0.0.1"),
    /** 0 picks a free port. */
    port: z.number().int().min(0).max(65535).default(8080),
    /** Largest request body accepted, in bytes. */
    maxBodyBytes: z.number().int().positive().default(1_048_576),
    /**
     * The address people reach the listener at, for sign-in links (`https://bot.example.com`). Default: built from
     * host and port. Behind HTTPS the session cookie is marked `Secure`.
     */
    publicUrl: z.url().optional(),
    /**
     * Behind a reverse proxy: trust its `X-Forwarded-For`/`-Proto` for the client's address (rate limits) and
     * HTTPS (cookies). `true` trusts any hop; a string lists trusted addresses or CIDRs (`127.0.0.1,10.0.0.0/8`).
     */
    trustProxy: z.union([z.boolean(), z.string().min(1)]).default(false),
    /** Requests per minute each client address may make to `/api`. */
    apiRatePerMinute: z.number().int().positive().default(300),
    /** Sign-in attempts (redeeming a link) per client address per minute. */
    signInAttemptsPerMinute: z.number().int().positive().default(10),
    /** How long a console session lasts after sign-in, in ms. */
    sessionTtlMs: z
      .number()
      .int()
      .positive()
      .default(12 * 3_600_000),
  })
  .strict()
  .default({
    enabled: "auto",
    host: "127.0.0.1",
    port: 8080,
    maxBodyBytes: 1_048_576,
    trustProxy: false,
    apiRatePerMinute: 300,
    signInAttemptsPerMinute: 10,
    sessionTtlMs: 12 * 3_600_000,
  });

const logLevel = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);

export const logSection = z
  .object({
    level: logLevel.default("info"),
    /** `pretty` is one short line per event; `json` for log shippers. */
    format: z.enum(["pretty", "json"]).default("pretty"),
    /** Append log lines to this file instead of writing them to stderr. */
    file: z.string().min(1).optional(),
    /**
     * While an interactive console shares the terminal (stdin and stderr are TTYs, no `file`), only this level and
     * more severe ones reach stderr, so log lines do not break into the conversation. `level` still applies.
     */
    interactiveLevel: logLevel.default("warn"),
  })
  .strict()
  .default({ level: "info", format: "pretty", interactiveLevel: "warn" });

const journalSection = z
  .object({
    /** Write every accepted platform event before acknowledging it, and replay unfinished ones at start. */
    enabled: z.boolean().default(true),
    /**
     * On PostgreSQL, a process's claim on its unfinished events lasts this long without renewal (it renews every
     * third of it); after that another process takes them over, in ms.
     */
    leaseMs: z.number().int().min(1_000).default(30_000),
    /** Longest wait between retries of events held while a store was down or whose replies failed, in ms. */
    retryMaxMs: z.number().int().positive().default(30_000),
    /** Finished events kept for the durable dedupe (besides `storage.dedupeTtlMs` of age), by count. */
    maxEvents: z.number().int().positive().default(100_000),
  })
  .strict()
  .default({ enabled: true, leaseMs: 30_000, retryMaxMs: 30_000, maxEvents: 100_000 });

export const storageSection = z
  .object({
    /** PostgreSQL URL; without it the embedded store in `bot.dataDir` is used. */
    databaseUrl: z.string().url().optional(),
    /** Redis URL for shared ephemeral state, clustered limits and locks; without it, in-memory. */
    redisUrl: z.string().url().optional(),
    /**
     * With `redisUrl` set: `true` (default) stops start-up when Redis does not answer; `false` runs on in-process
     * state instead, with a loud warning (dedupe, limits and locks are then per process).
     */
    redisRequired: z.boolean().default(true),
    /** How long delivery ids are remembered for dedupe, in ms. */
    dedupeTtlMs: z
      .number()
      .int()
      .positive()
      .default(10 * 60_000),
    /**
     * Most delivery ids remembered for dedupe per platform in memory (compact marks, ≤ 16 bytes each). Past it,
     * the oldest are forgotten before `dedupeTtlMs`.
     */
    dedupeMaxMarks: z.number().int().min(16).default(1_000_000),
    /**
     * How long a cached chat policy is trusted, in ms: a safety net, since a process that changes a policy drops
     * it from its own cache and, with `redisUrl`, from every other process's at once (pub/sub). Several processes
     * on one PostgreSQL without Redis see each other's changes only after this.
     */
    policyCacheTtlMs: z.number().int().nonnegative().default(600_000),
    /** Most chats whose policy a process caches; the least recently loaded go first. */
    policyCacheMaxEntries: z.number().int().positive().default(100_000),
    /** The inbound journal: platform events written before they are acknowledged, replayed after a crash. */
    journal: journalSection,
  })
  .strict()
  .default({
    redisRequired: true,
    dedupeTtlMs: 600_000,
    dedupeMaxMarks: 1_000_000,
    policyCacheTtlMs: 600_000,
    policyCacheMaxEntries: 100_000,
    journal: journalSection.parse(undefined),
  });

const bucket = z
  .object({
    /** Messages allowed in a burst. */
    burst: z.number().int().positive(),
    /** Sustained messages per minute. */
    perMinute: z.number().positive(),
  })
  .strict();

export const limitsSection = z
  .object({
    perUser: bucket.default({ burst: 10, perMinute: 30 }),
    perChat: bucket.default({ burst: 30, perMinute: 120 }),
    /** Longest inbound text handled, in characters; longer is refused politely. */
    maxInboundChars: z.number().int().positive().default(16_000),
    /** A handler still running after this is abandoned and the chat told, in ms. */
    handlerTimeoutMs: z.number().int().positive().default(60_000),
    /**
     * Messages queued or running at once before adapters are slowed down: beyond it, accepting a message waits
     * until the backlog shrinks (polling pauses, webhooks answer later), so a flood cannot grow memory unbounded.
     */
    maxInFlight: z.number().int().positive().default(2_000),
    /**
     * Messages waiting behind an earlier message of their conversation before adapters are slowed down. Waiting
     * messages live long enough to be copied and promoted by the garbage collector, so a deep backlog costs the
     * whole process time; messages to idle conversations start at once and are bounded by `maxInFlight` only.
     */
    maxQueued: z.number().int().positive().default(256),
    /**
     * Most users, and most chats, the inbound rate limits and the chats-seen record track at once. Idle entries
     * go first; past it, the oldest.
     */
    maxTrackedKeys: z.number().int().positive().default(100_000),
    /**
     * Largest attachment of an inbound message the bot reads (images for a vision model, files for a skill), in
     * bytes. A larger one is refused with `E_FILE_TOO_LARGE` before or while it downloads, never read whole.
     */
    maxAttachmentBytes: z
      .number()
      .int()
      .positive()
      .default(10 * 1024 * 1024),
  })
  .strict()
  .default({
    perUser: { burst: 10, perMinute: 30 },
    perChat: { burst: 30, perMinute: 120 },
    maxInboundChars: 16_000,
    handlerTimeoutMs: 60_000,
    maxInFlight: 2_000,
    maxQueued: 256,
    maxTrackedKeys: 100_000,
    maxAttachmentBytes: 10 * 1024 * 1024,
  });

export const permissionsSection = z
  .object({
    /** Who may DM the bot when the bot-wide policy sets nothing. */
    dm: z.enum(["open", "allowlist", "closed"]).default("open"),
    /**
     * Chats with no stored policy: `locked` (privileged commands for bot owners only, until one sets a policy)
     * or `platform-admins` (platform admins act as chat admins from the first message).
     */
    newChats: z.enum(["locked", "platform-admins"]).default("locked"),
    /** Default minimum roles for commands, applied in every chat unless its policy says otherwise. */
    commandRoles: z.record(z.string(), role).default({}),
    /**
     * Named people (principals), each with their identities on several platforms: `{ "ada": { "identities":
     * ["telegram:7", "slack:U1"], "role": "admin" } }`. Policies may name `principal:ada`; roles granted to the
     * principal (`role` here, or `/perms role principal:ada …`), allow and deny lists, rate limits, LLM quotas and
     * usage follow the person on every platform. `bot.owners` may name `principal:ada`. Platform admin rights
     * stay per chat.
     */
    principals: z
      .record(
        z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, "principal names are lower-case letters, digits, _ and -"),
        z
          .object({
            /** The person's identities, `platform:userId` each. */
            identities: z
              .array(
                z
                  .string()
                  .regex(/^[a-z0-9_-]+:.+$/, "identities are written platform:userId, e.g. telegram:123456")
                  .refine((k) => !k.startsWith("principal:"), "an identity is a platform:userId, not a principal"),
              )
              .min(1),
            /** A role the person has in every chat where no chat override says otherwise (not `owner`). */
            role: z.enum(["admin", "member", "guest"]).optional(),
          })
          .strict(),
      )
      .default({})
      .superRefine((principals, ctx) => {
        const seen = new Map<string, string>();
        for (const [name, { identities }] of Object.entries(principals)) {
          for (const identity of identities) {
            const other = seen.get(identity);
            if (other !== undefined) {
              ctx.addIssue({
                code: "custom",
                path: [name, "identities"],
                message: `${identity} is already an identity of principal ${other}`,
              });
            }
            seen.set(identity, name);
          }
        }
      }),
  })
  .strict()
  .default({ dm: "open", newChats: "locked", commandRoles: {}, principals: {} });
