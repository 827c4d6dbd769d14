import { clone, create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import {
  EnvelopeSchema,
  MessageHeaderV2Schema,
  MessageSchema,
  SignedContentSchema,
  SignedPublicKeyBundleSchema,
} from "@xmtp-ts/proto";
import { signCompact } from "@xmtp-ts/protocol";
import { describe, expect, test } from "vitest";
import { deriveInvitationSecrets } from "./invitation.js";
import { concatBytes, encryptCiphertext, hmacSha256, sha256 } from "./primitives.js";
import { randomKeys, vectorKeys, vectors } from "./test-fixtures.js";
import {
  decodeMessagesV2,
  decodeMessageV2,
  encodeMessageV2,
  MAX_V2_HEADER_BYTES,
  MessageDecodeError,
  senderHmacKey,
  signV2,
  thirtyDayPeriod,
  v2Envelope,
} from "./v2.js";

const alice = vectorKeys("alice");
const bob = vectorKeys("bob");
const v = vectors.v2_message_example;
const { topic, keyMaterial } = await deriveInvitationSecrets(alice, bob.signedBundle, bob.address, "test");
const participants = [alice.address, bob.address] as const;
const payload = hexToBytes(v.encoded_content_hex);

async function reason(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (x) => x,
  );
  if (!(e instanceof MessageDecodeError)) throw new Error(`expected MessageDecodeError, got ${e}`);
  return e.reason;
}

describe("§19.3 vector", () => {
  test("header bytes, digest, deterministic signature, signed content", () => {
    const { headerBytes, signedBytes } = signV2(alice, topic, payload, 1_700_000_000_000_000_000n);
    expect(bytesToHex(headerBytes)).toBe(v.header_bytes_hex);
    expect(bytesToHex(sha256(concatBytes(headerBytes, payload)))).toBe(v.signature_digest_hex);
    const signed = fromBinary(SignedContentSchema, signedBytes);
    const sig = signed.signature?.union;
    expect(sig?.case).toBe("ecdsaCompact");
    expect(bytesToHex(sig!.value!.bytes)).toBe(v.pre_key_signature.bytes_hex);
    expect(sig!.value!.recovery).toBe(v.pre_key_signature.recovery);
    expect(bytesToHex(signedBytes)).toBe(v.signed_content_hex);
  });

  test("sender HMAC keys and HMAC", async () => {
    expect(thirtyDayPeriod(1_700_000_000_000)).toBe(655);
    const key = await senderHmacKey(keyMaterial, 655, alice.address);
    expect(bytesToHex(key)).toBe(v.sender_hmac.hmac_key_hex);
    expect(bytesToHex(await hmacSha256(key, hexToBytes(v.header_bytes_hex)))).toBe(
      v.sender_hmac.sender_hmac_hex,
    );
    for (const k of vectors.sender_hmac_keys.keys) {
      const own = k.address === alice.address ? alice : bob;
      expect(bytesToHex(await senderHmacKey(keyMaterial, k.period, own.address))).toBe(k.hmac_key_hex);
    }
  });

  test("encode uses the current clock for the HMAC period and decodes back", async () => {
    const enc = await encodeMessageV2({
      own: alice,
      topic,
      keyMaterial,
      payload,
      createdNs: 1_700_000_000_000_000_000n,
      shouldPush: true,
      nowMs: 1_700_000_000_000,
    });
    expect(bytesToHex(enc.senderHmac)).toBe(v.sender_hmac.sender_hmac_hex);
    expect(enc.id).toBe(bytesToHex(sha256(enc.bytes)));
    const env = v2Envelope(topic, 1_700_000_000_000_000_000n, enc.bytes);
    const dec = await decodeMessageV2({ envelope: env, topic, keyMaterial, participants });
    expect(dec).toMatchObject({
      id: enc.id,
      senderAddress: alice.address,
      sentNs: 1_700_000_000_000_000_000n,
      shouldPush: true,
    });
    expect(bytesToHex(dec.payload)).toBe(v.encoded_content_hex);
    expect(v2Envelope(topic, 1n, enc.bytes, true).contentTopic).toBe(
      topic.replace("/xmtp/0/m-", "/xmtp/0/mE-"),
    );
  });
});

describe("receive checks", () => {
  const createdNs = 1_000_000n;
  const envOf = (bytes: Uint8Array, t = topic) =>
    create(EnvelopeSchema, { contentTopic: t, timestampNs: createdNs, message: bytes });
  /** Builds a message whose parts can be forged before encryption. */
  async function forge(opts: {
    own?: typeof alice;
    headerTopic?: string;
    mutateSigned?: (s: ReturnType<typeof fromBinary<typeof SignedContentSchema>>) => void;
    key?: Uint8Array;
  }) {
    const own = opts.own ?? alice;
    const { headerBytes, signedBytes } = signV2(own, opts.headerTopic ?? topic, payload, createdNs);
    const signed = fromBinary(SignedContentSchema, signedBytes);
    opts.mutateSigned?.(signed);
    const ciphertext = await encryptCiphertext(
      toBinary(SignedContentSchema, signed),
      opts.key ?? keyMaterial,
      headerBytes,
    );
    return toBinary(
      MessageSchema,
      create(MessageSchema, { version: { case: "v2", value: { headerBytes, ciphertext } } }),
    );
  }
  const decode = (bytes: Uint8Array, over: Partial<Parameters<typeof decodeMessageV2>[0]> = {}) =>
    decodeMessageV2({ envelope: envOf(bytes), topic, keyMaterial, participants, ...over });

  test("valid message from Bob decodes", async () => {
    const dec = await decode(await forge({ own: bob }));
    expect(dec.senderAddress).toBe(bob.address);
  });
  test("empty, garbage, V1 and oversized", async () => {
    expect(await reason(decode(new Uint8Array(0)))).toBe("empty-envelope");
    expect(await reason(decode(new Uint8Array([0xff, 0xff])))).toBe("malformed");
    const v1 = toBinary(
      MessageSchema,
      create(MessageSchema, { version: { case: "v1", value: { headerBytes: new Uint8Array(1) } } }),
    );
    expect(await reason(decode(v1))).toBe("unknown-version");
    const bigHeader = toBinary(
      MessageSchema,
      create(MessageSchema, {
        version: { case: "v2", value: { headerBytes: new Uint8Array(MAX_V2_HEADER_BYTES + 1) } },
      }),
    );
    expect(await reason(decode(bigHeader))).toBe("too-large");
    expect(await reason(decode(new Uint8Array(1_048_215)))).toBe("too-large");
  });
  test("wrong topic in header", async () => {
    expect(await reason(decode(await forge({ headerTopic: "/xmtp/0/m-other/proto" })))).toBe(
      "topic-mismatch",
    );
  });
  test("no topic key", async () => {
    expect(await reason(decode(await forge({}), { keyMaterial: undefined }))).toBe("no-topic-key");
  });
  test("tampered ciphertext and wrong key", async () => {
    const bytes = await forge({});
    const m = fromBinary(MessageSchema, bytes);
    if (m.version.case !== "v2" || m.version.value.ciphertext?.union.case !== "aes256GcmHkdfSha256")
      throw new Error();
    m.version.value.ciphertext.union.value.payload[3]! ^= 0x80;
    expect(await reason(decode(toBinary(MessageSchema, m)))).toBe("decrypt-failed");
    expect(await reason(decode(await forge({ key: new Uint8Array(32) })))).toBe("decrypt-failed");
  });
  test("header AAD: a re-timestamped header fails", async () => {
    const bytes = await forge({});
    const m = fromBinary(MessageSchema, bytes);
    if (m.version.case !== "v2") throw new Error();
    m.version.value.headerBytes = toBinary(
      MessageHeaderV2Schema,
      create(MessageHeaderV2Schema, { topic, createdNs: 5n }),
    );
    expect(await reason(decode(toBinary(MessageSchema, m)))).toBe("decrypt-failed");
  });
  test("incomplete signed content", async () => {
    expect(await reason(decode(await forge({ mutateSigned: (s) => (s.signature = undefined) })))).toBe(
      "incomplete-signed-content",
    );
    expect(await reason(decode(await forge({ mutateSigned: (s) => (s.sender!.preKey = undefined) })))).toBe(
      "incomplete-signed-content",
    );
  });
  test("bad signature", async () => {
    const wrong = signCompact(alice.preKeys[0]!.privateKey, sha256(new Uint8Array([1])));
    const bytes = await forge({
      mutateSigned: (s) => {
        s.signature = {
          $typeName: "xmtp.message_contents.Signature",
          union: {
            case: "ecdsaCompact",
            value: {
              $typeName: "xmtp.message_contents.Signature.ECDSACompact",
              bytes: wrong.bytes,
              recovery: wrong.recovery,
            },
          },
        };
      },
    });
    expect(await reason(decode(bytes))).toBe("bad-signature");
    const payloadSwap = await forge({ mutateSigned: (s) => (s.payload = new Uint8Array([1, 2, 3])) });
    expect(await reason(decode(payloadSwap))).toBe("bad-signature");
  });
  test("pre-key not signed by identity", async () => {
    const mallory = randomKeys();
    // Mallory signs with her own pre-key but claims Alice's identity key.
    const forged = { ...mallory, signedBundle: clone(SignedPublicKeyBundleSchema, alice.signedBundle) };
    forged.signedBundle.preKey = mallory.signedBundle.preKey;
    expect(await reason(decode(await forge({ own: forged })))).toBe("pre-key-not-signed");
  });
  test("sender not a participant", async () => {
    const mallory = randomKeys();
    expect(await reason(decode(await forge({ own: mallory })))).toBe("sender-not-participant");
  });
  test("identity not signed by a wallet", async () => {
    const bytes = await forge({
      mutateSigned: (s) => {
        const u = s.sender!.identityKey!.signature!.union;
        if (u.case !== "walletEcdsaCompact") throw new Error();
        s.sender!.identityKey!.signature!.union = {
          case: "ecdsaCompact",
          value: {
            $typeName: "xmtp.message_contents.Signature.ECDSACompact",
            bytes: u.value.bytes,
            recovery: u.value.recovery,
          },
        };
      },
    });
    expect(await reason(decode(bytes))).toBe("not-wallet-signed");
  });
});

describe("batches", () => {
  test("a batch decodes each message as a single decode does, a repeated sender checked once", async () => {
    const createdNs = 5n;
    const sign = async (
      own: typeof alice,
      mutate?: (s: ReturnType<typeof fromBinary<typeof SignedContentSchema>>) => void,
    ) => {
      const { headerBytes, signedBytes } = signV2(own, topic, payload, createdNs);
      const signed = fromBinary(SignedContentSchema, signedBytes);
      mutate?.(signed);
      const ciphertext = await encryptCiphertext(
        toBinary(SignedContentSchema, signed),
        keyMaterial,
        headerBytes,
      );
      const bytes = toBinary(
        MessageSchema,
        create(MessageSchema, { version: { case: "v2", value: { headerBytes, ciphertext } } }),
      );
      return create(EnvelopeSchema, { contentTopic: topic, timestampNs: createdNs, message: bytes });
    };
    const mallory = randomKeys();
    const forged = { ...mallory, signedBundle: clone(SignedPublicKeyBundleSchema, alice.signedBundle) };
    forged.signedBundle.preKey = mallory.signedBundle.preKey;
    // Alice's bundle, Mallory's signature: the bundle is fine, the message is not.
    const impostor = { ...mallory, signedBundle: alice.signedBundle };
    const envs = [
      await sign(impostor),
      await sign(alice),
      await sign(bob),
      await sign(forged),
      await sign(alice),
      await sign(mallory),
      await sign(alice, (c) => (c.payload = new Uint8Array([9]))),
      create(EnvelopeSchema, {
        contentTopic: topic,
        timestampNs: createdNs,
        message: new Uint8Array([0xff]),
      }),
      await sign(bob),
    ];
    const inputs = envs.map((envelope) => ({ envelope, topic, keyMaterial, participants }));
    const verified = new Map<string, string>();
    const batch = await decodeMessagesV2(inputs, verified);
    const single = await Promise.all(inputs.map((i) => decodeMessageV2(i).catch((e: unknown) => e)));
    const outcome = (r: unknown) =>
      r instanceof MessageDecodeError ? r.reason : (r as { senderAddress: string }).senderAddress;
    expect(batch.map(outcome)).toEqual(single.map(outcome));
    expect(batch.map(outcome)).toEqual([
      "bad-signature",
      alice.address,
      bob.address,
      "pre-key-not-signed",
      alice.address,
      "sender-not-participant",
      "bad-signature",
      "malformed",
      bob.address,
    ]);
    expect(new Set(verified.values())).toEqual(new Set([alice.address, bob.address, mallory.address]));
  });
});

describe("strict signatures", () => {
  test("a high-S twin of a valid signature is rejected", async () => {
    const { secp256k1 } = await import("@noble/curves/secp256k1.js");
    const n = secp256k1.Point.CURVE().n;
    const createdNs = 9n;
    const { headerBytes, signedBytes } = signV2(bob, topic, payload, createdNs);
    const signed = fromBinary(SignedContentSchema, signedBytes);
    const u = signed.signature!.union;
    if (u.case !== "ecdsaCompact") throw new Error();
    const s = BigInt(`0x${bytesToHex(u.value.bytes.slice(32))}`);
    u.value.bytes.set(hexToBytes((n - s).toString(16).padStart(64, "0")), 32);
    const ciphertext = await encryptCiphertext(
      toBinary(SignedContentSchema, signed),
      keyMaterial,
      headerBytes,
    );
    const bytes = toBinary(
      MessageSchema,
      create(MessageSchema, { version: { case: "v2", value: { headerBytes, ciphertext } } }),
    );
    const env = create(EnvelopeSchema, { contentTopic: topic, timestampNs: createdNs, message: bytes });
    expect(await reason(decodeMessageV2({ envelope: env, topic, keyMaterial, participants }))).toBe(
      "bad-signature",
    );
  });
});
