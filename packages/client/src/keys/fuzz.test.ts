import fc from "fast-check";
import { expect, test } from "vitest";
import { decodeContactBundle } from "../contacts/bundle.js";
import { hex, vectors } from "../test-vectors.js";
import { decodePrivateKeyBundle } from "./private.js";
import { decodePublicKeyBundle, decodeSignedPublicKeyBundle } from "./public.js";

const decoders = {
  decodePrivateKeyBundle,
  decodePublicKeyBundle,
  decodeSignedPublicKeyBundle,
  decodeContactBundle,
};

/** Random bytes, and real encodings with a few bytes flipped or cut. */
const inputs = fc.oneof(
  fc.uint8Array({ maxLength: 400 }),
  fc
    .tuple(
      fc.constantFrom(
        vectors.identities.alice.private_key_bundle_hex,
        vectors.identities.alice.public_key_bundle_v1_hex,
        vectors.identities.bob.signed_public_key_bundle_hex,
      ),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 4 }),
      fc.nat(),
    )
    .map(([h, flips, cut]) => {
      const b = hex(h);
      for (const [at, x] of flips) b[at % b.length]! ^= x;
      return b.slice(0, b.length - (cut % 8));
    }),
);

test.each(Object.entries(decoders))(
  "%s on corrupted input: a value or an Error, never a hang or a non-Error",
  (_name, decode) => {
    fc.assert(
      fc.property(inputs, (bytes) => {
        try {
          decode(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(Error);
        }
      }),
      { numRuns: 200 },
    );
  },
);
