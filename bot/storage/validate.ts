/**
 * Checks on what goes into and comes out of the store. Bad input is refused with a clear error before anything
 * is written; a stored policy that does not validate is refused on read (it must never grant anything).
 */
import { z } from "zod";
import { SwitchboardError } from "../errors.ts";
import type { ChatPolicy } from "../permissions.ts";

const role = z.enum(["owner", "admin", "member", "guest"]);

// Loose: fields added to ChatPolicy later survive a round trip through older code.
const policySchema = z.looseObject({
  commandRoles: z.record(z.string(), role),
  roleOverrides: z.record(z.string(), role),
  allow: z.array(z.string()),
  deny: z.array(z.string()),
  trustPlatformAdmins: z.boolean(),
  dm: z.enum(["open", "allowlist", "closed"]).optional(),
  confirm: z.record(z.string(), z.boolean()).optional(),
  approvals: z.record(z.string(), z.number().int().min(0).max(10)).optional(),
});

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(policy)"}: ${issue.message}`)
    .join("; ");
}

/** A policy about to be stored; throws `E_BAD_ARGS` naming the bad field. */
export function checkPolicyForWrite(chatKey: string, policy: unknown): ChatPolicy {
  const result = policySchema.safeParse(policy);
  if (!result.success) {
    throw new SwitchboardError(
      "E_BAD_ARGS",
      `refusing to store an invalid policy for ${chatKey}: ${describeIssues(result.error)}`,
      {
        chatMessage: "That policy is not valid, so nothing was changed.",
      },
    );
  }
  return policy as ChatPolicy;
}

/**
 * A policy read back from the database. A corrupt row throws `E_STORAGE` (fail closed): the caller denies
 * rather than falling back to something more permissive. The parsed JSON itself is returned (own properties
 * only), not a rebuilt copy.
 */
export function checkPolicyFromStore(chatKey: string, value: unknown): ChatPolicy {
  const result = policySchema.safeParse(value);
  if (!result.success) {
    throw new SwitchboardError(
      "E_STORAGE",
      `stored policy for ${chatKey} is corrupt: ${describeIssues(result.error)}`,
      {
        details: { chatKey },
      },
    );
  }
  return value as ChatPolicy;
}

const MAX_NAME_BYTES = 512;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Check a namespace, scope, key or chat key: a well-formed string without NUL, at most 512 UTF-8 bytes. */
export function checkName(field: string, value: unknown): string {
  if (typeof value !== "string")
    throw new SwitchboardError("E_BAD_ARGS", `${field} must be a string, got ${typeof value}`);
  if (value.includes("\u0000") || LONE_SURROGATE.test(value)) {
    throw new SwitchboardError("E_BAD_ARGS", `${field} contains a NUL character or a lone surrogate`);
  }
  if (Buffer.byteLength(value, "utf8") > MAX_NAME_BYTES) {
    throw new SwitchboardError("E_BAD_ARGS", `${field} is longer than ${MAX_NAME_BYTES} bytes`);
  }
  return value;
}

// An escaped NUL or lone surrogate in JSON text (PostgreSQL's jsonb refuses both); an even run of backslashes
// before it means the backslash itself was escaped and the text is harmless.
const UNSTORABLE_ESCAPE = /(?<!\\)(?:\\\\)*\\u(?:0000|d[89a-f][0-9a-f]{2})/i;

/** Serialize a value for a jsonb column; throws `E_BAD_ARGS` for what JSON or jsonb cannot hold. */
export function toJsonText(field: string, value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new SwitchboardError(
      "E_BAD_ARGS",
      `${field} is not JSON-serializable: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (text === undefined)
    throw new SwitchboardError("E_BAD_ARGS", `${field} is not JSON-serializable (${typeof value})`);
  if (UNSTORABLE_ESCAPE.test(text))
    throw new SwitchboardError("E_BAD_ARGS", `${field} contains a NUL character or a lone surrogate`);
  return text;
}

/** Check an epoch-ms timestamp. */
export function checkEpochMs(field: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new SwitchboardError("E_BAD_ARGS", `${field} must be epoch milliseconds (a non-negative integer)`);
  }
  return value;
}

/** Check an optional positive integer limit, capped at `max`. */
export function checkLimit(field: string, value: unknown, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw new SwitchboardError("E_BAD_ARGS", `${field} must be a positive integer`);
  }
  return Math.min(value, max);
}
