import fc from "fast-check";
import { expect, test } from "vitest";
import { base64Decoders, canonicalEnvelopeFromJson } from "./envelope-json.js";

test("every base64 decoder the platform may use gives the same bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), (bytes) => {
      const s = Buffer.from(bytes).toString("base64");
      expect(base64Decoders.atob(s, bytes.length)).toEqual(bytes);
      if (base64Decoders.node) expect(base64Decoders.node(s, bytes.length)).toEqual(bytes);
      if (base64Decoders.native) expect(base64Decoders.native(s, bytes.length)).toEqual(bytes);
    }),
  );
});

test("only padded standard base64 messages are read by hand", () => {
  const read = (message: string) => canonicalEnvelopeFromJson({ message })?.message;
  expect(read("")).toEqual(new Uint8Array(0));
  expect(read("AQ==")).toEqual(Uint8Array.of(1));
  expect(read("AQI=")).toEqual(Uint8Array.of(1, 2));
  expect(read("AQID")).toEqual(Uint8Array.of(1, 2, 3));
  for (const odd of [
    "AQ",
    "AQ=",
    "A===",
    "====",
    "AQ=D",
    "A=QD",
    "A-_w",
    "AQI\u00e9",
    "AQ I",
    "AQ\n=",
    "ÀQID",
  ])
    expect(read(odd)).toBeUndefined();
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
      expect(read(Buffer.from(bytes).toString("base64"))).toEqual(bytes);
    }),
  );
});
