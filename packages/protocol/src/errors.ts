/**
 * One error type for the whole project: a gRPC status code, a short message and an optional cause.
 * Transports map the code to their own status (see {@link httpStatusFromCode}).
 */
export enum Code {
  Canceled = 1,
  Unknown = 2,
  InvalidArgument = 3,
  DeadlineExceeded = 4,
  NotFound = 5,
  AlreadyExists = 6,
  PermissionDenied = 7,
  ResourceExhausted = 8,
  FailedPrecondition = 9,
  Aborted = 10,
  OutOfRange = 11,
  Unimplemented = 12,
  Internal = 13,
  Unavailable = 14,
  DataLoss = 15,
  Unauthenticated = 16,
}

/** An error with a gRPC status code; the message is what clients see. */
export class XmtpError extends Error {
  override readonly name = "XmtpError";
  constructor(
    readonly code: Code,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** Wraps anything thrown into an XmtpError, keeping XmtpErrors as they are. */
  static from(err: unknown, fallback: Code = Code.Internal): XmtpError {
    if (err instanceof XmtpError) return err;
    const message = err instanceof Error ? err.message : String(err);
    return new XmtpError(fallback, message, { cause: err });
  }
}

const HTTP_STATUS: Record<Code, number> = {
  [Code.Canceled]: 499,
  [Code.Unknown]: 500,
  [Code.InvalidArgument]: 400,
  [Code.DeadlineExceeded]: 504,
  [Code.NotFound]: 404,
  [Code.AlreadyExists]: 409,
  [Code.PermissionDenied]: 403,
  [Code.ResourceExhausted]: 429,
  [Code.FailedPrecondition]: 400,
  [Code.Aborted]: 409,
  [Code.OutOfRange]: 400,
  [Code.Unimplemented]: 501,
  [Code.Internal]: 500,
  [Code.Unavailable]: 503,
  [Code.DataLoss]: 500,
  [Code.Unauthenticated]: 401,
};

/** The HTTP status grpc-gateway v2 uses for a gRPC code. */
export function httpStatusFromCode(code: Code): number {
  return HTTP_STATUS[code] ?? 500;
}
