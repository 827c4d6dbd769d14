/**
 * `client.contacts`, as in xmtp-js: the wallet's consent list (allow, deny, state, refresh,
 * stream) and the contact bundles of other addresses (cached lookups).
 */
import type { PrivatePreferencesAction } from "@xmtp-ts/proto";
import type { Consent, ConsentListEntry, ConsentState } from "../consent/consent.js";
import type { StreamOptionsOrCallback } from "../conversations/stream.js";
import type { AnyPublicKeyBundle } from "../keys/public.js";
import type { ContactCache } from "./cache.js";

export class Contacts {
  constructor(
    private readonly consent: Consent,
    private readonly cache: ContactCache,
  ) {}

  /** Allows the addresses: one consent action, published to the network. */
  allow(addresses: string[]): Promise<void> {
    return this.consent.allow(addresses);
  }

  /** Denies the addresses: one consent action, published to the network. */
  deny(addresses: string[]): Promise<void> {
    return this.consent.deny(addresses);
  }

  /** The address's state in the list as last read (see {@link refreshConsentList}). */
  consentState(address: string): ConsentState {
    return this.consent.consentState(address);
  }

  isAllowed(address: string): boolean {
    return this.consent.isAllowed(address);
  }

  isDenied(address: string): boolean {
    return this.consent.isDenied(address);
  }

  /** Reads the actions published since the last read and returns the whole list. */
  async refreshConsentList(): Promise<ConsentListEntry[]> {
    await this.consent.load();
    return this.consent.entries();
  }

  /** Reads the actions published since `startTime` (all when omitted) and returns the whole list. */
  async loadConsentList(startTime?: Date): Promise<ConsentListEntry[]> {
    await this.consent.load(startTime ?? new Date(0));
    return this.consent.entries();
  }

  /**
   * Consent actions as they are published, each applied to the list first. Takes stream options,
   * or (as xmtp-js) a callback for a lost connection.
   */
  streamConsentList(
    options?: StreamOptionsOrCallback,
  ): Promise<AsyncIterableIterator<PrivatePreferencesAction>> {
    return this.consent.stream(options);
  }

  /** When the newest consent action read was published. */
  get lastConsentListEntryTimestamp(): Date | undefined {
    return this.consent.lastEntryTimestamp;
  }

  /** The newest verified contact bundle of `address`, or undefined when it has none. */
  get(address: string): Promise<AnyPublicKeyBundle | undefined> {
    return this.cache.get(address);
  }

  /** Whether each address has a contact bundle, in input order. */
  canMessage(addresses: string[]): Promise<boolean[]> {
    return this.cache.canMessage(addresses);
  }

  /** Forgets the cached bundle of one address (or all), so the next lookup reads the network. */
  forget(address?: string): void {
    this.cache.clear(address);
  }
}
