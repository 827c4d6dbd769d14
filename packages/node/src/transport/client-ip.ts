/**
 * The client address the rate limiter keys on (protocol.md §18 row 1). The socket's peer address,
 * unless that peer is a configured trusted proxy: then the nearest `X-Forwarded-For` hop that is
 * not itself a trusted proxy. Without trusted proxies the header is never read, so a client cannot
 * pick its own bucket.
 */
import { isIP } from "node:net";

export type ClientIpResolver = (
  remoteAddress: string | undefined,
  forwardedFor: string | string[] | null | undefined,
) => string | undefined;

/** `::ffff:1.2.3.4` → `1.2.3.4`, so IPv4 peers on a dual-stack socket match IPv4 entries. */
function normalize(ip: string): string {
  const v = ip.trim();
  return v.startsWith("::ffff:") && isIP(v.slice(7)) === 4 ? v.slice(7) : v;
}

/** A resolver trusting `X-Forwarded-For` only from `trustedProxies` (IP addresses). */
export function clientIpResolver(trustedProxies: readonly string[]): ClientIpResolver {
  if (trustedProxies.length === 0) return (remote) => remote;
  const trusted = new Set(trustedProxies.map(normalize));
  return (remote, forwardedFor) => {
    if (remote === undefined || !trusted.has(normalize(remote))) return remote;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(",") : (forwardedFor ?? ""))
      .split(",")
      .map(normalize)
      .filter((h) => h !== "");
    // Right to left: each trusted proxy appended the address it received the request from.
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i] as string;
      if (!trusted.has(hop)) return isIP(hop) !== 0 ? hop : remote;
    }
    return hops[0] ?? remote;
  };
}
