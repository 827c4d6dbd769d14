/**
 * The SDK's one error family: every error the SDK throws at an app, or reports to an `onError`
 * callback, is an {@link XmtpError} with a stable `code` and `details` typed by that code. Match
 * on `code` (or narrow with {@link XmtpError.is}); messages are for people and may change.
 *
 * ```ts
 * try {
 *   await client.conversations.newConversation(peer);
 * } catch (err) {
 *   if (err instanceof XmtpError && err.is("not-on-network")) console.log(err.details.address, "has no XMTP identity");
 *   else throw err;
 * }
 * ```
 */
import { type Code, isAddress, toChecksumAddress } from "@xmtp-ts/protocol";

/** What each code's `details` carry. */
export interface XmtpErrorDetails {
  /** An argument or option is missing or malformed (`argument` names it). */
  "invalid-argument": { argument: string };
  /** Not an Ethereum address. */
  "invalid-address": { address: string };
  /** The address has published no contact bundle, so it cannot be messaged. */
  "not-on-network": { address: string };
  /** A conversation with one's own address (the protocol has none). */
  "self-messaging": { address: string };
  /** The client was closed: it sends, lists and streams no more. */
  "client-closed": Record<string, never>;
  /**
   * The node answered with an error, or could not be reached. `grpcCode` is the gRPC status
   * (14 UNAVAILABLE when unreachable), `httpStatus` the HTTP status when there was a response,
   * (HTTP gateway only), `retryAfterMs` the node's `Retry-After` when it asked to slow down, and
   * `limit` the node's `xmtp-limit` (`name=max`) when a limit was hit. The same on every transport.
   */
  "network-error": {
    grpcCode: Code;
    httpStatus: number | undefined;
    retryAfterMs: number | undefined;
    limit?: string | undefined;
  };
  /** Stored or exported keys that do not decode, do not verify, or belong to another wallet. */
  "invalid-keys": { reason: string };
  /** The wallet did not give a usable address or signature. */
  "signer-error": { reason: string };
  /** A peer's contact bundle that does not verify. */
  "invalid-contact": { address: string | undefined };
  /** A received invitation that failed a check (skipped; reported to `onError`). */
  "invalid-invitation": { reason: InvitationErrorReason };
  /** A received message that failed a check: decryption, signature, sender… (skipped; reported to `onError`). */
  "invalid-message": { reason: MessageDecodeErrorReason; contentTopic: string | undefined };
  /** Content that no codec could encode or decode. */
  "invalid-content": { kind: ContentErrorKind };
  /** A group change or group message this client may not make, or cannot make now (docs/groups.md). */
  "group-refused": { reason: GroupErrorReason };
}

/** Every error code the SDK uses. */
export type XmtpErrorCode = keyof XmtpErrorDetails;

/** Why a received invitation was rejected. */
export type InvitationErrorReason =
  | "too-large"
  | "malformed"
  | "invalid-envelope-topic"
  | "timestamp-mismatch"
  | "bad-key"
  | "not-participant"
  | "no-matching-pre-key"
  | "bad-pre-key-signature"
  | "decrypt-failed"
  | "missing-topic"
  | "invalid-topic"
  | "missing-key-material"
  | "not-wallet-signed"
  | "self-invitation";

/** Why a group refused a change or a message. */
export type GroupErrorReason =
  | "not-creator"
  | "inactive"
  | "too-many-members"
  | "too-few-members"
  | "not-on-network"
  | "invalid-address"
  | "invalid-options";

/** Why a received message was rejected. */
export type MessageDecodeErrorReason =
  | "empty-envelope"
  | "too-large"
  | "malformed"
  | "unknown-version"
  | "topic-mismatch"
  | "no-topic-key"
  | "decrypt-failed"
  | "incomplete-signed-content"
  | "bad-key"
  | "pre-key-not-signed"
  | "bad-signature"
  | "not-wallet-signed"
  | "sender-not-participant"
  | "headers-mismatch"
  | "no-matching-pre-key"
  | "content"
  | "epoch-closed"
  | "forged-membership";

/** Which content rule failed. */
export type ContentErrorKind =
  | "malformed" // bytes or fields that do not parse
  | "unknown-type" // no codec registered for the type (or its major version is newer)
  | "too-large" // a configured size bound was exceeded
  | "too-deep" // nesting (composite/reply) beyond the configured depth
  | "invalid" // parsed, but a field breaks the content type's rules
  | "unsupported"; // a valid feature this SDK does not handle (e.g. an unknown compression)

/** The base of every error the SDK throws. */
export class XmtpError<C extends XmtpErrorCode = XmtpErrorCode> extends Error {
  override readonly name: string = "XmtpError";
  constructor(
    readonly code: C,
    message: string,
    readonly details: XmtpErrorDetails[C],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** Narrows `details` by code: `if (err.is("network-error")) err.details.grpcCode`. */
  is<K extends XmtpErrorCode>(code: K): this is XmtpError<K> {
    return (this.code as XmtpErrorCode) === code;
  }
}

/** `true` when `err` is an {@link XmtpError}, of `code` when given. */
export function isXmtpError<K extends XmtpErrorCode = XmtpErrorCode>(
  err: unknown,
  code?: K,
): err is XmtpError<K> {
  return err instanceof XmtpError && (code === undefined || err.code === code);
}

/** A missing or malformed argument. */
export function invalidArgument(
  argument: string,
  message: string,
  cause?: unknown,
): XmtpError<"invalid-argument"> {
  return new XmtpError(
    "invalid-argument",
    message,
    { argument },
    cause === undefined ? undefined : { cause },
  );
}

/** Keys that do not decode or verify. */
export function invalidKeys(reason: string, cause?: unknown): XmtpError<"invalid-keys"> {
  return new XmtpError("invalid-keys", reason, { reason }, cause === undefined ? undefined : { cause });
}

/** A wallet that misbehaved. */
export function signerError(reason: string, cause?: unknown): XmtpError<"signer-error"> {
  return new XmtpError("signer-error", reason, { reason }, cause === undefined ? undefined : { cause });
}

/** Thrown by every network-using method of a closed client. */
export function clientClosed(): XmtpError<"client-closed"> {
  return new XmtpError("client-closed", "the client is closed", {});
}

/** A peer's contact bundle that does not verify. */
export function invalidContact(
  reason: string,
  address?: string,
  cause?: unknown,
): XmtpError<"invalid-contact"> {
  return new XmtpError("invalid-contact", reason, { address }, cause === undefined ? undefined : { cause });
}

/** The EIP-55 form of an address given by the app; an "invalid-address" error for anything else. */
export function checkedAddress(address: string): string {
  if (typeof address !== "string" || !isAddress(address))
    throw new XmtpError("invalid-address", `invalid address: ${String(address)}`, {
      address: String(address),
    });
  return toChecksumAddress(address);
}
