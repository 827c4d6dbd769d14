import type { ContentCodec, EncodedContent } from "./codec.js";
import { ContentTypeReadReceipt } from "./content-type.js";

/** A read receipt carries nothing: the message itself is the signal. */
export type ReadReceipt = Record<string, never>;

/** `xmtp.org/readReceipt:1.0`: empty parameters and content; never pushed. */
export class ReadReceiptCodec implements ContentCodec<ReadReceipt> {
  readonly contentType = ContentTypeReadReceipt;

  encode(): EncodedContent {
    return { type: ContentTypeReadReceipt, parameters: {}, content: new Uint8Array(0) };
  }

  decode(): ReadReceipt {
    return {};
  }

  fallback(): string | undefined {
    return undefined;
  }

  shouldPush(): boolean {
    return false;
  }
}
