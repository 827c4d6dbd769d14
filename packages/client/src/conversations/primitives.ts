/**
 * The few primitives conversations use, taken from crypto/ (WebCrypto with a noble fallback) and
 * @xmtp-ts/protocol, under the names this folder uses.
 */
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";

import type { Ciphertext } from "@xmtp-ts/proto";
import { ciphertextParts, DecryptionError, decrypt } from "../crypto/index.js";
import { EMPTY_BYTES, nativeCrypto } from "./native-crypto.js";

export {
  concatBytes,
  encrypt as encryptCiphertext,
  equalBytes as bytesEqual,
  hkdfSha256,
  hmacKey,
  hmacSha256,
} from "../crypto/index.js";

/** SHA-256: OpenSSL in Node (several times faster on message-sized inputs), noble elsewhere. */
export const sha256: (b: Uint8Array) => Uint8Array = nativeCrypto ? nativeCrypto.sha256 : nobleSha256;

export const toHex = bytesToHex;

/** Decrypts a Ciphertext; synchronous native HKDF + AES-GCM where available, crypto/ otherwise. */
export async function decryptCiphertext(
  ct: Ciphertext,
  secret: Uint8Array,
  aad?: Uint8Array,
): Promise<Uint8Array> {
  if (!nativeCrypto) return decrypt(ct, secret, aad);
  const { hkdfSalt, gcmNonce, payload } = ciphertextParts(ct);
  const out = nativeCrypto.gcmOpen(
    nativeCrypto.hkdf32(secret, hkdfSalt, EMPTY_BYTES),
    gcmNonce,
    payload,
    aad,
  );
  if (!out) throw new DecryptionError("aes-256-gcm decryption failed");
  return out;
}
