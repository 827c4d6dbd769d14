/** Contact bundle codec (protocol.md §13): `ContactBundle{v1|v2}`, or a bare `PublicKeyBundle` from old clients. */

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  ContactBundleSchema,
  type PublicKeyBundle,
  PublicKeyBundleSchema,
  type SignedPublicKeyBundle,
} from "@xmtp-ts/proto";
import { buildTopic, toChecksumAddress } from "@xmtp-ts/protocol";
import { invalidContact } from "../errors.js";
import { type AnyPublicKeyBundle, bundleKeyBytes, MAX_PUBLIC_KEY_BUNDLE_BYTES } from "../keys/public.js";

/** Largest contact envelope message accepted on decode. */
export const MAX_CONTACT_BUNDLE_BYTES = MAX_PUBLIC_KEY_BUNDLE_BYTES + 16;

/** The topic holding a wallet's contact bundles. */
export function contactTopic(address: string): string {
  return buildTopic.contact(toChecksumAddress(address));
}

/** Encodes `ContactBundle{v1}`. */
export function encodeContactBundleV1(keyBundle: PublicKeyBundle): Uint8Array {
  return toBinary(
    ContactBundleSchema,
    create(ContactBundleSchema, { version: { case: "v1", value: { keyBundle } } }),
  );
}

/** Encodes `ContactBundle{v2}`. */
export function encodeContactBundleV2(keyBundle: SignedPublicKeyBundle): Uint8Array {
  return toBinary(
    ContactBundleSchema,
    create(ContactBundleSchema, { version: { case: "v2", value: { keyBundle } } }),
  );
}

/**
 * Decodes a contact envelope message: `ContactBundle`, else a bare `PublicKeyBundle`; both keys
 * must be present and 65-byte uncompressed. Throws "unknown or invalid contact bundle" otherwise.
 */
export function decodeContactBundle(bytes: Uint8Array): AnyPublicKeyBundle {
  if (bytes.length > MAX_CONTACT_BUNDLE_BYTES) {
    throw invalidContact(
      `contact bundle expected at most ${MAX_CONTACT_BUNDLE_BYTES} bytes, got ${bytes.length}`,
    );
  }
  let bundle: AnyPublicKeyBundle | undefined;
  try {
    const c = fromBinary(ContactBundleSchema, bytes);
    bundle = c.version.value?.keyBundle;
  } catch {
    try {
      bundle = fromBinary(PublicKeyBundleSchema, bytes);
    } catch {
      bundle = undefined;
    }
  }
  if (!bundle) throw invalidContact("unknown or invalid contact bundle");
  try {
    bundleKeyBytes(bundle);
  } catch (err) {
    throw invalidContact("unknown or invalid contact bundle", undefined, err);
  }
  return bundle;
}
