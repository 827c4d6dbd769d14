/**
 * Native fast paths for bulk work (listing invites, reading thousands of messages). Where the
 * runtime is Node, `node:crypto` (OpenSSL) does HKDF, AES-256-GCM, ECDSA verification and the
 * X coordinate of ECDH synchronously, several times faster than WebCrypto's async calls or pure
 * JS. The module is found with `process.getBuiltinModule`, so nothing here imports `node:` and
 * browser bundles stay clean; elsewhere {@link nativeCrypto} is undefined and callers use crypto/.
 */
import { secp256k1 } from "@noble/curves/secp256k1.js";

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
  /** The X coordinate (32 bytes) of priv·pub; throws on an invalid point. */
  ecdhX(priv32: Uint8Array, pub65: Uint8Array): Uint8Array;
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

function make(c: NodeCrypto): NativeCrypto {
  const verifyKeys = new Map<string, ReturnType<NodeCrypto["createPublicKey"]>>();
  const ecdhs = new Map<string, ReturnType<NodeCrypto["createECDH"]>>();
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
      const k = hex(pub65);
      let key = verifyKeys.get(k);
      if (!key) {
        try {
          const der = new Uint8Array(SPKI_PREFIX.length + 65);
          der.set(SPKI_PREFIX, 0);
          der.set(pub65, SPKI_PREFIX.length);
          key = c.createPublicKey({ key: der as unknown as Buffer, format: "der", type: "spki" });
        } catch {
          return false;
        }
        if (verifyKeys.size >= MAX_CACHED_KEYS) verifyKeys.clear();
        verifyKeys.set(k, key);
      }
      try {
        return c.verify("sha256", data, { key, dsaEncoding: "ieee-p1363" }, sig64);
      } catch {
        return false;
      }
    },
    ecdhX(priv32, pub65) {
      const k = hex(priv32);
      let e = ecdhs.get(k);
      if (!e) {
        e = c.createECDH("secp256k1");
        e.setPrivateKey(priv32);
        if (ecdhs.size >= 64) ecdhs.clear();
        ecdhs.set(k, e);
      }
      return new Uint8Array(e.computeSecret(pub65));
    },
  };
}

const loaded = load();

/** The native fast paths, or undefined outside Node. */
export const nativeCrypto: NativeCrypto | undefined = loaded ? make(loaded) : undefined;

/** Both 65-byte points with X coordinate `x` (even Y first); throws when `x` is not on the curve. */
export function pointsWithX(x: Uint8Array): [Uint8Array, Uint8Array] {
  const c = new Uint8Array(33);
  c[0] = 2;
  c.set(x, 1);
  const p = secp256k1.Point.fromBytes(c);
  return [p.toBytes(false), p.negate().toBytes(false)];
}

export { EMPTY as EMPTY_BYTES };
