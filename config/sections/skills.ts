/** skills settings (owned by the skills module; see skills/README.md). */
import { z } from "zod";

const fetchSection = z
  .object({
    /** Allow plain `http://` (default: HTTPS only). */
    allowHttp: z.boolean().default(false),
    /** Let skills reach loopback, link-local and private addresses. Keep false in production. */
    allowPrivateNetwork: z.boolean().default(false),
    /** Exact addresses allowed even when private (`127.0.0.1` for a local test server). */
    allowAddresses: z.array(z.string().min(1)).default([]),
    /** Largest response body read, in bytes. */
    maxResponseBytes: z.number().int().positive().default(1_048_576),
    /** One fetch (all redirects) must finish within this, in ms. */
    timeoutMs: z.number().int().positive().default(10_000),
    /** Redirects followed (each re-checked). */
    maxRedirects: z.number().int().min(0).max(20).default(5),
  })
  .strict();

/** One invocation's budget: what a skill may do between its handler starting and its promise settling. */
const budgetShape = {
  /** Fetches running at once. */
  fetchInFlight: z.number().int().positive(),
  /** Fetches in total (redirects not counted separately). */
  fetchRequests: z.number().int().nonnegative(),
  /** Response bytes read, over all fetches. */
  fetchBytesIn: z.number().int().nonnegative(),
  /** Request bytes sent (URL, headers and body), over all fetches. */
  fetchBytesOut: z.number().int().nonnegative(),
  /** Bytes of the invoking message's files read with `ctx.files.read`, over all reads. */
  fileBytesIn: z.number().int().nonnegative(),
  /** Capability calls per second (a bucket of this size, refilled continuously). */
  capCallsPerSecond: z.number().int().positive(),
  /** Capability calls in total. */
  capCalls: z.number().int().positive(),
  /** `storage.set` and `storage.delete` calls. */
  storageWrites: z.number().int().nonnegative(),
  /** `ctx.llm.complete` calls. */
  llmCalls: z.number().int().nonnegative(),
  /** Tokens of those calls, prompt and answer (estimated at 4 characters a token). */
  llmTokens: z.number().int().nonnegative(),
};

const budgetDefaults = {
  fetchInFlight: 4,
  fetchRequests: 20,
  fetchBytesIn: 2_097_152,
  fetchBytesOut: 262_144,
  fileBytesIn: 4_194_304,
  capCallsPerSecond: 100,
  capCalls: 200,
  storageWrites: 20,
  llmCalls: 3,
  llmTokens: 8_000,
};

const budgetMaxDefaults = {
  fetchInFlight: 16,
  fetchRequests: 200,
  fetchBytesIn: 16_777_216,
  fetchBytesOut: 4_194_304,
  fileBytesIn: 33_554_432,
  capCallsPerSecond: 1_000,
  capCalls: 2_000,
  storageWrites: 500,
  llmCalls: 20,
  llmTokens: 64_000,
};

const replyMaxDefaults = { maxRepliesPerInvocation: 20, maxReplyChars: 32_000 };

/** Event listeners: each (chat, skill) has a queue of events waiting for its handler, run one at a time. */
const listenersSection = z
  .object({
    /** Events one (chat, skill) queue holds; past it, new events are dropped at once (counted). */
    queueLength: z.number().int().positive().max(1_000).default(8),
    /** An event that waited longer than this is dropped instead of run (counted), in ms. */
    maxAgeMs: z.number().int().positive().default(30_000),
    /** (chat, skill) queues at most; past it, events for another pair are dropped (counted). */
    maxQueues: z.number().int().positive().default(1_000),
    /** Longest message text a pattern is matched against and handed over (the rest is cut), in characters. */
    maxMessageChars: z.number().int().positive().max(100_000).default(4_000),
  })
  .strict();

const listenersDefaults = { queueLength: 8, maxAgeMs: 30_000, maxQueues: 1_000, maxMessageChars: 4_000 };

const fetchDefaults = {
  allowHttp: false,
  allowPrivateNetwork: false,
  allowAddresses: [],
  maxResponseBytes: 1_048_576,
  timeoutMs: 10_000,
  maxRedirects: 5,
};

export const skillsSection = z
  .object({
    /** Installed skills (filled by the marketplace). Default `<bot.dataDir>/skills`. */
    dir: z.string().min(1).optional(),
    /** Load the built-in skills (dice, poll, remind, httpcheck). */
    builtins: z.boolean().default(true),
    /** Built-in skills enabled in every chat unless a chat disables them. */
    enabledByDefault: z.array(z.string()).default(["dice", "poll"]),
    /** Skill-host child processes the built-in skills share (and every skill, when `hostIsolation` is `shared`). */
    hostProcesses: z.number().int().min(1).max(16).default(1),
    /**
     * `per-skill`: each skill that is not built in gets a host process of its own, so its crash restarts only
     * that host; `shared`: every skill shares the `hostProcesses` hosts (less memory, no blast-radius limit).
     */
    hostIsolation: z.enum(["per-skill", "shared"]).default("per-skill"),
    /**
     * Start the shared skill hosts in the background once the bot has started, and compile the isolates of the
     * skills they hold, so the first skill command after a start does not wait for the fork and the compile.
     * Costs the idle host (about 75 MB resident) from the start; off, the host starts with the first skill call.
     */
    warmOnStart: z.boolean().default(false),
    /** Host processes at most (shared ones included); past it, further skills share the built-ins' hosts. */
    maxHostProcesses: z.number().int().min(1).max(256).default(8),
    /** A per-skill host with no call for this long is stopped (it starts again on the next call), in ms. */
    hostIdleMs: z.number().int().positive().default(600_000),
    /**
     * Resident memory a host may reach before its watchdog stops it (a host of its own: at most its skill's memory
     * limit + 112 MB), and its own V8 heap (`--max-old-space-size`), in MB.
     */
    hostMaxRssMb: z.number().int().min(64).default(256),
    hostHeapMb: z.number().int().min(16).default(64),
    /**
     * Scheduling niceness (0–19) of every host process that runs a skill from outside: its code yields the CPU to
     * the bot and to the built-ins' shared host, which runs at the bot's priority while it holds only built-ins.
     */
    hostNice: z.number().int().min(0).max(19).default(10),
    /** A host that does not answer within a call's wall-clock budget plus this is killed, in ms. */
    hostGraceMs: z.number().int().positive().default(1_000),
    /** A skill that crashes its own host this many times within `quarantineWindowMs` is quarantined. */
    quarantineAfterCrashes: z.number().int().positive().default(3),
    quarantineWindowMs: z.number().int().positive().default(600_000),
    /** Run hosts under Node's permission model (no file writes, no child processes). */
    hostPermissionModel: z.boolean().default(true),
    /** Memory a skill gets when its manifest asks for none, and the most it may ask for, in MB. */
    defaultMemoryMb: z.number().int().min(8).default(32),
    maxMemoryMb: z.number().int().min(8).default(128),
    /** CPU per call (synchronous part), default and maximum, in ms. */
    defaultCpuMs: z.number().int().positive().default(200),
    maxCpuMs: z.number().int().positive().default(5_000),
    /** Wall-clock budget per invocation (capability calls in flight included), default and maximum, in ms. */
    defaultTimeoutMs: z.number().int().positive().default(2_000),
    maxTimeoutMs: z.number().int().positive().default(30_000),
    /** Calls of one skill running at once; more are refused as busy. */
    maxInFlightPerSkill: z.number().int().positive().default(8),
    /** Chat contexts kept warm per skill isolate. */
    maxContextsPerSkill: z.number().int().positive().default(16),
    /** An isolate unused this long is disposed, in ms. */
    idleMs: z.number().int().positive().default(300_000),
    /** How often grants are re-read from the store (other bot processes may change them), in ms; 0 never. */
    grantsRefreshMs: z.number().int().nonnegative().default(30_000),
    /** Replies (and `send`s) one invocation may make, and their total size in characters (the default budget). */
    maxRepliesPerInvocation: z.number().int().positive().default(5),
    maxReplyChars: z.number().int().positive().default(8_000),
    /** The most a manifest's `limits.budget` may ask for replies and reply characters. */
    replyMax: z
      .object({
        maxRepliesPerInvocation: z.number().int().positive(),
        maxReplyChars: z.number().int().positive(),
      })
      .strict()
      .default(replyMaxDefaults),
    /** Each invocation's budget when the manifest asks for none (see skills/README.md). */
    budget: z.object(budgetShape).strict().default(budgetDefaults),
    /** The most a manifest's `limits.budget` may ask for. */
    budgetMax: z.object(budgetShape).strict().default(budgetMaxDefaults),
    /** Largest value a call returns or passes to a capability, in characters. */
    maxResultChars: z.number().int().positive().default(65_536),
    /** Storage per (skill, chat) when the manifest asks for no quota, and the most it may ask for, in KB. */
    defaultStorageKb: z.number().int().positive().default(256),
    maxStorageKb: z.number().int().positive().default(10_240),
    fetch: fetchSection.default(fetchDefaults),
    /** Skills that listen to events (see skills/README.md, "Skills that listen"). */
    listeners: listenersSection.default(listenersDefaults),
  })
  .strict()
  .default({
    builtins: true,
    enabledByDefault: ["dice", "poll"],
    hostProcesses: 1,
    hostIsolation: "per-skill",
    warmOnStart: false,
    maxHostProcesses: 8,
    hostIdleMs: 600_000,
    hostMaxRssMb: 256,
    hostHeapMb: 64,
    hostNice: 10,
    hostGraceMs: 1_000,
    quarantineAfterCrashes: 3,
    quarantineWindowMs: 600_000,
    hostPermissionModel: true,
    defaultMemoryMb: 32,
    maxMemoryMb: 128,
    defaultCpuMs: 200,
    maxCpuMs: 5_000,
    defaultTimeoutMs: 2_000,
    maxTimeoutMs: 30_000,
    maxInFlightPerSkill: 8,
    maxContextsPerSkill: 16,
    idleMs: 300_000,
    grantsRefreshMs: 30_000,
    maxRepliesPerInvocation: 5,
    maxReplyChars: 8_000,
    replyMax: replyMaxDefaults,
    budget: budgetDefaults,
    budgetMax: budgetMaxDefaults,
    maxResultChars: 65_536,
    defaultStorageKb: 256,
    maxStorageKb: 10_240,
    fetch: fetchDefaults,
    listeners: listenersDefaults,
  });

/** The skills section after defaults. */
export type SkillsConfig = z.infer<typeof skillsSection>;
