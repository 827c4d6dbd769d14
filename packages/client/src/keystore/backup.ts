/**
 * Encrypted private key backup on the `privatestore` topic (protocol.md §12): the wallet's
 * "Enable Identity" signature over a random 32-byte pre-key is the AES-GCM/HKDF secret.
 */

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { randomBytes } from "@noble/hashes/utils.js";
import {
  EncryptedPrivateKeyBundleSchema,
  type EncryptedPrivateKeyBundleV1,
  EncryptedPrivateKeyBundleV1Schema,
  EnvelopeSchema,
  type PrivateKeyBundleV1,
  SortDirection,
} from "@xmtp-ts/proto";
import {
  buildTopic,
  enableIdentityText,
  expectBytes,
  recoverWalletAddress,
  toChecksumAddress,
} from "@xmtp-ts/protocol";
import { queryPage } from "../api/query.js";
import type { NetworkApi } from "../api/types.js";
import { DecryptionError, decrypt, encrypt } from "../crypto/ciphertext.js";
import { invalidKeys, signerError } from "../errors.js";
import { decodePrivateKeyBundle, encodePrivateKeyBundle, walletAddressOf } from "../keys/private.js";
import { type Signer, signerAddress, signText } from "../signer.js";

/** Largest stored backup accepted on decode (a real one is under 1 KiB). */
export const MAX_ENCRYPTED_BUNDLE_BYTES = 131_072;

/** The topic holding a wallet's encrypted key bundle. */
export function privateStoreTopic(address: string): string {
  return buildTopic.privateStore(toChecksumAddress(address));
}

/** A decrypted backup; `needsUpdate` marks a legacy storage format that should be stored again. */
export interface LoadedPrivateKeyBundle {
  bundle: PrivateKeyBundleV1;
  needsUpdate: boolean;
}

async function enableSignature(
  signer: Signer,
  walletPreKey: Uint8Array,
  check: boolean,
): Promise<Uint8Array> {
  const text = enableIdentityText(walletPreKey);
  const sig = await signText(signer, text);
  if (check) {
    // xmtp-js refuses a signature that does not recover the wallet (some hardware wallets).
    if (recoverWalletAddress(text, sig) !== (await signerAddress(signer)))
      throw signerError("the wallet signature does not recover the wallet address");
  }
  return sig;
}

/**
 * Encrypts a bundle for storage: one "Enable Identity" signature; returns the encoded
 * `EncryptedPrivateKeyBundle{v1}`.
 */
export async function encryptPrivateKeyBundle(
  bundle: PrivateKeyBundleV1,
  signer: Signer,
  opts: { walletPreKey?: Uint8Array } = {},
): Promise<Uint8Array> {
  const walletPreKey = opts.walletPreKey ?? randomBytes(32);
  expectBytes("walletPreKey", walletPreKey, 32);
  const secret = await enableSignature(signer, walletPreKey, true);
  const ciphertext = await encrypt(encodePrivateKeyBundle(bundle), secret);
  return toBinary(
    EncryptedPrivateKeyBundleSchema,
    create(EncryptedPrivateKeyBundleSchema, { version: { case: "v1", value: { walletPreKey, ciphertext } } }),
  );
}

function decodeEncrypted(bytes: Uint8Array): { v1: EncryptedPrivateKeyBundleV1; legacy: boolean } {
  if (bytes.length > MAX_ENCRYPTED_BUNDLE_BYTES) {
    throw invalidKeys(
      `encrypted key bundle expected at most ${MAX_ENCRYPTED_BUNDLE_BYTES} bytes, got ${bytes.length}`,
    );
  }
  try {
    const wrapped = fromBinary(EncryptedPrivateKeyBundleSchema, bytes);
    if (wrapped.version.case === "v1" && wrapped.version.value.ciphertext) {
      return { v1: wrapped.version.value, legacy: false };
    }
  } catch {
    // fall through to the bare V1 form
  }
  return { v1: fromBinary(EncryptedPrivateKeyBundleV1Schema, bytes), legacy: true };
}

/**
 * Decrypts a stored backup: accepts `EncryptedPrivateKeyBundle{v1}` or a bare
 * `EncryptedPrivateKeyBundleV1`, retries with `v ± 27` when the wallet's recovery byte convention
 * changed, and accepts a bare `PrivateKeyBundleV1` plaintext. One "Enable Identity" signature.
 */
export async function decryptPrivateKeyBundle(
  bytes: Uint8Array,
  signer: Signer,
): Promise<LoadedPrivateKeyBundle> {
  const { v1, legacy } = decodeEncrypted(bytes);
  expectBytes("walletPreKey", v1.walletPreKey, 32);
  if (!v1.ciphertext) throw invalidKeys("encrypted key bundle has no ciphertext");
  const secret = await enableSignature(signer, v1.walletPreKey, false);
  let plain: Uint8Array;
  try {
    plain = await decrypt(v1.ciphertext, secret);
  } catch (err) {
    if (!(err instanceof DecryptionError) || secret.length !== 65) throw err;
    const alt = secret.slice();
    alt[64] = alt[64]! < 27 ? alt[64]! + 27 : alt[64]! - 27;
    plain = await decrypt(v1.ciphertext, alt);
  }
  const decoded = decodePrivateKeyBundle(plain);
  const owner = walletAddressOf(decoded.bundle);
  const me = await signerAddress(signer);
  if (owner !== me) throw invalidKeys(`key bundle belongs to ${owner}, not ${me}`);
  return { bundle: decoded.bundle, needsUpdate: legacy || decoded.legacyFormat };
}

/** Options of {@link storePrivateKeyBundle} and {@link loadPrivateKeyBundle}. */
export interface BackupOptions {
  /**
   * Called with the bundle before any publish, so the API client can sign auth tokens with it
   * (xmtp-js installs its LocalAuthenticator at this point).
   */
  beforePublish?: (bundle: PrivateKeyBundleV1) => void | Promise<void>;
  /** Envelope timestamp; default now. */
  nowNs?: bigint;
}

/** Encrypts and publishes the bundle to the wallet's privatestore topic (one Enable signature). */
export async function storePrivateKeyBundle(
  api: Pick<NetworkApi, "publish">,
  signer: Signer,
  bundle: PrivateKeyBundleV1,
  opts: BackupOptions = {},
): Promise<void> {
  const address = await signerAddress(signer);
  if (walletAddressOf(bundle) !== address) throw invalidKeys(`key bundle does not belong to ${address}`);
  const message = await encryptPrivateKeyBundle(bundle, signer);
  await opts.beforePublish?.(bundle);
  await api.publish([
    create(EnvelopeSchema, {
      contentTopic: privateStoreTopic(address),
      timestampNs: opts.nowNs ?? BigInt(Date.now()) * 1_000_000n,
      message,
    }),
  ]);
}

/**
 * Loads the newest backup (page size 1, descending); undefined when there is none. A legacy format
 * is stored again in the current one unless `resave` is false (one more Enable signature).
 */
export async function loadPrivateKeyBundle(
  api: Pick<NetworkApi, "query" | "publish">,
  signer: Signer,
  opts: BackupOptions & { resave?: boolean } = {},
): Promise<LoadedPrivateKeyBundle | undefined> {
  const address = await signerAddress(signer);
  const [newest] = await queryPage(api, privateStoreTopic(address), {
    limit: 1,
    direction: SortDirection.DESCENDING,
  });
  if (!newest) return undefined;
  const loaded = await decryptPrivateKeyBundle(newest.message, signer);
  if (loaded.needsUpdate && opts.resave !== false) {
    await storePrivateKeyBundle(api, signer, loaded.bundle, opts);
    return { bundle: loaded.bundle, needsUpdate: false };
  }
  return loaded;
}
