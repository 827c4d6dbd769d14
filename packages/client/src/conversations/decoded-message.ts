/**
 * `DecodedMessage`: a message that passed every check, with its content decoded, as xmtp-js's
 * class of that name; `toBytes` / `fromBytes` use xmtp-js's `xmtp.message_contents.DecodedMessage`
 * encoding (with its `ConversationReference`), so an app can keep messages and read them back.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import {
  type ConsentProofPayload,
  ConsentProofPayloadSchema,
  InvitationV1_ContextSchema,
} from "@xmtp-ts/proto";
import { MAX_MESSAGE_BYTES } from "@xmtp-ts/protocol";
import type { ContentTypeId, DecodedContent } from "../content/index.js";
import { invalidArgument, type XmtpError } from "../errors.js";
import type { Conversation } from "./conversation.js";
import type { ConversationContext } from "./invitation.js";

/** The fields of a {@link DecodedMessage}. */
export interface DecodedMessageFields<ContentTypes> {
  id: string;
  messageVersion: "v1" | "v2";
  senderAddress: string;
  recipientAddress: string | undefined;
  sent: Date;
  sentNs: bigint;
  contentTopic: string;
  conversation: Conversation<ContentTypes>;
  contentType: ContentTypeId | undefined;
  content: ContentTypes | undefined;
  contentFallback: string | undefined;
  error: XmtpError | undefined;
  contentBytes: Uint8Array;
  shouldPush?: boolean | undefined;
  senderHmac?: Uint8Array | undefined;
}

/** A stored message is at most one network message plus its conversation reference. */
export const MAX_DECODED_MESSAGE_BYTES = MAX_MESSAGE_BYTES + 64 * 1024;

/** What {@link DecodedMessage.fromBytes} needs of a client. */
export interface MessageRestorer<ContentTypes> {
  decodeContent(bytes: Uint8Array): Promise<DecodedContent<ContentTypes>>;
  readonly conversations: { fromReference(ref: StoredConversationRef): Promise<Conversation<ContentTypes>> };
}

/** A conversation as stored with a message. */
export interface StoredConversationRef {
  version: "v1" | "v2";
  topic: string;
  peerAddress: string;
  createdAt: Date;
  context: ConversationContext | undefined;
  consentProof: ConsentProofPayload | undefined;
}

// biome-ignore lint/suspicious/noExplicitAny: the content type defaults to anything, as in xmtp-js
export class DecodedMessage<ContentTypes = any> implements DecodedMessageFields<ContentTypes> {
  id: string;
  messageVersion: "v1" | "v2";
  senderAddress: string;
  recipientAddress: string | undefined;
  sent: Date;
  /** `sent` in nanoseconds (the envelope's precision). */
  sentNs: bigint;
  contentTopic: string;
  conversation: Conversation<ContentTypes>;
  contentType: ContentTypeId | undefined;
  /** The decoded content; undefined when the type is unknown or the content is bad (see `error`). */
  content: ContentTypes | undefined;
  contentFallback: string | undefined;
  /** Why `content` is undefined; the message itself is authentic. */
  error: XmtpError | undefined;
  /** The encoded `EncodedContent` bytes. */
  contentBytes: Uint8Array;
  shouldPush?: boolean | undefined;
  senderHmac?: Uint8Array | undefined;

  constructor(f: DecodedMessageFields<ContentTypes>) {
    this.id = f.id;
    this.messageVersion = f.messageVersion;
    this.senderAddress = f.senderAddress;
    this.recipientAddress = f.recipientAddress;
    this.sent = f.sent;
    this.sentNs = f.sentNs;
    this.contentTopic = f.contentTopic;
    this.conversation = f.conversation;
    this.contentType = f.contentType;
    this.content = f.content;
    this.contentFallback = f.contentFallback;
    this.error = f.error;
    this.contentBytes = f.contentBytes;
    this.shouldPush = f.shouldPush;
    this.senderHmac = f.senderHmac;
  }

  /** The message as `xmtp.message_contents.DecodedMessage` bytes (what xmtp-js's `toBytes` writes). */
  toBytes(): Uint8Array {
    const c = this.conversation;
    const consentProof = c.conversationVersion === "v2" ? c.consentProof : undefined;
    const ref = new BinaryWriter();
    ref.tag(1, WireType.LengthDelimited).string(c.topic);
    ref.tag(2, WireType.LengthDelimited).string(c.peerAddress);
    ref.tag(3, WireType.Varint).uint64(BigInt(c.createdAt.getTime()) * 1_000_000n);
    if (c.context)
      ref
        .tag(4, WireType.LengthDelimited)
        .bytes(toBinary(InvitationV1_ContextSchema, create(InvitationV1_ContextSchema, c.context)));
    if (consentProof)
      ref.tag(5, WireType.LengthDelimited).bytes(toBinary(ConsentProofPayloadSchema, consentProof));
    const w = new BinaryWriter();
    w.tag(1, WireType.LengthDelimited).string(this.id);
    w.tag(2, WireType.LengthDelimited).string(this.messageVersion);
    w.tag(3, WireType.LengthDelimited).string(this.senderAddress);
    if (this.recipientAddress !== undefined) w.tag(4, WireType.LengthDelimited).string(this.recipientAddress);
    w.tag(5, WireType.Varint).uint64(this.sentNs);
    w.tag(6, WireType.LengthDelimited).string(this.contentTopic);
    w.tag(7, WireType.LengthDelimited).bytes(ref.finish());
    w.tag(8, WireType.LengthDelimited).bytes(this.contentBytes);
    return w.finish();
  }

  /**
   * A message from {@link toBytes} bytes (or xmtp-js's): its content decoded with the client's
   * codecs, its conversation the client's own (a V2 conversation must be one the client knows).
   */
  static async fromBytes<T>(bytes: Uint8Array, client: MessageRestorer<T>): Promise<DecodedMessage<T>> {
    const p = parseStoredMessage(bytes);
    const conversation = await client.conversations.fromReference(p.conversation);
    const d = await client.decodeContent(p.contentBytes);
    return new DecodedMessage<T>({
      id: p.id,
      messageVersion: p.messageVersion,
      senderAddress: p.senderAddress,
      recipientAddress: p.recipientAddress,
      sent: new Date(Number(p.sentNs / 1_000_000n)),
      sentNs: p.sentNs,
      contentTopic: p.contentTopic,
      conversation,
      contentType: d.contentType,
      content: d.content,
      contentFallback: d.contentFallback,
      error: d.error,
      contentBytes: p.contentBytes,
    });
  }
}

interface StoredMessage {
  id: string;
  messageVersion: "v1" | "v2";
  senderAddress: string;
  recipientAddress: string | undefined;
  sentNs: bigint;
  contentTopic: string;
  conversation: StoredConversationRef;
  contentBytes: Uint8Array;
}

const bad = (why: string, cause?: unknown) => invalidArgument("bytes", `not a stored message: ${why}`, cause);

/** Reads every field of a message, skipping unknown ones; throws "invalid-argument" on bad bytes. */
function readFields(bytes: Uint8Array, on: (field: number, r: BinaryReader, wt: WireType) => boolean): void {
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [field, wt] = r.tag();
    if (!on(field, r, wt)) r.skip(wt, field);
  }
}

/** Decodes stored-message bytes (bounded by {@link MAX_DECODED_MESSAGE_BYTES}). */
export function parseStoredMessage(bytes: Uint8Array): StoredMessage {
  if (bytes.length > MAX_DECODED_MESSAGE_BYTES)
    throw bad(`${bytes.length} bytes, at most ${MAX_DECODED_MESSAGE_BYTES} expected`);
  const m: Partial<StoredMessage> & { version?: string } = {};
  let refBytes: Uint8Array | undefined;
  try {
    readFields(bytes, (field, r, wt) => {
      const ld = wt === WireType.LengthDelimited;
      if (field === 1 && ld) m.id = r.string();
      else if (field === 2 && ld) m.version = r.string();
      else if (field === 3 && ld) m.senderAddress = r.string();
      else if (field === 4 && ld) m.recipientAddress = r.string();
      else if (field === 5 && wt === WireType.Varint) m.sentNs = BigInt(r.uint64());
      else if (field === 6 && ld) m.contentTopic = r.string();
      else if (field === 7 && ld) refBytes = r.bytes();
      else if (field === 8 && ld) m.contentBytes = r.bytes();
      else return false;
      return true;
    });
  } catch (err) {
    throw bad("malformed", err);
  }
  if (m.version !== "v1" && m.version !== "v2") throw bad(`message version ${String(m.version)}`);
  if (!refBytes) throw bad("no conversation reference");
  return {
    id: m.id ?? "",
    messageVersion: m.version,
    senderAddress: m.senderAddress ?? "",
    recipientAddress: m.recipientAddress,
    sentNs: m.sentNs ?? 0n,
    contentTopic: m.contentTopic ?? "",
    conversation: parseConversationRef(refBytes, m.version),
    contentBytes: m.contentBytes ?? new Uint8Array(0),
  };
}

function parseConversationRef(bytes: Uint8Array, version: "v1" | "v2"): StoredConversationRef {
  const ref: StoredConversationRef = {
    version,
    topic: "",
    peerAddress: "",
    createdAt: new Date(0),
    context: undefined,
    consentProof: undefined,
  };
  try {
    readFields(bytes, (field, r, wt) => {
      const ld = wt === WireType.LengthDelimited;
      if (field === 1 && ld) ref.topic = r.string();
      else if (field === 2 && ld) ref.peerAddress = r.string();
      else if (field === 3 && wt === WireType.Varint)
        ref.createdAt = new Date(Number(BigInt(r.uint64()) / 1_000_000n));
      else if (field === 4 && ld) {
        const c = fromBinary(InvitationV1_ContextSchema, r.bytes());
        ref.context = { conversationId: c.conversationId, metadata: { ...c.metadata } };
      } else if (field === 5 && ld) ref.consentProof = fromBinary(ConsentProofPayloadSchema, r.bytes());
      else return false;
      return true;
    });
  } catch (err) {
    throw bad("malformed conversation reference", err);
  }
  return ref;
}
