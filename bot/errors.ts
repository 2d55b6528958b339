/**
 * The error catalog: one base error, stable codes, and a message per code that is safe to show in chat.
 * Details (stack, cause, ids) go to the log only. `test/unit/bot/errors.test.ts` keeps catalog and docs in step.
 */

/** Every code Switchboard raises, with the chat-safe message shown for it. */
export const ERROR_CATALOG = {
  E_INTERNAL: "Something went wrong on my side. It has been logged.",
  E_UNKNOWN_COMMAND: "I don't know that command. Try /help.",
  E_PERMISSION_DENIED: "You don't have permission to do that here.",
  E_NO_POLICY: "This chat has no policy yet, so privileged commands are off. A bot owner can set one up with /perms.",
  E_DM_CLOSED: "Direct messages to this bot are closed.",
  E_USER_DENIED: "You are not allowed to use this bot here.",
  E_RATE_LIMITED: "You're sending messages too fast; slow down a little.",
  E_BAD_ARGS: "Those arguments don't look right. See /help for usage.",
  E_MESSAGE_TOO_LONG: "That message is too long for me to handle.",
  E_CONFIG_INVALID: "The configuration is invalid.",
  E_STORAGE: "Storage is unavailable right now. Please try again shortly.",
  E_ADAPTER: "The chat platform refused the request.",
  E_TIMEOUT: "That took too long and was stopped.",
  E_STOPPED: "Stopped on request.",
  E_SKILL_FAILED: "The skill failed and was stopped.",
  E_SKILL_LIMIT: "The skill went over its limits and was stopped.",
  E_SKILL_DENIED: "The skill asked for something this chat has not granted.",
  E_SKILL_BUDGET: "The skill went over its budget for this invocation.",
  E_SKILL_QUARANTINED: "The skill kept crashing and was turned off until an admin turns it back on.",
  E_SKILL_INVALID: "That skill package is invalid.",
  E_CAPABILITY_UNAVAILABLE: "That capability is not available on this bot.",
  E_MARKETPLACE: "The skill marketplace could not complete that request.",
  E_INTEGRITY: "A downloaded package did not match its checksum and was refused.",
  E_LLM_UNAVAILABLE: "No language model could answer right now.",
  E_LLM_NOT_CONFIGURED: "No language model is configured.",
  E_QUOTA_EXCEEDED: "The usage quota for this chat has been reached.",
  E_SCHEDULE_INVALID: "That schedule is not valid.",
  E_NOT_FOUND: "Not found.",
  E_CONFLICT: "That conflicts with something that already exists.",
  E_FILE_TOO_LARGE: "That file is too large.",
} as const;

/** A stable error code. */
export type ErrorCode = keyof typeof ERROR_CATALOG;

/** Options for `SwitchboardError`. */
export interface SwitchboardErrorOptions {
  /** Replaces the catalog's chat message; must itself be safe to show (no secrets, paths or stacks). */
  chatMessage?: string;
  cause?: unknown;
  /** Structured details for the log only. */
  details?: Record<string, unknown>;
}

/**
 * The one base error. `message` is for logs; `chatMessage` is what a chat may see.
 *
 * ```ts
 * throw new SwitchboardError("E_PERMISSION_DENIED", "member tried /perms set", { chatMessage: "Only admins can change permissions." });
 * ```
 */
export class SwitchboardError extends Error {
  readonly code: ErrorCode;
  readonly chatMessage: string;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message?: string, options: SwitchboardErrorOptions = {}) {
    super(message ?? ERROR_CATALOG[code], options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SwitchboardError";
    this.code = code;
    this.chatMessage = options.chatMessage ?? ERROR_CATALOG[code];
    this.details = options.details ?? {};
  }
}

/** True for a `SwitchboardError` (also across module copies, by shape). */
export function isSwitchboardError(value: unknown): value is SwitchboardError {
  return (
    value instanceof SwitchboardError ||
    (typeof value === "object" &&
      value !== null &&
      (value as { name?: unknown }).name === "SwitchboardError" &&
      typeof (value as { code?: unknown }).code === "string" &&
      (value as { code: string }).code in ERROR_CATALOG)
  );
}

/** Wrap anything thrown into a `SwitchboardError` (unknown failures become `E_INTERNAL`). */
export function toSwitchboardError(value: unknown): SwitchboardError {
  if (isSwitchboardError(value)) return value;
  return new SwitchboardError("E_INTERNAL", value instanceof Error ? value.message : "non-error thrown", {
    cause: value,
  });
}
