/**
 * Refusals that carry machine-readable details, which every transport renders: HTTP as headers
 * (`Retry-After`, `X-Xmtp-Limit`), gRPC and Connect as response metadata of the same names.
 */
import { type Code, XmtpError } from "@xmtp-ts/protocol";

export interface ErrorDetails {
  /** When the same call would pass, in whole seconds; absent when waiting cannot help. */
  retryAfterSeconds?: number | undefined;
  /** The limit that was hit: its name and its maximum. */
  limit?: { name: string; max: number } | undefined;
}

/** An XmtpError with {@link ErrorDetails}. */
export class DetailedError extends XmtpError {
  constructor(
    code: Code,
    message: string,
    readonly details: ErrorDetails,
  ) {
    super(code, message);
  }
}

/** The details of `err`, empty when it has none. */
export function detailsOf(err: XmtpError): ErrorDetails {
  return err instanceof DetailedError ? err.details : {};
}

/** The details as header (metadata) values: `retry-after` and `xmtp-limit` (`name=max`). */
export function detailHeaders(err: XmtpError): Record<string, string> {
  const { retryAfterSeconds, limit } = detailsOf(err);
  const out: Record<string, string> = {};
  if (retryAfterSeconds !== undefined) out["retry-after"] = String(Math.max(1, Math.ceil(retryAfterSeconds)));
  if (limit !== undefined) out["xmtp-limit"] = `${limit.name}=${limit.max}`;
  return out;
}
