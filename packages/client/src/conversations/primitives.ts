/**
 * The few primitives conversations use, taken from crypto/ (WebCrypto with a noble fallback) and
 * @xmtp-ts/protocol, under the names this folder uses.
 */
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";

export {
  concatBytes,
  decrypt as decryptCiphertext,
  encrypt as encryptCiphertext,
  equalBytes as bytesEqual,
  hkdfSha256,
  hmacKey,
  hmacSha256,
} from "../crypto/index.js";

export function sha256(b: Uint8Array): Uint8Array {
  return nobleSha256(b);
}

export const toHex = bytesToHex;
