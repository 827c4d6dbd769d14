import type { ContentCodec, EncodedContent } from "./codec.js";
import { ContentTypeAttachment } from "./content-type.js";
import { ContentError } from "./errors.js";

/** A file sent inline. */
export interface Attachment {
  filename: string;
  mimeType: string;
  data: Uint8Array;
}

/** `xmtp.org/attachment:1.0`: parameters `{filename, mimeType}`, content = the raw bytes. */
export class AttachmentCodec implements ContentCodec<Attachment> {
  readonly contentType = ContentTypeAttachment;

  encode(a: Attachment): EncodedContent {
    if (typeof a.filename !== "string" || typeof a.mimeType !== "string" || !(a.data instanceof Uint8Array)) {
      throw new ContentError(
        "invalid",
        "attachment needs a string filename and mimeType and Uint8Array data",
      );
    }
    return {
      type: ContentTypeAttachment,
      parameters: { filename: a.filename, mimeType: a.mimeType },
      content: a.data,
    };
  }

  decode(encoded: EncodedContent): Attachment {
    const { filename, mimeType } = encoded.parameters;
    if (filename === undefined) throw new ContentError("invalid", "attachment: missing filename parameter");
    if (mimeType === undefined) throw new ContentError("invalid", "attachment: missing mimeType parameter");
    return { filename, mimeType, data: encoded.content };
  }

  fallback(a: Attachment): string | undefined {
    return `Can’t display "${a.filename}". This app doesn’t support attachments.`;
  }

  shouldPush(): boolean {
    return true;
  }
}
