/** Byte helpers used across the SDK (browser-safe re-exports of noble's utilities). */
export { bytesToHex, concatBytes, hexToBytes, randomBytes, utf8ToBytes } from "@noble/hashes/utils.js";

/** Constant-time-ish equality of two byte arrays (length leaks, contents do not). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Throws `"<name>" expected <n> bytes, got <m>` unless `value` has exactly `len` bytes. */
export { expectBytes } from "@xmtp-ts/protocol";

/** Standard padded base64, in browsers and Node alike (`btoa` over chunks of the bytes). */
export function toBase64(b: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < b.length; i += 0x8000) bin += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(bin);
}

/** The bytes of standard base64; throws on anything `atob` refuses. */
export function fromBase64(s: string): Uint8Array {
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}
