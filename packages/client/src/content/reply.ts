import {
  type CodecLookup,
  type ContentCodec,
  decodeNested,
  type EncodedContent,
  encodedContentFromBytes,
  encodedContentToBytes,
} from "./codec.js";
import {
  ContentTypeId,
  type ContentTypeIdLike,
  ContentTypeReply,
  contentTypeToString,
} from "./content-type.js";
import { ContentError } from "./errors.js";

/** A reply to an earlier message; `content` is encoded with the codec for `contentType`. */
export interface Reply<T = unknown> {
  /** Id of the message replied to. */
  reference: string;
  /** Inbox id of the replied-to message's sender (group messages only). */
  referenceInboxId?: string;
  contentType: ContentTypeIdLike;
  content: T;
}

/**
 * `xmtp.org/reply:1.0`: parameters `{contentType: "a/t:M.m", reference, referenceInboxId?}`, content =
 * the inner `EncodedContent` bytes.
 */
export class ReplyCodec implements ContentCodec<Reply> {
  readonly contentType = ContentTypeReply;

  encode(reply: Reply, registry: CodecLookup): EncodedContent {
    if (typeof reply.reference !== "string")
      throw new ContentError("invalid", "reply: reference must be a string");
    const codec = registry.codecFor(reply.contentType);
    if (!codec) {
      throw new ContentError(
        "unknown-type",
        `reply: no codec for content type ${contentTypeToString(reply.contentType)}`,
      );
    }
    const inner = codec.encode(reply.content, registry);
    const parameters: Record<string, string> = {
      contentType: contentTypeToString(reply.contentType),
      reference: reply.reference,
    };
    if (reply.referenceInboxId) parameters.referenceInboxId = reply.referenceInboxId;
    return { type: ContentTypeReply, parameters, content: encodedContentToBytes(inner) };
  }

  decode(encoded: EncodedContent, registry: CodecLookup): Reply {
    const reference = encoded.parameters.reference;
    if (reference === undefined) throw new ContentError("invalid", "reply: missing reference parameter");
    const inner = encodedContentFromBytes(encoded.content);
    const out: Reply = {
      reference,
      contentType: ContentTypeId.from(inner.type),
      content: decodeNested(registry, inner),
    };
    const inbox = encoded.parameters.referenceInboxId;
    if (inbox !== undefined) out.referenceInboxId = inbox;
    return out;
  }

  fallback(reply: Reply): string | undefined {
    if (typeof reply.content === "string") return `Replied with “${reply.content}” to an earlier message`;
    return "Replied to an earlier message";
  }

  shouldPush(): boolean {
    return true;
  }
}
