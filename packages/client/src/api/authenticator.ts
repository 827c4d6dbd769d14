import type { PrivateKeyBundleV1 } from "@xmtp-ts/proto";
import { createAuthToken } from "@xmtp-ts/protocol";
import { invalidKeys } from "../errors.js";
import { identityKeyOf, walletAddressOf } from "../keys/private.js";
import type { Authenticator } from "./types.js";

/** Signs auth tokens (protocol.md §4.1) with a V1 identity key, as xmtp-js's LocalAuthenticator. */
export function localAuthenticator(bundle: PrivateKeyBundleV1, now: () => number = Date.now): Authenticator {
  const id = identityKeyOf(bundle);
  if (id.union.case !== "secp256k1" || !id.publicKey) throw invalidKeys("identity key is not secp256k1");
  const identityPrivateKey = id.union.value.bytes;
  const identityKey = id.publicKey;
  const walletAddress = walletAddressOf(bundle);
  return {
    async createToken() {
      return createAuthToken({
        identityKey,
        identityPrivateKey,
        walletAddress,
        createdNs: BigInt(now()) * 1_000_000n,
      });
    },
  };
}
