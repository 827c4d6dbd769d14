/**
 * Publish authorization (protocol.md §4): a valid bearer token, then topic ownership for the
 * restricted `contact-<addr>` and `privatestore-<addr>` topics.
 */
import type { Envelope } from "@xmtp-ts/proto";
import {
  AUTH_TOKEN_MAX_AGE_NS,
  Code,
  isAddress,
  parseBearer,
  restrictedTopicOwner,
  toChecksumAddress,
  type VerifiedAuthToken,
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

/** Builds the token + ownership check used by Publish when auth is required. */
export function createPublishAuthorizer(opts: PublishAuthOptions = {}): PublishAuthorizer {
  const privileged = normalizeAddresses(opts.privilegedAddresses, "privileged address");
  return {
    authorize(authorization, envelopes, nowNs) {
      const { walletAddress } = verifyBearer(authorization, nowNs, opts);
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

/**
 * Whether a request's token names a priority wallet. Verified tokens are cached (by token text,
 * until they expire) so a client resending its token does not cost a signature check each call.
 */
export function createPriorityCheck(
  addresses: readonly string[],
  auth: Pick<PublishAuthOptions, "maxAgeNs" | "maxFutureNs">,
): (authorization: string | undefined, nowNs: bigint) => boolean {
  const wallets = normalizeAddresses(addresses, "priority address");
  const maxAge = auth.maxAgeNs ?? AUTH_TOKEN_MAX_AGE_NS;
  const cache = new Map<string, { priority: boolean; createdNs: bigint }>();
  const MAX_CACHED = 4096;
  const MAX_CACHED_TOKEN_CHARS = 1024;
  return (authorization, nowNs) => {
    if (authorization === undefined || authorization === "") return false;
    const hit = cache.get(authorization);
    if (hit !== undefined) {
      if (nowNs - hit.createdNs <= maxAge) return hit.priority;
      cache.delete(authorization);
    }
    try {
      const { walletAddress, createdNs } = verifyBearer(authorization, nowNs, { ...auth, maxAgeNs: maxAge });
      const result = wallets.has(walletAddress);
      // Real tokens are under 400 characters; oversized ones are checked each time, not cached.
      if (authorization.length <= MAX_CACHED_TOKEN_CHARS) {
        if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string);
        cache.set(authorization, { priority: result, createdNs });
      }
      return result;
    } catch {
      return false;
    }
  };
}
