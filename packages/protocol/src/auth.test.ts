import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { LocalAuthenticator, PrivateKeyBundleV1 } from "@xmtp/xmtp-js";
import {
  AuthDataSchema,
  PublicKeyBundleSchema,
  PublicKeySchema,
  SignatureSchema,
  TokenSchema,
} from "@xmtp-ts/proto";
import fc from "fast-check";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, test } from "vitest";
import {
  base64ToBytes,
  bytesToBase64,
  createAuthToken,
  MAX_AUTH_TOKEN_CHARS,
  parseBearer,
  verifyAuthToken,
} from "./auth.js";
import { getPublicKey, keccak256, signCompact } from "./crypto.js";
import { Code, XmtpError } from "./errors.js";
import { hex, vectors } from "./test-vectors.js";

const MIN_NS = 60_000_000_000n;
const HOUR_NS = 60n * MIN_NS;
const fixture = vectors.auth_token.node_go_fixture;
const aliceToken = vectors.auth_token.alice_token;
const alice = vectors.identities.alice;
const aliceIdentity = fromBinary(PublicKeyBundleSchema, hex(alice.public_key_bundle_v1_hex)).identityKey!;
const alicePriv = hex(alice.identity_key.private_key_hex);

function unauth(fn: () => unknown, text: string): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(XmtpError);
    expect((err as XmtpError).code).toBe(Code.Unauthenticated);
    expect((err as XmtpError).message).toContain(text);
    return;
  }
  throw new Error(`expected an Unauthenticated error containing "${text}"`);
}

/** Re-encodes a token after letting `edit` change its decoded parts. */
function mutate(token: string, edit: (t: ReturnType<typeof fromBinary<typeof TokenSchema>>) => void): string {
  const t = fromBinary(TokenSchema, base64ToBytes(token));
  edit(t);
  return bytesToBase64(toBinary(TokenSchema, t));
}

describe("xmtp-node-go fixture", () => {
  test("valid at created + 10 min", () => {
    expect(base64ToBytes(fixture.token_base64).length).toBe(279);
    const r = verifyAuthToken(fixture.token_base64, { nowNs: BigInt(fixture.validate_at_ns) });
    expect(r).toEqual({ walletAddress: fixture.wallet_address, createdNs: BigInt(fixture.created_ns) });
    expect(bytesToHex(fromBinary(TokenSchema, base64ToBytes(fixture.token_base64)).authDataBytes)).toBe(
      fixture.auth_data_bytes_hex,
    );
  });

  test("valid at exactly 1 h, expired after", () => {
    const created = BigInt(fixture.created_ns);
    expect(verifyAuthToken(fixture.token_base64, { nowNs: created + HOUR_NS }).walletAddress).toBe(
      fixture.wallet_address,
    );
    unauth(
      () => verifyAuthToken(fixture.token_base64, { nowNs: created + HOUR_NS + 1n }),
      "validating token: token expired",
    );
    unauth(() => verifyAuthToken(fixture.token_base64, { nowNs: created + 2n * HOUR_NS }), "token expired");
  });

  test("custom maxAgeNs", () => {
    const created = BigInt(fixture.created_ns);
    unauth(
      () => verifyAuthToken(fixture.token_base64, { nowNs: created + 2n * MIN_NS, maxAgeNs: MIN_NS }),
      "token expired",
    );
  });

  test("no future check unless maxFutureNs is set", () => {
    const created = BigInt(fixture.created_ns);
    expect(verifyAuthToken(fixture.token_base64, { nowNs: created - 24n * HOUR_NS }).createdNs).toBe(created);
    expect(
      verifyAuthToken(fixture.token_base64, { nowNs: created - 5n * MIN_NS, maxFutureNs: 5n * MIN_NS })
        .createdNs,
    ).toBe(created);
    unauth(
      () =>
        verifyAuthToken(fixture.token_base64, {
          nowNs: created - 5n * MIN_NS - 1n,
          maxFutureNs: 5n * MIN_NS,
        }),
      "validating token: token created in the future",
    );
  });
});

describe("createAuthToken", () => {
  test("reproduces the Alice token bytes exactly", () => {
    const token = createAuthToken({
      identityKey: aliceIdentity,
      identityPrivateKey: alicePriv,
      walletAddress: aliceToken.wallet_address,
      createdNs: BigInt(aliceToken.created_ns),
    });
    expect(token).toBe(aliceToken.token_base64);
    expect(`Bearer ${token}`).toBe(aliceToken.authorization_header);
    const t = fromBinary(TokenSchema, base64ToBytes(token));
    expect(bytesToHex(t.authDataBytes)).toBe(aliceToken.auth_data_bytes_hex);
    expect(t.authDataSignature?.union.case).toBe("ecdsaCompact");
    expect(bytesToHex(t.authDataSignature!.union.value!.bytes)).toBe(
      aliceToken.auth_data_signature.bytes_hex,
    );
    expect(t.authDataSignature!.union.value!.recovery).toBe(aliceToken.auth_data_signature.recovery);
    const r = verifyAuthToken(token, { nowNs: BigInt(aliceToken.created_ns) });
    expect(r.walletAddress).toBe(alice.wallet_address);
  });

  test("refuses a private key that does not match the identity key", () => {
    expect(() =>
      createAuthToken({
        identityKey: aliceIdentity,
        identityPrivateKey: hex(alice.pre_key.private_key_hex),
        walletAddress: alice.wallet_address,
        createdNs: 1n,
      }),
    ).toThrow("identityPrivateKey does not match identityKey");
  });
});

describe("negative cases", () => {
  const nowNs = BigInt(fixture.validate_at_ns);

  test("garbage, empty, and oversize tokens", () => {
    for (const t of ["", "!!!not base64!!!", "AAAA", bytesToBase64(new Uint8Array([0xff, 0xff, 0xff]))]) {
      unauth(() => verifyAuthToken(t, { nowNs }), "validating token: missing identity key");
    }
    unauth(() => verifyAuthToken("A".repeat(MAX_AUTH_TOKEN_CHARS + 4), { nowNs }), "extracting token:");
  });

  test("identity key without signature", () => {
    const t = mutate(fixture.token_base64, (tok) => {
      tok.identityKey!.signature = undefined;
    });
    unauth(() => verifyAuthToken(t, { nowNs }), "validating token: missing identity key");
  });

  test("identity key of another type, or auth signature not ecdsa_compact", () => {
    const noKey = mutate(fixture.token_base64, (tok) => {
      tok.identityKey!.union = { case: undefined };
    });
    unauth(() => verifyAuthToken(noKey, { nowNs }), "validating token: unknown signature/key type");
    const walletSig = mutate(fixture.token_base64, (tok) => {
      const { bytes, recovery } = tok.authDataSignature!.union.value!;
      tok.authDataSignature = create(SignatureSchema, {
        union: { case: "walletEcdsaCompact", value: { bytes, recovery } },
      });
    });
    unauth(() => verifyAuthToken(walletSig, { nowNs }), "validating token: unknown signature/key type");
  });

  test("tampered auth data fails the signature check", () => {
    const t = mutate(fixture.token_base64, (tok) => {
      const data = fromBinary(AuthDataSchema, tok.authDataBytes);
      data.createdNs += 1n;
      tok.authDataBytes = toBinary(AuthDataSchema, data);
    });
    unauth(() => verifyAuthToken(t, { nowNs }), "validating token: invalid signature");
  });

  test("high-S auth signature is rejected", () => {
    const n = secp256k1.Point.CURVE().n;
    const t = mutate(fixture.token_base64, (tok) => {
      const sig = tok.authDataSignature!.union.value!.bytes;
      const s = BigInt(`0x${bytesToHex(sig.slice(32))}`);
      sig.set(hex((n - s).toString(16).padStart(64, "0")), 32);
    });
    unauth(() => verifyAuthToken(t, { nowNs }), "validating token: invalid signature");
  });

  test("wallet mismatch: correctly signed auth data naming another (or lowercased) wallet", () => {
    for (const wallet of [vectors.identities.bob.wallet_address, alice.wallet_address.toLowerCase()]) {
      const token = createAuthToken({
        identityKey: aliceIdentity,
        identityPrivateKey: alicePriv,
        walletAddress: wallet,
        createdNs: nowNs,
      });
      unauth(() => verifyAuthToken(token, { nowNs }), "validating token: wallet address mismatch");
    }
  });

  test("an identity key that a wallet did not sign recovers another wallet", () => {
    const priv = hex(alice.pre_key.private_key_hex);
    const key = create(PublicKeySchema, {
      timestamp: 1n,
      union: { case: "secp256k1Uncompressed", value: { bytes: getPublicKey(priv) } },
      signature: aliceIdentity.signature!,
    });
    const token = createAuthToken({
      identityKey: key,
      identityPrivateKey: priv,
      walletAddress: alice.wallet_address,
      createdNs: nowNs,
    });
    unauth(() => verifyAuthToken(token, { nowNs }), "wallet address mismatch");
  });

  test("wrong-length auth signature", () => {
    const t = mutate(fixture.token_base64, (tok) => {
      tok.authDataSignature!.union.value!.bytes = new Uint8Array(63);
    });
    unauth(() => verifyAuthToken(t, { nowNs }), '"signature" expected 64 bytes, got 63');
  });

  test("identity key recovery id out of range", () => {
    const t = mutate(fixture.token_base64, (tok) => {
      tok.identityKey!.signature!.union.value!.recovery = 2;
    });
    unauth(() => verifyAuthToken(t, { nowNs }), '"recovery" expected 0 or 1, got 2');
  });

  test("auth signature by a key other than the identity key", () => {
    const t = mutate(fixture.token_base64, (tok) => {
      const sig = signCompact(alicePriv, keccak256(tok.authDataBytes));
      tok.authDataSignature!.union.value!.bytes = sig.bytes;
    });
    unauth(() => verifyAuthToken(t, { nowNs }), "invalid signature");
  });
});

describe("parseBearer", () => {
  test("extracts the token", () => {
    expect(parseBearer(aliceToken.authorization_header)).toBe(aliceToken.token_base64);
    expect(parseBearer("Bearer  abc ")).toBe("abc");
  });
  test("errors", () => {
    unauth(() => parseBearer(undefined), "authorization token is not provided");
    unauth(() => parseBearer(""), "authorization token is not provided");
    unauth(() => parseBearer("Bearer"), "invalid authorization header");
    unauth(() => parseBearer("Basic abc"), "unrecognized authorization scheme Basic");
    unauth(() => parseBearer("bearer abc"), "unrecognized authorization scheme bearer");
  });
});

describe("tokens from xmtp-js 12.1.0", () => {
  test("a fresh xmtp-js identity's LocalAuthenticator token verifies", async () => {
    const account = privateKeyToAccount(generatePrivateKey());
    const wallet = {
      getAddress: async () => account.address,
      signMessage: async (message: ArrayLike<number> | string) =>
        account.signMessage({
          message: typeof message === "string" ? message : { raw: Uint8Array.from(message) },
        }),
    };
    const bundle = await PrivateKeyBundleV1.generate(wallet);
    const created = new Date();
    const token = await new LocalAuthenticator(bundle.identityKey).createToken(created);
    const nowNs = BigInt(created.getTime()) * 1_000_000n;
    const r = verifyAuthToken(token.toBase64(), { nowNs: nowNs + MIN_NS });
    expect(r).toEqual({ walletAddress: account.address, createdNs: nowNs });

    // And ours, over the same identity and time, is byte-identical to xmtp-js's.
    const identityKey = fromBinary(PublicKeySchema, bundle.identityKey.publicKey.toBytes());
    const ours = createAuthToken({
      identityKey,
      identityPrivateKey: bundle.identityKey.secp256k1.bytes,
      walletAddress: account.address,
      createdNs: nowNs,
    });
    expect(ours).toBe(token.toBase64());
  });
});

test("property: any token string either verifies or throws XmtpError(Unauthenticated)", () => {
  const nowNs = BigInt(fixture.validate_at_ns);
  const real = base64ToBytes(fixture.token_base64);
  const corrupted = fc
    .tuple(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 3 }), fc.nat())
    .map(([flips, cut]) => {
      const b = real.slice();
      for (const [at, x] of flips) b[at % b.length]! ^= x;
      return bytesToBase64(b.slice(0, b.length - (cut % 4)));
    });
  fc.assert(
    fc.property(
      fc.oneof(fc.string({ maxLength: 64 }), fc.base64String({ maxLength: 400 }), corrupted),
      (token) => {
        try {
          verifyAuthToken(token, { nowNs });
        } catch (err) {
          expect(err).toBeInstanceOf(XmtpError);
          expect((err as XmtpError).code).toBe(Code.Unauthenticated);
        }
      },
    ),
    { numRuns: 300 },
  );
});
