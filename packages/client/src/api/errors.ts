import { Code, XmtpError } from "@xmtp-ts/protocol";

/** An error answered by (or on the way to) a node: a gRPC code, its message and the HTTP status. */
export class ApiError extends XmtpError {
  constructor(
    code: Code,
    message: string,
    /** HTTP status, when there was a response. */
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    Object.defineProperty(this, "name", { value: "ApiError" });
  }
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

/** Builds an ApiError from a non-2xx response body (`{"code","message"}`, or anything else). */
export function apiErrorFromBody(status: number, body: string): ApiError {
  try {
    const j = JSON.parse(body) as {
      code?: unknown;
      message?: unknown;
      error?: { code?: unknown; message?: unknown };
    };
    const src = j && typeof j === "object" && j.error && typeof j.error === "object" ? j.error : j;
    if (typeof src?.code === "number" && src.code >= 1 && src.code <= 16) {
      return new ApiError(src.code as Code, typeof src.message === "string" ? src.message : "", status);
    }
  } catch {
    // not JSON: fall through to the status mapping
  }
  const code = CODE_FROM_STATUS[status] ?? (status >= 500 ? Code.Unavailable : Code.Unknown);
  return new ApiError(code, `HTTP ${status}: ${body.slice(0, 200)}`, status);
}

/** True for errors worth retrying: network failures, 5xx and 429 (not other 4xx). */
export function isRetryable(err: unknown): boolean {
  if (err instanceof ApiError) {
    if (err.status === undefined) return err.code === Code.Unavailable;
    return err.status >= 500 || err.status === 429;
  }
  return true;
}
