/**
 * The symmetric primitives behind crypto/: WebCrypto (`globalThis.crypto.subtle`, native in Node 20+
 * and browsers) for AES-GCM, and pure-JS noble for HKDF/HMAC and wherever WebCrypto is missing
 * (e.g. insecure browser contexts). Both produce identical bytes; tests check them against each other.
 */
import { gcm } from "@noble/ciphers/aes.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";

/** The primitives every backend provides; inputs are validated by the callers in crypto/. */
export interface CryptoBackend {
  readonly name: string;
  /** HKDF-SHA256 producing `length` bytes. */
  hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Promise<Uint8Array>;
  /** AES-256-GCM; returns `ciphertext ‖ 16-byte tag`. */
  aesGcmEncrypt(key: Uint8Array, nonce: Uint8Array, plain: Uint8Array, aad?: Uint8Array): Promise<Uint8Array>;
  /** AES-256-GCM open of `ciphertext ‖ tag`; rejects on tag mismatch. */
  aesGcmDecrypt(
    key: Uint8Array,
    nonce: Uint8Array,
    payload: Uint8Array,
    aad?: Uint8Array,
  ): Promise<Uint8Array>;
  /** HMAC-SHA256. */
  hmacSha256(key: Uint8Array, msg: Uint8Array): Promise<Uint8Array>;
}

// WebCrypto's typings want ArrayBuffer-backed views; our Uint8Arrays are, at run time.
type Buf = Uint8Array<ArrayBuffer>;
const buf = (b: Uint8Array) => b as Buf;
/** WebCrypto's `SubtleCrypto`, named through the global so the types need neither DOM nor node. */
type Subtle = typeof globalThis.crypto.subtle;

/** A backend over a WebCrypto `SubtleCrypto`. */
export function webCryptoBackend(subtle: Subtle): CryptoBackend {
  return {
    name: "webcrypto",
    async hkdfSha256(ikm, salt, info, length) {
      const key = await subtle.importKey("raw", buf(ikm), "HKDF", false, ["deriveBits"]);
      const bits = await subtle.deriveBits(
        { name: "HKDF", hash: "SHA-256", salt: buf(salt), info: buf(info) },
        key,
        length * 8,
      );
      return new Uint8Array(bits);
    },
    async aesGcmEncrypt(key, nonce, plain, aad) {
      const k = await subtle.importKey("raw", buf(key), "AES-GCM", false, ["encrypt"]);
      const params: AesGcmParams = { name: "AES-GCM", iv: buf(nonce), tagLength: 128 };
      if (aad) params.additionalData = buf(aad);
      return new Uint8Array(await subtle.encrypt(params, k, buf(plain)));
    },
    async aesGcmDecrypt(key, nonce, payload, aad) {
      const k = await subtle.importKey("raw", buf(key), "AES-GCM", false, ["decrypt"]);
      const params: AesGcmParams = { name: "AES-GCM", iv: buf(nonce), tagLength: 128 };
      if (aad) params.additionalData = buf(aad);
      return new Uint8Array(await subtle.decrypt(params, k, buf(payload)));
    },
    async hmacSha256(key, msg) {
      // WebCrypto refuses zero-length HMAC keys; HMAC itself defines them (zero-padded block).
      if (key.length === 0) return hmac(sha256, key, msg);
      const k = await subtle.importKey("raw", buf(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
      return new Uint8Array(await subtle.sign("HMAC", k, buf(msg)));
    },
  };
}

/** The pure-JS backend (@noble/hashes, @noble/ciphers). */
export const nobleBackend: CryptoBackend = {
  name: "noble",
  async hkdfSha256(ikm, salt, info, length) {
    return hkdf(sha256, ikm, salt, info, length);
  },
  async aesGcmEncrypt(key, nonce, plain, aad) {
    return gcm(key, nonce, aad).encrypt(plain);
  },
  async aesGcmDecrypt(key, nonce, payload, aad) {
    return gcm(key, nonce, aad).decrypt(payload);
  },
  async hmacSha256(key, msg) {
    return hmac(sha256, key, msg);
  },
};

let cached: CryptoBackend | undefined;

/**
 * AES-GCM from WebCrypto when the platform has it (native, several times faster than pure JS from
 * 256 B up), HKDF and HMAC from noble always: their inputs are tiny, and two async WebCrypto calls
 * (importKey + derive/sign) cost about twice as much as computing them in JS.
 */
export function defaultBackend(): CryptoBackend {
  if (!cached) {
    const subtle = (globalThis as { crypto?: { subtle?: Subtle } }).crypto?.subtle;
    if (!subtle) {
      cached = nobleBackend;
    } else {
      const web = webCryptoBackend(subtle);
      cached = {
        name: "webcrypto",
        hkdfSha256: nobleBackend.hkdfSha256,
        hmacSha256: nobleBackend.hmacSha256,
        aesGcmEncrypt: web.aesGcmEncrypt,
        aesGcmDecrypt: web.aesGcmDecrypt,
      };
    }
  }
  return cached;
}
