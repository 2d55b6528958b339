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
    /** Skill-host child processes holding the isolates. */
    hostProcesses: z.number().int().min(1).max(16).default(1),
    /** Run hosts under Node's permission model (no file writes, no child processes). */
    hostPermissionModel: z.boolean().default(true),
    /** Memory a skill gets when its manifest asks for none, and the most it may ask for, in MB. */
    defaultMemoryMb: z.number().int().min(8).default(32),
    maxMemoryMb: z.number().int().min(8).default(128),
    /** CPU per call (synchronous part), default and maximum, in ms. */
    defaultCpuMs: z.number().int().positive().default(1_000),
    maxCpuMs: z.number().int().positive().default(5_000),
    /** Wall-clock budget per invocation (awaited capabilities included), default and maximum, in ms. */
    defaultTimeoutMs: z.number().int().positive().default(5_000),
    maxTimeoutMs: z.number().int().positive().default(30_000),
    /** Calls of one skill running at once; more are refused as busy. */
    maxInFlightPerSkill: z.number().int().positive().default(8),
    /** Chat contexts kept warm per skill isolate. */
    maxContextsPerSkill: z.number().int().positive().default(16),
    /** An isolate unused this long is disposed, in ms. */
    idleMs: z.number().int().positive().default(300_000),
    /** How often grants are re-read from the store (other bot processes may change them), in ms; 0 never. */
    grantsRefreshMs: z.number().int().nonnegative().default(30_000),
    /** Replies (and `send`s) one invocation may make, and their total size in characters. */
    maxRepliesPerInvocation: z.number().int().positive().default(5),
    maxReplyChars: z.number().int().positive().default(8_000),
    /** Largest value a call returns or passes to a capability, in characters. */
    maxResultChars: z.number().int().positive().default(65_536),
    /** Storage per (skill, chat) when the manifest asks for no quota, and the most it may ask for, in KB. */
    defaultStorageKb: z.number().int().positive().default(256),
    maxStorageKb: z.number().int().positive().default(10_240),
    fetch: fetchSection.default(fetchDefaults),
  })
  .strict()
  .default({
    builtins: true,
    enabledByDefault: ["dice", "poll"],
    hostProcesses: 1,
    hostPermissionModel: true,
    defaultMemoryMb: 32,
    maxMemoryMb: 128,
    defaultCpuMs: 1_000,
    maxCpuMs: 5_000,
    defaultTimeoutMs: 5_000,
    maxTimeoutMs: 30_000,
    maxInFlightPerSkill: 8,
    maxContextsPerSkill: 16,
    idleMs: 300_000,
    grantsRefreshMs: 30_000,
    maxRepliesPerInvocation: 5,
    maxReplyChars: 8_000,
    maxResultChars: 65_536,
    defaultStorageKb: 256,
    maxStorageKb: 10_240,
    fetch: fetchDefaults,
  });

/** The skills section after defaults. */
export type SkillsConfig = z.infer<typeof skillsSection>;
