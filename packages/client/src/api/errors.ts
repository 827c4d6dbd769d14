import { Code } from "@xmtp-ts/protocol";
import { XmtpError } from "../errors.js";

/**
 * An error answered by (or on the way to) a node, over any transport: code `"network-error"` with
 * the gRPC status, the HTTP status (gateway only), the node's retry delay (`Retry-After`) and the
 * limit that was hit (`xmtp-limit`) in `details`.
 */
export class ApiError extends XmtpError<"network-error"> {
  override readonly name: string = "ApiError";
  constructor(
    grpcCode: Code,
    message: string,
    /** HTTP status, when there was a response. */
    readonly status?: number,
    options?: { cause?: unknown; retryAfterMs?: number | undefined; limit?: string | undefined },
  ) {
    super(
      "network-error",
      message,
      { grpcCode, httpStatus: status, retryAfterMs: options?.retryAfterMs, limit: options?.limit },
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
  }

  /** The gRPC status code. */
  get grpcCode(): Code {
    return this.details.grpcCode;
  }
}

/** A `Retry-After` header (seconds, or an HTTP date) in milliseconds, or undefined. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const CODE_FROM_STATUS: Record<number, Code> = {
  400: Code.InvalidArgument,
  401: Code.Unauthenticated,
  403: Code.PermissionDenied,
  404: Code.NotFound,
  409: Code.Aborted,
  429: Code.ResourceExhausted,
  499: Code.Canceled,
  500: Code.Internal,
  501: Code.Unimplemented,
  503: Code.Unavailable,
  504: Code.DeadlineExceeded,
};

/** The `xmtp-limit` detail (`name=max`) of a refusal, when it is well formed. */
export function limitOf(header: string | null): string | undefined {
  return header !== null && /^[\w.-]{1,64}=\d{1,15}$/.test(header) ? header : undefined;
}

/** Builds an ApiError from a non-2xx response body (`{"code","message"}`, or anything else). */
export function apiErrorFromBody(
  status: number,
  body: string,
  retryAfter?: number,
  limit?: string | undefined,
): ApiError {
  const opts = { retryAfterMs: retryAfter, limit };
  try {
    const j = JSON.parse(body) as {
      code?: unknown;
      message?: unknown;
      error?: { code?: unknown; message?: unknown };
    };
    const src = j && typeof j === "object" && j.error && typeof j.error === "object" ? j.error : j;
    if (typeof src?.code === "number" && src.code >= 1 && src.code <= 16) {
      return new ApiError(src.code as Code, typeof src.message === "string" ? src.message : "", status, opts);
    }
  } catch {
    // not JSON: fall through to the status mapping
  }
  const code = CODE_FROM_STATUS[status] ?? (status >= 500 ? Code.Unavailable : Code.Unknown);
  return new ApiError(code, `HTTP ${status}: ${body.slice(0, 200)}`, status, opts);
}

/** gRPC statuses worth another try: transient failures on the way or in the node. */
const RETRYABLE = new Set<Code>([
  Code.Unavailable,
  Code.Unknown,
  Code.Internal,
  Code.DeadlineExceeded,
  Code.Aborted,
]);
/** gRPC statuses that refuse the request itself: sending it again cannot help. */
const REFUSED = new Set<Code>([
  Code.InvalidArgument,
  Code.NotFound,
  Code.AlreadyExists,
  Code.PermissionDenied,
  Code.ResourceExhausted,
  Code.FailedPrecondition,
  Code.OutOfRange,
  Code.Unimplemented,
  Code.Unauthenticated,
]);

/**
 * True for errors worth retrying: network failures, 5xx and 429 over HTTP; the transient gRPC
 * statuses, and ResourceExhausted with a retry delay, over the other transports.
 */
export function isRetryable(err: unknown): boolean {
  if (err instanceof ApiError) {
    if (err.status !== undefined) return err.status >= 500 || err.status === 429;
    if (err.grpcCode === Code.ResourceExhausted) return err.details.retryAfterMs !== undefined;
    return RETRYABLE.has(err.grpcCode);
  }
  return true;
}

/** True when the node refused the request (a subscription that must not be retried). */
export function isFatal(err: unknown): boolean {
  return (
    err instanceof ApiError && !isRetryable(err) && (err.status !== undefined || REFUSED.has(err.grpcCode))
  );
}
