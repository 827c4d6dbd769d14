/** Why a piece of content could not be encoded or decoded. */
export type ContentErrorKind =
  | "malformed" // bytes or fields that do not parse
  | "unknown-type" // no codec registered for the type (or its major version is newer)
  | "too-large" // a configured size bound was exceeded
  | "too-deep" // nesting (composite/reply) beyond the configured depth
  | "invalid" // parsed, but a field breaks the content type's rules
  | "unsupported"; // a valid feature this SDK does not handle (e.g. an unknown compression)

/** A typed content error: `kind` says which rule failed, the message says how. */
export class ContentError extends Error {
  override readonly name = "ContentError";
  constructor(
    readonly kind: ContentErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
