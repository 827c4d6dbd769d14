import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { bytesToHex } from "@noble/hashes/utils.js";
import { privateKey as xPrivateKey } from "@xmtp/proto";
import {
  PrivateKeyBundleV1 as XPrivateKeyBundleV1,
  PrivateKeyBundleV2 as XPrivateKeyBundleV2,
  PublicKeyBundle as XPublicKeyBundle,
  SignedPublicKeyBundle as XSignedPublicKeyBundle,
} from "@xmtp/xmtp-js";
import {
  PrivateKeyBundleSchema,
  PrivateKeyBundleV1Schema,
  PrivateKeyBundleV2Schema,
  SignedPublicKeySchema,
  UnsignedPublicKeySchema,
} from "@xmtp-ts/proto";
import { describe, expect, test } from "vitest";
import { hex, vectors } from "../test-vectors.js";
import { randomWallet } from "../test-wallets.js";
import { findPreKey, ownKeysFromBundleV1 } from "./own-keys.js";
import {
  addPreKey,
  createPrivateKeyBundle,
  currentPreKey,
  decodePrivateKeyBundle,
  encodePrivateKeyBundle,
  MAX_PRE_KEYS,
  MAX_PRIVATE_KEY_BUNDLE_BYTES,
  NoMatchingPreKeyError,
  privateKeyBytes,
  publicKeyBundleOf,
  signedPublicKeyBundleOf,
  toPrivateKeyBundleV2,
  walletAddressOf,
} from "./private.js";
import {
  decodePublicKeyBundle,
  decodeSignedPublicKeyBundle,
  encodePublicKeyBundle,
  encodeSignedPublicKeyBundle,
  legacyPublicKeyFromSigned,
  MAX_PUBLIC_KEY_BUNDLE_BYTES,
  publicKeyBytes,
  toLegacyPublicKeyBundle,
  toSignedPublicKeyBundle,
  verifyBundlePreKey,
  walletAddressOfBundle,
} from "./public.js";
import { PeerPreKeySignatureError, sharedSecret } from "./shared-secret.js";

const { alice: A, bob: B } = vectors.identities;
const alice = decodePrivateKeyBundle(hex(A.private_key_bundle_hex)).bundle;
const bob = decodePrivateKeyBundle(hex(B.private_key_bundle_hex)).bundle;

describe("vector identities", () => {
  test.each([
    ["alice", alice, A],
    ["bob", bob, B],
  ] as const)("%s: decode, wallet, public V1/V2 views, re-encode", (_n, bundle, v) => {
    expect(walletAddressOf(bundle)).toBe(v.wallet_address);
    expect(bytesToHex(encodePublicKeyBundle(publicKeyBundleOf(bundle)))).toBe(v.public_key_bundle_v1_hex);
    expect(bytesToHex(encodeSignedPublicKeyBundle(signedPublicKeyBundleOf(bundle)))).toBe(
      v.signed_public_key_bundle_hex,
    );
    expect(bytesToHex(encodePrivateKeyBundle(bundle))).toBe(v.private_key_bundle_hex);
    const signed = decodeSignedPublicKeyBundle(hex(v.signed_public_key_bundle_hex));
    expect(walletAddressOfBundle(signed)).toBe(v.wallet_address);
    expect(verifyBundlePreKey(signed)).toBe(true);
    expect(bytesToHex(encodePublicKeyBundle(toLegacyPublicKeyBundle(signed)))).toBe(
      v.public_key_bundle_v1_hex,
    );
    expect(decodePrivateKeyBundle(hex(v.private_key_bundle_hex)).legacyFormat).toBe(false);
  });

  test("3DH: Alice as sender and Bob as recipient agree on the vector secret (V1 and V2 peer bundles)", () => {
    const want = vectors.shared_secret_3dh.secret_hex;
    const bobV2 = signedPublicKeyBundleOf(bob);
    const aliceV2 = signedPublicKeyBundleOf(alice);
    const aliceSide = sharedSecret(alice, bobV2, currentPreKey(alice).publicKey!, false);
    expect(aliceSide.length).toBe(195);
    expect(bytesToHex(aliceSide)).toBe(want);
    expect(bytesToHex(sharedSecret(alice, publicKeyBundleOf(bob), aliceV2.preKey!, false))).toBe(want);
    expect(bytesToHex(sharedSecret(bob, aliceV2, currentPreKey(bob).publicKey!, true))).toBe(want);
    expect(bytesToHex(sharedSecret(bob, publicKeyBundleOf(alice), publicKeyBytes(bobV2.preKey!), true))).toBe(
      want,
    );
  });

  test("3DH: Bob as sender", () => {
    const want = vectors.shared_secret_3dh.secret_when_bob_is_sender_hex;
    expect(
      bytesToHex(sharedSecret(bob, signedPublicKeyBundleOf(alice), currentPreKey(bob).publicKey!, false)),
    ).toBe(want);
    expect(
      bytesToHex(sharedSecret(alice, signedPublicKeyBundleOf(bob), currentPreKey(alice).publicKey!, true)),
    ).toBe(want);
  });

  test("3DH rejects a peer whose pre-key is not signed by its identity, and unknown pre-keys", () => {
    const forged = publicKeyBundleOf(bob);
    forged.preKey = currentPreKey(alice).publicKey!;
    expect(() => sharedSecret(alice, forged, currentPreKey(alice).publicKey!, false)).toThrow(
      PeerPreKeySignatureError,
    );
    expect(() => sharedSecret(alice, forged, currentPreKey(alice).publicKey!, false)).toThrow(
      "peer preKey signature invalid",
    );
    expect(() => sharedSecret(alice, publicKeyBundleOf(bob), currentPreKey(bob).publicKey!, false)).toThrow(
      NoMatchingPreKeyError,
    );
  });
});

describe("create and rotate", () => {
  test("createPrivateKeyBundle: one Create Identity signature, valid keys, right wallet", async () => {
    const w = randomWallet();
    const bundle = await createPrivateKeyBundle(w.signer);
    expect(w.signatures()).toBe(1);
    expect(walletAddressOf(bundle)).toBe(w.address);
    expect(bundle.preKeys.length).toBe(1);
    expect(bundle.identityKey!.publicKey!.signature!.union.case).toBe("ecdsaCompact");
    const again = decodePrivateKeyBundle(encodePrivateKeyBundle(bundle));
    expect(again.bundle).toEqual(bundle);
  });

  test("createPrivateKeyBundle rejects a signer whose signature recovers another address", async () => {
    const w = randomWallet();
    const other = randomWallet();
    await expect(
      createPrivateKeyBundle({ getAddress: other.signer.getAddress, signMessage: w.signer.signMessage }),
    ).rejects.toThrow(`expected ${other.address}`);
  });

  test("addPreKey prepends; old pre-keys still resolve", async () => {
    const w = randomWallet();
    const b1 = await createPrivateKeyBundle(w.signer);
    const b2 = addPreKey(b1);
    expect(b2.preKeys.length).toBe(2);
    expect(b2.preKeys[1]).toEqual(b1.preKeys[0]);
    expect(currentPreKey(b2)).not.toEqual(currentPreKey(b1));
    expect(
      findPreKey(ownKeysFromBundleV1(b2), publicKeyBytes(currentPreKey(b1).publicKey!)).privateKey,
    ).toEqual(privateKeyBytes(currentPreKey(b1)));
    decodePrivateKeyBundle(encodePrivateKeyBundle(b2));
    // A peer that still holds the old public bundle can agree with us on the old pre-key.
    const peer = await createPrivateKeyBundle(randomWallet().signer);
    const s1 = sharedSecret(peer, publicKeyBundleOf(b1), currentPreKey(peer).publicKey!, false);
    const s2 = sharedSecret(b2, publicKeyBundleOf(peer), currentPreKey(b1).publicKey!, true);
    expect(s2).toEqual(s1);
  });
});

describe("decode limits and legacy formats", () => {
  test("bare PrivateKeyBundleV1 is accepted and flagged", () => {
    const bare = toBinary(PrivateKeyBundleV1Schema, alice);
    const d = decodePrivateKeyBundle(bare);
    expect(d.legacyFormat).toBe(true);
    expect(d.bundle).toEqual(alice);
  });

  test("V2 bundles are rejected", () => {
    const v2 = toBinary(
      PrivateKeyBundleSchema,
      create(PrivateKeyBundleSchema, { version: { case: "v2", value: toPrivateKeyBundleV2(alice) } }),
    );
    expect(() => decodePrivateKeyBundle(v2)).toThrow("V2 bundles not supported yet");
  });

  test("size and pre-key count limits", () => {
    expect(() => decodePrivateKeyBundle(new Uint8Array(MAX_PRIVATE_KEY_BUNDLE_BYTES + 1))).toThrow(
      `private key bundle expected at most ${MAX_PRIVATE_KEY_BUNDLE_BYTES} bytes, got ${MAX_PRIVATE_KEY_BUNDLE_BYTES + 1}`,
    );
    const many = create(PrivateKeyBundleV1Schema, {
      identityKey: alice.identityKey!,
      preKeys: Array.from({ length: MAX_PRE_KEYS + 1 }, () => alice.preKeys[0]!),
    });
    expect(() => decodePrivateKeyBundle(encodePrivateKeyBundle(many))).toThrow(
      `private key bundle expected at most ${MAX_PRE_KEYS} pre-keys, got ${MAX_PRE_KEYS + 1}`,
    );
    expect(() => decodePublicKeyBundle(new Uint8Array(MAX_PUBLIC_KEY_BUNDLE_BYTES + 1))).toThrow(
      `public key bundle expected at most ${MAX_PUBLIC_KEY_BUNDLE_BYTES} bytes`,
    );
    expect(() => decodeSignedPublicKeyBundle(new Uint8Array(MAX_PUBLIC_KEY_BUNDLE_BYTES + 1))).toThrow(
      `public key bundle expected at most ${MAX_PUBLIC_KEY_BUNDLE_BYTES} bytes`,
    );
  });

  test("inconsistent bundles are rejected", () => {
    const swapped = create(PrivateKeyBundleV1Schema, {
      identityKey: { ...alice.identityKey!, union: bob.identityKey!.union },
      preKeys: alice.preKeys,
    });
    expect(() => decodePrivateKeyBundle(encodePrivateKeyBundle(swapped))).toThrow(
      "private key does not match its public key",
    );
    const foreignPre = create(PrivateKeyBundleV1Schema, {
      identityKey: alice.identityKey!,
      preKeys: bob.preKeys,
    });
    expect(() => decodePrivateKeyBundle(encodePrivateKeyBundle(foreignPre))).toThrow(
      "pre-key signature invalid",
    );
    expect(() => decodePrivateKeyBundle(new Uint8Array([0x0a, 0x05, 1, 2, 3]))).toThrow();
    expect(() => decodePublicKeyBundle(new Uint8Array([0x0a, 0x00]))).toThrow();
  });

  test("native V2 keys (created_ns ≥ 10^18) cannot become legacy keys", () => {
    const k = signedPublicKeyBundleOf(alice).preKey!;
    const unsigned = fromBinary(UnsignedPublicKeySchema, k.keyBytes);
    unsigned.createdNs *= 1_000_000n;
    const native = create(SignedPublicKeySchema, {
      ...k,
      keyBytes: toBinary(UnsignedPublicKeySchema, unsigned),
    });
    expect(() => legacyPublicKeyFromSigned(native)).toThrow("cannot be converted to legacy key");
  });
});

describe("interop with xmtp-js 12.1.0", () => {
  test("xmtp-js generated bundle → our decode; 3DH agrees with xmtp-js both ways", async () => {
    const theirs = await XPrivateKeyBundleV1.generate(randomWallet().xmtpJsSigner);
    const { bundle: decoded, legacyFormat } = decodePrivateKeyBundle(theirs.encode());
    expect(legacyFormat).toBe(false);
    expect(walletAddressOf(decoded)).toBe(theirs.getPublicKeyBundle().walletSignatureAddress());

    const ours = await createPrivateKeyBundle(randomWallet().signer);
    const ourPublic = XPublicKeyBundle.fromBytes(encodePublicKeyBundle(publicKeyBundleOf(ours)));
    const theirSecret = await theirs.sharedSecret(ourPublic, theirs.getCurrentPreKey().publicKey, false);
    const ourSecret = sharedSecret(
      ours,
      decodeSignedPublicKeyBundle(
        XSignedPublicKeyBundle.fromLegacyBundle(theirs.getPublicKeyBundle()).toBytes(),
      ),
      currentPreKey(ours).publicKey!,
      true,
    );
    expect(bytesToHex(ourSecret)).toBe(bytesToHex(theirSecret));
  });

  test("our bundle → xmtp-js decodes, validates and recovers the wallet", async () => {
    const w = randomWallet();
    const ours = addPreKey(await createPrivateKeyBundle(w.signer));
    const decoded = xPrivateKey.PrivateKeyBundle.decode(encodePrivateKeyBundle(ours));
    const theirs = new XPrivateKeyBundleV1(decoded.v1!);
    expect(theirs.validatePublicKeys()).toBe(true);
    expect(theirs.getPublicKeyBundle().walletSignatureAddress()).toBe(w.address);
    expect(bytesToHex(theirs.getPublicKeyBundle().toBytes())).toBe(
      bytesToHex(encodePublicKeyBundle(publicKeyBundleOf(ours))),
    );
    // V2 private view is byte-identical to PrivateKeyBundleV2.fromLegacyBundle.
    const theirV2 = XPrivateKeyBundleV2.fromLegacyBundle(theirs);
    const ourV2 = toPrivateKeyBundleV2(ours);
    const theirV2Bytes = xPrivateKey.PrivateKeyBundleV2.encode(theirV2).finish();
    expect(bytesToHex(toBinary(PrivateKeyBundleV2Schema, ourV2))).toBe(bytesToHex(theirV2Bytes));
    expect(bytesToHex(encodeSignedPublicKeyBundle(toSignedPublicKeyBundle(publicKeyBundleOf(ours))))).toBe(
      bytesToHex(theirV2.getPublicKeyBundle().toBytes()),
    );
  });
});
