import { clone, create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import {
  EnvelopeSchema,
  InvitationV1Schema,
  SealedInvitationHeaderV1Schema,
  SealedInvitationSchema,
  SignatureSchema,
  SignedPublicKeyBundleSchema,
} from "@xmtp-ts/proto";
import { signCompact } from "@xmtp-ts/protocol";
import { describe, expect, test } from "vitest";
import { sharedSecret3dh } from "../keys/own-keys.js";
import {
  createInvitation,
  deriveInvitationSecrets,
  InvitationError,
  invitationEnvelopes,
  MAX_INVITATION_HEADER_BYTES,
  MAX_INVITATION_METADATA_ENTRIES,
  MAX_SEALED_INVITATION_BYTES,
  openInvitation,
  openInvitations,
  sealInvitation,
} from "./invitation.js";
import { encryptCiphertext, sha256 } from "./primitives.js";
import { randomKeys, vectorKeys, vectors } from "./test-fixtures.js";

const alice = vectorKeys("alice");
const bob = vectorKeys("bob");

async function expectReason(p: Promise<unknown>, reason: string) {
  await expect(p).rejects.toSatisfy((e: unknown) => e instanceof InvitationError && e.reason === reason);
}

describe("vectors", () => {
  test("own keys and V2 bundle view", () => {
    expect(alice.address).toBe(vectors.identities.alice.wallet_address);
    expect(bob.address).toBe(vectors.identities.bob.wallet_address);
    expect(bytesToHex(toBinary(SignedPublicKeyBundleSchema, alice.signedBundle))).toBe(
      vectors.identities.alice.signed_public_key_bundle_hex,
    );
  });

  test("3DH secret by address-ordered role and by sender role", () => {
    const a = sharedSecret3dh(
      alice,
      { identity: bob.identity.publicKey, preKey: bob.preKeys[0]!.publicKey },
      alice.preKeys[0]!.publicKey,
      false,
    );
    const b = sharedSecret3dh(
      bob,
      { identity: alice.identity.publicKey, preKey: alice.preKeys[0]!.publicKey },
      bob.preKeys[0]!.publicKey,
      true,
    );
    expect(bytesToHex(a)).toBe(vectors.shared_secret_3dh.secret_hex);
    expect(bytesToHex(b)).toBe(vectors.shared_secret_3dh.secret_hex);
    const bobSends = sharedSecret3dh(
      bob,
      { identity: alice.identity.publicKey, preKey: alice.preKeys[0]!.publicKey },
      bob.preKeys[0]!.publicKey,
      false,
    );
    expect(bytesToHex(bobSends)).toBe(vectors.shared_secret_3dh.secret_when_bob_is_sender_hex);
  });

  test("deterministic topics and key material from both sides", async () => {
    const d = vectors.deterministic_invite;
    for (const [me, peer] of [
      [alice, bob],
      [bob, alice],
    ] as const) {
      const withId = await deriveInvitationSecrets(me, peer.signedBundle, peer.address, "test");
      const without = await deriveInvitationSecrets(me, peer.signedBundle, peer.address);
      expect(withId.topic).toBe(d.with_conversation_id.topic);
      expect(without.topic).toBe(d.without_context.topic);
      expect(bytesToHex(withId.keyMaterial)).toBe(d.key_material.key_material_hex);
      expect(bytesToHex(without.keyMaterial)).toBe(d.key_material.key_material_hex);
    }
  });
});

describe("seal and open", () => {
  test("round trip for recipient and sender, envelopes carry created_ns", async () => {
    const createdNs = 1_700_000_000_123_000_000n;
    const inv = await createInvitation(bob, alice.signedBundle, alice.address, {
      conversationId: "test",
      metadata: { a: "b" },
    });
    const sealed = await sealInvitation(bob, alice.signedBundle, inv, createdNs);
    const envs = invitationEnvelopes(sealed, createdNs, alice.address, bob.address);
    expect(envs.map((e) => e.contentTopic)).toEqual([
      `/xmtp/0/invite-${alice.address}/proto`,
      `/xmtp/0/invite-${bob.address}/proto`,
    ]);
    expect(envs.every((e) => e.timestampNs === createdNs)).toBe(true);
    const atAlice = await openInvitation(alice, envs[0]!);
    expect(atAlice).toMatchObject({
      topic: vectors.deterministic_invite.with_conversation_id.topic,
      peerAddress: bob.address,
      isSender: false,
      createdNs,
      context: { conversationId: "test", metadata: { a: "b" } },
    });
    expect(bytesToHex(atAlice.keyMaterial)).toBe(vectors.deterministic_invite.key_material.key_material_hex);
    const atBob = await openInvitation(bob, envs[1]!);
    expect(atBob).toMatchObject({ topic: atAlice.topic, peerAddress: alice.address, isSender: true });
  });

  test("accepts a legacy random invitation (§8.5)", async () => {
    const inv = create(InvitationV1Schema, {
      topic: "/xmtp/0/m-abc+def-ghi/proto",
      encryption: { case: "aes256GcmHkdfSha256", value: { keyMaterial: new Uint8Array(32).fill(9) } },
    });
    const sealed = await sealInvitation(alice, bob.signedBundle, inv, 5n);
    const [env] = invitationEnvelopes(sealed, 5n, bob.address, alice.address);
    const opened = await openInvitation(bob, env!);
    expect(opened.topic).toBe("/xmtp/0/m-abc+def-ghi/proto");
    expect(opened.context).toBeUndefined();
  });
});

describe("rejections", () => {
  const createdNs = 42n;
  async function sealedFor(inv?: Awaited<ReturnType<typeof createInvitation>>) {
    inv ??= await createInvitation(alice, bob.signedBundle, bob.address);
    return sealInvitation(alice, bob.signedBundle, inv, createdNs);
  }
  const env = (message: Uint8Array, over: Partial<{ contentTopic: string; timestampNs: bigint }> = {}) =>
    create(EnvelopeSchema, {
      contentTopic: `/xmtp/0/invite-${bob.address}/proto`,
      timestampNs: createdNs,
      message,
      ...over,
    });

  test("invalid envelope topic", async () => {
    await expectReason(
      openInvitation(bob, env(await sealedFor(), { contentTopic: "/xmtp/0/in vite/proto" })),
      "invalid-envelope-topic",
    );
  });
  test("timestamp mismatch", async () => {
    await expectReason(
      openInvitation(bob, env(await sealedFor(), { timestampNs: createdNs + 1n })),
      "timestamp-mismatch",
    );
  });
  test("garbage bytes", async () => {
    await expectReason(openInvitation(bob, env(new Uint8Array([0xff, 0xff, 0xff]))), "malformed");
    await expectReason(openInvitation(bob, env(new Uint8Array(0))), "malformed");
  });
  test("size limits", async () => {
    await expectReason(
      openInvitation(bob, env(new Uint8Array(MAX_SEALED_INVITATION_BYTES + 1))),
      "too-large",
    );
    const big = toBinary(
      SealedInvitationSchema,
      create(SealedInvitationSchema, {
        version: {
          case: "v1",
          value: { headerBytes: new Uint8Array(MAX_INVITATION_HEADER_BYTES + 1), ciphertext: {} },
        },
      }),
    );
    await expectReason(openInvitation(bob, env(big)), "too-large");
    const metadata: Record<string, string> = {};
    for (let i = 0; i <= MAX_INVITATION_METADATA_ENTRIES; i++) metadata[`k${i}`] = "v";
    const inv = await createInvitation(alice, bob.signedBundle, bob.address, {
      conversationId: "x",
      metadata,
    });
    await expectReason(openInvitation(bob, env(await sealedFor(inv))), "too-large");
  });
  test("tampered ciphertext", async () => {
    const s = fromBinary(SealedInvitationSchema, await sealedFor());
    if (s.version.case !== "v1" || s.version.value.ciphertext?.union.case !== "aes256GcmHkdfSha256")
      throw new Error();
    s.version.value.ciphertext.union.value.payload[0]! ^= 1;
    await expectReason(openInvitation(bob, env(toBinary(SealedInvitationSchema, s))), "decrypt-failed");
  });
  test("wrong salt and nonce lengths", async () => {
    const s = fromBinary(SealedInvitationSchema, await sealedFor());
    if (s.version.case !== "v1" || s.version.value.ciphertext?.union.case !== "aes256GcmHkdfSha256")
      throw new Error();
    s.version.value.ciphertext.union.value.hkdfSalt = new Uint8Array(16);
    const e = await openInvitation(bob, env(toBinary(SealedInvitationSchema, s))).catch((x) => x);
    expect(e.reason).toBe("decrypt-failed");
    expect(e.message).toContain('"hkdfSalt" expected 32 bytes, got 16');
  });
  test("header swapped after sealing (AAD)", async () => {
    const s = fromBinary(SealedInvitationSchema, await sealedFor());
    if (s.version.case !== "v1") throw new Error();
    const h = fromBinary(SealedInvitationHeaderV1Schema, s.version.value.headerBytes);
    h.createdNs = 43n;
    s.version.value.headerBytes = toBinary(SealedInvitationHeaderV1Schema, h);
    await expectReason(
      openInvitation(bob, env(toBinary(SealedInvitationSchema, s), { timestampNs: 43n })),
      "decrypt-failed",
    );
  });
  test("pre-key not signed by identity", async () => {
    const mallory = randomKeys();
    // Alice's bundle with a pre-key signed by someone else: Bob's pre-key check fails.
    const forged = create(SignedPublicKeyBundleSchema, {
      identityKey: alice.signedBundle.identityKey,
      preKey: mallory.signedBundle.preKey,
    });
    const forgedAlice = { ...alice, signedBundle: forged, preKeys: mallory.preKeys };
    const sealed = await sealInvitation(
      forgedAlice,
      bob.signedBundle,
      await createInvitation(alice, bob.signedBundle, bob.address),
      createdNs,
    );
    await expectReason(openInvitation(bob, env(sealed)), "bad-pre-key-signature");
  });
  test("not a participant, and no matching pre-key", async () => {
    await expectReason(openInvitation(randomKeys(), env(await sealedFor())), "not-participant");
    const newBob = { ...bob, preKeys: randomKeys().preKeys };
    await expectReason(openInvitation(newBob, env(await sealedFor())), "no-matching-pre-key");
  });
  test("identity not signed by a wallet", async () => {
    const b = clone(SignedPublicKeyBundleSchema, alice.signedBundle);
    const sig = b.identityKey!.signature!.union;
    if (sig.case !== "walletEcdsaCompact") throw new Error();
    b.identityKey!.signature = create(SignatureSchema, {
      union: { case: "ecdsaCompact", value: { bytes: sig.value.bytes, recovery: sig.value.recovery } },
    });
    const sealed = await sealInvitation(
      { ...alice, signedBundle: b },
      bob.signedBundle,
      await createInvitation(alice, bob.signedBundle, bob.address),
      createdNs,
    );
    await expectReason(openInvitation(bob, env(sealed)), "not-wallet-signed");
  });
  test("wrong key and signature lengths", async () => {
    const b = clone(SignedPublicKeyBundleSchema, alice.signedBundle);
    const sig = b.preKey!.signature!.union;
    if (sig.case !== "ecdsaCompact") throw new Error();
    sig.value.bytes = sig.value.bytes.slice(0, 63);
    const sealed = await sealInvitation(
      { ...alice, signedBundle: b },
      bob.signedBundle,
      await createInvitation(alice, bob.signedBundle, bob.address),
      createdNs,
    );
    const e = await openInvitation(bob, env(sealed)).catch((x) => x);
    expect(e.reason).toBe("bad-key");
    expect(e.message).toContain("expected 64 bytes, got 63");
  });
  test("missing topic, bad topic, missing or short key material", async () => {
    const cases: [Parameters<typeof create<typeof InvitationV1Schema>>[1], string][] = [
      [
        {
          topic: "",
          encryption: { case: "aes256GcmHkdfSha256", value: { keyMaterial: new Uint8Array(32) } },
        },
        "missing-topic",
      ],
      [
        {
          topic: "/xmtp/0/invite-x/proto",
          encryption: { case: "aes256GcmHkdfSha256", value: { keyMaterial: new Uint8Array(32) } },
        },
        "invalid-topic",
      ],
      [{ topic: "/xmtp/0/m-x/proto" }, "missing-key-material"],
      [
        {
          topic: "/xmtp/0/m-x/proto",
          encryption: { case: "aes256GcmHkdfSha256", value: { keyMaterial: new Uint8Array(16) } },
        },
        "missing-key-material",
      ],
    ];
    for (const [init, reason] of cases) {
      await expectReason(openInvitation(bob, env(await sealedFor(create(InvitationV1Schema, init)))), reason);
    }
  });
  test("undecodable invitation plaintext", async () => {
    const headerBytes = toBinary(
      SealedInvitationHeaderV1Schema,
      create(SealedInvitationHeaderV1Schema, {
        sender: alice.signedBundle,
        recipient: bob.signedBundle,
        createdNs,
      }),
    );
    const secret = sharedSecret3dh(
      alice,
      { identity: bob.identity.publicKey, preKey: bob.preKeys[0]!.publicKey },
      alice.preKeys[0]!.publicKey,
      false,
    );
    const ciphertext = await encryptCiphertext(new Uint8Array([0xff, 0xff]), secret, headerBytes);
    const sealed = toBinary(
      SealedInvitationSchema,
      create(SealedInvitationSchema, { version: { case: "v1", value: { headerBytes, ciphertext } } }),
    );
    await expectReason(openInvitation(bob, env(sealed)), "malformed");
  });
  test("a batch opens each invitation as a single open does, a repeated bundle checked once", async () => {
    const mallory = randomKeys();
    const forgedPre = await sealInvitation(
      {
        ...alice,
        signedBundle: create(SignedPublicKeyBundleSchema, {
          identityKey: alice.signedBundle.identityKey,
          preKey: mallory.signedBundle.preKey,
        }),
        preKeys: mallory.preKeys,
      },
      bob.signedBundle,
      await createInvitation(alice, bob.signedBundle, bob.address),
      createdNs,
    );
    const unsignedId = clone(SignedPublicKeyBundleSchema, alice.signedBundle);
    const sig = unsignedId.identityKey!.signature!.union;
    if (sig.case !== "walletEcdsaCompact") throw new Error();
    unsignedId.identityKey!.signature = create(SignatureSchema, {
      union: { case: "ecdsaCompact", value: { bytes: sig.value.bytes, recovery: sig.value.recovery } },
    });
    const notWallet = await sealInvitation(
      { ...alice, signedBundle: unsignedId },
      bob.signedBundle,
      await createInvitation(alice, bob.signedBundle, bob.address),
      createdNs,
    );
    const good = await sealedFor();
    const envs = [
      env(good),
      env(forgedPre),
      env(good),
      env(notWallet),
      env(good, { timestampNs: createdNs + 1n }),
      env(new Uint8Array([0xff])),
      env(good),
    ];
    const batch = await openInvitations(bob, envs);
    const single = await Promise.all(envs.map((e) => openInvitation(bob, e).catch((x: unknown) => x)));
    expect(batch.map((r) => (r instanceof InvitationError ? r.reason : r.topic))).toEqual(
      single.map((r) => (r instanceof InvitationError ? r.reason : (r as { topic: string }).topic)),
    );
    expect(batch.map((r) => (r instanceof InvitationError ? r.reason : "ok"))).toEqual([
      "ok",
      "bad-pre-key-signature",
      "ok",
      "not-wallet-signed",
      "timestamp-mismatch",
      "malformed",
      "ok",
    ]);
    for (const i of [0, 2, 6]) expect((batch[i] as { peerAddress: string }).peerAddress).toBe(alice.address);
  });
  test("sanity: signCompact/sha256 helpers used by fixtures agree", () => {
    expect(
      signCompact(hexToBytes(vectors.identities.alice.pre_key.private_key_hex), sha256(new Uint8Array(1)))
        .bytes.length,
    ).toBe(64);
  });
});

describe("both secp256k1 backends open the same invitations", () => {
  test("libsecp256k1 (the loaded backend) and a noble ECDH give the same topic and key", async () => {
    const { initSecp256k1, nobleSecp256k1 } = await import("@xmtp-ts/protocol");
    expect((await initSecp256k1()).name).toBe("libsecp256k1-wasm");
    for (const [from, to] of [
      [alice, bob],
      [bob, alice],
    ] as const) {
      const inv = await createInvitation(from, to.signedBundle, to.address, { conversationId: "n" });
      const sealed = await sealInvitation(from, to.signedBundle, inv, 7n);
      for (const [viewer, env] of invitationEnvelopes(sealed, 7n, to.address, from.address).map(
        (e, i) => [i === 0 ? to : from, e] as const,
      )) {
        const fast = await openInvitation(viewer, env);
        const slow = await openInvitation(viewer, env, { ecdh: nobleSecp256k1.ecdh });
        expect(fast.topic).toBe(slow.topic);
        expect(fast.keyMaterial).toEqual(slow.keyMaterial);
      }
    }
  });
});
