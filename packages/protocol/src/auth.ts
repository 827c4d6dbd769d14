/**
 * Auth tokens (protocol.md §4): build them as xmtp-js `LocalAuthenticator` does, parse the
 * `Authorization: Bearer …` header, and validate them as the reference node's `validateToken`.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { AuthDataSchema, type PublicKey, TokenSchema } from "@xmtp-ts/proto";
import {
  expectBytes,
  getPublicKey,
  keccak256,
  signCompact,
  toChecksumAddress,
  verifyCompact,
} from "./crypto.js";
import { Code, XmtpError } from "./errors.js";
import { legacyPublicKeyBytes, walletAddressFromLegacyKey } from "./identity.js";
import { AUTH_TOKEN_MAX_AGE_NS } from "./limits.js";

/** Longest accepted token, in base64 characters (a real token is under 400). */
export const MAX_AUTH_TOKEN_CHARS = 8192;

/** Standard padded base64 of bytes (browser-safe; no Buffer). */
export function bytesToBase64(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

/** Decodes standard base64 (padding optional); throws on any other character. */
export function base64ToBytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Inputs of {@link createAuthToken}. */
export interface CreateAuthTokenParams {
  /** The legacy identity PublicKey, including its wallet signature. */
  identityKey: PublicKey;
  /** The identity's 32-byte private key. */
  identityPrivateKey: Uint8Array;
  /** The EIP-55 wallet address the identity belongs to. */
  walletAddress: string;
  /** Creation time, ns since the Unix epoch. */
  createdNs: bigint;
}

/** Builds a base64 `Token` signed by the identity key over keccak256(AuthData bytes). */
export function createAuthToken(params: CreateAuthTokenParams): string {
  const { identityKey, identityPrivateKey, walletAddress, createdNs } = params;
  expectBytes("identityPrivateKey", identityPrivateKey, 32);
  const pub = legacyPublicKeyBytes(identityKey);
  const derived = getPublicKey(identityPrivateKey);
  if (pub.length !== derived.length || !pub.every((b, i) => b === derived[i])) {
    throw new Error("identityPrivateKey does not match identityKey");
  }
  const authDataBytes = toBinary(
    AuthDataSchema,
    create(AuthDataSchema, { walletAddr: walletAddress, createdNs }),
  );
  const sig = signCompact(identityPrivateKey, keccak256(authDataBytes));
  const token = create(TokenSchema, {
    identityKey,
    authDataBytes,
    authDataSignature: {
      union: { case: "ecdsaCompact", value: { bytes: sig.bytes, recovery: sig.recovery } },
    },
  });
  return bytesToBase64(toBinary(TokenSchema, token));
}

function unauthenticated(message: string, cause?: unknown): XmtpError {
  return new XmtpError(Code.Unauthenticated, message, cause === undefined ? undefined : { cause });
}

/** Extracts the token from an `Authorization` header value; the scheme must be exactly `Bearer`. */
export function parseBearer(header: string | undefined): string {
  if (header === undefined || header === "") throw unauthenticated("authorization token is not provided");
  const space = header.indexOf(" ");
  if (space < 0) throw unauthenticated("invalid authorization header");
  const scheme = header.slice(0, space).trim();
  if (scheme !== "Bearer") throw unauthenticated(`unrecognized authorization scheme ${scheme}`);
  return header.slice(space + 1).trim();
}

/** Options of {@link verifyAuthToken}. */
export interface VerifyAuthTokenOptions {
  /** The verifier's clock, ns since the Unix epoch. */
  nowNs: bigint;
  /** Oldest accepted token age; default 1 h. A token is expired when `now − created > maxAgeNs`. */
  maxAgeNs?: bigint;
  /** If set, reject tokens created more than this far after `nowNs` (the reference has no such check). */
  maxFutureNs?: bigint;
}

/** What a valid token proves. */
export interface VerifiedAuthToken {
  walletAddress: string;
  createdNs: bigint;
}

/** Validates a base64 token as the reference node does (§4.2); throws XmtpError(Unauthenticated). */
export function verifyAuthToken(token: string, opts: VerifyAuthTokenOptions): VerifiedAuthToken {
  const fail = (reason: string, cause?: unknown) => unauthenticated(`validating token: ${reason}`, cause);
  if (token.length > MAX_AUTH_TOKEN_CHARS) {
    throw unauthenticated(`extracting token: token exceeds ${MAX_AUTH_TOKEN_CHARS} characters`);
  }

  // 1. Decode: empty, garbage base64 and garbage protobuf all read as a token with no identity key.
  let decoded: ReturnType<typeof fromBinary<typeof TokenSchema>> | undefined;
  try {
    decoded = fromBinary(TokenSchema, base64ToBytes(token));
  } catch (err) {
    throw fail("missing identity key", err);
  }
  const identityKey = decoded.identityKey;
  if (!identityKey?.signature) throw fail("missing identity key");

  // 2. Recover the wallet from the identity key's Create Identity signature.
  const sigCase = identityKey.signature.union.case;
  if (sigCase !== "ecdsaCompact" && sigCase !== "walletEcdsaCompact")
    throw fail("unknown signature/key type");
  if (identityKey.union.case !== "secp256k1Uncompressed") throw fail("unknown signature/key type");
  let wallet: string;
  try {
    wallet = walletAddressFromLegacyKey(identityKey);
  } catch (err) {
    throw fail(`recovering wallet: ${err instanceof Error ? err.message : String(err)}`, err);
  }

  // 3. Verify the auth data signature by the identity key (recovery id ignored).
  const authSig = decoded.authDataSignature;
  if (authSig?.union.case !== "ecdsaCompact") throw fail("unknown signature/key type");
  let valid: boolean;
  try {
    valid = verifyCompact(
      identityKey.union.value.bytes,
      keccak256(decoded.authDataBytes),
      authSig.union.value.bytes,
    );
  } catch (err) {
    throw fail(`invalid signature: ${err instanceof Error ? err.message : String(err)}`, err);
  }
  if (!valid) throw fail("invalid signature");

  let authData: ReturnType<typeof fromBinary<typeof AuthDataSchema>>;
  try {
    authData = fromBinary(AuthDataSchema, decoded.authDataBytes);
  } catch (err) {
    throw fail("invalid auth data", err);
  }

  // 4. Exact, case-sensitive match of the claimed wallet with the recovered EIP-55 address.
  if (authData.walletAddr !== wallet) throw fail("wallet address mismatch");

  // 5. Expiry (and, only if configured, a future bound).
  const maxAge = opts.maxAgeNs ?? AUTH_TOKEN_MAX_AGE_NS;
  if (opts.nowNs - authData.createdNs > maxAge) throw fail("token expired");
  if (opts.maxFutureNs !== undefined && authData.createdNs - opts.nowNs > opts.maxFutureNs) {
    throw fail("token created in the future");
  }
  return { walletAddress: toChecksumAddress(wallet), createdNs: authData.createdNs };
}
