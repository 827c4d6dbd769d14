/**
 * Identity and pre-key signatures (protocol.md §5.3–§5.6): the texts wallets sign, the bytes
 * identity keys sign, wallet recovery from identity keys, and pre-key verification.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { bytesToHex } from "@noble/hashes/utils.js";
import {
  type PublicKey,
  PublicKeySchema,
  type Signature,
  type SignedPublicKey,
  UnsignedPublicKeySchema,
} from "@xmtp-ts/proto";
import {
  type CompactSignature,
  eip191Hash,
  expectBytes,
  expectPublicKey,
  publicKeyToAddress,
  recoverPublicKey,
  sha256,
  verifyCompact,
} from "./crypto.js";

const SIGNATURE_FOOTER = "\n\nFor more info: https://xmtp.org/signatures/";

/** A key is legacy (timestamp in ms) exactly when `created_ns < 10^18` (protocol.md §5.2). */
export const LEGACY_KEY_NS_THRESHOLD = 1_000_000_000_000_000_000n;

/** The text a wallet signs to create an identity over the given unsigned key bytes. */
export function createIdentityText(keyBytes: Uint8Array): string {
  return `XMTP : Create Identity\n${bytesToHex(keyBytes)}${SIGNATURE_FOOTER}`;
}

/** The text a wallet signs to derive the private key backup secret from a 32-byte wallet pre-key. */
export function enableIdentityText(walletPreKey32: Uint8Array): string {
  expectBytes("walletPreKey", walletPreKey32, 32);
  return `XMTP : Enable Identity\n${bytesToHex(walletPreKey32)}${SIGNATURE_FOOTER}`;
}

/**
 * The text a wallet signs to grant inbox consent to `senderAddress` at `timestampMs` (protocol.md
 * §14.4); the time is written as `Date.prototype.toUTCString` writes it.
 */
export function consentProofText(senderAddress: string, timestampMs: number): string {
  return `XMTP : Grant inbox consent to sender\n\nCurrent Time: ${new Date(timestampMs).toUTCString()}\nFrom Address: ${senderAddress}${SIGNATURE_FOOTER}`;
}

/** The 65-byte key inside a legacy PublicKey; throws if absent or malformed. */
export function legacyPublicKeyBytes(pk: PublicKey): Uint8Array {
  if (pk.union.case !== "secp256k1Uncompressed")
    throw new Error("public key has no secp256k1_uncompressed key");
  return pk.union.value.bytes;
}

/**
 * The signed bytes of a legacy PublicKey: `PublicKey{timestamp, secp256k1_uncompressed}` re-encoded
 * from the parsed fields, signature stripped (so a non-canonical original encoding does not verify).
 */
export function legacyKeyBytes(pk: PublicKey): Uint8Array {
  const bytes = legacyPublicKeyBytes(pk);
  return toBinary(
    PublicKeySchema,
    create(PublicKeySchema, {
      timestamp: pk.timestamp,
      union: { case: "secp256k1Uncompressed", value: { bytes } },
    }),
  );
}

/** The ecdsa_compact, or else wallet_ecdsa_compact, part of a Signature. */
export function compactFromSignature(sig: Signature | undefined): CompactSignature | undefined {
  if (sig?.union.case === "ecdsaCompact" || sig?.union.case === "walletEcdsaCompact") {
    return { bytes: sig.union.value.bytes, recovery: sig.union.value.recovery };
  }
  return undefined;
}

/** The wallet address that signed a legacy identity key (ecdsa_compact or wallet_ecdsa_compact). */
export function walletAddressFromLegacyKey(pk: PublicKey): string {
  const sig = compactFromSignature(pk.signature);
  if (!sig) throw new Error("key is not signed");
  const digest = eip191Hash(createIdentityText(legacyKeyBytes(pk)));
  return publicKeyToAddress(recoverPublicKey(digest, sig.bytes, sig.recovery));
}

/** The wallet address that signed a V2 identity key; requires wallet_ecdsa_compact. */
export function walletAddressFromSignedKey(k: SignedPublicKey): string {
  if (k.signature?.union.case !== "walletEcdsaCompact") throw new Error("key was not signed by a wallet");
  const { bytes, recovery } = k.signature.union.value;
  const digest = eip191Hash(createIdentityText(k.keyBytes));
  return publicKeyToAddress(recoverPublicKey(digest, bytes, recovery));
}

/** The 65-byte key inside a SignedPublicKey's `key_bytes`; throws if undecodable or absent. */
export function signedPublicKeyBytes(k: SignedPublicKey): Uint8Array {
  const unsigned = fromBinary(UnsignedPublicKeySchema, k.keyBytes);
  if (unsigned.union.case !== "secp256k1Uncompressed")
    throw new Error("public key has no secp256k1_uncompressed key");
  return unsigned.union.value.bytes;
}

/** True when `pre` carries a valid ecdsa_compact by `identity` over sha256 of its legacy key bytes. */
export function verifyLegacyPreKey(identity: PublicKey, pre: PublicKey): boolean {
  try {
    if (pre.signature?.union.case !== "ecdsaCompact") return false;
    expectPublicKey(legacyPublicKeyBytes(pre), "preKey");
    const { bytes } = pre.signature.union.value;
    return verifyCompact(legacyPublicKeyBytes(identity), sha256(legacyKeyBytes(pre)), bytes);
  } catch {
    return false;
  }
}

/** True when `pre` carries a valid ecdsa_compact by `identity` over sha256(pre.key_bytes). */
export function verifySignedPreKey(identity: SignedPublicKey, pre: SignedPublicKey): boolean {
  try {
    if (pre.signature?.union.case !== "ecdsaCompact") return false;
    expectPublicKey(signedPublicKeyBytes(pre), "preKey");
    const { bytes } = pre.signature.union.value;
    return verifyCompact(signedPublicKeyBytes(identity), sha256(pre.keyBytes), bytes);
  } catch {
    return false;
  }
}
