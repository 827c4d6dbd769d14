import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { bytesToHex } from "@noble/hashes/utils.js";
import {
  PrivateKeyBundleSchema,
  PublicKeyBundleSchema,
  PublicKeySchema,
  SignedPublicKeyBundleSchema,
  SignedPublicKeySchema,
} from "@xmtp-ts/proto";
import { describe, expect, test } from "vitest";
import { eip191Hash } from "./crypto.js";
import {
  createIdentityText,
  enableIdentityText,
  legacyKeyBytes,
  verifyLegacyPreKey,
  verifySignedPreKey,
  walletAddressFromLegacyKey,
  walletAddressFromSignedKey,
} from "./identity.js";
import { hex, vectors } from "./test-vectors.js";

const people = Object.entries(vectors.identities);

describe.each(people)("%s", (_name, v) => {
  const bundle = fromBinary(PublicKeyBundleSchema, hex(v.public_key_bundle_v1_hex));
  const identity = bundle.identityKey!;
  const pre = bundle.preKey!;
  const signed = fromBinary(SignedPublicKeyBundleSchema, hex(v.signed_public_key_bundle_hex));

  test("private bundle holds the same public keys", () => {
    const priv = fromBinary(PrivateKeyBundleSchema, hex(v.private_key_bundle_hex));
    expect(priv.version.case).toBe("v1");
    const v1 = priv.version.value as { identityKey: { publicKey: unknown } };
    expect(v1.identityKey.publicKey).toEqual(identity);
  });

  test("Create Identity bytes, text and digest", () => {
    const bytes = legacyKeyBytes(identity);
    expect(bytesToHex(bytes)).toBe(v.identity_key.create_identity_signed_bytes_hex);
    expect(createIdentityText(bytes)).toBe(v.identity_key.create_identity_text);
    expect(bytesToHex(eip191Hash(createIdentityText(bytes)))).toBe(
      v.identity_key.create_identity_eip191_digest_hex,
    );
    expect(identity.signature?.union.case).toBe("ecdsaCompact");
    expect(identity.signature?.union.value?.recovery).toBe(v.identity_key.wallet_signature_recovery);
  });

  test("wallet recovered from the identity key signature (legacy and V2 views)", () => {
    expect(walletAddressFromLegacyKey(identity)).toBe(v.wallet_address);
    expect(signed.identityKey!.signature?.union.case).toBe("walletEcdsaCompact");
    expect(walletAddressFromSignedKey(signed.identityKey!)).toBe(v.wallet_address);
  });

  test("pre-key signatures verify (legacy and V2)", () => {
    expect(verifyLegacyPreKey(identity, pre)).toBe(true);
    expect(verifySignedPreKey(signed.identityKey!, signed.preKey!)).toBe(true);
  });

  test("a tampered pre-key fails; a pre-key signed by someone else fails", () => {
    const t = create(PublicKeySchema, { ...pre, timestamp: pre.timestamp + 1n });
    expect(verifyLegacyPreKey(identity, t)).toBe(false);
    expect(verifyLegacyPreKey(pre, pre)).toBe(false);
    const tamperedSigned = create(SignedPublicKeySchema, { ...signed.preKey!, keyBytes: legacyKeyBytes(t) });
    expect(verifySignedPreKey(signed.identityKey!, tamperedSigned)).toBe(false);
    const noSig = create(PublicKeySchema, { timestamp: pre.timestamp, union: pre.union });
    expect(verifyLegacyPreKey(identity, noSig)).toBe(false);
  });

  test("wallet signature as wallet_ecdsa_compact on a legacy key is accepted", () => {
    const sig = identity.signature!.union.value!;
    const k = create(PublicKeySchema, {
      timestamp: identity.timestamp,
      union: identity.union,
      signature: {
        union: { case: "walletEcdsaCompact", value: { bytes: sig.bytes, recovery: sig.recovery } },
      },
    });
    expect(walletAddressFromLegacyKey(k)).toBe(v.wallet_address);
  });

  test("a V2 key without wallet_ecdsa_compact is rejected", () => {
    expect(() => walletAddressFromSignedKey(signed.preKey!)).toThrow("key was not signed by a wallet");
  });

  test("a different timestamp recovers a different wallet", () => {
    const k = create(PublicKeySchema, { ...identity, timestamp: identity.timestamp + 1n });
    expect(walletAddressFromLegacyKey(k)).not.toBe(v.wallet_address);
  });
});

test("legacy key bytes are canonical regardless of the original encoding", () => {
  const identity = fromBinary(PublicKeyBundleSchema, hex(vectors.identities.alice.public_key_bundle_v1_hex))
    .identityKey!;
  // Re-encode with the signature; legacyKeyBytes must strip it and keep number order.
  const withSig = toBinary(PublicKeySchema, identity);
  expect(bytesToHex(legacyKeyBytes(fromBinary(PublicKeySchema, withSig)))).toBe(
    vectors.identities.alice.identity_key.create_identity_signed_bytes_hex,
  );
});

test("enableIdentityText", () => {
  expect(enableIdentityText(new Uint8Array(32).fill(0xab))).toBe(
    `XMTP : Enable Identity\n${"ab".repeat(32)}\n\nFor more info: https://xmtp.org/signatures/`,
  );
  expect(() => enableIdentityText(new Uint8Array(31))).toThrow('"walletPreKey" expected 32 bytes, got 31');
});
