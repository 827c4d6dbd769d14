/** Test-only helpers for the API tests: identities from the shared vectors and bounded waits. */
import { create, fromBinary } from "@bufbuild/protobuf";
import { hexToBytes } from "@noble/hashes/utils.js";
import { type Envelope, EnvelopeSchema, type PublicKey, PublicKeyBundleSchema } from "@xmtp-ts/proto";
import { createAuthToken } from "@xmtp-ts/protocol";
import postgres from "postgres";
import { type IdentityVector, vectors } from "../../../protocol/src/test-vectors.js";

/** The test PostgreSQL server (trust auth); unreachable means failing tests, never skipped ones. */
export const TEST_DATABASE_URL =
  process.env.XMTP_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** Drops a test schema and everything in it. */
export async function dropSchema(schema: string): Promise<void> {
  const sql = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export interface TestIdentity {
  wallet: string;
  identityKey: PublicKey;
  privateKey: Uint8Array;
  /** `Bearer <token>` created at `createdNs`. */
  bearer(createdNs: bigint): string;
}

function identity(v: IdentityVector): TestIdentity {
  const identityKey = fromBinary(PublicKeyBundleSchema, hexToBytes(v.public_key_bundle_v1_hex)).identityKey;
  if (identityKey === undefined) throw new Error("vector without identity key");
  const privateKey = hexToBytes(v.identity_key.private_key_hex);
  return {
    wallet: v.wallet_address,
    identityKey,
    privateKey,
    bearer: (createdNs) =>
      `Bearer ${createAuthToken({ identityKey, identityPrivateKey: privateKey, walletAddress: v.wallet_address, createdNs })}`,
  };
}

export const alice = identity(vectors.identities.alice);
export const bob = identity(vectors.identities.bob);
/** The token xmtp-js built for Alice (protocol.md §19.5). */
export const aliceFixture = {
  createdNs: BigInt(vectors.auth_token.alice_token.created_ns),
  header: vectors.auth_token.alice_token.authorization_header,
  wallet: vectors.auth_token.alice_token.wallet_address,
};

export const env = (topic: string, ts: bigint | number, message: Uint8Array | string = `m${ts}`): Envelope =>
  create(EnvelopeSchema, {
    contentTopic: topic,
    timestampNs: BigInt(ts),
    message: typeof message === "string" ? new TextEncoder().encode(message) : message,
  });

/** Next value of an async iterator, or an error after `ms`. */
export async function nextWithin<T>(it: AsyncIterator<T>, ms = 2000): Promise<IteratorResult<T>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      it.next(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no value within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
