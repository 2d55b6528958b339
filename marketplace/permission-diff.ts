/** Permission flattening, diffs and wording: shared with the skill SDK (`@switchboard/skill-sdk/checks`), which owns them. */
export {
  describePermission,
  diffPermissions,
  flattenPermissions,
  formatPermissions,
  type PermissionDiff,
} from "@switchboard/skill-sdk/checks";
