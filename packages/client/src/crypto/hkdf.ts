/** HKDF-SHA256 and the HMAC keys derived with it (protocol.md §6.3). */
import { utf8ToBytes } from "@noble/hashes/utils.js";
import { defaultBackend } from "./backend.js";

/** Longest HKDF-SHA256 output (255 × 32 bytes). */
export const MAX_HKDF_LENGTH = 255 * 32;

/** HKDF-SHA256(ikm, salt, info) → `length` bytes (default 32). */
export async function hkdfSha256(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array | string,
  length = 32,
): Promise<Uint8Array> {
  if (!Number.isInteger(length) || length < 1 || length > MAX_HKDF_LENGTH) {
    throw new RangeError(`"length" expected 1..${MAX_HKDF_LENGTH}, got ${length}`);
  }
  const infoBytes = typeof info === "string" ? utf8ToBytes(info) : info;
  return defaultBackend().hkdfSha256(ikm, salt, infoBytes, length);
}

/** hmacKey(secret, info) = HKDF-SHA256(ikm = secret, salt = empty, info, 32). */
export async function hmacKey(secret: Uint8Array, info: Uint8Array | string): Promise<Uint8Array> {
  return hkdfSha256(secret, new Uint8Array(0), info, 32);
}

/** HMAC-SHA256(key, msg). */
export async function hmacSha256(key: Uint8Array, msg: Uint8Array): Promise<Uint8Array> {
  return defaultBackend().hmacSha256(key, msg);
}

/** Alias of {@link hmacSha256}: the signature `HMAC-SHA256(hmacKey, msg)`. */
export const hmac = hmacSha256;

/** True when `mac` is HMAC-SHA256(key, msg); compares without early exit. */
export async function verifyHmac(key: Uint8Array, msg: Uint8Array, mac: Uint8Array): Promise<boolean> {
  const expected = await hmacSha256(key, msg);
  if (expected.length !== mac.length) return false;
  let diff = 0;
  for (let i = 0; i < mac.length; i++) diff |= expected[i]! ^ mac[i]!;
  return diff === 0;
}
