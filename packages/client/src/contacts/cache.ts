/** A per-client contact cache: found bundles are kept; misses are asked again next time. */
import { toChecksumAddress } from "@xmtp-ts/protocol";
import type { NetworkApi } from "../api/types.js";
import { checkedAddress } from "../errors.js";
import type { AnyPublicKeyBundle } from "../keys/public.js";
import { lookupContact, lookupContacts } from "./lookup.js";

/** EIP-55 form of a valid address; anything else is kept as given (and finds nothing). */
function keyOf(address: string): string {
  try {
    return toChecksumAddress(address);
  } catch {
    return address;
  }
}

/** Cached contact lookups over one API. */
export class ContactCache {
  private readonly found = new Map<string, AnyPublicKeyBundle>();

  constructor(private readonly api: Pick<NetworkApi, "query" | "batchQuery">) {}

  /** The newest verifying bundle of `address` (single lookup, all pages), cached once found. */
  async get(address: string): Promise<AnyPublicKeyBundle | undefined> {
    const key = checkedAddress(address);
    const hit = this.found.get(key);
    if (hit) return hit;
    const bundle = await lookupContact(this.api, key);
    if (bundle) this.found.set(key, bundle);
    return bundle;
  }

  /** Bundles for many addresses (batch lookup, first page only), using and filling the cache. */
  async getMany(addresses: string[]): Promise<Map<string, AnyPublicKeyBundle | undefined>> {
    const keys = addresses.map(keyOf);
    const missing = keys.filter((k) => !this.found.has(k));
    const fetched = missing.length > 0 ? await lookupContacts(this.api, missing) : new Map();
    const out = new Map<string, AnyPublicKeyBundle | undefined>();
    for (const k of keys) {
      const bundle = this.found.get(k) ?? fetched.get(k);
      if (bundle) this.found.set(k, bundle);
      out.set(k, bundle);
    }
    return out;
  }

  /** Whether each address has a contact bundle, in input order (`canMessage`). */
  async canMessage(addresses: string[]): Promise<boolean[]> {
    const found = await this.getMany(addresses);
    return addresses.map((a) => found.get(keyOf(a)) !== undefined);
  }

  /** Records a bundle (e.g. one seen in a valid invitation). */
  set(address: string, bundle: AnyPublicKeyBundle): void {
    this.found.set(toChecksumAddress(address), bundle);
  }

  /** Forgets one address, or everything. */
  clear(address?: string): void {
    if (address) this.found.delete(toChecksumAddress(address));
    else this.found.clear();
  }
}
