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
 * dh1 ‖ dh2 ‖ dh3 (195 bytes). Sender (`isRecipient = false`): DH(myIdentity, peerPre),
 * DH(myPre, peerIdentity), DH(myPre, peerPre); recipient swaps the first two.
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
  const [dh1, dh2] = isRecipient
    ? [ecdh(myPre, peerIdentity), ecdh(myIdentity, peerPre)]
    : [ecdh(myIdentity, peerPre), ecdh(myPre, peerIdentity)];
  return concatBytes(dh1, dh2, ecdh(myPre, peerPre));
}
