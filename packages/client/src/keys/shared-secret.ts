/** The 3DH shared secret (protocol.md §7), with both roles, as xmtp-js `PrivateKeyBundleV1.sharedSecret`. */
import { concatBytes } from "@noble/hashes/utils.js";
import type { PrivateKeyBundleV1 } from "@xmtp-ts/proto";
import { ecdh } from "../crypto/ecdh.js";
import { findPreKey, identityKeyOf, privateKeyBytes } from "./private.js";
import {
  type AnyPublicKey,
  type AnyPublicKeyBundle,
  bundleKeyBytes,
  publicKeyBytes,
  verifyBundlePreKey,
} from "./public.js";

/** The peer's pre-key is not signed by its identity key. */
export class PeerPreKeySignatureError extends Error {
  override readonly name = "PeerPreKeySignatureError";
  constructor() {
    super("peer preKey signature invalid");
  }
}

/**
 * The three (private, public) pairs of 3DH in order. Sender (`isRecipient = false`):
 * (myIdentity, peerPre), (myPre, peerIdentity), (myPre, peerPre); the recipient swaps the first two.
 */
export function threeDhPairs(
  myIdentity: Uint8Array,
  myPre: Uint8Array,
  peer: { identity: Uint8Array; preKey: Uint8Array },
  isRecipient: boolean,
): [[Uint8Array, Uint8Array], [Uint8Array, Uint8Array], [Uint8Array, Uint8Array]] {
  const a: [Uint8Array, Uint8Array] = [myIdentity, peer.preKey];
  const b: [Uint8Array, Uint8Array] = [myPre, peer.identity];
  return isRecipient ? [b, a, [myPre, peer.preKey]] : [a, b, [myPre, peer.preKey]];
}

/**
 * dh1 ‖ dh2 ‖ dh3 (195 bytes) over {@link threeDhPairs}.
 * `myPreKey` names which of my pre-keys (by public key) to use.
 */
export function sharedSecret(
  bundle: PrivateKeyBundleV1,
  peer: AnyPublicKeyBundle,
  myPreKey: AnyPublicKey | Uint8Array,
  isRecipient: boolean,
): Uint8Array {
  if (!verifyBundlePreKey(peer)) throw new PeerPreKeySignatureError();
  const { identityKey: peerIdentity, preKey: peerPre } = bundleKeyBytes(peer);
  const myPrePub = myPreKey instanceof Uint8Array ? myPreKey : publicKeyBytes(myPreKey);
  const myPre = privateKeyBytes(findPreKey(bundle, myPrePub));
  const myIdentity = privateKeyBytes(identityKeyOf(bundle));
  const pairs = threeDhPairs(myIdentity, myPre, { identity: peerIdentity, preKey: peerPre }, isRecipient);
  return concatBytes(...pairs.map(([k, p]) => ecdh(k, p)));
}
