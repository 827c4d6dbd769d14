/**
 * Native fast paths for bulk work (listing invites, reading thousands of messages). Where the
 * runtime is Node, `node:crypto` (OpenSSL) does HKDF, AES-256-GCM, ECDSA verification and the
 * X coordinate of ECDH synchronously, several times faster than WebCrypto's async calls or pure
 * JS. The module is found with `process.getBuiltinModule`, so nothing here imports `node:` and
 * browser bundles stay clean; elsewhere {@link nativeCrypto} is undefined and callers use crypto/.
 */
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { concatBytes } from "@noble/hashes/utils.js";

type NodeCrypto = typeof import("node:crypto");

export interface NativeCrypto {
  /** HKDF-SHA256(ikm, salt, info) → 32 bytes. */
  hkdf32(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array): Uint8Array;
  /** AES-256-GCM open of `ciphertext ‖ tag`; undefined when the tag does not verify. */
  gcmOpen(
    key: Uint8Array,
    nonce: Uint8Array,
    payload: Uint8Array,
    aad: Uint8Array | undefined,
  ): Uint8Array | undefined;
  /** Strict (low-S) ECDSA verification of a compact signature over sha256(data). */
  verifySha256(pub65: Uint8Array, data: Uint8Array, sig64: Uint8Array): boolean;
  /**
   * priv·pub as the two 65-byte points 04‖X‖Y with its X coordinate (even Y first): OpenSSL's
   * ECDH yields only X, and which Y is the product is left for the caller to settle (by trial
   * decryption). Throws on an invalid point.
   */
  ecdhPoints(priv32: Uint8Array, pub65: Uint8Array): [Uint8Array, Uint8Array];
}

const EMPTY = new Uint8Array(0);
const HALF_N = secp256k1.Point.CURVE().n >> 1n;
const SPKI_PREFIX = Uint8Array.from([
  0x30, 0x56, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04,
  0x00, 0x0a, 0x03, 0x42, 0x00,
]);
const MAX_CACHED_KEYS = 4096;

function hex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

function load(): NodeCrypto | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    const mod = proc?.getBuiltinModule?.("node:crypto") as NodeCrypto | undefined;
    if (!mod?.getCurves?.().includes("secp256k1")) return undefined;
    return mod;
  } catch {
    return undefined;
  }
}

/** SEC1 `ECPrivateKey` DER for a secp256k1 scalar: prefix ‖ d ‖ suffix (curve OID). */
const SEC1_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x01, 0x04, 0x20]);
const SEC1_SUFFIX = Uint8Array.from([0xa0, 0x07, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a]);

/** A bounded memo: cleared whole when full (the working set of a listing is small). */
function memo<V>(limit: number, build: (bytes: Uint8Array) => V): (bytes: Uint8Array) => V {
  const m = new Map<string, V>();
  return (bytes) => {
    const k = hex(bytes);
    let v = m.get(k);
    if (v === undefined) {
      v = build(bytes);
      if (m.size >= limit) m.clear();
      m.set(k, v);
    }
    return v;
  };
}

function make(c: NodeCrypto): NativeCrypto {
  // One KeyObject per key serves both signature checks and ECDH: importing a key costs OpenSSL
  // about a quarter of a scalar multiplication, and a peer's keys are used several times.
  const publicKey = memo(MAX_CACHED_KEYS, (pub65) =>
    c.createPublicKey({ key: concatBytes(SPKI_PREFIX, pub65) as Buffer, format: "der", type: "spki" }),
  );
  const privateKey = memo(64, (priv32) =>
    c.createPrivateKey({
      key: concatBytes(SEC1_PREFIX, priv32, SEC1_SUFFIX) as Buffer,
      format: "der",
      type: "sec1",
    }),
  );
  return {
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
    verifySha256(pub65, data, sig64) {
      if (sig64.length !== 64 || pub65.length !== 65 || pub65[0] !== 4) return false;
      let s = 0n;
      for (let i = 32; i < 64; i++) s = (s << 8n) | BigInt(sig64[i]!);
      if (s === 0n || s > HALF_N) return false;
      try {
        return c.verify("sha256", data, { key: publicKey(pub65), dsaEncoding: "ieee-p1363" }, sig64);
      } catch {
        return false;
      }
    },
    ecdhPoints(priv32, pub65) {
      const x = c.diffieHellman({ privateKey: privateKey(priv32), publicKey: publicKey(pub65) });
      // Both points with that X, decompressed by OpenSSL: even Y (02 ‖ X), then odd Y (03 ‖ X).
      const lift = (prefix: number) =>
        new Uint8Array(
          c.ECDH.convertKey(
            concatBytes(Uint8Array.of(prefix), x) as Buffer,
            "secp256k1",
            undefined,
            undefined,
            "uncompressed",
          ) as Buffer,
        );
      return [lift(2), lift(3)];
    },
  };
}

const loaded = load();

/** The native fast paths, or undefined outside Node. */
export const nativeCrypto: NativeCrypto | undefined = loaded ? make(loaded) : undefined;

export { EMPTY as EMPTY_BYTES };
