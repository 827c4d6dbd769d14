/** Thin, pinned wrappers over WebCrypto/noble: ECDH, HKDF, AES-256-GCM `Ciphertext`, HMAC. */
export * from "./backend.js";
export * from "./bytes.js";
export * from "./ciphertext.js";
export * from "./ecdh.js";
export * from "./hkdf.js";
