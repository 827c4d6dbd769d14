/**
 * `@xmtp-ts/client`: what an app needs — the client and its options, wallets (signers and
 * adapters), content types and codecs, errors, conversations and messages, consent, and stores
 * that keep conversations between runs. Lower-level building blocks (keys, invitation sealing,
 * message encryption, the raw network API) are in `@xmtp-ts/client/advanced`.
 */

export { Compression, type Envelope, SortDirection } from "@xmtp-ts/proto";
export { ApiError } from "./api/errors.js";
export type { ConnectionHooks } from "./api/types.js";
export {
  ApiUrls,
  type BuiltInContent,
  Client,
  type ClientOptions,
  type ExtractDecodedType,
  type NetworkOptions,
  type XmtpEnv,
} from "./client.js";
export type { ConsentListEntry, ConsentState } from "./consent/consent.js";
export { Contacts } from "./contacts/contacts.js";
export {
  type Attachment,
  AttachmentCodec,
  type CodecLookup,
  CodecRegistry,
  type Composite,
  CompositeCodec,
  type ContentCodec,
  ContentError,
  type ContentErrorKind,
  ContentTypeAttachment,
  ContentTypeComposite,
  ContentTypeId,
  type ContentTypeIdLike,
  ContentTypeReaction,
  ContentTypeReadReceipt,
  ContentTypeRemoteAttachment,
  ContentTypeReply,
  ContentTypeText,
  ContentTypeTransactionReference,
  type DecodedContent,
  type EncodedContent,
  type Fetcher,
  type Reaction,
  ReactionCodec,
  type ReadReceipt,
  ReadReceiptCodec,
  type RemoteAttachment,
  RemoteAttachmentCodec,
  type Reply,
  ReplyCodec,
  TextCodec,
  type TransactionReference,
  TransactionReferenceCodec,
} from "./content/index.js";
export {
  type Conversation,
  ConversationV1,
  ConversationV2,
  DecodedMessage,
  type ListMessagesOptions,
  type ListMessagesPaginatedOptions,
  type SendOptions,
} from "./conversations/conversation.js";
export {
  Conversations,
  type ConversationsOptions,
  type NewConversationOptions,
} from "./conversations/conversations.js";
export type { ConversationContext } from "./conversations/invitation.js";
export { InvitationError } from "./conversations/invitation.js";
export {
  type ConversationStore,
  memoryConversationStore,
  type WebStorageLike,
  webStorageConversationStore,
} from "./conversations/persistence.js";
export {
  type FileStoreOptions,
  fileConversationStore,
  type IndexedDbFactoryLike,
  type IndexedDbStoreOptions,
  indexedDbConversationStore,
} from "./conversations/stores.js";
export type { StreamOptions, StreamOptionsOrCallback } from "./conversations/stream.js";
export { MessageDecodeError } from "./conversations/v2.js";
export { bytesToHex, fromBase64, hexToBytes, toBase64 } from "./crypto/bytes.js";
export {
  type InvitationErrorReason,
  isXmtpError,
  type MessageDecodeErrorReason,
  XmtpError,
  type XmtpErrorCode,
  type XmtpErrorDetails,
} from "./errors.js";
export * from "./groups/index.js";
export {
  type EthersSignerLike,
  fromEthersSigner,
  fromPrivateKey,
  fromViemAccount,
  fromViemWalletClient,
  type Signer,
  type SignerLike,
  type ViemAccountLike,
  type ViemWalletClientLike,
} from "./signer.js";
