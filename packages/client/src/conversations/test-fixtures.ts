/** Test-only: the shared vectors' identities as OwnKeys, and a helper to make random identities. */
import { create, fromBinary } from "@bufbuild/protobuf";
import { hexToBytes } from "@noble/hashes/utils.js";
import {
  PrivateKeyBundleSchema,
  type PrivateKeyBundleV1,
  PrivateKeyBundleV1Schema,
  PublicKeySchema,
} from "@xmtp-ts/proto";
import {
  createIdentityText,
  eip191Hash,
  getPublicKey,
  legacyKeyBytes,
  randomPrivateKey,
  sha256,
  signCompact,
} from "@xmtp-ts/protocol";
import { type OwnKeys, ownKeysFromBundleV1 } from "../keys/own-keys.js";
import { vectors } from "../test-vectors.js";

export { vectors };

export function vectorBundle(name: "alice" | "bob"): PrivateKeyBundleV1 {
  const b = fromBinary(PrivateKeyBundleSchema, hexToBytes(vectors.identities[name].private_key_bundle_hex));
  if (b.version.case !== "v1") throw new Error("fixture is not v1");
  return b.version.value;
}

export function vectorKeys(name: "alice" | "bob"): OwnKeys {
  return ownKeysFromBundleV1(vectorBundle(name));
}

/** A fresh legacy identity made the way xmtp-js makes one, with a local wallet key. */
export function randomBundle(
  walletPriv: Uint8Array = randomPrivateKey(),
  nowMs = Date.now(),
): PrivateKeyBundleV1 {
  const idPriv = randomPrivateKey();
  const idPub = create(PublicKeySchema, {
    timestamp: BigInt(nowMs),
    union: { case: "secp256k1Uncompressed", value: { bytes: getPublicKey(idPriv) } },
  });
  const w = signCompact(walletPriv, eip191Hash(createIdentityText(legacyKeyBytes(idPub))));
  idPub.signature = {
    union: { case: "ecdsaCompact", value: { bytes: w.bytes, recovery: w.recovery } },
  } as never;
  const prePriv = randomPrivateKey();
  const prePub = create(PublicKeySchema, {
    timestamp: BigInt(nowMs),
    union: { case: "secp256k1Uncompressed", value: { bytes: getPublicKey(prePriv) } },
  });
  const s = signCompact(idPriv, sha256(legacyKeyBytes(prePub)));
  prePub.signature = {
    union: { case: "ecdsaCompact", value: { bytes: s.bytes, recovery: s.recovery } },
  } as never;
  return create(PrivateKeyBundleV1Schema, {
    identityKey: {
      timestamp: BigInt(nowMs),
      union: { case: "secp256k1", value: { bytes: idPriv } },
      publicKey: idPub,
    },
    preKeys: [
      {
        timestamp: BigInt(nowMs),
        union: { case: "secp256k1", value: { bytes: prePriv } },
        publicKey: prePub,
      },
    ],
  });
}

export function randomKeys(): OwnKeys {
  return ownKeysFromBundleV1(randomBundle());
}
