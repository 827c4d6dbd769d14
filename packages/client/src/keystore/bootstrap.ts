/** Client key bootstrap order (protocol.md §12): static override, then the network backup, then a new identity. */

import type { PrivateKeyBundleV1 } from "@xmtp-ts/proto";
import type { NetworkApi } from "../api/types.js";
import { invalidKeys } from "../errors.js";
import { createPrivateKeyBundle, decodePrivateKeyBundle, walletAddressOf } from "../keys/private.js";
import { type Signer, signerAddress } from "../signer.js";
import { type BackupOptions, loadPrivateKeyBundle, storePrivateKeyBundle } from "./backup.js";

/** Where the bundle came from. */
export type KeySource = "static" | "network" | "generated";

/** Options of {@link loadOrCreatePrivateKeyBundle}. */
export interface BootstrapOptions extends BackupOptions {
  /** An encoded private key bundle to use as is (xmtp-js `privateKeyOverride`). */
  privateKeyOverride?: Uint8Array;
}

/**
 * (1) `privateKeyOverride`; (2) the newest network backup (one Enable signature); (3) a new identity,
 * stored at once (one Create plus one Enable signature; it supersedes any older backup).
 */
export async function loadOrCreatePrivateKeyBundle(
  api: Pick<NetworkApi, "query" | "publish">,
  signer: Signer,
  opts: BootstrapOptions = {},
): Promise<{ bundle: PrivateKeyBundleV1; source: KeySource }> {
  const address = await signerAddress(signer);
  if (opts.privateKeyOverride) {
    const { bundle } = decodePrivateKeyBundle(opts.privateKeyOverride);
    const owner = walletAddressOf(bundle);
    if (owner !== address) throw invalidKeys(`private key override belongs to ${owner}, not ${address}`);
    return { bundle, source: "static" };
  }
  const loaded = await loadPrivateKeyBundle(api, signer, opts);
  if (loaded) return { bundle: loaded.bundle, source: "network" };
  const bundle = await createPrivateKeyBundle(signer);
  await storePrivateKeyBundle(api, signer, bundle, opts);
  return { bundle, source: "generated" };
}
