/**
 * Native symmetric fast paths for bulk work (listing invites, reading thousands of messages).
 * Where the runtime is Node, `node:crypto` (OpenSSL) does HKDF and AES-256-GCM synchronously,
 * several times faster than WebCrypto's async calls or pure JS. (Curve operations run on the
 * libsecp256k1 backend of @xmtp-ts/protocol everywhere.) The module is found with
 * `process.getBuiltinModule`, so nothing here imports `node:` and browser bundles stay clean;
 * elsewhere {@link nativeCrypto} is undefined and callers use crypto/.
 */

type NodeCrypto = typeof import("node:crypto");

export interface NativeCrypto {
  /** SHA-256. */
  sha256(b: Uint8Array): Uint8Array;
  /** HKDF-SHA256(ikm, salt, info) → 32 bytes. */
  hkdf32(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array): Uint8Array;
  /** AES-256-GCM open of `ciphertext ‖ tag`; undefined when the tag does not verify. */
  gcmOpen(
    key: Uint8Array,
    nonce: Uint8Array,
    payload: Uint8Array,
    aad: Uint8Array | undefined,
  ): Uint8Array | undefined;
}

const EMPTY = new Uint8Array(0);

function load(): NodeCrypto | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    return proc?.getBuiltinModule?.("node:crypto") as NodeCrypto | undefined;
  } catch {
    return undefined;
  }
}

function make(c: NodeCrypto): NativeCrypto {
  return {
    sha256(b) {
      const d = c.createHash("sha256").update(b).digest();
      return new Uint8Array(d.buffer, d.byteOffset, d.length);
    },
    hkdf32(ikm, salt, info) {
      return new Uint8Array(c.hkdfSync("sha256", ikm, salt, info, 32));
    },
    gcmOpen(key, nonce, payload, aad) {
      if (payload.length < 16) return undefined;
      const d = c.createDecipheriv("aes-256-gcm", key, nonce);
      if (aad) d.setAAD(aad);
      d.setAuthTag(payload.subarray(payload.length - 16));
      const head = d.update(payload.subarray(0, payload.length - 16));
      try {
        const tail = d.final();
        if (tail.length === 0) return new Uint8Array(head.buffer, head.byteOffset, head.length);
        const out = new Uint8Array(head.length + tail.length);
        out.set(head, 0);
        out.set(tail, head.length);
        return out;
      } catch {
        return undefined;
      }
    },
  };
}

const loaded = load();

/** The native fast paths, or undefined outside Node. */
export const nativeCrypto: NativeCrypto | undefined = loaded ? make(loaded) : undefined;

export { EMPTY as EMPTY_BYTES };
