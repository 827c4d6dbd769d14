import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { getPublicKey } from "@xmtp-ts/protocol";
import { describe, expect, test } from "vitest";
import { vectors } from "../conversations/test-fixtures.js";
import { MemoryTransport } from "../conversations/test-transport.js";
import {
  Consent,
  consentSecret,
  consentTopic,
  decodeConsentAction,
  MAX_CONSENT_PAYLOAD_BYTES,
} from "./consent.js";

const v = vectors.consent_topic;
const identity = {
  privateKey: hexToBytes(v.identity_private_key_hex),
  publicKey: getPublicKey(hexToBytes(v.identity_private_key_hex)),
};

describe("consent", () => {
  test("§19.7 vector: topic and secret", async () => {
    expect(bytesToHex(identity.publicKey)).toBe(v.identity_public_key_hex);
    expect(await consentTopic(identity.privateKey)).toBe(v.topic);
    expect(bytesToHex(await consentSecret(identity.privateKey))).toBe(v.encryption_secret_hex);
  });

  test("allow and deny round-trip through the network; the last action wins", async () => {
    const net = new MemoryTransport();
    const a = new Consent(identity, net);
    const peer = "0x3De402A325323Bb97f00cE3ad5bFAc96A11F9A34";
    await a.allow([peer.toLowerCase()]);
    expect(a.isAllowed(peer)).toBe(true);
    await new Promise((r) => setTimeout(r, 2));
    await a.deny([peer]);
    const b = new Consent(identity, net);
    await b.load();
    expect(b.consentState(peer)).toBe("denied");
    expect(b.consentState("0xF56d1F3b1290204441Cb3843C2Cac1C2f5AEd690")).toBe("unknown");
  });

  test("limits and foreign payloads", async () => {
    await expect(
      decodeConsentAction(identity, new Uint8Array(MAX_CONSENT_PAYLOAD_BYTES + 1)),
    ).rejects.toThrow(`at most ${MAX_CONSENT_PAYLOAD_BYTES} bytes`);
    await expect(decodeConsentAction(identity, new Uint8Array([0xff, 0x01]))).rejects.toThrow();
  });
});
