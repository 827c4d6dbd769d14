/** Content types: the codec contract, the registry, the built-in codecs and the encode/decode pipeline. */
export * from "./attachment.js";
export {
  type CodecLookup,
  CodecRegistry,
  type ContentCodec,
  DEFAULT_MAX_NESTING_DEPTH,
  type EncodedContent,
  encodedContentFromBytes,
  encodedContentToBytes,
} from "./codec.js";
export * from "./composite.js";
export { compress, DEFAULT_MAX_DECOMPRESSED_BYTES, decompress } from "./compression.js";
export * from "./content-type.js";
export * from "./encode.js";
export * from "./errors.js";
export * from "./reaction.js";
export * from "./read-receipt.js";
export * from "./remote-attachment.js";
export * from "./reply.js";
export * from "./text.js";
export * from "./transaction-reference.js";
