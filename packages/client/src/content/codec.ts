/** The codec contract (XIP-5), the codec registry and the `EncodedContent` wire form. */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { type Compression, ContentTypeIdSchema, EncodedContentSchema } from "@xmtp-ts/proto";
import {
  ContentTypeId,
  type ContentTypeIdLike,
  contentTypeKey,
  contentTypeToString,
} from "./content-type.js";
import { ContentError } from "./errors.js";

/** An encoded piece of content, before compression and encryption. */
export interface EncodedContent<P extends Record<string, string> = Record<string, string>> {
  type: ContentTypeIdLike;
  parameters: P;
  fallback?: string;
  compression?: Compression;
  content: Uint8Array;
}

/** What codecs need from a registry: a lookup (the same shape xmtp-js passes its codecs). */
export interface CodecLookup {
  codecFor(type: ContentTypeIdLike): ContentCodec<unknown> | undefined;
}

/** Encodes and decodes one content type. Same method names as xmtp-js codecs, so theirs plug in. */
export interface ContentCodec<T> {
  readonly contentType: ContentTypeIdLike;
  encode(content: T, registry: CodecLookup): EncodedContent;
  decode(encoded: EncodedContent, registry: CodecLookup): T;
  /** Text shown by clients that do not know the type; `undefined` for none. */
  fallback(content: T): string | undefined;
  shouldPush(content: T): boolean;
}

/** Default bound on composite/reply nesting when decoding. */
export const DEFAULT_MAX_NESTING_DEPTH = 16;

/**
 * Codecs keyed by `authority/type`. A lookup fails when the incoming major version is newer than
 * the codec's own (minor versions are backward compatible by rule).
 */
export class CodecRegistry implements CodecLookup {
  readonly #codecs = new Map<string, ContentCodec<unknown>>();
  readonly maxNestingDepth: number;
  #depth = 0;

  constructor(codecs: Iterable<ContentCodec<unknown>> = [], options: { maxNestingDepth?: number } = {}) {
    this.maxNestingDepth = options.maxNestingDepth ?? DEFAULT_MAX_NESTING_DEPTH;
    for (const c of codecs) this.register(c);
  }

  /** Adds (or replaces) the codec for its `authority/type`. */
  // biome-ignore lint/suspicious/noExplicitAny: codecs of any content type share one registry
  register(codec: ContentCodec<any>): this {
    this.#codecs.set(contentTypeKey(codec.contentType), codec as ContentCodec<unknown>);
    return this;
  }

  /** The codec for a type, or undefined when none is registered or the major version is newer. */
  codecFor(type: ContentTypeIdLike): ContentCodec<unknown> | undefined {
    const codec = this.#codecs.get(contentTypeKey(type));
    if (!codec || type.versionMajor > codec.contentType.versionMajor) return undefined;
    return codec;
  }

  /** Decodes nested content (composite parts, reply bodies) with a depth bound. */
  decodeNested(encoded: EncodedContent): unknown {
    if (this.#depth >= this.maxNestingDepth) {
      throw new ContentError("too-deep", `content nested deeper than ${this.maxNestingDepth} levels`);
    }
    this.#depth++;
    try {
      return decodeWith(this, encoded);
    } finally {
      this.#depth--;
    }
  }
}

/** Decodes nested content through `registry`, using its depth bound when it has one. */
export function decodeNested(registry: CodecLookup, encoded: EncodedContent): unknown {
  if (registry instanceof CodecRegistry) return registry.decodeNested(encoded);
  return decodeWith(registry, encoded);
}

function decodeWith(registry: CodecLookup, encoded: EncodedContent): unknown {
  if (encoded.compression !== undefined) {
    throw new ContentError("unsupported", "compressed nested content is not supported");
  }
  const codec = registry.codecFor(encoded.type);
  if (!codec)
    throw new ContentError("unknown-type", `no codec for content type ${contentTypeToString(encoded.type)}`);
  return codec.decode(encoded, registry);
}

/**
 * Serializes `EncodedContent` to protobuf bytes exactly as xmtp-js does: `compression` (5) before
 * `content` (4), defaults omitted, map entries with empty key/value fields omitted. Any protobuf
 * decoder reads either order; matching it keeps our bytes identical to xmtp-js's.
 */
export function encodedContentToBytes(encoded: EncodedContent): Uint8Array {
  const { authorityId, typeId, versionMajor, versionMinor } = encoded.type;
  const w = new BinaryWriter();
  w.tag(1, WireType.LengthDelimited).bytes(
    toBinary(
      ContentTypeIdSchema,
      create(ContentTypeIdSchema, { authorityId, typeId, versionMajor, versionMinor }),
    ),
  );
  for (const [key, value] of Object.entries(encoded.parameters)) {
    w.tag(2, WireType.LengthDelimited).fork();
    if (key !== "") w.tag(1, WireType.LengthDelimited).string(key);
    if (value !== "") w.tag(2, WireType.LengthDelimited).string(value);
    w.join();
  }
  if (encoded.fallback !== undefined) w.tag(3, WireType.LengthDelimited).string(encoded.fallback);
  if (encoded.compression !== undefined) w.tag(5, WireType.Varint).int32(encoded.compression);
  if (encoded.content.length !== 0) w.tag(4, WireType.LengthDelimited).bytes(encoded.content);
  return w.finish();
}

/** Parses `EncodedContent` bytes; the `type` field is required. Throws `ContentError("malformed")`. */
export function encodedContentFromBytes(bytes: Uint8Array): EncodedContent {
  let msg: ReturnType<typeof fromBinary<typeof EncodedContentSchema>>;
  try {
    msg = fromBinary(EncodedContentSchema, bytes);
  } catch (err) {
    throw new ContentError("malformed", `EncodedContent does not parse: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return fromProto(msg);
}

/** Converts a protobuf-es EncodedContent message to the plain form; `type` is required. */
export function fromProto(msg: {
  type?: ContentTypeIdLike | undefined;
  parameters: Record<string, string>;
  fallback?: string | undefined;
  compression?: Compression | undefined;
  content: Uint8Array;
}): EncodedContent {
  if (!msg.type) throw new ContentError("malformed", "EncodedContent has no content type");
  const out: EncodedContent = {
    type: new ContentTypeId(msg.type),
    parameters: { ...msg.parameters },
    content: msg.content,
  };
  if (msg.fallback !== undefined) out.fallback = msg.fallback;
  if (msg.compression !== undefined) out.compression = msg.compression;
  return out;
}
