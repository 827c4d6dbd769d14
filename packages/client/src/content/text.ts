import type { CodecLookup, ContentCodec, EncodedContent } from "./codec.js";
import { ContentTypeText } from "./content-type.js";
import { ContentError } from "./errors.js";

/** `xmtp.org/text:1.0`: UTF-8 text with `encoding: "UTF-8"`; other encodings are rejected (xmtp-js 12 rule). */
export class TextCodec implements ContentCodec<string> {
  readonly contentType = ContentTypeText;

  encode(content: string, _registry?: CodecLookup): EncodedContent {
    if (typeof content !== "string")
      throw new ContentError("invalid", `text content must be a string, got ${typeof content}`);
    return {
      type: ContentTypeText,
      parameters: { encoding: "UTF-8" },
      content: new TextEncoder().encode(content),
    };
  }

  decode(encoded: EncodedContent): string {
    const enc = encoded.parameters.encoding;
    if (enc !== "UTF-8")
      throw new ContentError("invalid", `unrecognized text encoding ${JSON.stringify(enc ?? null)}`);
    return new TextDecoder().decode(encoded.content);
  }

  fallback(): string | undefined {
    return undefined;
  }

  shouldPush(): boolean {
    return true;
  }
}
