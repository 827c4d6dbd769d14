/**
 * The content pipeline's first stage (XIP-5, protocol.md §11.2): content → codec → optional
 * compression → `EncodedContent` bytes, and back. Decoding never throws: failures come back as a
 * typed `error` next to whatever could be recovered (type, fallback).
 */
import type { Compression } from "@xmtp-ts/proto";
import { AttachmentCodec } from "./attachment.js";
import {
  type CodecLookup,
  CodecRegistry,
  type ContentCodec,
  type EncodedContent,
  encodedContentFromBytes,
  encodedContentToBytes,
} from "./codec.js";
import { CompositeCodec } from "./composite.js";
import { compress, DEFAULT_MAX_DECOMPRESSED_BYTES, decompress } from "./compression.js";
import {
  ContentTypeId,
  type ContentTypeIdLike,
  ContentTypeText,
  contentTypeToString,
} from "./content-type.js";
import { ContentError } from "./errors.js";
import { ReactionCodec } from "./reaction.js";
import { ReadReceiptCodec } from "./read-receipt.js";
import { RemoteAttachmentCodec } from "./remote-attachment.js";
import { ReplyCodec } from "./reply.js";
import { TextCodec } from "./text.js";
import { TransactionReferenceCodec } from "./transaction-reference.js";

/** Content shorter than this is never compressed (as xmtp-js). */
export const MIN_COMPRESSIBLE_BYTES = 10;
/**
 * xmtp-js 11–13 cannot decompress more than 1000 bytes; by default we do not compress content larger
 * than that, so every JS peer can read what we send (protocol.md §18 row 6).
 */
export const PEER_SAFE_COMPRESSED_BYTES = 1000;

export interface EncodeContentOptions {
  /** Defaults to text. */
  contentType?: ContentTypeIdLike;
  /** Compress with this algorithm (when the content is ≥ 10 bytes). */
  compression?: Compression;
  /** Compress even content over 1000 bytes, which xmtp-js 11–13 peers cannot decompress. */
  forceCompression?: boolean;
}

export interface EncodedContentResult {
  /** Serialized `EncodedContent`. */
  payload: Uint8Array;
  shouldPush: boolean;
  encoded: EncodedContent;
}

export interface DecodeContentOptions {
  /** Bound on decompressed size; default {@link DEFAULT_MAX_DECOMPRESSED_BYTES}. */
  maxDecompressedBytes?: number;
}

export interface DecodedContent<T = unknown> {
  /** The decoded value; undefined when the type is unknown or decoding failed. */
  content: T | undefined;
  /** The type named on the wire (undefined only when the bytes did not parse). */
  contentType: ContentTypeId | undefined;
  /** The sender's fallback text, kept for unknown types. */
  contentFallback?: string;
  /** Why `content` is undefined. */
  error?: ContentError;
  /** The parsed (decompressed) EncodedContent, when the bytes parsed. */
  encoded?: EncodedContent;
}

/** A registry with every built-in codec. */
export function defaultCodecRegistry(extra: Iterable<ContentCodec<unknown>> = []): CodecRegistry {
  const reg = new CodecRegistry([
    new TextCodec(),
    new CompositeCodec(),
    new ReactionCodec(),
    new ReplyCodec(),
    new ReadReceiptCodec(),
    new AttachmentCodec(),
    new RemoteAttachmentCodec(),
    new TransactionReferenceCodec(),
  ] as ContentCodec<unknown>[]);
  for (const c of extra) reg.register(c);
  return reg;
}

/** Encodes `content` with the registry's codec for `options.contentType` (text by default). */
export async function encodeContent(
  content: unknown,
  options: EncodeContentOptions,
  registry: CodecLookup,
): Promise<EncodedContentResult> {
  const type = options.contentType ?? ContentTypeText;
  const codec = registry.codecFor(type);
  if (!codec)
    throw new ContentError("unknown-type", `no codec for content type ${contentTypeToString(type)}`);
  const encoded = codec.encode(content, registry);
  const fallback = codec.fallback(content);
  if (fallback) encoded.fallback = fallback;
  const size = encoded.content.length;
  if (
    typeof options.compression === "number" &&
    size >= MIN_COMPRESSIBLE_BYTES &&
    (size <= PEER_SAFE_COMPRESSED_BYTES || options.forceCompression === true)
  ) {
    encoded.content = await compress(encoded.content, options.compression);
    encoded.compression = options.compression;
  }
  return { payload: encodedContentToBytes(encoded), shouldPush: codec.shouldPush(content), encoded };
}

/** Decodes `EncodedContent` bytes. Never throws; see {@link DecodedContent.error}. */
export async function decodeContent<T = unknown>(
  payload: Uint8Array,
  registry: CodecLookup,
  options: DecodeContentOptions = {},
): Promise<DecodedContent<T>> {
  let encoded: EncodedContent;
  try {
    encoded = encodedContentFromBytes(payload);
  } catch (err) {
    return { content: undefined, contentType: undefined, error: asContentError(err) };
  }
  const result: DecodedContent<T> = {
    content: undefined,
    contentType: ContentTypeId.from(encoded.type),
    encoded,
  };
  if (encoded.fallback !== undefined) result.contentFallback = encoded.fallback;
  try {
    if (encoded.compression !== undefined) {
      const max = options.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES;
      encoded = { ...encoded, content: await decompress(encoded.content, encoded.compression, max) };
      delete encoded.compression;
      result.encoded = encoded;
    }
    const codec = registry.codecFor(encoded.type);
    if (!codec) {
      result.error = new ContentError(
        "unknown-type",
        `unknown content type ${contentTypeToString(encoded.type)}`,
      );
      return result;
    }
    result.content = codec.decode(encoded, registry) as T;
  } catch (err) {
    result.error = asContentError(err);
  }
  return result;
}

function asContentError(err: unknown): ContentError {
  if (err instanceof ContentError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new ContentError("malformed", message, { cause: err });
}
