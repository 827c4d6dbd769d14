/** Conversations: invitations, V2 and V1 conversations, streams. */
export * from "./conversation.js";
export * from "./conversations.js";
export {
  type ConversationContext,
  createInvitation,
  deriveInvitationSecrets,
  InvitationError,
  type InvitationErrorReason,
  invitationEnvelopes,
  MAX_INVITATION_HEADER_BYTES,
  MAX_INVITATION_METADATA_ENTRIES,
  MAX_SEALED_INVITATION_BYTES,
  type OpenedInvitation,
  openInvitation,
  sealInvitation,
} from "./invitation.js";
export {
  type ConversationStore,
  MAX_SNAPSHOT_BYTES,
  memoryConversationStore,
  type WebStorageLike,
  webStorageConversationStore,
} from "./persistence.js";
export * from "./stores.js";
export * from "./v1.js";
export * from "./v2.js";
