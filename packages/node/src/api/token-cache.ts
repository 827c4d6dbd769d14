/**
 * Verified auth tokens, remembered so a Publish does not check the same two signatures again: a
 * client reuses one token for up to an hour (protocol.md §4). Only a token that passed every check
 * is remembered, keyed by the exact `Authorization` header, and only until it expires by the node's
 * clock: past that, the full verification runs again and refuses it with the usual error. A failed
 * token is never remembered, so it costs its full check every time. Bounded: the least recently
 * used entry goes first, and oversized headers are never kept. What the cache answers is only *who*
 * the token proves; the caller still checks what that wallet may publish, envelope by envelope.
 */
import { AUTH_TOKEN_MAX_AGE_NS, type VerifiedAuthToken } from "@xmtp-ts/protocol";
import { type PublishAuthOptions, verifyBearer } from "./auth.js";

/** Default bound on remembered tokens (~0.5 KiB each). */
export const TOKEN_CACHE_MAX_ENTRIES = 10_000;
/** Longest header remembered: real ones are under 400 characters. */
export const TOKEN_CACHE_MAX_HEADER_CHARS = 1024;

export interface TokenCacheOptions extends Pick<PublishAuthOptions, "maxAgeNs" | "maxFutureNs"> {
  /** Most tokens remembered; default {@link TOKEN_CACHE_MAX_ENTRIES}. */
  maxEntries?: number | undefined;
}

export interface TokenCache {
  /**
   * The verified token of an `Authorization` header: remembered if still valid at `nowNs`,
   * otherwise verified in full (and remembered on success). Throws XmtpError(Unauthenticated).
   */
  verify(authorization: string | undefined, nowNs: bigint): VerifiedAuthToken;
  /** Tokens remembered now. */
  readonly size: number;
}

export function createTokenCache(opts: TokenCacheOptions = {}): TokenCache {
  const maxAgeNs = opts.maxAgeNs ?? AUTH_TOKEN_MAX_AGE_NS;
  const { maxFutureNs } = opts;
  const maxEntries = Math.max(1, opts.maxEntries ?? TOKEN_CACHE_MAX_ENTRIES);
  // A Map iterates in insertion order: re-inserting on every hit keeps the least recent first.
  const entries = new Map<string, VerifiedAuthToken>();
  const stillValid = (t: VerifiedAuthToken, nowNs: bigint) =>
    nowNs - t.createdNs <= maxAgeNs && (maxFutureNs === undefined || t.createdNs - nowNs <= maxFutureNs);

  return {
    verify(authorization, nowNs) {
      if (authorization !== undefined) {
        const hit = entries.get(authorization);
        if (hit !== undefined) {
          entries.delete(authorization);
          if (stillValid(hit, nowNs)) {
            entries.set(authorization, hit);
            return hit;
          }
        }
      }
      const verified = verifyBearer(authorization, nowNs, { maxAgeNs, maxFutureNs });
      if (authorization !== undefined && authorization.length <= TOKEN_CACHE_MAX_HEADER_CHARS) {
        if (entries.size >= maxEntries) entries.delete(entries.keys().next().value as string);
        entries.set(authorization, verified);
      }
      return verified;
    },
    get size() {
      return entries.size;
    },
  };
}
