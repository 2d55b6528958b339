/**
 * The skills module's public entry: the plugin factory (composition root), the service (marketplace), the
 * manifest schema and validator (marketplace, before install). The `skills link` CLI is `cli.ts`.
 */
export {
  createSkillsPlugin,
  installedSkillsDir,
  BUILTIN_DIR,
  type SkillsPlugin,
  type SkillsPluginOptions,
} from "./plugin.ts";
export { SKILLS_NEEDS, type SkillsServices } from "./needs.ts";
export { SkillService, type LoadedSkill, type SkillChatState, type SkillSource } from "./service.ts";
export {
  manifestSchema,
  validateManifest,
  parseSkillPackage,
  skillNameOf,
  fromKitError,
  MANIFEST_VERSION,
  SKILL_KEYWORD,
  type ManifestIssue,
  type ManifestResult,
  type SkillManifest,
  type SkillPackageInfo,
  type SkillPermissions,
} from "./manifest.ts";
export { missingPermissions, SKILLS_MIGRATIONS, type GrantRecord } from "./runtime/grants.ts";
