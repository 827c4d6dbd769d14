import { envelopeDigest } from "@xmtp-ts/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nodeEnvelopeDigest } from "./digest.js";

describe("nodeEnvelopeDigest", () => {
  it("equals the protocol's envelopeDigest for any topic and message", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "grapheme", maxLength: 120 }),
        fc.uint8Array({ maxLength: 4096 }),
        (t, m) => {
          expect(Buffer.from(nodeEnvelopeDigest(t, m)).equals(Buffer.from(envelopeDigest(t, m)))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("matches a known value", () => {
    // sha256("") — empty topic, empty message.
    expect(Buffer.from(nodeEnvelopeDigest("", new Uint8Array())).toString("hex")).toBe(
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
  });
});
