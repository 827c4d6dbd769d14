/**
 * The client's one key model: the private scalars of the identity key and pre-keys (newest first)
 * and the public bundles in both wire forms, with the one pre-key lookup and the one 3DH shared
 * secret (protocol.md §7) over it. Conversations, consent and the crypto workers use it; the
 * bundle-level `sharedSecret` of shared-secret.ts is built on it.
 */

import { create } from "@bufbuild/protobuf";
import { concatBytes } from "@noble/hashes/utils.js";
import {
  type PrivateKey,
  type PrivateKeyBundleV1,
  type PublicKeyBundle,
  PublicKeyBundleSchema,
  type SignedPublicKeyBundle,
} from "@xmtp-ts/proto";
import { ecdhSharedPoint, legacyPublicKeyBytes, walletAddressFromLegacyKey } from "@xmtp-ts/protocol";
import { equalBytes } from "../crypto/bytes.js";
import { invalidKeys } from "../errors.js";
import { NoMatchingPreKeyError } from "./private.js";
import { toSignedPublicKeyBundle } from "./public.js";

export { NoMatchingPreKeyError };

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

/** Finds the own pre-key whose public key is `pub`, or throws {@link NoMatchingPreKeyError}. */
export function findPreKey(own: OwnKeys, pub: Uint8Array): KeyPair {
  for (const k of own.preKeys) if (equalBytes(k.publicKey, pub)) return k;
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

/**
 * The three (private, public) pairs of 3DH in order. Sender (`isRecipient = false`):
 * (myIdentity, peerPre), (myPre, peerIdentity), (myPre, peerPre); the recipient swaps the first two.
 */
export function threeDhPairs(
  myIdentity: Uint8Array,
  myPre: Uint8Array,
  peer: PeerKeys,
  isRecipient: boolean,
): [[Uint8Array, Uint8Array], [Uint8Array, Uint8Array], [Uint8Array, Uint8Array]] {
  const a: [Uint8Array, Uint8Array] = [myIdentity, peer.preKey];
  const b: [Uint8Array, Uint8Array] = [myPre, peer.identity];
  return isRecipient ? [b, a, [myPre, peer.preKey]] : [a, b, [myPre, peer.preKey]];
}

/** The key model of a `PrivateKeyBundleV1` (every real xmtp-js identity is one). */
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
    signedBundle: toSignedPublicKeyBundle(legacyBundle),
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
