/**
 * Contact lookups (protocol.md §13): single lookup returns the newest bundle whose recovered wallet
 * is the requested address (pages of 5, descending); batch lookup (`canMessage`) reads only the
 * first page per address in BatchQuery chunks of 50. Undecodable envelopes are skipped.
 */
import { create } from "@bufbuild/protobuf";
import { CursorSchema, type Envelope, SortDirection } from "@xmtp-ts/proto";
import { envelopeDigest, MAX_BATCH_QUERIES, toChecksumAddress } from "@xmtp-ts/protocol";
import { queryPage } from "../api/query.js";
import type { NetworkApi } from "../api/types.js";
import { type AnyPublicKeyBundle, walletAddressOfBundle } from "../keys/public.js";
import { contactTopic, decodeContactBundle } from "./bundle.js";

/** Page size of contact queries (as xmtp-js). */
export const CONTACT_PAGE_SIZE = 5;
/** Most pages a single lookup reads before giving up (bounds work on a flooded topic). */
export const DEFAULT_MAX_CONTACT_PAGES = 40;

function checksumOrUndefined(address: string): string | undefined {
  try {
    return toChecksumAddress(address);
  } catch {
    return undefined;
  }
}

/** The bundle in `env` if it decodes and its recovered wallet is `address` (case-insensitive). */
export function contactFromEnvelope(env: Envelope, address: string): AnyPublicKeyBundle | undefined {
  try {
    const bundle = decodeContactBundle(env.message);
    return walletAddressOfBundle(bundle).toLowerCase() === address.toLowerCase() ? bundle : undefined;
  } catch {
    return undefined;
  }
}

/** The keyset cursor that continues a query after `env` (the node's IndexCursor). */
export function cursorAfter(env: Envelope) {
  return create(CursorSchema, {
    cursor: {
      case: "index",
      value: { digest: envelopeDigest(env.contentTopic, env.message), senderTimeNs: env.timestampNs },
    },
  });
}

/** Newest contact bundle of `address` that verifies, or undefined. */
export async function lookupContact(
  api: Pick<NetworkApi, "query">,
  address: string,
  opts: { maxPages?: number } = {},
): Promise<AnyPublicKeyBundle | undefined> {
  const topic = contactTopic(address);
  const maxPages = opts.maxPages ?? DEFAULT_MAX_CONTACT_PAGES;
  let cursor: ReturnType<typeof cursorAfter> | undefined;
  for (let page = 0; page < maxPages; page++) {
    const envelopes = await queryPage(api, topic, {
      limit: CONTACT_PAGE_SIZE,
      direction: SortDirection.DESCENDING,
      ...(cursor ? { cursor } : {}),
    });
    for (const env of envelopes) {
      const bundle = contactFromEnvelope(env, address);
      if (bundle) return bundle;
    }
    if (envelopes.length < CONTACT_PAGE_SIZE) return undefined;
    cursor = cursorAfter(envelopes[envelopes.length - 1]!);
  }
  return undefined;
}

/**
 * For each address, the newest verifying bundle on the first page (5, descending) of its contact
 * topic, or undefined; one BatchQuery per 50 addresses. Keys are EIP-55 (invalid addresses: as given, undefined).
 */
export async function lookupContacts(
  api: Pick<NetworkApi, "batchQuery">,
  addresses: string[],
): Promise<Map<string, AnyPublicKeyBundle | undefined>> {
  const out = new Map<string, AnyPublicKeyBundle | undefined>();
  const valid: string[] = [];
  for (const a of addresses) {
    const checksummed = checksumOrUndefined(a);
    if (checksummed) valid.push(checksummed);
    else out.set(a, undefined); // not an address: nobody to find
  }
  const unique = [...new Set(valid)];
  for (let i = 0; i < unique.length; i += MAX_BATCH_QUERIES) {
    const chunk = unique.slice(i, i + MAX_BATCH_QUERIES);
    const pages = (
      await api.batchQuery(
        chunk.map((a) => ({
          contentTopics: [contactTopic(a)],
          pagingInfo: { limit: CONTACT_PAGE_SIZE, direction: SortDirection.DESCENDING },
        })),
      )
    ).map((r) => r.envelopes);
    chunk.forEach((address, j) => {
      let found: AnyPublicKeyBundle | undefined;
      for (const env of pages[j] ?? []) {
        found = contactFromEnvelope(env, address);
        if (found) break;
      }
      out.set(address, found);
    });
  }
  return out;
}
