/**
 * The §6.1 construction for remote attachment blobs, over WebCrypto (Node ≥ 20 and browsers):
 * key = HKDF-SHA256(secret, salt, info = empty, 32 bytes); payload = AES-256-GCM(key, nonce) with the
 * 16-byte tag appended. Parameters are pinned and checked; no primitive is implemented here.
 */
import { ContentError } from "./errors.js";

const subtle = (): SubtleCrypto => {
  const s = globalThis.crypto?.subtle;
  if (!s) throw new ContentError("unsupported", "WebCrypto (crypto.subtle) is not available in this runtime");
  return s;
};

function expectLength(name: string, b: Uint8Array, len: number): void {
  if (!(b instanceof Uint8Array)) throw new ContentError("invalid", `"${name}" expected Uint8Array`);
  if (b.length !== len) throw new ContentError("invalid", `"${name}" expected ${len} bytes, got ${b.length}`);
}

async function aesKey(secret: Uint8Array, salt: Uint8Array, usage: KeyUsage): Promise<CryptoKey> {
  const ikm = await subtle().importKey("raw", secret as BufferSource, "HKDF", false, ["deriveKey"]);
  return subtle().deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: salt as BufferSource, info: new Uint8Array(0) },
    ikm,
    { name: "AES-GCM", length: 256 },
    false,
    [usage],
  );
}

/** Encrypts with a fresh 32-byte salt and 12-byte nonce. */
export async function seal(
  plain: Uint8Array,
  secret: Uint8Array,
): Promise<{ salt: Uint8Array; nonce: Uint8Array; payload: Uint8Array }> {
  expectLength("secret", secret, 32);
  const salt = globalThis.crypto.getRandomValues(new Uint8Array(32));
  const nonce = globalThis.crypto.getRandomValues(new Uint8Array(12));
  const key = await aesKey(secret, salt, "encrypt");
  const payload = new Uint8Array(
    await subtle().encrypt({ name: "AES-GCM", iv: nonce as BufferSource }, key, plain as BufferSource),
  );
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
  if (payload.length < 16)
    throw new ContentError("malformed", `"payload" expected at least 16 bytes, got ${payload.length}`);
  const key = await aesKey(secret, salt, "decrypt");
  try {
    return new Uint8Array(
      await subtle().decrypt({ name: "AES-GCM", iv: nonce as BufferSource }, key, payload as BufferSource),
    );
  } catch (err) {
    throw new ContentError("invalid", "remote attachment does not decrypt (wrong key or tampered payload)", {
      cause: err,
    });
  }
}

/** SHA-256, lowercase hex. */
export async function sha256Hex(data: Uint8Array): Promise<string> {
  return toHex(new Uint8Array(await subtle().digest("SHA-256", data as BufferSource)));
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
