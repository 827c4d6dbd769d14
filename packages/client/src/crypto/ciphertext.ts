/**
 * The `Ciphertext` construction (protocol.md §6.1): key = HKDF-SHA256(secret, 32-byte random salt,
 * empty info), AES-256-GCM with a 12-byte random nonce, `payload = ciphertext ‖ 16-byte tag`.
 */
import { create, fromBinary } from "@bufbuild/protobuf";
import { randomBytes } from "@noble/hashes/utils.js";
import { type Ciphertext, CiphertextSchema } from "@xmtp-ts/proto";
import { MAX_MESSAGE_BYTES } from "@xmtp-ts/protocol";
import { defaultBackend } from "./backend.js";
import { hkdfSha256 } from "./hkdf.js";

export const HKDF_SALT_BYTES = 32;
export const GCM_NONCE_BYTES = 12;
export const GCM_TAG_BYTES = 16;
export const AES_KEY_BYTES = 32;
/** Largest payload accepted on decode: nothing bigger fits in an envelope. */
export const MAX_CIPHERTEXT_PAYLOAD_BYTES = MAX_MESSAGE_BYTES;

/** Decryption failed: wrong key, wrong AAD, or tampered bytes. */
export class DecryptionError extends Error {
  override readonly name = "DecryptionError";
}

/** The validated parts of an AES-256-GCM/HKDF-SHA256 ciphertext. */
export interface CiphertextParts {
  hkdfSalt: Uint8Array;
  gcmNonce: Uint8Array;
  payload: Uint8Array;
}

/** Checks the Ciphertext variant and its field lengths; throws with a precise message. */
export function ciphertextParts(ct: Ciphertext): CiphertextParts {
  if (ct.union.case !== "aes256GcmHkdfSha256")
    throw new RangeError("unsupported ciphertext: no aes256_gcm_hkdf_sha256");
  const { hkdfSalt, gcmNonce, payload } = ct.union.value;
  if (hkdfSalt.length !== HKDF_SALT_BYTES) {
    throw new RangeError(`"hkdfSalt" expected ${HKDF_SALT_BYTES} bytes, got ${hkdfSalt.length}`);
  }
  if (gcmNonce.length !== GCM_NONCE_BYTES) {
    throw new RangeError(`"gcmNonce" expected ${GCM_NONCE_BYTES} bytes, got ${gcmNonce.length}`);
  }
  if (payload.length < GCM_TAG_BYTES) {
    throw new RangeError(`"payload" expected at least ${GCM_TAG_BYTES} bytes, got ${payload.length}`);
  }
  if (payload.length > MAX_CIPHERTEXT_PAYLOAD_BYTES) {
    throw new RangeError(
      `"payload" expected at most ${MAX_CIPHERTEXT_PAYLOAD_BYTES} bytes, got ${payload.length}`,
    );
  }
  return { hkdfSalt, gcmNonce, payload };
}

/** Decodes and validates `Ciphertext` bytes from the wire. */
export function decodeCiphertext(bytes: Uint8Array): Ciphertext {
  if (bytes.length > MAX_CIPHERTEXT_PAYLOAD_BYTES + 256) {
    throw new RangeError(
      `ciphertext expected at most ${MAX_CIPHERTEXT_PAYLOAD_BYTES + 256} bytes, got ${bytes.length}`,
    );
  }
  const ct = fromBinary(CiphertextSchema, bytes);
  ciphertextParts(ct);
  return ct;
}

/** Fixed salt and nonce, for reproducible tests only; production callers leave them random. */
export interface EncryptOptions {
  hkdfSalt?: Uint8Array;
  gcmNonce?: Uint8Array;
}

/** Encrypts `plain` under `secret` (any length IKM) with optional AAD. */
export async function encrypt(
  plain: Uint8Array,
  secret: Uint8Array,
  aad?: Uint8Array,
  opts: EncryptOptions = {},
): Promise<Ciphertext> {
  const hkdfSalt = opts.hkdfSalt ?? randomBytes(HKDF_SALT_BYTES);
  const gcmNonce = opts.gcmNonce ?? randomBytes(GCM_NONCE_BYTES);
  if (hkdfSalt.length !== HKDF_SALT_BYTES) {
    throw new RangeError(`"hkdfSalt" expected ${HKDF_SALT_BYTES} bytes, got ${hkdfSalt.length}`);
  }
  if (gcmNonce.length !== GCM_NONCE_BYTES) {
    throw new RangeError(`"gcmNonce" expected ${GCM_NONCE_BYTES} bytes, got ${gcmNonce.length}`);
  }
  const key = await hkdfSha256(secret, hkdfSalt, new Uint8Array(0), AES_KEY_BYTES);
  const payload = await defaultBackend().aesGcmEncrypt(key, gcmNonce, plain, aad);
  return create(CiphertextSchema, {
    union: { case: "aes256GcmHkdfSha256", value: { hkdfSalt, gcmNonce, payload } },
  });
}

/** Decrypts a `Ciphertext` under `secret` with the same AAD; throws DecryptionError on a bad tag. */
export async function decrypt(ct: Ciphertext, secret: Uint8Array, aad?: Uint8Array): Promise<Uint8Array> {
  const { hkdfSalt, gcmNonce, payload } = ciphertextParts(ct);
  const key = await hkdfSha256(secret, hkdfSalt, new Uint8Array(0), AES_KEY_BYTES);
  try {
    return await defaultBackend().aesGcmDecrypt(key, gcmNonce, payload, aad);
  } catch (err) {
    throw new DecryptionError("aes-256-gcm decryption failed", { cause: err });
  }
}
