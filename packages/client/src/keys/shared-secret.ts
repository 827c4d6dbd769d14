/** The 3DH shared secret (protocol.md §7), with both roles, as xmtp-js `PrivateKeyBundleV1.sharedSecret`. */
import type { PrivateKeyBundleV1 } from "@xmtp-ts/proto";
import { XmtpError } from "../errors.js";
import { ownKeysFromBundleV1, sharedSecret3dh } from "./own-keys.js";
import {
  type AnyPublicKey,
  type AnyPublicKeyBundle,
  bundleKeyBytes,
  publicKeyBytes,
  verifyBundlePreKey,
} from "./public.js";

/** The peer's pre-key is not signed by its identity key (code `"invalid-contact"`). */
export class PeerPreKeySignatureError extends XmtpError<"invalid-contact"> {
  override readonly name: string = "PeerPreKeySignatureError";
  constructor() {
    super("invalid-contact", "peer preKey signature invalid", { address: undefined });
  }
}

/**
 * dh1 ‖ dh2 ‖ dh3 (195 bytes) between a private bundle and a peer's bundle (the key model's
 * {@link sharedSecret3dh} after checking the peer's pre-key signature).
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
  return sharedSecret3dh(
    ownKeysFromBundleV1(bundle),
    { identity: peerIdentity, preKey: peerPre },
    myPrePub,
    isRecipient,
  );
}
