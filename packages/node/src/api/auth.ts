/**
 * Publish authorization (protocol.md §4): a valid bearer token, then topic ownership for the
 * restricted `contact-<addr>` and `privatestore-<addr>` topics.
 */
import type { Envelope } from "@xmtp-ts/proto";
import {
  Code,
  isAddress,
  parseBearer,
  restrictedTopicOwner,
  toChecksumAddress,
  verifyAuthToken,
  XmtpError,
} from "@xmtp-ts/protocol";

export interface PublishAuthOptions {
  /** Wallets (any case; normalised to EIP-55) allowed to publish into anyone's restricted topics. */
  privilegedAddresses?: readonly string[] | undefined;
  /** Oldest accepted token; default 1 h. */
  maxAgeNs?: bigint | undefined;
  /** Reject tokens created further than this in the future; default: no check (as the reference). */
  maxFutureNs?: bigint | undefined;
}

export interface PublishAuthorizer {
  /**
   * Checks the `Authorization` header and that the token's wallet may publish every envelope.
   * Throws XmtpError(Unauthenticated | PermissionDenied); returns the wallet address.
   */
  authorize(authorization: string | undefined, envelopes: readonly Envelope[], nowNs: bigint): string;
}

export const RESTRICTED_TOPIC_MESSAGE = "publishing to restricted topic";

/** Builds the token + ownership check used by Publish when auth is required. */
export function createPublishAuthorizer(opts: PublishAuthOptions = {}): PublishAuthorizer {
  const privileged = new Set<string>();
  for (const a of opts.privilegedAddresses ?? []) {
    if (!isAddress(a)) throw new Error(`privileged address "${a}" is not an address`);
    privileged.add(toChecksumAddress(a));
  }
  return {
    authorize(authorization, envelopes, nowNs) {
      const token = parseBearer(authorization);
      const verifyOpts: { nowNs: bigint; maxAgeNs?: bigint; maxFutureNs?: bigint } = { nowNs };
      if (opts.maxAgeNs !== undefined) verifyOpts.maxAgeNs = opts.maxAgeNs;
      if (opts.maxFutureNs !== undefined) verifyOpts.maxFutureNs = opts.maxFutureNs;
      const { walletAddress } = verifyAuthToken(token, verifyOpts);
      if (!privileged.has(walletAddress)) {
        for (const env of envelopes) {
          const owner = restrictedTopicOwner(env.contentTopic);
          // Exact, case-sensitive compare: clients build these topics from EIP-55 addresses.
          if (owner !== undefined && owner !== walletAddress) {
            throw new XmtpError(Code.PermissionDenied, RESTRICTED_TOPIC_MESSAGE);
          }
        }
      }
      return walletAddress;
    },
  };
}
