/**
 * The skill package format, owned by the skill SDK (`@switchboard/skill-sdk/manifest`) so authors and the bot
 * validate with the same schema. This module re-exports it for the runtime and the marketplace, and turns the
 * SDK's errors into the bot's catalog errors.
 */
import { parseSkillPackage as sdkParseSkillPackage, type SkillPackageInfo } from "@switchboard/skill-sdk/manifest";
import { isSkillKitError } from "@switchboard/skill-sdk/checks";
import { SwitchboardError } from "../bot/index.ts";

export {
  compilePattern,
  HOOK_NAME,
  HOST_PATTERN,
  LIFECYCLE_EVENTS,
  MAX_PATTERN_CHARS,
  MANIFEST_VERSION,
  type ManifestCommand,
  type ManifestIssue,
  type ManifestResult,
  type ManifestTool,
  manifestSchema,
  SKILL_KEYWORD,
  SKILL_NAME,
  type SkillEvents,
  type SkillManifest,
  type SkillPackageInfo,
  type SkillPermissions,
  skillNameOf,
  TOOL_NAME,
  validateManifest,
} from "@switchboard/skill-sdk/manifest";

/** An SDK error as the bot's catalog error with the same code (anything else passes through unchanged). */
export function fromKitError(error: unknown): unknown {
  if (!isSkillKitError(error)) return error;
  return new SwitchboardError(error.code, error.message, {
    chatMessage: error.chatMessage,
    details: error.details,
    cause: error,
  });
}

/** Like `validateManifest`, but throws `E_SKILL_INVALID` with every issue in the message. */
export function parseSkillPackage(packageJson: unknown): SkillPackageInfo {
  try {
    return sdkParseSkillPackage(packageJson);
  } catch (error) {
    throw fromKitError(error);
  }
}
