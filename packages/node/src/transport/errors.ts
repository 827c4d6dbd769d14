/** Translating library and framework errors into XmtpError, once, at the edge. */
import { Code, XmtpError } from "@xmtp-ts/protocol";

/** The reference's wording for a request over the receive cap (protocol.md §2.9). */
export function tooLargeError(size: number, max: number): XmtpError {
  const err = new XmtpError(
    Code.ResourceExhausted,
    `grpc: received message larger than max (${size} vs. ${max})`,
  );
  tooLarge.add(err);
  return err;
}

const tooLarge = new WeakSet<XmtpError>();

/** True for errors made by {@link tooLargeError}. */
export function isTooLarge(err: XmtpError): boolean {
  return tooLarge.has(err);
}

/**
 * Maps anything thrown while serving a request to an XmtpError. Client-side framework errors
 * (fastify's 4xx) become InvalidArgument; anything unexpected is Internal, with its text hidden.
 */
export function toXmtpError(err: unknown): XmtpError {
  if (err instanceof XmtpError) return err;
  const e = err as { statusCode?: unknown; message?: unknown; code?: unknown } | undefined;
  if (typeof e?.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500) {
    return new XmtpError(Code.InvalidArgument, String(e.message ?? "bad request"), { cause: err });
  }
  return new XmtpError(Code.Internal, "internal error", { cause: err });
}
