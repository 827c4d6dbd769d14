/**
 * The protocol.md §6.1 construction for remote attachment blobs, through the shared crypto/ wrappers:
 * key = HKDF-SHA256(secret, salt, info = empty, 32 bytes); payload = AES-256-GCM(key, nonce) with the
 * 16-byte tag appended, no AAD. Blobs may be larger than an envelope, so this does not use
 * `crypto/decrypt` (which caps payloads at the message size); the parameters are pinned here.
 */
import { randomBytes } from "@noble/hashes/utils.js";
import { sha256 } from "@xmtp-ts/protocol";
import { defaultBackend } from "../crypto/backend.js";
import { hkdfSha256 } from "../crypto/hkdf.js";
import { ContentError } from "./errors.js";

function expectLength(name: string, b: Uint8Array, len: number): void {
  if (!(b instanceof Uint8Array)) throw new ContentError("invalid", `"${name}" expected Uint8Array`);
  if (b.length !== len) throw new ContentError("invalid", `"${name}" expected ${len} bytes, got ${b.length}`);
}

const aesKey = (secret: Uint8Array, salt: Uint8Array) => hkdfSha256(secret, salt, new Uint8Array(0), 32);

/** Encrypts with a fresh 32-byte salt and 12-byte nonce. */
export async function seal(
  plain: Uint8Array,
  secret: Uint8Array,
): Promise<{ salt: Uint8Array; nonce: Uint8Array; payload: Uint8Array }> {
  expectLength("secret", secret, 32);
  const salt = randomBytes(32);
  const nonce = randomBytes(12);
  const payload = await defaultBackend().aesGcmEncrypt(await aesKey(secret, salt), nonce, plain);
  return { salt, nonce, payload };
}

/** Decrypts; throws `ContentError` on wrong lengths or a tag mismatch. */
export async function open(
  payload: Uint8Array,
  secret: Uint8Array,
  salt: Uint8Array,
  nonce: Uint8Array,
): Promise<Uint8Array> {
  expectLength("secret", secret, 32);
  expectLength("salt", salt, 32);
  expectLength("nonce", nonce, 12);
  if (payload.length < 16) {
    throw new ContentError("malformed", `"payload" expected at least 16 bytes, got ${payload.length}`);
  }
  const key = await aesKey(secret, salt);
  try {
    return await defaultBackend().aesGcmDecrypt(key, nonce, payload);
  } catch (err) {
    throw new ContentError("invalid", "remote attachment does not decrypt (wrong key or tampered payload)", {
      cause: err,
    });
  }
}

/** SHA-256, lowercase hex. */
export async function sha256Hex(data: Uint8Array): Promise<string> {
  return toHex(sha256(data));
}

export function toHex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

/** Parses lowercase/uppercase hex of exactly `len` bytes. */
export function fromHex(name: string, hex: string | undefined, len: number): Uint8Array {
  if (typeof hex !== "string" || hex.length !== len * 2 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new ContentError("invalid", `"${name}" expected ${len} bytes of hex`);
  }
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}
