import fc from "fast-check";
import { expect, test } from "vitest";
import { base64Decoders } from "./envelope-json.js";

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
