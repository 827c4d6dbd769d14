import { create, toBinary } from "@bufbuild/protobuf";
import { Client, decodeContactBundle as xDecodeContactBundle } from "@xmtp/xmtp-js";
import { type Envelope, EnvelopeSchema, PublicKeyBundleSchema } from "@xmtp-ts/proto";
import { describe, expect, test } from "vitest";
import {
  createPrivateKeyBundle,
  decodePrivateKeyBundle,
  publicKeyBundleOf,
  signedPublicKeyBundleOf,
} from "../keys/private.js";
import {
  encodeSignedPublicKeyBundle,
  isSignedPublicKeyBundle,
  publicKeyBundlesEqual,
  toSignedPublicKeyBundle,
  walletAddressOfBundle,
} from "../keys/public.js";
import { TestNetwork } from "../test-network.js";
import { hex, vectors } from "../test-vectors.js";
import { randomWallet } from "../test-wallets.js";
import {
  contactTopic,
  decodeContactBundle,
  encodeContactBundleV1,
  encodeContactBundleV2,
  MAX_CONTACT_BUNDLE_BYTES,
} from "./bundle.js";
import { ContactCache } from "./cache.js";
import { lookupContact, lookupContacts } from "./lookup.js";
import { publishContactBundles } from "./publish.js";

const alice = decodePrivateKeyBundle(hex(vectors.identities.alice.private_key_bundle_hex)).bundle;
const bob = decodePrivateKeyBundle(hex(vectors.identities.bob.private_key_bundle_hex)).bundle;
const ALICE = vectors.identities.alice.wallet_address;

function envelope(topic: string, t: bigint, message: Uint8Array): Envelope {
  return create(EnvelopeSchema, { contentTopic: topic, timestampNs: t, message });
}

describe("codec", () => {
  test("ContactBundle v1, v2 and bare PublicKeyBundle", () => {
    const v1 = decodeContactBundle(encodeContactBundleV1(publicKeyBundleOf(alice)));
    expect(isSignedPublicKeyBundle(v1)).toBe(false);
    expect(walletAddressOfBundle(v1)).toBe(ALICE);
    const v2 = decodeContactBundle(encodeContactBundleV2(signedPublicKeyBundleOf(alice)));
    expect(isSignedPublicKeyBundle(v2)).toBe(true);
    expect(walletAddressOfBundle(v2)).toBe(ALICE);
    const bare = decodeContactBundle(toBinary(PublicKeyBundleSchema, publicKeyBundleOf(alice)));
    expect(walletAddressOfBundle(bare)).toBe(ALICE);
  });

  test("invalid input", () => {
    for (const bytes of [new Uint8Array(0), new Uint8Array([0xff, 0xff]), new Uint8Array([0x0a, 0x00])]) {
      expect(() => decodeContactBundle(bytes)).toThrow("unknown or invalid contact bundle");
    }
    expect(() => decodeContactBundle(new Uint8Array(MAX_CONTACT_BUNDLE_BYTES + 1))).toThrow(
      `contact bundle expected at most ${MAX_CONTACT_BUNDLE_BYTES} bytes`,
    );
  });

  test("xmtp-js decodes ours", () => {
    const v1 = xDecodeContactBundle(encodeContactBundleV1(publicKeyBundleOf(alice)));
    expect(v1.walletSignatureAddress()).toBe(ALICE);
    const v2 = xDecodeContactBundle(encodeContactBundleV2(signedPublicKeyBundleOf(alice)));
    expect(Uint8Array.from(v2.toBytes())).toEqual(
      encodeSignedPublicKeyBundle(signedPublicKeyBundleOf(alice)),
    );
  });
});

describe("publish", () => {
  test("V1 then V2 as two publishes; nothing when current; legacy-only mode", async () => {
    const net = new TestNetwork();
    expect(await publishContactBundles(net, alice)).toBe(true);
    expect(net.calls.publish).toBe(2);
    const rows = net.topics.get(contactTopic(ALICE))!;
    expect(rows.map((r) => isSignedPublicKeyBundle(decodeContactBundle(r.message)))).toEqual([false, true]);
    expect(await publishContactBundles(net, alice)).toBe(false);
    expect(net.calls.publish).toBe(2);

    const legacyNet = new TestNetwork();
    expect(await publishContactBundles(legacyNet, bob, { publishLegacyContact: true })).toBe(true);
    expect(legacyNet.calls.publish).toBe(1);
    const found = await lookupContact(legacyNet, vectors.identities.bob.wallet_address);
    expect(found && isSignedPublicKeyBundle(found)).toBe(false);
  });
});

describe("lookup", () => {
  test("newest verifying bundle wins; junk and other wallets' bundles are skipped; pages through", async () => {
    const net = new TestNetwork();
    const topic = contactTopic(ALICE);
    const old = await createPrivateKeyBundle(randomWallet().signer);
    await net.publish([envelope(topic, 1n, encodeContactBundleV2(signedPublicKeyBundleOf(alice)))]);
    // 12 newer envelopes that must be skipped: garbage and a valid bundle of another wallet.
    for (let i = 0; i < 6; i++) {
      await net.publish([envelope(topic, 10n + BigInt(i), new Uint8Array([0xff, i]))]);
      await net.publish([
        envelope(topic, 20n + BigInt(i), encodeContactBundleV2(signedPublicKeyBundleOf(old))),
      ]);
    }
    const found = await lookupContact(net, ALICE.toLowerCase());
    expect(found && publicKeyBundlesEqual(found, signedPublicKeyBundleOf(alice))).toBe(true);
    expect(net.calls.query).toBe(3);
    expect(await lookupContact(net, ALICE, { maxPages: 2 })).toBeUndefined();
    expect(await lookupContact(net, vectors.identities.bob.wallet_address)).toBeUndefined();

    // A newer bundle of the right wallet replaces the old one.
    await net.publish([envelope(topic, 100n, encodeContactBundleV1(publicKeyBundleOf(alice)))]);
    const newer = await lookupContact(net, ALICE);
    expect(newer && isSignedPublicKeyBundle(newer)).toBe(false);
  });

  test("batch: chunks of 50, first page only, invalid addresses answer undefined", async () => {
    const net = new TestNetwork();
    await publishContactBundles(net, alice);
    const topic = contactTopic(vectors.identities.bob.wallet_address);
    await net.publish([envelope(topic, 1n, encodeContactBundleV1(publicKeyBundleOf(bob)))]);
    for (let i = 0; i < 5; i++) await net.publish([envelope(topic, 10n + BigInt(i), new Uint8Array([0xff]))]);
    const others = Array.from({ length: 83 }, () => randomWallet().address);
    const addresses = [ALICE, vectors.identities.bob.wallet_address, ...others, "not-an-address"];
    const result = await lookupContacts(net, addresses);
    expect(net.calls.batchQuery).toBe(2);
    expect(result.get(ALICE)).toBeDefined();
    expect(result.get(vectors.identities.bob.wallet_address)).toBeUndefined(); // behind 5 junk rows
    expect(result.get("not-an-address")).toBeUndefined();
    expect(others.every((a) => result.has(a) && result.get(a) === undefined)).toBe(true);
    expect(await lookupContact(net, vectors.identities.bob.wallet_address)).toBeDefined();
  });

  test("cache: hits are kept, misses asked again", async () => {
    const net = new TestNetwork();
    await publishContactBundles(net, alice);
    const cache = new ContactCache(net);
    const before = net.calls.query;
    expect(await cache.get(ALICE)).toBeDefined();
    expect(await cache.get(ALICE.toLowerCase())).toBeDefined();
    expect(net.calls.query - before).toBe(1);
    expect(await cache.canMessage([ALICE, vectors.identities.bob.wallet_address, "0x12"])).toEqual([
      true,
      false,
      false,
    ]);
    expect(net.calls.batchQuery).toBe(1); // only Bob and the bad address were asked
    await publishContactBundles(net, bob);
    expect(await cache.canMessage([vectors.identities.bob.wallet_address])).toEqual([true]);
  });
});

describe("interop with an xmtp-js 12.1.0 client", () => {
  const options = (net: TestNetwork) => ({
    env: "local" as const,
    apiClientFactory: () => net.xmtpJsApiClient(),
  });

  test("xmtp-js publishes → we find its bundle; we publish → xmtp-js can message us", async () => {
    const net = new TestNetwork();
    const theirWallet = randomWallet();
    const client = await Client.create(theirWallet.xmtpJsSigner, options(net));
    const theirs = await lookupContact(net, theirWallet.address);
    // xmtp-js stamps its V1 and V2 envelopes with the same millisecond, so either may be newest.
    expect(theirs).toBeDefined();
    const theirsV2 = isSignedPublicKeyBundle(theirs!) ? theirs : toSignedPublicKeyBundle(theirs!);
    expect(encodeSignedPublicKeyBundle(theirsV2)).toEqual(
      Uint8Array.from(client.signedPublicKeyBundle.toBytes()),
    );

    const me = randomWallet();
    const mine = await createPrivateKeyBundle(me.signer);
    expect(await client.canMessage(me.address)).toBe(false);
    await publishContactBundles(net, mine);
    expect(await client.canMessage(me.address)).toBe(true);
    expect(await client.canMessage([me.address, randomWallet().address])).toEqual([true, false]);
    const seen = await client.getUserContact(me.address);
    expect(Uint8Array.from(seen!.toBytes())).toEqual(
      encodeSignedPublicKeyBundle(signedPublicKeyBundleOf(mine)),
    );
    await client.close();
  });
});
