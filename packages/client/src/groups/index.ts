/** Group conversations on V2 invitations (docs/groups.md). */
export type { GroupErrorReason } from "../errors.js";
export { Group, GroupError, type GroupRejection, MAX_KEPT_REJECTIONS } from "./group.js";
export {
  ContentTypeGroupMembership,
  GroupMembershipCodec,
  MAX_MEMBERSHIP_CONTENT_BYTES,
  type MembershipChange,
} from "./membership-content.js";
export {
  GROUP_KEYS,
  type GroupInfo,
  isGroupContext,
  MAX_GROUP_DESCRIPTION_CHARS,
  MAX_GROUP_MEMBERS,
  MAX_GROUP_NAME_CHARS,
} from "./metadata.js";
export { GroupRegistry, type NewGroupOptions } from "./registry.js";
export type { EpochState, GroupRejectionReason } from "./rules.js";
