import { secp256k1 } from "@noble/curves/secp256k1.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import {
  ecdhSharedPoint,
  eip191Hash,
  getPublicKey,
  isAddress,
  keccak256,
  publicKeyToAddress,
  randomPrivateKey,
  recoverPublicKey,
  sha256,
  signCompact,
  splitWalletSignature,
  toChecksumAddress,
  verifyCompact,
} from "./crypto.js";
import { hex, vectors } from "./test-vectors.js";

const alice = vectors.identities.alice;
const N = secp256k1.Point.CURVE().n;

describe("hashes", () => {
  test("sha256 and keccak256 known answers", () => {
    expect(bytesToHex(sha256(utf8ToBytes("abc")))).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    expect(bytesToHex(keccak256(new Uint8Array()))).toBe(
      "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
    );
  });

  test("eip191Hash of the vector's Create Identity text", () => {
    expect(bytesToHex(eip191Hash(alice.identity_key.create_identity_text))).toBe(
      alice.identity_key.create_identity_eip191_digest_hex,
    );
  });
});

describe("keys and addresses", () => {
  test("getPublicKey gives the vector's 65-byte keys", () => {
    expect(bytesToHex(getPublicKey(hex(alice.identity_key.private_key_hex)))).toBe(
      alice.identity_key.public_key_hex,
    );
    expect(bytesToHex(getPublicKey(hex(alice.pre_key.private_key_hex)))).toBe(alice.pre_key.public_key_hex);
  });

  test("EIP-55 checksums (EIP-55 spec examples)", () => {
    for (const a of [
      "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
      "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
      "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
      "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    ]) {
      expect(toChecksumAddress(a.toLowerCase())).toBe(a);
      expect(isAddress(a)).toBe(true);
    }
    expect(isAddress("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed")).toBe(true);
    expect(isAddress("0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED")).toBe(true);
    expect(isAddress("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD")).toBe(false);
    expect(isAddress("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe")).toBe(false);
    expect(isAddress("5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")).toBe(false);
    expect(() => toChecksumAddress("0xzz")).toThrow("invalid address");
  });

  test("publicKeyToAddress matches a key with a known address", () => {
    // Private key 1 → generator point, whose address is well known.
    const one = new Uint8Array(32);
    one[31] = 1;
    expect(publicKeyToAddress(getPublicKey(one))).toBe("0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf");
  });

  test("length and prefix validation messages", () => {
    const pub = getPublicKey(hex(alice.identity_key.private_key_hex));
    const compressed = secp256k1.getPublicKey(hex(alice.identity_key.private_key_hex), true);
    expect(() => publicKeyToAddress(compressed)).toThrow('"publicKey" expected 65 bytes, got 33');
    const badPrefix = pub.slice();
    badPrefix[0] = 2;
    expect(() => publicKeyToAddress(badPrefix)).toThrow(
      '"publicKey" expected uncompressed prefix 0x04, got 0x02',
    );
    expect(() => getPublicKey(new Uint8Array(31))).toThrow('"privateKey" expected 32 bytes, got 31');
    expect(() => signCompact(new Uint8Array(32).fill(1), new Uint8Array(33))).toThrow(
      '"digest" expected 32 bytes, got 33',
    );
    expect(() => verifyCompact(pub, new Uint8Array(32), new Uint8Array(65))).toThrow(
      '"signature" expected 64 bytes, got 65',
    );
    expect(() => recoverPublicKey(new Uint8Array(32), new Uint8Array(64).fill(1), 2)).toThrow(
      '"recovery" expected 0 or 1, got 2',
    );
    expect(() => splitWalletSignature(new Uint8Array(64))).toThrow(
      '"walletSignature" expected 65 bytes, got 64',
    );
  });
});

describe("signatures", () => {
  const ex = vectors.v2_message_example;

  test("signCompact is RFC 6979 deterministic: reproduces the V2 message pre-key signature", () => {
    const digest = sha256(new Uint8Array([...hex(ex.header_bytes_hex), ...hex(ex.encoded_content_hex)]));
    expect(bytesToHex(digest)).toBe(ex.signature_digest_hex);
    const sig = signCompact(hex(alice.pre_key.private_key_hex), digest);
    expect(bytesToHex(sig.bytes)).toBe(ex.pre_key_signature.bytes_hex);
    expect(sig.recovery).toBe(ex.pre_key_signature.recovery);
    const pub = hex(alice.pre_key.public_key_hex);
    expect(verifyCompact(pub, digest, sig.bytes)).toBe(true);
    expect(bytesToHex(recoverPublicKey(digest, sig.bytes, sig.recovery))).toBe(alice.pre_key.public_key_hex);
  });

  test("high-S signatures are rejected; tampered digests fail", () => {
    const digest = hex(ex.signature_digest_hex);
    const sig = hex(ex.pre_key_signature.bytes_hex);
    const pub = hex(alice.pre_key.public_key_hex);
    const s = BigInt(`0x${bytesToHex(sig.slice(32))}`);
    const highS = sig.slice();
    highS.set(hex((N - s).toString(16).padStart(64, "0")), 32);
    expect(verifyCompact(pub, digest, highS)).toBe(false);
    const tampered = digest.slice();
    tampered[0]! ^= 1;
    expect(verifyCompact(pub, tampered, sig)).toBe(false);
    expect(verifyCompact(pub, digest, new Uint8Array(64))).toBe(false);
  });

  test("property: sign → verify → recover round trip, always low-S", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (digest) => {
        const priv = randomPrivateKey();
        const pub = getPublicKey(priv);
        const sig = signCompact(priv, digest);
        expect(BigInt(`0x${bytesToHex(sig.bytes.slice(32))}`) <= N / 2n).toBe(true);
        expect(verifyCompact(pub, digest, sig.bytes)).toBe(true);
        expect(recoverPublicKey(digest, sig.bytes, sig.recovery)).toEqual(pub);
      }),
      { numRuns: 50 },
    );
  });

  test("splitWalletSignature maps v 27/28 and 0/1 to recovery 0/1", () => {
    const sig = new Uint8Array(65).fill(7);
    for (const [v, rec] of [
      [27, 0],
      [28, 1],
      [0, 0],
      [1, 1],
    ] as const) {
      sig[64] = v;
      const out = splitWalletSignature(sig);
      expect(out.recovery).toBe(rec);
      expect(out.bytes).toEqual(sig.slice(0, 64));
    }
    sig[64] = 29;
    expect(() => splitWalletSignature(sig)).toThrow('"v" expected 0, 1, 27 or 28, got 29');
  });

  test("ECDH returns the full 65-byte point, symmetric", () => {
    const a = randomPrivateKey();
    const b = randomPrivateKey();
    const ab = ecdhSharedPoint(a, getPublicKey(b));
    expect(ab.length).toBe(65);
    expect(ab[0]).toBe(4);
    expect(ab).toEqual(ecdhSharedPoint(b, getPublicKey(a)));
  });
});
