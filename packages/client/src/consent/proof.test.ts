import { createRequire } from "node:module";
import { toBinary } from "@bufbuild/protobuf";
import { hexToBytes } from "@noble/hashes/utils.js";
import { ConsentProofPayloadSchema } from "@xmtp-ts/proto";
import { consentProofText, getPublicKey } from "@xmtp-ts/protocol";
import fc from "fast-check";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, test } from "vitest";
import { vectors } from "../conversations/test-fixtures.js";
import { MemoryTransport } from "../conversations/test-transport.js";
import { fromViemAccount } from "../signer.js";
import { Consent } from "./consent.js";
import { CONSENT_PROOF_MAX_AGE_MS, createConsentProof, isValidConsentProof } from "./proof.js";

// The reference's own helper package (a dependency of xmtp-js 12).
const reference = createRequire(import.meta.url)("@xmtp/consent-proof-signature") as {
  createConsentMessage(peerAddress: string, timestampMs: number): string;
  createConsentProofPayload(signature: string, timestampMs: number): Uint8Array;
};

const granter = privateKeyToAccount(generatePrivateKey());
const sender = privateKeyToAccount(generatePrivateKey()).address;
const DAY = 24 * 60 * 60 * 1000;

describe("consent proofs", () => {
  test("the signed text and the payload bytes are the reference's", async () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4_102_444_800_000 }),
        fc.uint8Array({ minLength: 20, maxLength: 20 }),
        (ms, a) => {
          const addr = `0x${Buffer.from(a).toString("hex")}`;
          expect(consentProofText(addr, ms)).toBe(reference.createConsentMessage(addr, ms));
        },
      ),
    );
    expect(consentProofText(sender, 1714785568964)).toContain(
      "Current Time: Sat, 04 May 2024 01:19:28 GMT\n",
    );
    const ms = Date.now();
    const proof = await createConsentProof(fromViemAccount(granter), sender.toLowerCase(), ms);
    expect(proof.signature).toMatch(/^0x[0-9a-f]{130}$/);
    expect(toBinary(ConsentProofPayloadSchema, proof)).toEqual(
      new Uint8Array(reference.createConsentProofPayload(proof.signature, ms)),
    );
  });

  test("valid only for the granting wallet, the named sender, and a date within the last 30 days", async () => {
    const now = Date.now();
    const proof = await createConsentProof(fromViemAccount(granter), sender, now - 1000);
    expect(isValidConsentProof(proof, sender, granter.address, now)).toBe(true);
    expect(isValidConsentProof(proof, sender.toLowerCase(), granter.address.toLowerCase(), now)).toBe(true);
    const other = privateKeyToAccount(generatePrivateKey()).address;
    expect(isValidConsentProof(proof, other, granter.address, now)).toBe(false);
    expect(isValidConsentProof(proof, sender, other, now)).toBe(false);
    // Dated after "now", or older than 30 days, at the moment it is read.
    expect(isValidConsentProof(proof, sender, granter.address, now - 2000)).toBe(false);
    expect(
      isValidConsentProof(proof, sender, granter.address, now - 1000 + CONSENT_PROOF_MAX_AGE_MS + 1),
    ).toBe(false);
    const old = await createConsentProof(fromViemAccount(granter), sender, now - 31 * DAY);
    expect(isValidConsentProof(old, sender, granter.address, now)).toBe(false);
  });

  test("a malformed proof is invalid, never an exception", async () => {
    const now = Date.now();
    const good = await createConsentProof(fromViemAccount(granter), sender, now);
    const bad = [
      { ...good, signature: "" },
      { ...good, signature: "0x1234" },
      { ...good, signature: `0x${"zz".repeat(65)}` },
      { ...good, signature: `0x${"00".repeat(65)}` },
      { ...good, signature: `${good.signature.slice(0, -2)}05` },
      { ...good, timestamp: 0n },
      { ...good, timestamp: 2n ** 64n - 1n },
    ];
    for (const p of bad) expect(isValidConsentProof(p, sender, granter.address, now)).toBe(false);
  });

  test("loading consent allows a peer whose invitation carries a valid proof, once, unless consent is recorded", async () => {
    const v = vectors.consent_topic;
    const identity = {
      privateKey: hexToBytes(v.identity_private_key_hex),
      publicKey: getPublicKey(hexToBytes(v.identity_private_key_hex)),
    };
    const net = new MemoryTransport();
    const now = Date.now();
    const denied = privateKeyToAccount(generatePrivateKey()).address;
    const forged = privateKeyToAccount(generatePrivateKey()).address;
    const proofFor = (a: string) => createConsentProof(fromViemAccount(granter), a, now - 1000);
    const conversations = [
      { peerAddress: sender, consentProof: await proofFor(sender) },
      { peerAddress: denied, consentProof: await proofFor(denied) },
      { peerAddress: forged, consentProof: await proofFor(sender) },
      { peerAddress: privateKeyToAccount(generatePrivateKey()).address },
    ];
    const first = new Consent(identity, net);
    await first.deny([denied]);
    const c = new Consent(identity, net, {
      ownAddress: granter.address,
      conversations: async () => conversations,
    });
    await c.load();
    expect(c.consentState(sender)).toBe("allowed");
    expect(c.consentState(denied)).toBe("denied");
    expect(c.consentState(forged)).toBe("unknown");
    // One action was published for the grant, and reading again publishes nothing more.
    const count = async () => {
      let n = 0;
      // biome-ignore lint/complexity/useLiteralKeys: reads a private member
      for await (const page of net.queryPages(await c["topicName"]())) n += page.length;
      return n;
    };
    expect(await count()).toBe(2);
    await c.load();
    expect(await count()).toBe(2);
    const fresh = new Consent(identity, net);
    await fresh.load();
    expect(fresh.consentState(sender)).toBe("allowed");
  });
});
