/**
 * The view of a user's keys that conversations work with: private scalars of the identity key and
 * pre-keys (newest first) and the public bundles in both wire forms, plus the 3DH shared secret of
 * protocol.md §7 over it.
 */

import { create } from "@bufbuild/protobuf";
import {
  type PrivateKey,
  type PrivateKeyBundleV1,
  type PublicKey,
  type PublicKeyBundle,
  PublicKeyBundleSchema,
  type SignedPublicKey,
  type SignedPublicKeyBundle,
  SignedPublicKeyBundleSchema,
  SignedPublicKeySchema,
} from "@xmtp-ts/proto";
import {
  ecdhSharedPoint,
  legacyKeyBytes,
  legacyPublicKeyBytes,
  walletAddressFromLegacyKey,
} from "@xmtp-ts/protocol";
import { invalidKeys } from "../errors.js";
import { threeDhPairs } from "../keys/shared-secret.js";
import { bytesEqual, concatBytes } from "./primitives.js";

export interface KeyPair {
  /** 32-byte secp256k1 private key. */
  privateKey: Uint8Array;
  /** 65-byte uncompressed public key. */
  publicKey: Uint8Array;
}

export interface OwnKeys {
  /** EIP-55 wallet address the identity key is bound to. */
  address: string;
  identity: KeyPair;
  /** Newest first: `preKeys[0]` is the current pre-key. */
  preKeys: KeyPair[];
  /** Own V2 public bundle (legacy-converted: identity signature as wallet_ecdsa_compact). */
  signedBundle: SignedPublicKeyBundle;
  /** Own legacy V1 public bundle. */
  legacyBundle: PublicKeyBundle;
}

/** The two 65-byte public keys of a peer bundle. */
export interface PeerKeys {
  identity: Uint8Array;
  preKey: Uint8Array;
}

export class NoMatchingPreKeyError extends Error {
  override readonly name = "NoMatchingPreKeyError";
  constructor() {
    super("no matching pre-key");
  }
}

/** Finds the own pre-key whose public key is `pub`, or throws {@link NoMatchingPreKeyError}. */
export function findPreKey(own: OwnKeys, pub: Uint8Array): KeyPair {
  for (const k of own.preKeys) if (bytesEqual(k.publicKey, pub)) return k;
  throw new NoMatchingPreKeyError();
}

/** A pluggable ECDH that returns the 65-byte shared point (batch listing swaps in a cached one). */
export type Ecdh = (priv32: Uint8Array, pub65: Uint8Array) => Uint8Array;

/**
 * 3DH (protocol.md §7): `dh1 ‖ dh2 ‖ dh3` (195 bytes). The caller has already verified the
 * peer's pre-key signature.
 */
export function sharedSecret3dh(
  own: OwnKeys,
  peer: PeerKeys,
  myPreKeyPub: Uint8Array,
  isRecipient: boolean,
  ecdh: Ecdh = ecdhSharedPoint,
): Uint8Array {
  const pre = findPreKey(own, myPreKeyPub).privateKey;
  const pairs = threeDhPairs(own.identity.privateKey, pre, peer, isRecipient);
  return concatBytes(...pairs.map(([k, p]) => ecdh(k, p)));
}

/** The V2 `SignedPublicKey` form of a legacy key (xmtp-js `SignedPublicKey.fromLegacyKey`). */
export function signedKeyFromLegacy(pk: PublicKey, signedByWallet: boolean): SignedPublicKey {
  const sig = pk.signature?.union;
  if (!sig || (sig.case !== "ecdsaCompact" && sig.case !== "walletEcdsaCompact"))
    throw invalidKeys("legacy key is not signed");
  const value = { bytes: sig.value.bytes, recovery: sig.value.recovery };
  return create(SignedPublicKeySchema, {
    keyBytes: legacyKeyBytes(pk),
    signature: {
      union: signedByWallet ? { case: "walletEcdsaCompact", value } : { case: "ecdsaCompact", value },
    },
  });
}

/** The V2 bundle of a legacy V1 bundle (xmtp-js `SignedPublicKeyBundle.fromLegacyBundle`). */
export function signedBundleFromLegacy(b: PublicKeyBundle): SignedPublicKeyBundle {
  if (!b.identityKey || !b.preKey) throw invalidKeys("legacy bundle is missing a key");
  return create(SignedPublicKeyBundleSchema, {
    identityKey: signedKeyFromLegacy(b.identityKey, true),
    preKey: signedKeyFromLegacy(b.preKey, false),
  });
}

/** The conversation view of a `PrivateKeyBundleV1` (every real xmtp-js identity is one). */
export function ownKeysFromBundleV1(bundle: PrivateKeyBundleV1): OwnKeys {
  const id = bundle.identityKey;
  if (!id?.publicKey || id.union.case !== "secp256k1")
    throw invalidKeys("private key bundle has no identity key");
  const pair = (k: PrivateKey): KeyPair => {
    if (k.union.case !== "secp256k1" || !k.publicKey) throw invalidKeys("private key is not secp256k1");
    return { privateKey: k.union.value.bytes, publicKey: legacyPublicKeyBytes(k.publicKey) };
  };
  const pre = bundle.preKeys[0];
  if (!pre?.publicKey) throw invalidKeys("private key bundle has no pre-key");
  const legacyBundle = create(PublicKeyBundleSchema, { identityKey: id.publicKey, preKey: pre.publicKey });
  return {
    address: walletAddressFromLegacyKey(id.publicKey),
    identity: pair(id),
    preKeys: bundle.preKeys.map(pair),
    signedBundle: signedBundleFromLegacy(legacyBundle),
    legacyBundle,
  };
}

/**
 * An ECDH that remembers its results for one operation: both 3DH roles use the same three
 * products (only dh1 and dh2 swap), so deriving and sealing an invitation needs three, not six.
 */
export function memoEcdh(inner: Ecdh = ecdhSharedPoint): Ecdh {
  const memo = new Map<string, Uint8Array>();
  const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return (priv, pub) => {
    const k = `${hex(priv)}:${hex(pub)}`;
    let v = memo.get(k);
    if (!v) {
      v = inner(priv, pub);
      memo.set(k, v);
    }
    return v;
  };
}
