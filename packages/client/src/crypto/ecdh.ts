/** secp256k1 ECDH and signatures, pinned to the protocol's formats (protocol.md §5.1, §7). */
import { ecdhSharedPoint } from "@xmtp-ts/protocol";

export {
  getPublicKey,
  randomPrivateKey,
  recoverPublicKey,
  signCompact,
  verifyCompact,
} from "@xmtp-ts/protocol";

/** ECDH of a 32-byte private key and a 65-byte public key: the full 65-byte uncompressed shared point. */
export function ecdh(priv32: Uint8Array, pub65: Uint8Array): Uint8Array {
  return ecdhSharedPoint(priv32, pub65);
}
