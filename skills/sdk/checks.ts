/**
 * `@switchboard/skill-sdk/checks`: the package checks the marketplace installer runs and `switchboard-skill check`
 * runs before a publish (tarball reading with limits, manifest, entry, declared capabilities), permission
 * wording, and the SDK's error type.
 */
export {
  type CheckedPackage,
  checkPackage,
  normaliseEntry,
  type PackageFiles,
  readPackageTarball,
  safeEntryPath,
  type TarballLimits,
  undeclaredCapabilities,
} from "./package-check.ts";
export {
  describePermission,
  diffPermissions,
  flattenPermissions,
  formatPermissions,
  type PermissionDiff,
} from "./permissions.ts";
export { isSkillKitError, SkillKitError, type SkillKitErrorCode } from "./errors.ts";
