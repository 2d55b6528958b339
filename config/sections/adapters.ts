/** Platform adapter settings. A platform is enabled when its token is set (and `enabled` is not false). */
import { z } from "zod";

export const consoleSection = z
  .object({
    /** The console adapter: a DM from the local operator. `auto`: on unless stdin is closed from the start. */
    enabled: z.boolean().default(true),
    /** The operator's user id; `console:<id>` is a bot owner. */
    userId: z.string().default("operator"),
  })
  .strict()
  .default({ enabled: true, userId: "operator" });

export const telegramSection = z
  .object({
    enabled: z.boolean().optional(),
    token: z.string().min(1).optional(),
    /** Bot API root, for a local Bot API server or a proxy. */
    apiRoot: z.string().url().default("https://api.telegram.org"),
    mode: z.enum(["polling", "webhook"]).default("polling"),
    /** Webhook mode: the secret Telegram sends in X-Telegram-Bot-Api-Secret-Token. */
    webhookSecret: z.string().min(1).optional(),
    /** Webhook mode: path on the shared HTTP listener. */
    webhookPath: z.string().startsWith("/").default("/telegram/webhook"),
    /** Webhook mode: public URL to register with setWebhook (omit to register it yourself). */
    webhookUrl: z.string().url().optional(),
    /** Long polling: how long one getUpdates call waits for updates, in seconds. */
    pollTimeoutSeconds: z.number().int().min(0).max(50).default(30),
    /** Outbound limits (Telegram's published ones by default). */
    outbound: z
      .object({
        globalPerSecond: z.number().positive().default(30),
        perChatIntervalMs: z.number().int().nonnegative().default(1_000),
        perGroupPerMinute: z.number().int().nonnegative().default(20),
      })
      .strict()
      .default({ globalPerSecond: 30, perChatIntervalMs: 1_000, perGroupPerMinute: 20 }),
    /** Least time between two edits of one streamed message, in ms. */
    editIntervalMs: z.number().int().nonnegative().default(1_000),
    /** How long a looked-up chat member status is trusted, in ms. */
    roleCacheTtlMs: z.number().int().nonnegative().default(300_000),
  })
  .strict()
  .default({
    apiRoot: "https://api.telegram.org",
    mode: "polling",
    webhookPath: "/telegram/webhook",
    pollTimeoutSeconds: 30,
    outbound: { globalPerSecond: 30, perChatIntervalMs: 1_000, perGroupPerMinute: 20 },
    editIntervalMs: 1_000,
    roleCacheTtlMs: 300_000,
  });

export const discordSection = z
  .object({
    enabled: z.boolean().optional(),
    token: z.string().min(1).optional(),
    /** Application id (needed to register commands and edit interaction replies). */
    applicationId: z.string().optional(),
    /** HTTP interactions mode: the application's Ed25519 public key (hex). */
    publicKey: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, "the public key is 64 hex characters")
      .optional(),
    mode: z.enum(["gateway", "interactions"]).default("gateway"),
    /** REST API root; the client appends /v10. */
    apiRoot: z.string().url().default("https://discord.com/api"),
    /** Register commands in these guilds (instant) instead of globally. */
    guildIds: z.array(z.string()).default([]),
    interactionsPath: z.string().startsWith("/").default("/discord/interactions"),
  })
  .strict()
  .default({
    mode: "gateway",
    apiRoot: "https://discord.com/api",
    guildIds: [],
    interactionsPath: "/discord/interactions",
  });

export const slackSection = z
  .object({
    enabled: z.boolean().optional(),
    token: z.string().min(1).optional(),
    signingSecret: z.string().min(1).optional(),
    /** Socket Mode app-level token (xapp-…); when set, Socket Mode is used. */
    appToken: z.string().min(1).optional(),
    mode: z.enum(["http", "socket"]).optional(),
    /** Web API root, ending in /api/. */
    apiUrl: z.string().url().default("https://slack.com/api/"),
    eventsPath: z.string().startsWith("/").default("/slack/events"),
    /** Prefix of every slash command in the app manifest (`sb-` → `/sb-help`), to avoid Slack's own commands. */
    commandPrefix: z
      .string()
      .regex(/^[a-z0-9_-]{0,8}$/, "a short prefix of lower-case letters, digits, - or _")
      .default(""),
    /** The umbrella slash command that runs any command: `/switchboard help`. */
    umbrellaCommand: z
      .string()
      .regex(/^[a-z0-9_-]{1,31}$/)
      .default("switchboard"),
    /** Socket Mode: reconnect when the socket delivered nothing for this long, in ms (a deaf socket). */
    socketIdleRecycleMs: z
      .number()
      .int()
      .min(1_000)
      .default(15 * 60_000),
  })
  .strict()
  // Checked here, with the rest of the config, so start-up stops before anything is opened.
  .superRefine((slack, ctx) => {
    if (slack.enabled === false || slack.token === undefined) return;
    const mode = slack.mode ?? (slack.appToken !== undefined ? "socket" : "http");
    if (mode === "http" && slack.signingSecret === undefined)
      ctx.addIssue({
        code: "custom",
        path: ["signingSecret"],
        message:
          "Slack HTTP mode needs signingSecret (SLACK_SIGNING_SECRET), or set appToken (SLACK_APP_TOKEN) for Socket Mode",
      });
    if (mode === "socket" && slack.appToken === undefined)
      ctx.addIssue({
        code: "custom",
        path: ["appToken"],
        message: "Slack Socket Mode needs appToken (SLACK_APP_TOKEN, an xapp- token)",
      });
  })
  .default({
    apiUrl: "https://slack.com/api/",
    eventsPath: "/slack/events",
    commandPrefix: "",
    umbrellaCommand: "switchboard",
    socketIdleRecycleMs: 900_000,
  });

export const webSection = z
  .object({
    /** The web chat in the console (`/console/chat`): signed-in people talk to the bot in the browser. */
    enabled: z.boolean().default(true),
    /** Open event streams per console session (browser tabs); more are refused with 429. */
    maxStreamsPerSession: z.number().int().positive().default(3),
    /** Events kept per chat, for a stream that reconnects. */
    maxEventsPerChat: z.number().int().positive().default(200),
    /** Unread events per chat (nobody's stream reads them) past which the bot's sends are refused and retried. */
    maxUnreadEvents: z.number().int().positive().default(100),
    /** Events, and idle chats with no stream, are dropped after this, in ms. */
    eventTtlMs: z.number().int().positive().default(600_000),
    /** Chats kept in memory; the longest idle one without a stream makes room for a new one. */
    maxChats: z.number().int().positive().default(2_000),
  })
  .strict()
  .default({
    enabled: true,
    maxStreamsPerSession: 3,
    maxEventsPerChat: 200,
    maxUnreadEvents: 100,
    eventTtlMs: 600_000,
    maxChats: 2_000,
  });
