import { type ContentErrorKind, XmtpError } from "../errors.js";

export type { ContentErrorKind };

/** A typed content error (code `"invalid-content"`): `kind` says which rule failed, the message says how. */
export class ContentError extends XmtpError<"invalid-content"> {
  override readonly name: string = "ContentError";
  constructor(
    readonly kind: ContentErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super("invalid-content", message, { kind }, options);
  }
}
