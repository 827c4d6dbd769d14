/**
 * Private key bundles (protocol.md §5.2–§5.5): create an identity the way xmtp-js does, rotate
 * pre-keys, derive the public V1/V2 views and the V2 private view, encode and decode.
 */

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  type PrivateKey,
  PrivateKeyBundleSchema,
  type PrivateKeyBundleV1,
  PrivateKeyBundleV1Schema,
  type PrivateKeyBundleV2,
  PrivateKeyBundleV2Schema,
  PrivateKeySchema,
  type PublicKey,
  type PublicKeyBundle,
  PublicKeyBundleSchema,
  PublicKeySchema,
  type Signature,
  SignatureSchema,
  type SignedPrivateKey,
  SignedPrivateKeySchema,
  type SignedPublicKeyBundle,
} from "@xmtp-ts/proto";
import {
  createIdentityText,
  expectBytes,
  getPublicKey,
  isValidPrivateKey,
  legacyKeyBytes,
  randomPrivateKey,
  recoverWalletAddress,
  sha256,
  signCompact,
  splitWalletSignature,
  toChecksumAddress,
  verifyLegacyPreKey,
  walletAddressFromLegacyKey,
} from "@xmtp-ts/protocol";
import { equalBytes } from "../crypto/bytes.js";
import { invalidKeys } from "../errors.js";
import { type Signer, signText } from "../signer.js";
import { publicKeyBytes, signedPublicKeyFromLegacy, toSignedPublicKeyBundle } from "./public.js";

/** The 32-byte secret of a legacy or V2 private key; throws if absent or malformed. */
export function privateKeyBytes(k: PrivateKey | SignedPrivateKey): Uint8Array {
  if (k.union.case !== "secp256k1") throw invalidKeys("private key has no secp256k1 key");
  expectBytes("privateKey", k.union.value.bytes, 32);
  return k.union.value.bytes;
}

/** A fresh legacy PrivateKey with `timestamp = nowMs` and its unsigned public key. */
export function generateLegacyPrivateKey(nowMs: bigint = BigInt(Date.now())): PrivateKey {
  return legacyPrivateKeyFrom(randomPrivateKey(), nowMs);
}

/** A legacy PrivateKey around known secret bytes (unsigned public key). */
export function legacyPrivateKeyFrom(secret32: Uint8Array, timestampMs: bigint): PrivateKey {
  return create(PrivateKeySchema, {
    timestamp: timestampMs,
    union: { case: "secp256k1", value: { bytes: secret32 } },
    publicKey: {
      timestamp: timestampMs,
      union: { case: "secp256k1Uncompressed", value: { bytes: getPublicKey(secret32) } },
    },
  });
}

/** An ecdsa_compact Signature (RFC 6979, low-S) by `key` over a 32-byte digest. */
export function signDigest(key: PrivateKey | SignedPrivateKey | Uint8Array, digest32: Uint8Array): Signature {
  const secret = key instanceof Uint8Array ? key : privateKeyBytes(key);
  const { bytes, recovery } = signCompact(secret, digest32);
  return create(SignatureSchema, { union: { case: "ecdsaCompact", value: { bytes, recovery } } });
}

/** Signs `pre`'s public key with `identity` (sha256 of the unsigned legacy bytes), returning a new key. */
export function signPreKey(identity: PrivateKey, pre: PrivateKey): PrivateKey {
  if (!pre.publicKey) throw invalidKeys("pre-key has no public key");
  const unsigned = create(PublicKeySchema, {
    timestamp: pre.publicKey.timestamp,
    union: pre.publicKey.union,
  });
  const signature = signDigest(identity, sha256(legacyKeyBytes(unsigned)));
  return create(PrivateKeySchema, { ...pre, publicKey: { ...unsigned, signature } });
}

/**
 * Creates an identity as xmtp-js does: the wallet signs "Create Identity" over the identity key's
 * unsigned bytes (stored as ecdsa_compact), and one pre-key is signed by the identity key.
 */
export async function createPrivateKeyBundle(
  signer: Signer,
  opts: { nowMs?: bigint } = {},
): Promise<PrivateKeyBundleV1> {
  const nowMs = opts.nowMs ?? BigInt(Date.now());
  const identity = generateLegacyPrivateKey(nowMs);
  const keyBytes = legacyKeyBytes(identity.publicKey!);
  const text = createIdentityText(keyBytes);
  const walletSig = await signText(signer, text);
  const recovered = recoverWalletAddress(text, walletSig);
  const { bytes, recovery } = splitWalletSignature(walletSig);
  const expected = toChecksumAddress(await signer.getAddress());
  if (recovered !== expected)
    throw invalidKeys(`wallet signature recovers ${recovered}, expected ${expected}`);
  identity.publicKey!.signature = create(SignatureSchema, {
    union: { case: "ecdsaCompact", value: { bytes, recovery } },
  });
  const preKey = signPreKey(identity, generateLegacyPrivateKey(nowMs));
  return create(PrivateKeyBundleV1Schema, { identityKey: identity, preKeys: [preKey] });
}

/** A copy of the bundle with a new signed pre-key prepended (`pre_keys[0]` is current). */
export function addPreKey(
  bundle: PrivateKeyBundleV1,
  nowMs: bigint = BigInt(Date.now()),
): PrivateKeyBundleV1 {
  const identity = identityKeyOf(bundle);
  const pre = signPreKey(identity, generateLegacyPrivateKey(nowMs));
  return create(PrivateKeyBundleV1Schema, { identityKey: identity, preKeys: [pre, ...bundle.preKeys] });
}

/** The bundle's identity key; throws if absent. */
export function identityKeyOf(bundle: PrivateKeyBundleV1): PrivateKey {
  if (!bundle.identityKey?.publicKey) throw invalidKeys("private key bundle has no identity key");
  return bundle.identityKey;
}

/** The current pre-key, `pre_keys[0]`. */
export function currentPreKey(bundle: PrivateKeyBundleV1): PrivateKey {
  const pre = bundle.preKeys[0];
  if (!pre?.publicKey) throw invalidKeys("private key bundle has no pre-key");
  return pre;
}

/** No pre-key of mine matches the public key a peer used. */
export class NoMatchingPreKeyError extends Error {
  override readonly name = "NoMatchingPreKeyError";
  constructor() {
    super("no matching pre-key found");
  }
}

/** The wallet address that signed the bundle's identity key. */
export function walletAddressOf(bundle: PrivateKeyBundleV1): string {
  return walletAddressFromLegacyKey(identityKeyOf(bundle).publicKey!);
}

/** The public V1 bundle: identity key and current pre-key. */
export function publicKeyBundleOf(bundle: PrivateKeyBundleV1): PublicKeyBundle {
  return create(PublicKeyBundleSchema, {
    identityKey: identityKeyOf(bundle).publicKey!,
    preKey: currentPreKey(bundle).publicKey!,
  });
}

/** The public V2 bundle (legacy conversion, §5.5). */
export function signedPublicKeyBundleOf(bundle: PrivateKeyBundleV1): SignedPublicKeyBundle {
  return toSignedPublicKeyBundle(publicKeyBundleOf(bundle));
}

function signedPrivateKeyFromLegacy(k: PrivateKey, signedByWallet: boolean): SignedPrivateKey {
  return create(SignedPrivateKeySchema, {
    createdNs: k.timestamp * 1_000_000n, // as xmtp-js: the private key records ns; its public key_bytes keep ms
    union: { case: "secp256k1", value: { bytes: privateKeyBytes(k) } },
    publicKey: signedPublicKeyFromLegacy(k.publicKey!, signedByWallet),
  });
}

/** `PrivateKeyBundleV2.fromLegacyBundle`: the V2 view of a V1 bundle (public key_bytes stay legacy, in ms). */
export function toPrivateKeyBundleV2(bundle: PrivateKeyBundleV1): PrivateKeyBundleV2 {
  return create(PrivateKeyBundleV2Schema, {
    identityKey: signedPrivateKeyFromLegacy(identityKeyOf(bundle), true),
    preKeys: bundle.preKeys.map((k) => signedPrivateKeyFromLegacy(k, false)),
  });
}

/**
 * Checks a bundle is usable: every secret matches its public key, the identity key carries a
 * wallet signature, and every pre-key is signed by the identity key. Throws on the first problem.
 */
export function validatePrivateKeyBundle(bundle: PrivateKeyBundleV1): void {
  const identity = identityKeyOf(bundle);
  const keys = [identity, ...bundle.preKeys];
  if (bundle.preKeys.length === 0) throw invalidKeys("private key bundle has no pre-key");
  for (const k of keys) {
    const secret = privateKeyBytes(k);
    if (!isValidPrivateKey(secret)) throw invalidKeys("invalid secp256k1 private key");
    if (!k.publicKey || !equalBytes(publicKeyBytes(k.publicKey), getPublicKey(secret))) {
      throw invalidKeys("private key does not match its public key");
    }
  }
  walletAddressFromLegacyKey(identity.publicKey!);
  for (const pre of bundle.preKeys) {
    if (!verifyLegacyPreKey(identity.publicKey!, pre.publicKey!))
      throw invalidKeys("pre-key signature invalid");
  }
}

/** Largest encoded private key bundle accepted on decode. */
export const MAX_PRIVATE_KEY_BUNDLE_BYTES = 65_536;
/** Most pre-keys accepted in a decoded bundle. */
export const MAX_PRE_KEYS = 256;

/** Encodes as `PrivateKeyBundle{v1}`, the only form xmtp-js stores. */
export function encodePrivateKeyBundle(bundle: PrivateKeyBundleV1): Uint8Array {
  return toBinary(
    PrivateKeyBundleSchema,
    create(PrivateKeyBundleSchema, { version: { case: "v1", value: bundle } }),
  );
}

/** A decoded private bundle; `legacyFormat` is true for a bare `PrivateKeyBundleV1` (should be re-saved). */
export interface DecodedPrivateKeyBundle {
  bundle: PrivateKeyBundleV1;
  legacyFormat: boolean;
}

/**
 * Decodes `PrivateKeyBundle{v1}`, or failing that a bare `PrivateKeyBundleV1`; rejects V2 bundles
 * ("V2 bundles not supported yet"), oversize input and too many pre-keys, then validates the keys.
 */
export function decodePrivateKeyBundle(bytes: Uint8Array): DecodedPrivateKeyBundle {
  if (bytes.length > MAX_PRIVATE_KEY_BUNDLE_BYTES) {
    throw invalidKeys(
      `private key bundle expected at most ${MAX_PRIVATE_KEY_BUNDLE_BYTES} bytes, got ${bytes.length}`,
    );
  }
  let result: DecodedPrivateKeyBundle | undefined;
  try {
    const wrapped = fromBinary(PrivateKeyBundleSchema, bytes);
    if (wrapped.version.case === "v2") throw invalidKeys("V2 bundles not supported yet");
    if (wrapped.version.case === "v1" && wrapped.version.value.identityKey) {
      result = { bundle: wrapped.version.value, legacyFormat: false };
    }
  } catch (err) {
    if (err instanceof Error && err.message === "V2 bundles not supported yet") throw err;
  }
  if (!result) result = { bundle: fromBinary(PrivateKeyBundleV1Schema, bytes), legacyFormat: true };
  if (result.bundle.preKeys.length > MAX_PRE_KEYS) {
    throw invalidKeys(
      `private key bundle expected at most ${MAX_PRE_KEYS} pre-keys, got ${result.bundle.preKeys.length}`,
    );
  }
  validatePrivateKeyBundle(result.bundle);
  return result;
}

/** The identity key's legacy public key (with its wallet signature). */
export function identityPublicKeyOf(bundle: PrivateKeyBundleV1): PublicKey {
  return identityKeyOf(bundle).publicKey!;
}
