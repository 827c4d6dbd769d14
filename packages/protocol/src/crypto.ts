/**
 * Pinned secp256k1 and hash primitives (protocol.md §5.1): 32-byte private keys, 65-byte
 * uncompressed public keys, 64-byte compact signatures with recovery id 0/1, RFC 6979
 * deterministic low-S signing, strict verification. The curve operations run on the backend of
 * secp256k1.ts (libsecp256k1 in WebAssembly once loaded, @noble/curves until then); hashes are
 * @noble/hashes.
 */
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import { type CompactSignature, secp256k1Backend } from "./secp256k1.js";

export type { CompactSignature } from "./secp256k1.js";

/** Throws `"<name>" expected <n> bytes, got <m>` unless `value` is a Uint8Array of exactly `len` bytes. */
export function expectBytes(name: string, value: Uint8Array, len: number): void {
  if (!(value instanceof Uint8Array))
    throw new TypeError(`"${name}" expected Uint8Array, got ${typeof value}`);
  if (value.length !== len) throw new RangeError(`"${name}" expected ${len} bytes, got ${value.length}`);
}

/** Throws unless `pub` is a 65-byte `04 ‖ X ‖ Y` key. */
export function expectPublicKey(pub: Uint8Array, name = "publicKey"): void {
  expectBytes(name, pub, 65);
  if (pub[0] !== 0x04) {
    throw new RangeError(
      `"${name}" expected uncompressed prefix 0x04, got 0x${pub[0]!.toString(16).padStart(2, "0")}`,
    );
  }
}

function expectRecovery(recovery: number): void {
  if (recovery !== 0 && recovery !== 1) throw new RangeError(`"recovery" expected 0 or 1, got ${recovery}`);
}

/** SHA-256. */
export function sha256(b: Uint8Array): Uint8Array {
  return nobleSha256(b);
}

/** Keccak-256 (Ethereum's, not SHA3-256). */
export function keccak256(b: Uint8Array): Uint8Array {
  return keccak_256(b);
}

/** EIP-191 `personal_sign` hash: keccak256("\x19Ethereum Signed Message:\n" + byteLength + text). */
export function eip191Hash(text: string): Uint8Array {
  const body = utf8ToBytes(text);
  const prefix = utf8ToBytes(`\x19Ethereum Signed Message:\n${body.length}`);
  const all = new Uint8Array(prefix.length + body.length);
  all.set(prefix, 0);
  all.set(body, prefix.length);
  return keccak_256(all);
}

/** The 65-byte uncompressed public key of a 32-byte private key. */
export function getPublicKey(priv32: Uint8Array): Uint8Array {
  expectBytes("privateKey", priv32, 32);
  return secp256k1Backend().getPublicKey(priv32);
}

/** True when `priv32` is a valid secp256k1 private key (32 bytes, 0 < k < n). */
export function isValidPrivateKey(priv32: Uint8Array): boolean {
  return priv32 instanceof Uint8Array && priv32.length === 32 && secp256k1.utils.isValidSecretKey(priv32);
}

/** A fresh random private key from the platform CSPRNG. */
export function randomPrivateKey(): Uint8Array {
  return secp256k1.utils.randomSecretKey();
}

/** The EIP-55 address of a 65-byte uncompressed public key. */
export function publicKeyToAddress(pub65: Uint8Array): string {
  expectPublicKey(pub65);
  const hash = keccak_256(pub65.subarray(1));
  return toChecksumAddress(`0x${bytesToHex(hash.subarray(12))}`);
}

const ADDRESS_RE = /^0x[0-9a-fA-F]{40}$/;

/** The EIP-55 form of a `0x` + 40-hex address in any case; throws on anything else. */
export function toChecksumAddress(addr: string): string {
  if (typeof addr !== "string" || !ADDRESS_RE.test(addr))
    throw new RangeError(`invalid address: ${String(addr)}`);
  const lower = addr.slice(2).toLowerCase();
  const hash = bytesToHex(keccak_256(utf8ToBytes(lower)));
  let out = "0x";
  for (let i = 0; i < 40; i++) {
    const c = lower[i]!;
    out += Number.parseInt(hash[i]!, 16) >= 8 ? c.toUpperCase() : c;
  }
  return out;
}

/**
 * True for `0x` + 40 hex digits that are all-lowercase, all-uppercase, or correctly EIP-55
 * checksummed (mixed case with a wrong checksum is rejected, as viem does).
 */
export function isAddress(s: string): boolean {
  if (typeof s !== "string" || !ADDRESS_RE.test(s)) return false;
  const body = s.slice(2);
  if (body === body.toLowerCase() || body === body.toUpperCase()) return true;
  return toChecksumAddress(s) === s;
}

/** RFC 6979 deterministic, low-S compact signature of a 32-byte digest. */
export function signCompact(priv32: Uint8Array, digest32: Uint8Array): CompactSignature {
  expectBytes("privateKey", priv32, 32);
  expectBytes("digest", digest32, 32);
  return secp256k1Backend().sign(priv32, digest32);
}

/** Strict verification of a 64-byte compact signature over a 32-byte digest: high-S is rejected. */
export function verifyCompact(pub65: Uint8Array, digest32: Uint8Array, sig64: Uint8Array): boolean {
  expectPublicKey(pub65);
  expectBytes("digest", digest32, 32);
  expectBytes("signature", sig64, 64);
  return secp256k1Backend().verify(pub65, digest32, sig64);
}

/** Recovers the 65-byte public key that made `sig64` (recovery 0/1) over `digest32`; throws if none. */
export function recoverPublicKey(digest32: Uint8Array, sig64: Uint8Array, recovery: number): Uint8Array {
  expectBytes("digest", digest32, 32);
  expectBytes("signature", sig64, 64);
  expectRecovery(recovery);
  return secp256k1Backend().recover(digest32, sig64, recovery);
}

/**
 * Splits a 65-byte wallet signature `r ‖ s ‖ v` into compact bytes and a recovery id, accepting
 * v ∈ {27, 28} or {0, 1} (protocol.md §5.3 step 4).
 */
export function splitWalletSignature(sig65: Uint8Array): CompactSignature {
  expectBytes("walletSignature", sig65, 65);
  const v = sig65[64]!;
  if (v !== 0 && v !== 1 && v !== 27 && v !== 28)
    throw new RangeError(`"v" expected 0, 1, 27 or 28, got ${v}`);
  const normalized = v < 27 ? v + 27 : v;
  return { bytes: sig65.slice(0, 64), recovery: 1 - (normalized % 2) };
}

/** The EIP-55 address whose wallet made the 65-byte `personal_sign` signature over `text`; throws if none. */
export function recoverWalletAddress(text: string, sig65: Uint8Array): string {
  const { bytes, recovery } = splitWalletSignature(sig65);
  return publicKeyToAddress(recoverPublicKey(eip191Hash(text), bytes, recovery));
}

/** The secp256k1 ECDH shared point, 65 bytes uncompressed (protocol.md §7: not just X). */
export function ecdhSharedPoint(priv32: Uint8Array, pub65: Uint8Array): Uint8Array {
  expectBytes("privateKey", priv32, 32);
  expectPublicKey(pub65);
  return secp256k1Backend().ecdh(priv32, pub65);
}
