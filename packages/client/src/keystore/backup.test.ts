import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { InMemoryPersistence, KeyGeneratorKeystoreProvider, NetworkKeystoreProvider } from "@xmtp/xmtp-js";
import {
  EncryptedPrivateKeyBundleSchema,
  EncryptedPrivateKeyBundleV1Schema,
  EnvelopeSchema,
  PrivateKeyBundleV1Schema,
} from "@xmtp-ts/proto";
import { describe, expect, test } from "vitest";
import { encrypt } from "../crypto/ciphertext.js";
import {
  createPrivateKeyBundle,
  encodePrivateKeyBundle,
  publicKeyBundleOf,
  walletAddressOf,
} from "../keys/private.js";
import { encodePublicKeyBundle } from "../keys/public.js";
import { type Signer, signText } from "../signer.js";
import { TestNetwork } from "../test-network.js";
import { randomWallet } from "../test-wallets.js";
import {
  decryptPrivateKeyBundle,
  encryptPrivateKeyBundle,
  loadPrivateKeyBundle,
  MAX_ENCRYPTED_BUNDLE_BYTES,
  privateStoreTopic,
  storePrivateKeyBundle,
} from "./backup.js";
import { loadOrCreatePrivateKeyBundle } from "./bootstrap.js";

/** A signer that reports `v` as 0/1 instead of 27/28. */
function zeroOneV(signer: Signer): Signer {
  return {
    getAddress: signer.getAddress,
    signMessage: async (text) => {
      const sig = (await signText(signer, text)).slice();
      sig[64] = sig[64]! - 27;
      return sig;
    },
  };
}

describe("store and load", () => {
  test("round trip: one Enable signature each way; newest wins; stored as EncryptedPrivateKeyBundle{v1}", async () => {
    const net = new TestNetwork();
    const w = randomWallet();
    const b1 = await createPrivateKeyBundle(w.signer);
    const before = w.signatures();
    const installed: unknown[] = [];
    await storePrivateKeyBundle(net, w.signer, b1, {
      nowNs: 1n,
      beforePublish: (b) => void installed.push(b),
    });
    expect(w.signatures() - before).toBe(1);
    expect(installed).toEqual([b1]);
    const stored = net.topics.get(privateStoreTopic(w.address))!;
    expect(stored.length).toBe(1);
    expect(fromBinary(EncryptedPrivateKeyBundleSchema, stored[0]!.message).version.case).toBe("v1");

    const loaded = await loadPrivateKeyBundle(net, w.signer);
    expect(w.signatures() - before).toBe(2);
    expect(loaded).toEqual({ bundle: b1, needsUpdate: false });

    const b2 = await createPrivateKeyBundle(w.signer);
    await storePrivateKeyBundle(net, w.signer, b2, { nowNs: 2n });
    expect((await loadPrivateKeyBundle(net, w.signer))?.bundle).toEqual(b2);
  });

  test("nothing stored → undefined", async () => {
    expect(await loadPrivateKeyBundle(new TestNetwork(), randomWallet().signer)).toBeUndefined();
  });

  test("v ± 27 retry both ways", async () => {
    const w = randomWallet();
    const bundle = await createPrivateKeyBundle(w.signer);
    const stored27 = await encryptPrivateKeyBundle(bundle, w.signer);
    expect((await decryptPrivateKeyBundle(stored27, zeroOneV(w.signer))).bundle).toEqual(bundle);
    const stored01 = await encryptPrivateKeyBundle(bundle, zeroOneV(w.signer));
    expect((await decryptPrivateKeyBundle(stored01, w.signer)).bundle).toEqual(bundle);
  });

  test("legacy storage formats are read and re-saved", async () => {
    const net = new TestNetwork();
    const w = randomWallet();
    const bundle = await createPrivateKeyBundle(w.signer);
    const current = fromBinary(
      EncryptedPrivateKeyBundleSchema,
      await encryptPrivateKeyBundle(bundle, w.signer),
    );
    const bare = toBinary(EncryptedPrivateKeyBundleV1Schema, current.version.value!);
    expect(await decryptPrivateKeyBundle(bare, w.signer)).toEqual({ bundle, needsUpdate: true });

    // A bare PrivateKeyBundleV1 plaintext (older clients) is accepted too.
    const walletPreKey = new Uint8Array(32).fill(7);
    const { enableIdentityText } = await import("@xmtp-ts/protocol");
    const secret = await signText(w.signer, enableIdentityText(walletPreKey));
    const ciphertext = await encrypt(toBinary(PrivateKeyBundleV1Schema, bundle), secret);
    const barePlain = toBinary(
      EncryptedPrivateKeyBundleSchema,
      create(EncryptedPrivateKeyBundleSchema, {
        version: { case: "v1", value: { walletPreKey, ciphertext } },
      }),
    );
    expect(await decryptPrivateKeyBundle(barePlain, w.signer)).toEqual({ bundle, needsUpdate: true });

    await net.publish([
      create(EnvelopeSchema, { contentTopic: privateStoreTopic(w.address), timestampNs: 1n, message: bare }),
    ]);
    const loaded = await loadPrivateKeyBundle(net, w.signer);
    expect(loaded).toEqual({ bundle, needsUpdate: false });
    const rows = net.topics.get(privateStoreTopic(w.address))!;
    expect(rows.length).toBe(2);
    expect(fromBinary(EncryptedPrivateKeyBundleSchema, rows[1]!.message).version.case).toBe("v1");
    expect((await decryptPrivateKeyBundle(rows[1]!.message, w.signer)).needsUpdate).toBe(false);
  });

  test("errors: wrong wallet, bad signer, limits", async () => {
    const w = randomWallet();
    const other = randomWallet();
    const bundle = await createPrivateKeyBundle(w.signer);
    const stored = await encryptPrivateKeyBundle(bundle, w.signer);
    await expect(decryptPrivateKeyBundle(stored, other.signer)).rejects.toThrow(
      "aes-256-gcm decryption failed",
    );
    await expect(
      encryptPrivateKeyBundle(bundle, {
        getAddress: other.signer.getAddress,
        signMessage: w.signer.signMessage,
      }),
    ).rejects.toMatchObject({ code: "signer-error" });
    await expect(storePrivateKeyBundle(new TestNetwork(), other.signer, bundle)).rejects.toThrow(
      `key bundle does not belong to ${other.address}`,
    );
    await expect(
      decryptPrivateKeyBundle(new Uint8Array(MAX_ENCRYPTED_BUNDLE_BYTES + 1), w.signer),
    ).rejects.toThrow(`encrypted key bundle expected at most ${MAX_ENCRYPTED_BUNDLE_BYTES} bytes`);
    const shortPreKey = fromBinary(EncryptedPrivateKeyBundleSchema, stored);
    shortPreKey.version.value!.walletPreKey = new Uint8Array(31);
    await expect(
      decryptPrivateKeyBundle(toBinary(EncryptedPrivateKeyBundleSchema, shortPreKey), w.signer),
    ).rejects.toThrow('"walletPreKey" expected 32 bytes, got 31');
    await expect(decryptPrivateKeyBundle(new Uint8Array([0xff, 0xff]), w.signer)).rejects.toThrow();
  });
});

describe("bootstrap", () => {
  test("generate → network → static", async () => {
    const net = new TestNetwork();
    const w = randomWallet();
    const first = await loadOrCreatePrivateKeyBundle(net, w.signer);
    expect(first.source).toBe("generated");
    expect(w.signatures()).toBe(2); // Create + Enable
    const second = await loadOrCreatePrivateKeyBundle(net, w.signer);
    expect(second).toEqual({ bundle: first.bundle, source: "network" });
    expect(w.signatures()).toBe(3);
    const third = await loadOrCreatePrivateKeyBundle(net, w.signer, {
      privateKeyOverride: encodePrivateKeyBundle(first.bundle),
    });
    expect(third).toEqual({ bundle: first.bundle, source: "static" });
    expect(w.signatures()).toBe(3);
    await expect(
      loadOrCreatePrivateKeyBundle(net, randomWallet().signer, {
        privateKeyOverride: encodePrivateKeyBundle(first.bundle),
      }),
    ).rejects.toThrow(`private key override belongs to ${w.address}`);
  });
});

describe("interop with xmtp-js 12.1.0 key storage", () => {
  const opts = () => ({
    env: "local" as const,
    persistConversations: false,
    basePersistence: InMemoryPersistence.create(),
    disablePersistenceEncryption: true,
  });

  test("xmtp-js stores → we load", async () => {
    const net = new TestNetwork();
    const w = randomWallet();
    const keystore = await new KeyGeneratorKeystoreProvider().newKeystore(
      opts(),
      net.xmtpJsApiClient(),
      w.xmtpJsSigner,
    );
    const theirPublic = (await import("@xmtp/proto")).publicKey.PublicKeyBundle.encode(
      // biome-ignore lint/suspicious/noExplicitAny: ts-proto object.
      (await keystore.getPublicKeyBundle()) as any,
    ).finish();
    const loaded = await loadPrivateKeyBundle(net, w.signer);
    expect(loaded?.needsUpdate).toBe(false);
    expect(walletAddressOf(loaded!.bundle)).toBe(w.address);
    expect(encodePublicKeyBundle(publicKeyBundleOf(loaded!.bundle))).toEqual(Uint8Array.from(theirPublic));
  });

  test("we store → xmtp-js loads", async () => {
    const net = new TestNetwork();
    const w = randomWallet();
    const bundle = await createPrivateKeyBundle(w.signer);
    await storePrivateKeyBundle(net, w.signer, bundle);
    const keystore = await new NetworkKeystoreProvider().newKeystore(
      opts(),
      net.xmtpJsApiClient(),
      w.xmtpJsSigner,
    );
    const theirs = (await import("@xmtp/proto")).publicKey.PublicKeyBundle.encode(
      // biome-ignore lint/suspicious/noExplicitAny: ts-proto object.
      (await keystore.getPublicKeyBundle()) as any,
    ).finish();
    expect(Uint8Array.from(theirs)).toEqual(encodePublicKeyBundle(publicKeyBundleOf(bundle)));
    expect(await keystore.getAccountAddress()).toBe(w.address);
  });
});
