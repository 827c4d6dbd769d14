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
  type VerifiedAuthToken,
  verifyAuthToken,
  XmtpError,
} from "@xmtp-ts/protocol";
import type { TokenCache } from "./token-cache.js";

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

/** Parses and verifies an `Authorization` header; throws XmtpError(Unauthenticated). */
export function verifyBearer(
  authorization: string | undefined,
  nowNs: bigint,
  opts: Pick<PublishAuthOptions, "maxAgeNs" | "maxFutureNs"> = {},
): VerifiedAuthToken {
  const token = parseBearer(authorization);
  const verifyOpts: { nowNs: bigint; maxAgeNs?: bigint; maxFutureNs?: bigint } = { nowNs };
  if (opts.maxAgeNs !== undefined) verifyOpts.maxAgeNs = opts.maxAgeNs;
  if (opts.maxFutureNs !== undefined) verifyOpts.maxFutureNs = opts.maxFutureNs;
  return verifyAuthToken(token, verifyOpts);
}

function normalizeAddresses(addresses: readonly string[] | undefined, what: string): Set<string> {
  const out = new Set<string>();
  for (const a of addresses ?? []) {
    if (!isAddress(a)) throw new Error(`${what} "${a}" is not an address`);
    out.add(toChecksumAddress(a));
  }
  return out;
}

/**
 * Builds the token + ownership check used by Publish when auth is required. Tokens are verified
 * through `tokens` (verified once, then remembered until they expire); ownership is checked on
 * every envelope of every call.
 */
export function createPublishAuthorizer(opts: PublishAuthOptions, tokens: TokenCache): PublishAuthorizer {
  const privileged = normalizeAddresses(opts.privilegedAddresses, "privileged address");
  return {
    authorize(authorization, envelopes, nowNs) {
      const { walletAddress } = tokens.verify(authorization, nowNs);
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

/** Whether a request's token (verified through `tokens`) names a priority wallet. */
export function createPriorityCheck(
  addresses: readonly string[],
  tokens: TokenCache,
): (authorization: string | undefined, nowNs: bigint) => boolean {
  const wallets = normalizeAddresses(addresses, "priority address");
  return (authorization, nowNs) => {
    if (authorization === undefined || authorization === "") return false;
    try {
      return wallets.has(tokens.verify(authorization, nowNs).walletAddress);
    } catch {
      return false;
    }
  };
}
