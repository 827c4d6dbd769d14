import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import {
  exportHmacKey,
  generateHmacSignature,
  hkdfHmacKey,
  Ciphertext as XCiphertext,
  decrypt as xDecrypt,
  encrypt as xEncrypt,
} from "@xmtp/xmtp-js";
import { CiphertextSchema } from "@xmtp-ts/proto";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { hex, vectors } from "../test-vectors.js";
import { type CryptoBackend, defaultBackend, nobleBackend, webCryptoBackend } from "./backend.js";
import { DecryptionError, decodeCiphertext, decrypt, encrypt } from "./ciphertext.js";
import { ecdh, getPublicKey, randomPrivateKey } from "./ecdh.js";
import { hkdfSha256, hmacKey, hmacSha256, verifyHmac } from "./hkdf.js";

const backends: CryptoBackend[] = [webCryptoBackend(globalThis.crypto.subtle), nobleBackend];

test("the default backend is WebCrypto on Node 20+", () => {
  expect(defaultBackend().name).toBe("webcrypto");
});

describe("vectors", () => {
  const km = vectors.deterministic_invite.key_material;
  const ex = vectors.v2_message_example;

  test("HKDF key material (salt, info) from the 3DH secret", async () => {
    const out = await hkdfSha256(
      hex(vectors.shared_secret_3dh.secret_hex),
      utf8ToBytes(km.hkdf_salt_utf8),
      km.hkdf_info_utf8,
      32,
    );
    expect(bytesToHex(out)).toBe(km.key_material_hex);
  });

  test.each(backends.map((b) => [b.name, b] as const))("sender HMAC keys (%s)", async (_n, backend) => {
    for (const k of vectors.sender_hmac_keys.keys) {
      const key = await backend.hkdfSha256(
        hex(km.key_material_hex),
        new Uint8Array(0),
        utf8ToBytes(k.hkdf_info_utf8),
        32,
      );
      expect(bytesToHex(key)).toBe(k.hmac_key_hex);
    }
  });

  test("V2 message sender HMAC", async () => {
    const key = await hmacKey(hex(km.key_material_hex), ex.sender_hmac.hkdf_info_utf8);
    expect(bytesToHex(key)).toBe(ex.sender_hmac.hmac_key_hex);
    const mac = await hmacSha256(key, hex(ex.header_bytes_hex));
    expect(bytesToHex(mac)).toBe(ex.sender_hmac.sender_hmac_hex);
    expect(await verifyHmac(key, hex(ex.header_bytes_hex), mac)).toBe(true);
    mac[0]! ^= 1;
    expect(await verifyHmac(key, hex(ex.header_bytes_hex), mac)).toBe(false);
  });

  test("ECDH: Alice identity × Bob pre-key is the first 65 bytes of the 3DH secret", () => {
    const a = vectors.identities.alice;
    const b = vectors.identities.bob;
    const dh1 = ecdh(hex(a.identity_key.private_key_hex), hex(b.pre_key.public_key_hex));
    expect(bytesToHex(dh1)).toBe(vectors.shared_secret_3dh.secret_hex.slice(0, 130));
  });
});

describe("Ciphertext", () => {
  const secret = new Uint8Array(65).fill(9);

  test("round trip with and without AAD; both backends agree byte for byte", async () => {
    const salt = new Uint8Array(32).fill(1);
    const nonce = new Uint8Array(12).fill(2);
    const plain = utf8ToBytes("hello xmtp");
    const aad = utf8ToBytes("header");
    const ct = await encrypt(plain, secret, aad, { hkdfSalt: salt, gcmNonce: nonce });
    const v = ct.union.value!;
    expect(v.payload.length).toBe(plain.length + 16);
    for (const b of backends) {
      const key = await b.hkdfSha256(secret, salt, new Uint8Array(0), 32);
      expect(await b.aesGcmEncrypt(key, nonce, plain, aad)).toEqual(v.payload);
      expect(await b.aesGcmDecrypt(key, nonce, v.payload, aad)).toEqual(plain);
    }
    expect(await decrypt(ct, secret, aad)).toEqual(plain);
    await expect(decrypt(ct, secret)).rejects.toBeInstanceOf(DecryptionError);
    await expect(decrypt(ct, secret, utf8ToBytes("other"))).rejects.toThrow("aes-256-gcm decryption failed");
    await expect(decrypt(ct, new Uint8Array(65).fill(8), aad)).rejects.toBeInstanceOf(DecryptionError);
    const noAad = await encrypt(plain, secret);
    expect(await decrypt(noAad, secret)).toEqual(plain);
  });

  test("tampered payload, salt or nonce fails", async () => {
    const ct = await encrypt(utf8ToBytes("x"), secret);
    for (const field of ["payload", "hkdfSalt", "gcmNonce"] as const) {
      const copy = fromBinary(CiphertextSchema, toBinary(CiphertextSchema, ct));
      copy.union.value![field][0]! ^= 1;
      await expect(decrypt(copy, secret)).rejects.toBeInstanceOf(DecryptionError);
    }
  });

  test("length validation with precise messages", async () => {
    const ct = await encrypt(utf8ToBytes("x"), secret);
    const edit = (f: (v: NonNullable<typeof ct.union.value>) => void) => {
      const c = fromBinary(CiphertextSchema, toBinary(CiphertextSchema, ct));
      f(c.union.value!);
      return toBinary(CiphertextSchema, c);
    };
    expect(() => decodeCiphertext(edit((v) => (v.hkdfSalt = new Uint8Array(16))))).toThrow(
      '"hkdfSalt" expected 32 bytes, got 16',
    );
    expect(() => decodeCiphertext(edit((v) => (v.gcmNonce = new Uint8Array(16))))).toThrow(
      '"gcmNonce" expected 12 bytes, got 16',
    );
    expect(() => decodeCiphertext(edit((v) => (v.payload = new Uint8Array(15))))).toThrow(
      '"payload" expected at least 16 bytes, got 15',
    );
    expect(() => decodeCiphertext(edit((v) => (v.payload = new Uint8Array(1_048_215))))).toThrow(
      '"payload" expected at most 1048214 bytes, got 1048215',
    );
    expect(() => decodeCiphertext(new Uint8Array(0))).toThrow("unsupported ciphertext");
    expect(() => decodeCiphertext(new Uint8Array(1_048_214 + 257))).toThrow("ciphertext expected at most");
    await expect(
      encrypt(new Uint8Array(1), secret, undefined, { hkdfSalt: new Uint8Array(31) }),
    ).rejects.toThrow('"hkdfSalt" expected 32 bytes, got 31');
  });

  test("property: encrypt/decrypt round trip for any plaintext and AAD", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 512 }),
        fc.uint8Array({ minLength: 1, maxLength: 96 }),
        fc.option(fc.uint8Array({ minLength: 1, maxLength: 64 }), { nil: undefined }),
        async (plain, sec, aad) => {
          const ct = decodeCiphertext(toBinary(CiphertextSchema, await encrypt(plain, sec, aad)));
          expect(await decrypt(ct, sec, aad)).toEqual(plain);
        },
      ),
      { numRuns: 50 },
    );
  });
});

describe("interop with xmtp-js 12.1.0", () => {
  const secret = getPublicKey(randomPrivateKey());
  const aad = utf8ToBytes("aad");

  test("ours → xmtp-js decrypt", async () => {
    const ct = await encrypt(utf8ToBytes("from us"), secret, aad);
    const theirs = XCiphertext.fromBytes(toBinary(CiphertextSchema, ct));
    expect(new TextDecoder().decode(await xDecrypt(theirs, secret, aad))).toBe("from us");
  });

  test("xmtp-js encrypt → ours", async () => {
    const theirs = await xEncrypt(utf8ToBytes("from xmtp-js"), secret, aad);
    const ct = decodeCiphertext(theirs.toBytes());
    expect(new TextDecoder().decode(await decrypt(ct, secret, aad))).toBe("from xmtp-js");
  });

  test("HMAC keys and signatures match xmtp-js", async () => {
    const info = utf8ToBytes("692-0xF56d1F3b1290204441Cb3843C2Cac1C2f5AEd690");
    const msg = utf8ToBytes("header bytes");
    const theirKey = await exportHmacKey(await hkdfHmacKey(secret, info));
    expect(await hmacKey(secret, info)).toEqual(theirKey);
    expect(await hmacSha256(theirKey, msg)).toEqual(await generateHmacSignature(secret, info, msg));
  });
});

describe("backends agree (property)", () => {
  const [web, noble] = backends as [CryptoBackend, CryptoBackend];

  test("HKDF and HMAC, including empty keys, salts and infos", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 80 }),
        fc.uint8Array({ maxLength: 40 }),
        fc.uint8Array({ maxLength: 40 }),
        fc.integer({ min: 1, max: 96 }),
        async (ikm, salt, info, len) => {
          expect(await web.hkdfSha256(ikm, salt, info, len)).toEqual(
            await noble.hkdfSha256(ikm, salt, info, len),
          );
          expect(await web.hmacSha256(ikm, info)).toEqual(await noble.hmacSha256(ikm, info));
        },
      ),
      { numRuns: 60 },
    );
  });

  test("AES-256-GCM: identical bytes, cross-decryptable", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        fc.uint8Array({ maxLength: 300 }),
        fc.option(fc.uint8Array({ maxLength: 40 }), { nil: undefined }),
        async (key, nonce, plain, aad) => {
          const a = await web.aesGcmEncrypt(key, nonce, plain, aad);
          expect(await noble.aesGcmEncrypt(key, nonce, plain, aad)).toEqual(a);
          expect(await noble.aesGcmDecrypt(key, nonce, a, aad)).toEqual(plain);
          expect(await web.aesGcmDecrypt(key, nonce, a, aad)).toEqual(plain);
        },
      ),
      { numRuns: 40 },
    );
  });

  test("hkdfSha256 length bounds", async () => {
    await expect(hkdfSha256(new Uint8Array(1), new Uint8Array(0), "", 0)).rejects.toThrow(
      '"length" expected 1..8160, got 0',
    );
    await expect(hkdfSha256(new Uint8Array(1), new Uint8Array(0), "", 8161)).rejects.toThrow(
      '"length" expected 1..8160, got 8161',
    );
    expect((await hkdfSha256(new Uint8Array(1), new Uint8Array(0), "", 8160)).length).toBe(8160);
  });

  test("decodeCiphertext on arbitrary bytes: a value or an Error, never anything else", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeCiphertext(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(Error);
        }
      }),
      { numRuns: 300 },
    );
  });
});
