/**
 * Public keys and bundles in both forms (protocol.md §5.2, §5.5): legacy V1 `PublicKey` /
 * `PublicKeyBundle` and V2 `SignedPublicKey` / `SignedPublicKeyBundle`, with the xmtp-js legacy
 * conversions between them, wallet recovery and signature checks.
 */

import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  type PublicKey,
  type PublicKeyBundle,
  PublicKeyBundleSchema,
  PublicKeySchema,
  type Signature,
  SignatureSchema,
  type SignedPublicKey,
  type SignedPublicKeyBundle,
  SignedPublicKeyBundleSchema,
  SignedPublicKeySchema,
  UnsignedPublicKeySchema,
} from "@xmtp-ts/proto";
import {
  compactFromSignature,
  expectPublicKey,
  LEGACY_KEY_NS_THRESHOLD,
  legacyKeyBytes,
  legacyPublicKeyBytes,
  verifyCompact,
  verifyLegacyPreKey,
  verifySignedPreKey,
  walletAddressFromLegacyKey,
  walletAddressFromSignedKey,
} from "@xmtp-ts/protocol";
import { invalidKeys } from "../errors.js";

/** Either public key form. */
export type AnyPublicKey = PublicKey | SignedPublicKey;
/** Either public bundle form. */
export type AnyPublicKeyBundle = PublicKeyBundle | SignedPublicKeyBundle;

/** True for a V2 SignedPublicKey (as opposed to a legacy PublicKey). */
export function isSignedPublicKey(k: AnyPublicKey): k is SignedPublicKey {
  return k.$typeName === "xmtp.message_contents.SignedPublicKey";
}

/** True for a V2 SignedPublicKeyBundle. */
export function isSignedPublicKeyBundle(b: AnyPublicKeyBundle): b is SignedPublicKeyBundle {
  return b.$typeName === "xmtp.message_contents.SignedPublicKeyBundle";
}

/** The validated 65-byte secp256k1 key of either form. */
export function publicKeyBytes(k: AnyPublicKey): Uint8Array {
  let bytes: Uint8Array;
  if (isSignedPublicKey(k)) {
    const unsigned = fromBinary(UnsignedPublicKeySchema, k.keyBytes);
    if (unsigned.union.case !== "secp256k1Uncompressed")
      throw invalidKeys("public key has no secp256k1_uncompressed key");
    bytes = unsigned.union.value.bytes;
  } else {
    bytes = legacyPublicKeyBytes(k);
  }
  expectPublicKey(bytes);
  return bytes;
}

/** Creation time of either form: legacy `timestamp` (ms) or `created_ns` (ms for legacy-derived keys). */
export function publicKeyCreated(k: AnyPublicKey): bigint {
  return isSignedPublicKey(k) ? fromBinary(UnsignedPublicKeySchema, k.keyBytes).createdNs : k.timestamp;
}

/**
 * `SignedPublicKey.fromLegacyKey`: key_bytes = the legacy unsigned bytes; an identity key's
 * signature moves from ecdsa_compact to wallet_ecdsa_compact, a pre-key's stays ecdsa_compact.
 */
export function signedPublicKeyFromLegacy(pk: PublicKey, signedByWallet: boolean): SignedPublicKey {
  const sig = compactFromSignature(pk.signature);
  if (!sig) throw invalidKeys("key is not signed");
  const signature = create(SignatureSchema, {
    union: signedByWallet
      ? { case: "walletEcdsaCompact", value: { bytes: sig.bytes, recovery: sig.recovery } }
      : { case: "ecdsaCompact", value: { bytes: sig.bytes, recovery: sig.recovery } },
  });
  return create(SignedPublicKeySchema, { keyBytes: legacyKeyBytes(pk), signature });
}

/** `SignedPublicKey.toLegacyKey`: only for keys with `created_ns < 10^18`; wallet sig back to ecdsa_compact. */
export function legacyPublicKeyFromSigned(k: SignedPublicKey): PublicKey {
  const unsigned = fromBinary(UnsignedPublicKeySchema, k.keyBytes);
  if (unsigned.createdNs >= LEGACY_KEY_NS_THRESHOLD) throw invalidKeys("cannot be converted to legacy key");
  if (unsigned.union.case !== "secp256k1Uncompressed")
    throw invalidKeys("public key has no secp256k1_uncompressed key");
  const sig = compactFromSignature(k.signature);
  const out = create(PublicKeySchema, {
    timestamp: unsigned.createdNs,
    union: { case: "secp256k1Uncompressed", value: { bytes: unsigned.union.value.bytes } },
  });
  if (sig) {
    out.signature = create(SignatureSchema, {
      union: { case: "ecdsaCompact", value: { bytes: sig.bytes, recovery: sig.recovery } },
    });
  }
  return out;
}

/** V1 → V2 bundle view (identity signature becomes wallet_ecdsa_compact). */
export function toSignedPublicKeyBundle(b: PublicKeyBundle): SignedPublicKeyBundle {
  if (!b.identityKey || !b.preKey) throw invalidKeys("public key bundle is missing a key");
  return create(SignedPublicKeyBundleSchema, {
    identityKey: signedPublicKeyFromLegacy(b.identityKey, true),
    preKey: signedPublicKeyFromLegacy(b.preKey, false),
  });
}

/** V2 → V1 bundle view; both keys must be legacy-derived. */
export function toLegacyPublicKeyBundle(b: SignedPublicKeyBundle): PublicKeyBundle {
  if (!b.identityKey || !b.preKey) throw invalidKeys("public key bundle is missing a key");
  return create(PublicKeyBundleSchema, {
    identityKey: legacyPublicKeyFromSigned(b.identityKey),
    preKey: legacyPublicKeyFromSigned(b.preKey),
  });
}

/** The wallet address whose Create Identity signature is on the bundle's identity key. */
export function walletAddressOfBundle(b: AnyPublicKeyBundle): string {
  if (!b.identityKey) throw invalidKeys("public key bundle is missing its identity key");
  return isSignedPublicKeyBundle(b)
    ? walletAddressFromSignedKey(b.identityKey)
    : walletAddressFromLegacyKey(b.identityKey as PublicKey);
}

/** True when the bundle's pre-key is signed by its identity key (§5.4). */
export function verifyBundlePreKey(b: AnyPublicKeyBundle): boolean {
  if (!b.identityKey || !b.preKey) return false;
  return isSignedPublicKeyBundle(b)
    ? verifySignedPreKey(b.identityKey, b.preKey)
    : verifyLegacyPreKey(b.identityKey as PublicKey, b.preKey as PublicKey);
}

/** The bundle's identity and pre-key as validated 65-byte keys. */
export function bundleKeyBytes(b: AnyPublicKeyBundle): { identityKey: Uint8Array; preKey: Uint8Array } {
  if (!b.identityKey || !b.preKey) throw invalidKeys("public key bundle is missing a key");
  return { identityKey: publicKeyBytes(b.identityKey), preKey: publicKeyBytes(b.preKey) };
}

/** Verifies an ecdsa_compact signature over a 32-byte digest by either key form (strict low-S). */
export function verifyDigestSignature(
  key: AnyPublicKey,
  digest32: Uint8Array,
  sig: Signature | undefined,
): boolean {
  if (sig?.union.case !== "ecdsaCompact") return false;
  try {
    return verifyCompact(publicKeyBytes(key), digest32, sig.union.value.bytes);
  } catch {
    return false;
  }
}

/** Message equality of two bundles of the same form. */
export function publicKeyBundlesEqual(a: AnyPublicKeyBundle, b: AnyPublicKeyBundle): boolean {
  if (isSignedPublicKeyBundle(a) && isSignedPublicKeyBundle(b))
    return equals(SignedPublicKeyBundleSchema, a, b);
  if (!isSignedPublicKeyBundle(a) && !isSignedPublicKeyBundle(b)) return equals(PublicKeyBundleSchema, a, b);
  return false;
}

/** Encodes a V1 bundle. */
export function encodePublicKeyBundle(b: PublicKeyBundle): Uint8Array {
  return toBinary(PublicKeyBundleSchema, b);
}

/** Encodes a V2 bundle. */
export function encodeSignedPublicKeyBundle(b: SignedPublicKeyBundle): Uint8Array {
  return toBinary(SignedPublicKeyBundleSchema, b);
}

/** Largest public key bundle accepted on decode (a real one is under 400 bytes). */
export const MAX_PUBLIC_KEY_BUNDLE_BYTES = 4096;

function checkBundleSize(bytes: Uint8Array): void {
  if (bytes.length > MAX_PUBLIC_KEY_BUNDLE_BYTES) {
    throw invalidKeys(
      `public key bundle expected at most ${MAX_PUBLIC_KEY_BUNDLE_BYTES} bytes, got ${bytes.length}`,
    );
  }
}

/** Decodes a V1 bundle from untrusted bytes: size-limited, both keys present and well-formed. */
export function decodePublicKeyBundle(bytes: Uint8Array): PublicKeyBundle {
  checkBundleSize(bytes);
  const b = fromBinary(PublicKeyBundleSchema, bytes);
  bundleKeyBytes(b);
  return b;
}

/** Decodes a V2 bundle from untrusted bytes: size-limited, both keys present and well-formed. */
export function decodeSignedPublicKeyBundle(bytes: Uint8Array): SignedPublicKeyBundle {
  checkBundleSize(bytes);
  const b = fromBinary(SignedPublicKeyBundleSchema, bytes);
  bundleKeyBytes(b);
  return b;
}
