import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { secp256k1 as noble } from "@noble/curves/secp256k1.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { verifyAuthToken } from "./auth.js";
import { ecdhSharedPoint, getPublicKey, recoverPublicKey, signCompact } from "./crypto.js";
import {
  initSecp256k1,
  nobleSecp256k1,
  type Secp256k1Backend,
  secp256k1Backend,
  secp256k1LoadError,
  useSecp256k1Backend,
} from "./secp256k1.js";
import { loadWasmSecp256k1 } from "./secp256k1-wasm.js";
import { hex, vectors } from "./test-vectors.js";

const N = noble.Point.CURVE().n;
const wasmPath = pathToFileURL(
  join(dirname(createRequire(import.meta.url).resolve("tiny-secp256k1")), "../secp256k1.wasm"),
);
const wasm = await loadWasmSecp256k1();
const backends: [string, Secp256k1Backend][] = [
  ["libsecp256k1-wasm", wasm],
  ["noble", nobleSecp256k1],
];
const alice = vectors.identities.alice;
const bob = vectors.identities.bob;

const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const privateKey = bytes32.filter((k) => noble.utils.isValidSecretKey(k));
const scalarHex = (x: bigint) => x.toString(16).padStart(64, "0");

/** Runs `f` on both backends and expects the same outcome: equal values, or both throwing. */
function same<T>(f: (b: Secp256k1Backend) => T): T | "throws" {
  const run = (b: Secp256k1Backend) => {
    try {
      return f(b);
    } catch {
      return "throws" as const;
    }
  };
  const a = run(wasm);
  expect(a).toEqual(run(nobleSecp256k1));
  return a;
}

describe("loading", () => {
  test("the package loads libsecp256k1 by itself in Node and makes it the backend", async () => {
    expect((await initSecp256k1()).name).toBe("libsecp256k1-wasm");
    expect(secp256k1Backend().name).toBe("libsecp256k1-wasm");
    expect(secp256k1LoadError()).toBeUndefined();
  });

  test("explicit sources: bytes, a file URL, a path, a compiled module, a fetch Response", async () => {
    const bin = readFileSync(wasmPath);
    const module = await WebAssembly.compile(bin);
    for (const source of [bin, wasmPath, wasmPath.pathname, module, new Response(bin)]) {
      const b = await loadWasmSecp256k1(source);
      expect(bytesToHex(b.getPublicKey(hex(alice.identity_key.private_key_hex)))).toBe(
        alice.identity_key.public_key_hex,
      );
    }
  });

  test("a missing or broken binary rejects the load; the backend in use stays usable", async () => {
    await expect(loadWasmSecp256k1(new URL("./no-such.wasm", import.meta.url))).rejects.toThrow();
    await expect(loadWasmSecp256k1(new Uint8Array([0, 97, 115, 109, 9, 9, 9, 9]))).rejects.toThrow();
    await expect(loadWasmSecp256k1(new Response("nope", { status: 404 }))).rejects.toThrow();
    expect((await initSecp256k1(new URL("./no-such.wasm", import.meta.url))).name).toBe("libsecp256k1-wasm");
  });

  test("useSecp256k1Backend pins a backend until unpinned", async () => {
    useSecp256k1Backend(nobleSecp256k1);
    expect(secp256k1Backend().name).toBe("noble");
    await initSecp256k1();
    expect(secp256k1Backend().name).toBe("noble");
    useSecp256k1Backend(undefined);
    expect(secp256k1Backend().name).toBe("libsecp256k1-wasm");
  });
});

describe.each(backends)("vectors on %s", (_name, backend) => {
  beforeAll(() => useSecp256k1Backend(backend));
  afterAll(() => useSecp256k1Backend(undefined));

  test("public keys of both identities and pre-keys", () => {
    for (const id of [alice, bob]) {
      for (const k of [id.identity_key, id.pre_key]) {
        expect(bytesToHex(getPublicKey(hex(k.private_key_hex)))).toBe(k.public_key_hex);
      }
    }
  });

  test("the V2 message's RFC 6979 pre-key signature, its verification and recovery", () => {
    const ex = vectors.v2_message_example;
    const digest = hex(ex.signature_digest_hex);
    const sig = signCompact(hex(alice.pre_key.private_key_hex), digest);
    expect(bytesToHex(sig.bytes)).toBe(ex.pre_key_signature.bytes_hex);
    expect(sig.recovery).toBe(ex.pre_key_signature.recovery);
    expect(backend.verify(hex(alice.pre_key.public_key_hex), digest, sig.bytes)).toBe(true);
    expect(bytesToHex(recoverPublicKey(digest, sig.bytes, sig.recovery))).toBe(alice.pre_key.public_key_hex);
  });

  test("the 3DH secret's first point: Alice identity × Bob pre-key", () => {
    const dh1 = ecdhSharedPoint(hex(alice.identity_key.private_key_hex), hex(bob.pre_key.public_key_hex));
    expect(bytesToHex(dh1)).toBe(vectors.shared_secret_3dh.secret_hex.slice(0, 130));
  });

  test("the auth token signatures: the reference node's fixture and Alice's token", () => {
    const fx = vectors.auth_token.node_go_fixture;
    const v = verifyAuthToken(fx.token_base64, { nowNs: BigInt(fx.validate_at_ns) });
    expect(v.walletAddress).toBe(fx.wallet_address);
    const at = vectors.auth_token.alice_token;
    const sig = signCompact(hex(alice.identity_key.private_key_hex), keccak_256(hex(at.auth_data_bytes_hex)));
    expect(bytesToHex(sig.bytes)).toBe(at.auth_data_signature.bytes_hex);
    expect(sig.recovery).toBe(at.auth_data_signature.recovery);
  });
});

describe("property: both backends agree", () => {
  test("public key, signature bytes and recovery id, verification, recovery", () => {
    fc.assert(
      fc.property(privateKey, bytes32, (priv, digest) => {
        const pub = same((b) => b.getPublicKey(priv)) as Uint8Array;
        const sig = wasm.sign(priv, digest);
        expect(nobleSecp256k1.sign(priv, digest)).toEqual(sig);
        expect(BigInt(`0x${bytesToHex(sig.bytes.subarray(32))}`) <= N / 2n).toBe(true);
        expect(same((b) => b.verify(pub, digest, sig.bytes))).toBe(true);
        expect(same((b) => b.recover(digest, sig.bytes, sig.recovery))).toEqual(pub);
        const other = digest.slice();
        other[0]! ^= 1;
        expect(same((b) => b.verify(pub, other, sig.bytes))).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  test("ECDH: the same full point, and symmetric", () => {
    fc.assert(
      fc.property(privateKey, privateKey, (a, b) => {
        const pubB = wasm.getPublicKey(b);
        const ab = same((x) => x.ecdh(a, pubB)) as Uint8Array;
        expect(ab).toEqual(wasm.ecdh(b, wasm.getPublicKey(a)));
      }),
      { numRuns: 200 },
    );
  });

  test("high-S signatures: not valid, yet recover the same key", () => {
    fc.assert(
      fc.property(privateKey, bytes32, (priv, digest) => {
        const pub = wasm.getPublicKey(priv);
        const sig = wasm.sign(priv, digest);
        const s = BigInt(`0x${bytesToHex(sig.bytes.subarray(32))}`);
        const high = sig.bytes.slice();
        high.set(hex(scalarHex(N - s)), 32);
        expect(same((b) => b.verify(pub, digest, high))).toBe(false);
        expect(same((b) => b.recover(digest, high, 1 - sig.recovery))).toEqual(pub);
      }),
      { numRuns: 100 },
    );
  });

  test("arbitrary signatures, keys and points: the same answer or both refuse", () => {
    const pointish = fc.uint8Array({ minLength: 64, maxLength: 64 }).map((xy) => Uint8Array.of(4, ...xy));
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 64, maxLength: 64 }),
        bytes32,
        fc.constantFrom(0, 1),
        privateKey,
        pointish,
        (sig, digest, recovery, priv, point) => {
          const pub = wasm.getPublicKey(priv);
          same((b) => b.verify(pub, digest, sig));
          same((b) => b.verify(point, digest, sig));
          same((b) => b.recover(digest, sig, recovery));
          expect(same((b) => b.ecdh(priv, point))).toBe("throws");
        },
      ),
      { numRuns: 200 },
    );
  });

  test("out-of-range scalars: zero, n and above are refused as keys; r or s ≥ n as signatures", () => {
    const pub = wasm.getPublicKey(hex(alice.identity_key.private_key_hex));
    const digest = hex(vectors.v2_message_example.signature_digest_hex);
    for (const k of [0n, N, N + 1n, (1n << 256n) - 1n]) {
      const priv = hex(scalarHex(k));
      expect(same((b) => b.getPublicKey(priv))).toBe("throws");
      expect(same((b) => b.sign(priv, digest))).toBe("throws");
      expect(same((b) => b.ecdh(priv, pub))).toBe("throws");
    }
    // The edges inside the range are keys: 1 and n − 1.
    for (const k of [1n, N - 1n]) expect(same((b) => b.ecdh(hex(scalarHex(k)), pub))).toHaveLength(65);
    const good = hex(vectors.v2_message_example.pre_key_signature.bytes_hex);
    for (const [r, s] of [
      [N, 1n],
      [1n, N],
      [0n, 1n],
      [1n, 0n],
    ] as const) {
      const sig = hex(scalarHex(r) + scalarHex(s));
      expect(same((b) => b.verify(pub, digest, sig))).toBe(false);
      expect(same((b) => b.recover(digest, sig, 0))).toBe("throws");
    }
    // A valid signature, by another key (Alice's pre-key).
    expect(same((b) => b.verify(pub, digest, good))).toBe(false);
  });
});
