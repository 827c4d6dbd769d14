/** Publishing one's own contact bundles (protocol.md §13, xmtp-js `ensureUserContactPublished`). */
import { create } from "@bufbuild/protobuf";
import { EnvelopeSchema, type PrivateKeyBundleV1 } from "@xmtp-ts/proto";
import type { NetworkApi } from "../api/types.js";
import { publicKeyBundleOf, signedPublicKeyBundleOf, walletAddressOf } from "../keys/private.js";
import { isSignedPublicKeyBundle, publicKeyBundlesEqual } from "../keys/public.js";
import { contactTopic, encodeContactBundleV1, encodeContactBundleV2 } from "./bundle.js";
import { lookupContact } from "./lookup.js";

/** Options of {@link publishContactBundles}. */
export interface PublishContactOptions {
  /** Publish only the V1 bundle (makes peers start V1 conversations). */
  publishLegacyContact?: boolean;
  /** Envelope timestamp; default now. */
  nowNs?: () => bigint;
}

/**
 * Publishes `ContactBundle{v1}` then (unless `publishLegacyContact`) `ContactBundle{v2}`, as two
 * publish calls, unless the newest verifying bundle is already our V2 bundle. Returns whether it published.
 */
export async function publishContactBundles(
  api: Pick<NetworkApi, "query" | "publish">,
  bundle: PrivateKeyBundleV1,
  opts: PublishContactOptions = {},
): Promise<boolean> {
  const address = walletAddressOf(bundle);
  const mine = signedPublicKeyBundleOf(bundle);
  const current = await lookupContact(api, address);
  if (current && isSignedPublicKeyBundle(current) && publicKeyBundlesEqual(current, mine)) return false;
  const now = opts.nowNs ?? (() => BigInt(Date.now()) * 1_000_000n);
  const topic = contactTopic(address);
  const v1Ns = now();
  const v1 = encodeContactBundleV1(publicKeyBundleOf(bundle));
  await api.publish([create(EnvelopeSchema, { contentTopic: topic, timestampNs: v1Ns, message: v1 })]);
  if (!opts.publishLegacyContact) {
    // Strictly later than the V1 envelope, so the V2 bundle is the newest even within one millisecond.
    const t = now();
    const v2Ns = t > v1Ns ? t : v1Ns + 1n;
    const v2 = encodeContactBundleV2(mine);
    await api.publish([create(EnvelopeSchema, { contentTopic: topic, timestampNs: v2Ns, message: v2 })]);
  }
  return true;
}
