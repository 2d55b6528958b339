/** The error the SDK's checks and author commands throw: a stable code, a log message and a line safe for a chat. */

/** Codes the SDK raises; the bot maps each to the entry of the same name in its error catalog. */
export type SkillKitErrorCode = "E_SKILL_INVALID" | "E_BAD_ARGS" | "E_CONFLICT";

/** An error from the skill SDK (manifest, package checks, author kit). */
export class SkillKitError extends Error {
  readonly code: SkillKitErrorCode;
  /** A sentence safe to show in a chat (no paths, no stacks). */
  readonly chatMessage: string;
  /** Structured details for a log. */
  readonly details: Record<string, unknown>;

  constructor(
    code: SkillKitErrorCode,
    message: string,
    options: { chatMessage?: string; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SkillKitError";
    this.code = code;
    this.chatMessage = options.chatMessage ?? message;
    this.details = options.details ?? {};
  }
}

/** True for a `SkillKitError` (also across copies of the SDK, by shape). */
export function isSkillKitError(value: unknown): value is SkillKitError {
  return (
    value instanceof SkillKitError ||
    (typeof value === "object" &&
      value !== null &&
      (value as { name?: unknown }).name === "SkillKitError" &&
      typeof (value as { code?: unknown }).code === "string")
  );
}
