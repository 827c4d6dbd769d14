/**
 * Consent (protocol.md §14): the private-preferences topic and secret derived from the identity
 * key, encrypted allow/deny actions, and the per-address state where the last action wins.
 * Conversations allow their peer when they create a conversation, as xmtp-js does; loading also
 * honours consent proofs carried in invitations (proof.ts).
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { sha256 } from "@noble/hashes/sha2.js";
import { utf8ToBytes } from "@noble/hashes/utils.js";
import {
  type ConsentProofPayload,
  type Envelope,
  EnvelopeSchema,
  type PrivatePreferencesAction,
  PrivatePreferencesActionSchema,
  PrivatePreferencesPayloadSchema,
} from "@xmtp-ts/proto";
import { buildTopic, toChecksumAddress } from "@xmtp-ts/protocol";
import type { NetworkApi } from "../api/types.js";
import { type StreamOptionsOrCallback, streamEnvelopes, streamOptions } from "../conversations/stream.js";
import { decrypt, encrypt, hkdfSha256, toBase64 } from "../crypto/index.js";
import { checkedAddress } from "../errors.js";
import type { KeyPair } from "../keys/own-keys.js";
import { isValidConsentProof } from "./proof.js";

/** Largest consent envelope accepted (an action lists a few addresses). */
export const MAX_CONSENT_PAYLOAD_BYTES = 256 * 1024;

export type ConsentState = "allowed" | "denied" | "unknown";

/** One address's state, as xmtp-js's `ConsentListEntry`. */
export interface ConsentListEntry {
  value: string;
  entryType: "address";
  permissionType: ConsentState;
}

const EMPTY = new Uint8Array(0);

function base64UrlNoPad(b: Uint8Array): string {
  return toBase64(b).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** `/xmtp/0/userpreferences-<base64url(sha256(HKDF(identity key, "XMTP_PRIVATE_PREFERENCES_TOPIC")))>/proto`. */
export async function consentTopic(identityPrivateKey: Uint8Array): Promise<string> {
  const k = await hkdfSha256(identityPrivateKey, utf8ToBytes("XMTP_PRIVATE_PREFERENCES_TOPIC"), EMPTY, 32);
  return buildTopic.userPreferences(base64UrlNoPad(sha256(k)));
}

/** The AES-GCM secret of consent payloads. */
export function consentSecret(identityPrivateKey: Uint8Array): Promise<Uint8Array> {
  return hkdfSha256(identityPrivateKey, utf8ToBytes("XMTP_PRIVATE_PREFERENCES_ENCRYPTION"), EMPTY, 32);
}

/** Encrypts an action as `PrivatePreferencesPayload{v1}` (AAD = the 65-byte identity public key). */
export async function encodeConsentAction(
  identity: KeyPair,
  action: PrivatePreferencesAction,
): Promise<Uint8Array> {
  const ciphertext = await encrypt(
    toBinary(PrivatePreferencesActionSchema, action),
    await consentSecret(identity.privateKey),
    identity.publicKey,
  );
  return toBinary(
    PrivatePreferencesPayloadSchema,
    create(PrivatePreferencesPayloadSchema, { version: { case: "v1", value: ciphertext } }),
  );
}

/** Decrypts a consent payload; throws on anything malformed or foreign. */
export async function decodeConsentAction(
  identity: KeyPair,
  bytes: Uint8Array,
): Promise<PrivatePreferencesAction> {
  if (bytes.length > MAX_CONSENT_PAYLOAD_BYTES)
    throw new RangeError(
      `consent payload expected at most ${MAX_CONSENT_PAYLOAD_BYTES} bytes, got ${bytes.length}`,
    );
  const payload = fromBinary(PrivatePreferencesPayloadSchema, bytes);
  if (payload.version.case !== "v1") throw new Error("consent payload has no v1");
  const plain = await decrypt(
    payload.version.value,
    await consentSecret(identity.privateKey),
    identity.publicKey,
  );
  return fromBinary(PrivatePreferencesActionSchema, plain);
}

/** The consent list of one identity over the network. */
export class Consent {
  private readonly state = new Map<string, ConsentState>();
  private topic: string | undefined;
  private lastNs: bigint | undefined;

  /**
   * With `proofs`, {@link load} also allows every conversation peer whose invitation carries a
   * valid consent proof from this wallet and whose consent is still unknown (one published action).
   */
  constructor(
    private readonly identity: KeyPair,
    private readonly transport: Pick<NetworkApi, "closed" | "publish" | "queryPages" | "subscribe">,
    private readonly proofs?: {
      ownAddress: string;
      conversations: () => Promise<
        readonly { peerAddress: string; consentProof?: ConsentProofPayload | undefined }[]
      >;
    },
  ) {}

  private async topicName(): Promise<string> {
    this.topic ??= await consentTopic(this.identity.privateKey);
    return this.topic;
  }

  /**
   * Reads new actions (ascending; the last action per address wins), or every action from
   * `startTime` when given. Undecodable entries are skipped.
   */
  async load(startTime?: Date): Promise<void> {
    const topic = await this.topicName();
    const from = startTime !== undefined ? BigInt(startTime.getTime()) * 1_000_000n : undefined;
    const range = {
      ...(from !== undefined
        ? { startTime: from }
        : this.lastNs !== undefined
          ? { startTime: this.lastNs + 1n }
          : {}),
    };
    for await (const page of this.transport.queryPages(topic, range)) {
      for (const env of page) await this.receive(env);
    }
    if (this.proofs === undefined) return;
    const granted = new Set<string>();
    for (const c of await this.proofs.conversations()) {
      if (
        c.consentProof !== undefined &&
        this.consentState(c.peerAddress) === "unknown" &&
        isValidConsentProof(c.consentProof, c.peerAddress, this.proofs.ownAddress)
      )
        granted.add(toChecksumAddress(c.peerAddress));
    }
    if (granted.size > 0) await this.allow([...granted]);
  }

  /** Applies one envelope of the consent topic; returns its action, or undefined when it is not ours. */
  private async receive(env: Envelope): Promise<PrivatePreferencesAction | undefined> {
    if (this.lastNs === undefined || env.timestampNs > this.lastNs) this.lastNs = env.timestampNs;
    try {
      const action = await decodeConsentAction(this.identity, env.message);
      this.apply(action);
      return action;
    } catch {
      return undefined; // not ours or damaged: ignored, as the reference does
    }
  }

  /**
   * Consent actions as they are published (by this or another client of the wallet), each applied
   * to the list before it is yielded. The stream reconnects and backfills by itself.
   */
  async stream(
    options: StreamOptionsOrCallback = {},
  ): Promise<AsyncIterableIterator<PrivatePreferencesAction>> {
    const o = streamOptions(options);
    return streamEnvelopes(this.transport, [await this.topicName()], (env) => this.receive(env), {
      ...(o.signal ? { signal: o.signal } : {}),
      onConnectionLost: o.onConnectionLost,
      onReconnect: o.onReconnect,
    });
  }

  /** Every address with a known state, as xmtp-js's consent list entries. */
  entries(): ConsentListEntry[] {
    return [...this.state].map(([value, permissionType]) => ({
      value,
      entryType: "address",
      permissionType,
    }));
  }

  /** When the newest action read was published. */
  get lastEntryTimestamp(): Date | undefined {
    return this.lastNs === undefined ? undefined : new Date(Number(this.lastNs / 1_000_000n));
  }

  private apply(a: PrivatePreferencesAction): void {
    const set = (addrs: string[], s: ConsentState) => {
      for (const addr of addrs) {
        try {
          this.state.set(toChecksumAddress(addr), s);
        } catch {
          // not an address
        }
      }
    };
    if (a.messageType.case === "allowAddress") set(a.messageType.value.walletAddresses, "allowed");
    else if (a.messageType.case === "denyAddress") set(a.messageType.value.walletAddresses, "denied");
  }

  private async publish(action: PrivatePreferencesAction): Promise<void> {
    const message = await encodeConsentAction(this.identity, action);
    const env: Envelope = create(EnvelopeSchema, {
      contentTopic: await this.topicName(),
      timestampNs: BigInt(Date.now()) * 1_000_000n,
      message,
    });
    await this.transport.publish([env]);
    this.apply(action);
  }

  /** Allows the addresses (one published action). */
  async allow(addresses: string[]): Promise<void> {
    const walletAddresses = addresses.map(checkedAddress);
    await this.publish(
      create(PrivatePreferencesActionSchema, {
        messageType: { case: "allowAddress", value: { walletAddresses } },
      }),
    );
  }

  /** Denies the addresses (one published action). */
  async deny(addresses: string[]): Promise<void> {
    const walletAddresses = addresses.map(checkedAddress);
    await this.publish(
      create(PrivatePreferencesActionSchema, {
        messageType: { case: "denyAddress", value: { walletAddresses } },
      }),
    );
  }

  /** The known state of an address (after {@link load}). */
  consentState(address: string): ConsentState {
    return this.state.get(checkedAddress(address)) ?? "unknown";
  }

  isAllowed(address: string): boolean {
    return this.consentState(address) === "allowed";
  }

  isDenied(address: string): boolean {
    return this.consentState(address) === "denied";
  }
}
