/**
 * The symmetric primitives conversations need (protocol.md §6), pinned: HKDF-SHA256, HMAC-SHA256,
 * and the `Ciphertext.aes256_gcm_hkdf_sha256` construction (32-byte salt, 12-byte nonce, tag
 * appended, AAD). AES-GCM runs on WebCrypto (native in Node and browsers); hashes on noble.
 */
import { create } from "@bufbuild/protobuf";
import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { type Ciphertext, CiphertextSchema } from "@xmtp-ts/proto";

const EMPTY = new Uint8Array(0);

/** HKDF-SHA256 with the given salt and info, 32 bytes out unless `length` says otherwise. */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length = 32): Uint8Array {
  return hkdf(nobleSha256, ikm, salt, info, length);
}

/** HMAC-SHA256. */
export function hmacSha256(key: Uint8Array, msg: Uint8Array): Uint8Array {
  return hmac(nobleSha256, key, msg);
}

/** `hmacKey(secret, info)` of protocol.md §6.3: HKDF-SHA256 with an empty salt. */
export function hmacKey(secret: Uint8Array, info: Uint8Array): Uint8Array {
  return hkdf(nobleSha256, secret, EMPTY, info, 32);
}

function subtle(): SubtleCrypto {
  const s = globalThis.crypto?.subtle;
  if (!s) throw new Error("WebCrypto (crypto.subtle) is not available in this runtime");
  return s;
}

function randomBytes(n: number): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

// WebCrypto wants ArrayBuffer-backed views; copy shared/pooled views defensively.
const buf = (b: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(b) as Uint8Array<ArrayBuffer>;

async function aesKey(secret: Uint8Array, salt: Uint8Array, usage: KeyUsage): Promise<CryptoKey> {
  const raw = hkdfSha256(secret, salt, EMPTY, 32);
  return subtle().importKey("raw", buf(raw), "AES-GCM", false, [usage]);
}

/** Encrypts `plain` under `secret` (HKDF with a fresh salt, AES-256-GCM with a fresh nonce). */
export async function encryptCiphertext(
  plain: Uint8Array,
  secret: Uint8Array,
  aad?: Uint8Array,
): Promise<Ciphertext> {
  const hkdfSalt = randomBytes(32);
  const gcmNonce = randomBytes(12);
  const key = await aesKey(secret, hkdfSalt, "encrypt");
  const params: AesGcmParams = { name: "AES-GCM", iv: buf(gcmNonce) };
  if (aad) params.additionalData = buf(aad);
  const payload = new Uint8Array(await subtle().encrypt(params, key, buf(plain)));
  return create(CiphertextSchema, {
    union: { case: "aes256GcmHkdfSha256", value: { hkdfSalt, gcmNonce, payload } },
  });
}

/** Checks the pinned lengths of a Ciphertext and returns its parts; throws a precise RangeError. */
export function ciphertextParts(c: Ciphertext | undefined): {
  hkdfSalt: Uint8Array;
  gcmNonce: Uint8Array;
  payload: Uint8Array;
} {
  if (c?.union.case !== "aes256GcmHkdfSha256")
    throw new RangeError("ciphertext is not aes256_gcm_hkdf_sha256");
  const { hkdfSalt, gcmNonce, payload } = c.union.value;
  if (hkdfSalt.length !== 32) throw new RangeError(`"hkdf_salt" expected 32 bytes, got ${hkdfSalt.length}`);
  if (gcmNonce.length !== 12) throw new RangeError(`"gcm_nonce" expected 12 bytes, got ${gcmNonce.length}`);
  if (payload.length < 16)
    throw new RangeError(`"payload" expected at least 16 bytes, got ${payload.length}`);
  return { hkdfSalt, gcmNonce, payload };
}

/** Decrypts a Ciphertext made by {@link encryptCiphertext}; throws on any tampering. */
export async function decryptCiphertext(
  c: Ciphertext | undefined,
  secret: Uint8Array,
  aad?: Uint8Array,
): Promise<Uint8Array> {
  const { hkdfSalt, gcmNonce, payload } = ciphertextParts(c);
  const key = await aesKey(secret, hkdfSalt, "decrypt");
  const params: AesGcmParams = { name: "AES-GCM", iv: buf(gcmNonce) };
  if (aad) params.additionalData = buf(aad);
  return new Uint8Array(await subtle().decrypt(params, key, buf(payload)));
}

export function sha256(b: Uint8Array): Uint8Array {
  return nobleSha256(b);
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function toHex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}
