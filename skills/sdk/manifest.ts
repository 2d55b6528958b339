/**
 * The skill package format: a `package.json` with the keyword `switchboard-skill` and a `switchboard` field
 * holding the manifest. `validateManifest` checks a whole package.json and names every wrong field with its fix;
 * the marketplace calls it before installing, the runtime before loading.
 */
import { RE2JS } from "re2js";
import { z } from "zod";
import { SkillKitError } from "./errors.ts";

/** Command names: 1–32 lower-case letters, digits, `_` or `-` (the bot's command registry uses the same rule). */
export const COMMAND_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/** The manifest format this runtime understands. */
export const MANIFEST_VERSION = 1;

/** The keyword every skill package carries. */
export const SKILL_KEYWORD = "switchboard-skill";

/** Skill names: lower-case letters, digits and `-`, 1–40 long (tool names are `<skill>__<tool>`). */
export const SKILL_NAME = /^[a-z0-9][a-z0-9-]{0,39}$/;

/** Tool names: lower-case letters, digits and `_`, 1–40 long. */
export const TOOL_NAME = /^[a-z0-9][a-z0-9_]{0,39}$/;

/** A network host pattern: `api.example.com`, `*.example.com`, optionally `:port`. */
export const HOST_PATTERN =
  /^(\*\.)?[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?)*(:\d{1,5})?$/;

const role = z.enum(["owner", "admin", "member", "guest"]);

const commandArg = z
  .object({
    name: z.string().regex(/^[a-z0-9_-]{1,32}$/, "use lower-case letters, digits, _ or -, at most 32"),
    description: z.string().min(1).max(100),
    type: z.enum(["string", "integer", "number", "boolean", "user"]).default("string"),
    required: z.boolean().optional(),
    choices: z.array(z.string().min(1).max(100)).max(25).optional(),
    rest: z.boolean().optional(),
    /** A boolean given as `--name`. */
    flag: z.boolean().optional(),
  })
  .strict();

/** What a command and each of its subcommands declare besides name and description. */
const nodeFields = {
  usage: z.string().max(200).optional(),
  args: z.array(commandArg).max(25).optional(),
  /** Runs only after the same person confirms. */
  confirm: z.boolean().optional(),
  /** Runs only after this many other people with the required role approve. */
  approvals: z.number().int().min(1).max(5).optional(),
  /** Hard to undo: an admin must confirm it. */
  dangerous: z.boolean().optional(),
};

/** A subcommand: `/poll close <id>`. Its handler is the command's (it gets the subcommand in its arguments). */
const subcommand = z
  .object({
    name: z.string().regex(COMMAND_NAME, "use 1–32 lower-case letters, digits, _ or -"),
    description: z.string().min(1, "describe the subcommand in a few words").max(100),
    ...nodeFields,
    /** Minimum role when the chat's policy says nothing (policy key `command.sub`). Default: the command's. */
    defaultRole: role.optional(),
  })
  .strict();

const command = z
  .object({
    name: z
      .string()
      .regex(COMMAND_NAME, "use 1–32 lower-case letters, digits, _ or -, starting with a letter or digit"),
    description: z.string().min(1, "describe the command in a few words").max(256),
    ...nodeFields,
    /** Minimum role when the chat's policy says nothing. Default `member`. */
    defaultRole: role.default("member"),
    subcommands: z.array(subcommand).max(25).optional(),
  })
  .strict();

const tool = z
  .object({
    name: z.string().regex(TOOL_NAME, "use 1–40 lower-case letters, digits or _"),
    description: z.string().min(1, "tell the model what the tool does").max(1024),
    parameters: z
      .object({ type: z.literal("object", 'tool parameters must be a JSON Schema with type "object"') })
      .catchall(z.unknown()),
    defaultRole: role.default("member"),
    /**
     * The command line the tool acts as (`dice`, `poll close`): it is offered and runs only for people who may run
     * that command. Default: the command named like the skill, else the skill's first command.
     */
    command: z.string().max(100).optional(),
  })
  .strict();

const settingField = z
  .object({
    type: z.enum(["string", "number", "integer", "boolean"]),
    description: z.string().max(300).optional(),
    /** Stored encrypted, never logged, shown masked. */
    secret: z.boolean().optional(),
    enum: z.array(z.union([z.string(), z.number()])).optional(),
    default: z.union([z.string(), z.number(), z.boolean()]).optional(),
    maxLength: z.number().int().positive().max(10_000).optional(),
  })
  .strict();

const settings = z
  .object({
    type: z.literal("object").default("object"),
    properties: z.record(
      z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,39}$/, "setting names are letters, digits and _"),
      settingField,
    ),
    required: z.array(z.string()).optional(),
  })
  .strict();

/** The most a manifest may ask for in `permissions.files.maxBytes` (1 GiB). */
export const MAX_FILE_BYTES = 1_073_741_824;

const permissions = z
  .object({
    /** Hosts `fetch` may reach: `api.example.com`, `*.example.com`, `host:8443`. */
    network: z
      .array(
        z
          .string()
          .toLowerCase()
          .regex(HOST_PATTERN, "write a host name like api.example.com or *.example.com, no scheme or path"),
      )
      .max(50)
      .default([]),
    /** Key-value storage for this skill in each chat; `quotaKb` within the operator's maximum. */
    storage: z
      .union([z.boolean(), z.object({ quotaKb: z.number().int().positive().max(102_400) }).strict()])
      .default(false),
    /** Create schedules in the chat. */
    schedules: z.boolean().default(false),
    /** Call the chat's language model. */
    llm: z.boolean().default(false),
    messages: z
      .object({
        /** Send to chats other than the one that invoked it (where the skill is also enabled). */
        otherChats: z.boolean().default(false),
        /** Keep mass mentions (@everyone, @here, <!channel>) instead of neutralising them. */
        mentions: z.boolean().default(false),
        /** See every message in the chats that grant it (needed by `events.messages`). */
        read: z.boolean().default(false),
      })
      .strict()
      .default({ otherChats: false, mentions: false, read: false }),
    /** Read the files and images sent with the message that invoked the skill (`ctx.files`). */
    files: z
      .object({
        read: z.boolean().default(false),
        /** The largest single file it reads, in bytes; the operator's `limits.maxAttachmentBytes` caps it. */
        maxBytes: z.number().int().positive().max(MAX_FILE_BYTES).optional(),
      })
      .strict()
      .default({ read: false }),
  })
  .strict()
  .default({
    network: [],
    storage: false,
    schedules: false,
    llm: false,
    messages: { otherChats: false, mentions: false, read: false },
    files: { read: false },
  });

/** The longest `events.messages.pattern`, in characters. */
export const MAX_PATTERN_CHARS = 200;

/** Hook names: lower-case letters, digits, `_` or `-`, 1–40 long. */
export const HOOK_NAME = /^[a-z0-9][a-z0-9_-]{0,39}$/;

/** The lifecycle events a skill may subscribe to. */
export const LIFECYCLE_EVENTS = ["enabled", "disabled", "settingsChanged"] as const;

/**
 * Compile a message pattern with RE2's syntax and linear-time matcher (no backreferences, no lookaround, repeat
 * counts at most 1000), so no pattern can make matching a message take more than time linear in its length.
 * Throws with the reason when the pattern is not accepted.
 *
 * ```ts
 * compilePattern("(?i)^deploy (\\w+)").matcher("Deploy api").find(); // true
 * compilePattern("(a)\\1"); // throws: backreferences are not supported
 * ```
 */
export function compilePattern(pattern: string): RE2JS {
  if (pattern.length === 0 || pattern.length > MAX_PATTERN_CHARS)
    throw new Error(`a pattern is 1–${MAX_PATTERN_CHARS} characters`);
  return RE2JS.compile(pattern);
}

const messagePattern = z
  .string()
  .min(1, "give a regular expression the messages must match, like (?i)\\bdeploy\\b")
  .max(MAX_PATTERN_CHARS, `keep the pattern to ${MAX_PATTERN_CHARS} characters`)
  .superRefine((pattern, ctx) => {
    try {
      compilePattern(pattern);
    } catch (error) {
      const reason = error instanceof Error ? error.message.replace(/^error parsing regexp: /, "") : String(error);
      ctx.addIssue({
        code: "custom",
        message: `use RE2 syntax (no backreferences or lookaround, repeats at most {1000}): ${reason.slice(0, 120)}`,
      });
    }
  });

/** What happens in a chat that the skill wants to hear about (its handlers are under `events` in the SDK). */
const events = z
  .object({
    /** Every message matching `pattern` in chats that granted `messages.read` (Hubot's `hear`). */
    messages: z.object({ pattern: messagePattern }).strict().optional(),
    /** Deliveries of these inbound hooks, in chats where the skill is enabled. */
    hooks: z
      .array(z.string().regex(HOOK_NAME, "use hook names of lower-case letters, digits, _ or -"))
      .max(20)
      .optional(),
    /** Reactions added to or removed from messages. */
    reactions: z.boolean().optional(),
    /** Schedule fires in chats where the skill is enabled. */
    schedule: z.boolean().optional(),
    /** The skill being enabled, disabled, or its settings changed, in a chat. */
    lifecycle: z.array(z.enum(LIFECYCLE_EVENTS)).max(3).optional(),
  })
  .strict()
  .default({});

const limits = z
  .object({
    memoryMb: z.number().int().min(8, "isolates need at least 8 MB").max(4_096).optional(),
    cpuMs: z.number().int().positive().max(600_000).optional(),
    timeoutMs: z.number().int().positive().max(600_000).optional(),
    /** More than the operator's default budget per invocation; each clamped to the operator's maximum. */
    budget: z
      .object({
        fetchInFlight: z.number().int().positive().optional(),
        fetchRequests: z.number().int().nonnegative().optional(),
        fetchBytesIn: z.number().int().nonnegative().optional(),
        fetchBytesOut: z.number().int().nonnegative().optional(),
        fileBytesIn: z.number().int().nonnegative().optional(),
        capCallsPerSecond: z.number().int().positive().optional(),
        capCalls: z.number().int().positive().optional(),
        storageWrites: z.number().int().nonnegative().optional(),
        llmCalls: z.number().int().nonnegative().optional(),
        llmTokens: z.number().int().nonnegative().optional(),
        replies: z.number().int().positive().optional(),
        replyChars: z.number().int().positive().optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .default({});

/** The zod schema of the `switchboard` field. */
export const manifestSchema = z
  .object({
    manifestVersion: z.literal(MANIFEST_VERSION, `set "manifestVersion": ${MANIFEST_VERSION}`),
    /** Skill name; default: the package name without scope and without a `switchboard-skill-` prefix. */
    name: z.string().regex(SKILL_NAME, "use 1–40 lower-case letters, digits or -").optional(),
    /** The bundled entry script, relative to the package folder. */
    entry: z
      .string()
      .min(1)
      .regex(
        /^(?!\/)(?!.*(^|\/)\.\.(\/|$))[A-Za-z0-9_./-]+\.(c?js|mjs)$/,
        "give a relative path to a .js file inside the package, like dist/index.js",
      ),
    description: z.string().max(500).optional(),
    commands: z.array(command).max(50).default([]),
    tools: z.array(tool).max(50).default([]),
    permissions,
    settings: settings.optional(),
    limits,
    events,
  })
  .strict();

/** A validated manifest. */
export type SkillManifest = z.infer<typeof manifestSchema>;

/** A manifest's event subscriptions. */
export type SkillEvents = SkillManifest["events"];

/** A skill's requested (or granted) permissions. */
export type SkillPermissions = SkillManifest["permissions"];

/** One command of a manifest. */
export type ManifestCommand = SkillManifest["commands"][number];

/** One tool of a manifest. */
export type ManifestTool = SkillManifest["tools"][number];

/** What a valid package tells about its skill. */
export interface SkillPackageInfo {
  /** The skill's name (commands and tools are prefixed by it). */
  name: string;
  packageName: string;
  version: string;
  manifest: SkillManifest;
}

/** One problem in a package.json: the field, what is wrong, and how to fix it. */
export interface ManifestIssue {
  field: string;
  problem: string;
  fix: string;
}

/** The outcome of `validateManifest`. */
export type ManifestResult =
  | { ok: true; skill: SkillPackageInfo }
  | { ok: false; issues: ManifestIssue[]; message: string };

const PACKAGE_NAME = /^(@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*$/;
const SEMVER = /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;

/**
 * Check a whole package.json as a skill package. Never throws.
 *
 * ```ts
 * const result = validateManifest(JSON.parse(readFileSync("package.json", "utf8")));
 * if (!result.ok) console.error(result.message); // "switchboard.commands.0.name: … Fix: …"
 * ```
 */
export function validateManifest(packageJson: unknown): ManifestResult {
  const issues: ManifestIssue[] = [];
  if (packageJson === null || typeof packageJson !== "object" || Array.isArray(packageJson)) {
    issues.push({ field: "(package.json)", problem: "is not a JSON object", fix: "give the package's package.json" });
    return fail(issues);
  }
  const pkg = packageJson as Record<string, unknown>;
  const packageName = pkg.name;
  if (typeof packageName !== "string" || !PACKAGE_NAME.test(packageName) || packageName.length > 214) {
    issues.push({
      field: "name",
      problem: "is missing or not a valid npm package name",
      fix: 'use a lower-case npm name such as "switchboard-skill-dice"',
    });
  }
  if (typeof pkg.version !== "string" || !SEMVER.test(pkg.version)) {
    issues.push({
      field: "version",
      problem: "is missing or not a semantic version",
      fix: 'use a version such as "1.0.0"',
    });
  }
  if (!Array.isArray(pkg.keywords) || !pkg.keywords.includes(SKILL_KEYWORD)) {
    issues.push({
      field: "keywords",
      problem: `does not include "${SKILL_KEYWORD}"`,
      fix: `add "keywords": ["${SKILL_KEYWORD}"]`,
    });
  }
  if (!Object.hasOwn(pkg, "switchboard")) {
    issues.push({
      field: "switchboard",
      problem: "is missing",
      fix: 'add a "switchboard" field with the manifest (manifestVersion, entry, commands, permissions)',
    });
    return fail(issues);
  }
  const parsed = manifestSchema.safeParse(pkg.switchboard);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) issues.push(issueFrom(issue));
    return fail(issues);
  }
  const manifest = parsed.data;
  const name = manifest.name ?? skillNameOf(typeof packageName === "string" ? packageName : "");
  if (!SKILL_NAME.test(name)) {
    issues.push({
      field: "switchboard.name",
      problem: `the package name gives the skill name ${JSON.stringify(name)}, which is not valid`,
      fix: 'set "name" in the switchboard field to 1–40 lower-case letters, digits or -',
    });
  }
  issues.push(
    ...duplicates(
      manifest.commands.map((c) => c.name),
      "switchboard.commands",
      "command",
    ),
  );
  issues.push(
    ...duplicates(
      manifest.tools.map((t) => t.name),
      "switchboard.tools",
      "tool",
    ),
  );
  if (manifest.events.messages !== undefined && !manifest.permissions.messages.read) {
    issues.push({
      field: "switchboard.events.messages",
      problem: "needs the permission to see every message",
      fix: 'add "read": true under permissions.messages (each chat approves it when it enables the skill)',
    });
  }
  if (manifest.permissions.files.maxBytes !== undefined && !manifest.permissions.files.read) {
    issues.push({
      field: "switchboard.permissions.files.maxBytes",
      problem: "is set but files.read is not",
      fix: 'add "read": true under permissions.files, or remove maxBytes',
    });
  }
  if (manifest.settings !== undefined) {
    for (const key of manifest.settings.required ?? []) {
      if (!Object.hasOwn(manifest.settings.properties, key)) {
        issues.push({
          field: "switchboard.settings.required",
          problem: `names ${JSON.stringify(key)}, which is not in properties`,
          fix: "list only keys defined in settings.properties",
        });
      }
    }
  }
  if (issues.length > 0) return fail(issues);
  return { ok: true, skill: { name, packageName: packageName as string, version: pkg.version as string, manifest } };
}

/** Like `validateManifest`, but throws `E_SKILL_INVALID` with every issue in the message. */
export function parseSkillPackage(packageJson: unknown): SkillPackageInfo {
  const result = validateManifest(packageJson);
  if (result.ok) return result.skill;
  throw new SkillKitError("E_SKILL_INVALID", result.message, {
    chatMessage: `That skill package is invalid: ${result.issues[0]?.field}: ${result.issues[0]?.problem}.`,
    details: { issues: result.issues },
  });
}

/** The skill name a package name gives: `@acme/switchboard-skill-dice` → `dice`. */
export function skillNameOf(packageName: string): string {
  const bare = packageName.startsWith("@") ? packageName.slice(packageName.indexOf("/") + 1) : packageName;
  return bare
    .replace(/^switchboard-skill-/, "")
    .toLowerCase()
    .replace(/[._]/g, "-");
}

function duplicates(names: string[], field: string, what: string): ManifestIssue[] {
  const seen = new Set<string>();
  const out: ManifestIssue[] = [];
  for (const n of names) {
    if (seen.has(n))
      out.push({
        field,
        problem: `declares the ${what} ${JSON.stringify(n)} twice`,
        fix: `give each ${what} a unique name`,
      });
    seen.add(n);
  }
  return out;
}

function issueFrom(issue: z.core.$ZodIssue): ManifestIssue {
  const field = ["switchboard", ...issue.path.map(String)].join(".");
  if (issue.code === "unrecognized_keys") {
    return {
      field,
      problem: `has unknown key(s): ${issue.keys.join(", ")}`,
      fix: "remove them or check their spelling against the manifest reference in the SDK README",
    };
  }
  if (issue.code === "invalid_type" && issue.input === undefined) {
    return { field, problem: "is required", fix: fixFor(field) };
  }
  const shown = typeof issue.input === "string" ? ` (${JSON.stringify(issue.input.slice(0, 60))})` : "";
  const problems: Partial<Record<string, string>> = {
    invalid_type: `should be ${"expected" in issue ? String(issue.expected) : "another type"}`,
    invalid_format: `is not in the right format${shown}`,
    too_small: `is too short or too small${shown}`,
    too_big: `is too long or too large${shown}`,
    invalid_value: `has a value that is not allowed${shown}`,
    invalid_union: `is not valid${shown}`,
  };
  const problem = problems[issue.code] ?? issue.message;
  // Our schema's own messages are written as the fix; zod's generic ones are not.
  const custom = issue.message !== "" && !/^(Invalid|Too (small|big)|Expected|Unrecognized)/.test(issue.message);
  return { field, problem, fix: custom ? issue.message : fixFor(field, issue.message) };
}

function fixFor(field: string, message?: string): string {
  const last =
    field
      .split(".")
      .filter((p) => !/^\d+$/.test(p))
      .pop() ?? "";
  const known: Record<string, string> = {
    manifestVersion: `set "manifestVersion": ${MANIFEST_VERSION}`,
    entry: 'set "entry" to the bundled script, like "dist/index.js"',
    description: "write a short description",
    network: 'list host names like "api.example.com"',
    parameters: 'give a JSON Schema object: {"type": "object", "properties": {…}}',
    memoryMb: "ask for 8–4096 MB; the operator's maximum applies",
  };
  return Object.hasOwn(known, last) ? known[last]! : (message ?? "see the manifest reference in the SDK README");
}

function fail(issues: ManifestIssue[]): ManifestResult {
  const message = `Invalid skill package:\n${issues.map((i) => `  - ${i.field}: ${i.problem}. Fix: ${i.fix}`).join("\n")}`;
  return { ok: false, issues, message };
}
