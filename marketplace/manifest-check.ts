/**
 * The installer's package checks. The skill SDK owns them (`@switchboard/skill-sdk/checks`), so an author's
 * `switchboard-skill check` runs exactly what the installer runs; here they throw the bot's catalog errors.
 */
import {
  type CheckedPackage,
  checkPackage as sdkCheckPackage,
  normaliseEntry,
  undeclaredCapabilities,
} from "@switchboard/skill-sdk/checks";
import { fromKitError } from "../skills/index.ts";
import type { PackageFiles } from "./types.ts";

export { type CheckedPackage, normaliseEntry, undeclaredCapabilities };

/** Run every check (see the SDK); a refusal is an `E_SKILL_INVALID` SwitchboardError. */
export function checkPackage(
  pkg: PackageFiles,
  expected: { name: string; version?: string | undefined },
): CheckedPackage {
  try {
    return sdkCheckPackage(pkg, expected);
  } catch (error) {
    throw fromKitError(error);
  }
}
