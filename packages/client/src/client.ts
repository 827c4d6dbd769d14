/**
 * `Client`: a wallet-bound XMTP V2 identity on one network, with xmtp-js's names.
 *
 * ```ts
 * const client = await Client.create(fromViemAccount(account), { apiUrl: "http://localhost:5555" });
 * const convo = await client.conversations.newConversation(peerAddress);
 * await convo.send("gm");
 * for await (const m of await convo.streamMessages()) console.log(m.senderAddress, m.content);
 * ```
 */
import type { Envelope, PrivateKeyBundleV1 } from "@xmtp-ts/proto";
import { initSecp256k1, toChecksumAddress } from "@xmtp-ts/protocol";
import { networkClientApi } from "./api/client-api.js";
import { Consent } from "./consent/consent.js";
import { ContactCache } from "./contacts/cache.js";
import { publishContactBundles } from "./contacts/publish.js";
import {
  type CodecRegistry,
  type ContentCodec,
  type DecodeContentOptions,
  decodeContent,
  defaultCodecRegistry,
  type EncodeContentOptions,
  encodeContent,
} from "./content/index.js";
import { type ConversationsContext, ConversationV2 } from "./conversations/conversation.js";
import { Conversations, type ConversationsOptions } from "./conversations/conversations.js";
import { type OwnKeys, ownKeysFromBundleV1 } from "./conversations/own-keys.js";
import type { ConversationTransport } from "./conversations/transport.js";
import { decodePrivateKeyBundle, encodePrivateKeyBundle } from "./keys/private.js";
import type { BatchEnvelopeApi } from "./keystore/api.js";
import { type KeySource, loadOrCreatePrivateKeyBundle } from "./keystore/bootstrap.js";
import type { Signer } from "./signer.js";

/** Everything the client needs from the network. */
export interface ClientApi extends BatchEnvelopeApi, ConversationTransport {
  /** Installs the identity that signs auth tokens for publishing. */
  setIdentity(bundle: PrivateKeyBundleV1): void;
  close?(): void | Promise<void>;
}

/** Builds the network API for a gateway URL; the default is api/ `networkClientApi`. */
export type ApiFactory = (apiUrl: string) => ClientApi;

let defaultApiFactory: ApiFactory = (apiUrl) => networkClientApi(apiUrl);

/** Registers the default {@link ApiFactory} (done by the package entry). */
export function setDefaultApiFactory(f: ApiFactory): void {
  defaultApiFactory = f;
}

export interface NetworkOptions {
  /** HTTP gateway of a node, e.g. `http://localhost:5555`. */
  apiUrl?: string;
  /** A ready API instead of `apiUrl` (tests, custom transports). */
  api?: ClientApi;
}

export interface ClientOptions extends NetworkOptions, ConversationsOptions {
  /** An encoded `PrivateKeyBundle` from {@link Client.getKeys}: no wallet signature needed. */
  privateKeyOverride?: Uint8Array;
  /** Publish only the V1 contact bundle (peers will start V1 conversations). */
  publishLegacyContact?: boolean;
  /** Do not publish contact bundles at start. */
  skipContactPublishing?: boolean;
  /** Extra content codecs (text, reaction, reply, attachments, read receipts are built in). */
  codecs?: ContentCodec<unknown>[];
  /** Bound on decompressed content (default: the maximum message size). */
  maxDecompressedBytes?: number;
}

function apiFor(opts: NetworkOptions): ClientApi {
  if (opts.api) return opts.api;
  if (!opts.apiUrl) throw new Error("apiUrl is required");
  return defaultApiFactory(opts.apiUrl);
}

export class Client {
  /** The wallet address (EIP-55). */
  readonly address: string;
  readonly conversations: Conversations;
  /** Allow/deny lists (private preferences); call `consent.load()` to read them. */
  readonly consent: Consent;
  readonly codecs: CodecRegistry;
  /** Where the keys came from at start. */
  readonly keySource: KeySource;
  private readonly closer = new AbortController();

  private constructor(
    readonly api: ClientApi,
    private readonly bundle: PrivateKeyBundleV1,
    /** The identity and pre-keys, private parts included (for advanced use; keep them secret). */
    readonly keys: OwnKeys,
    readonly contacts: ContactCache,
    keySource: KeySource,
    private readonly options: ClientOptions,
  ) {
    this.address = keys.address;
    this.keySource = keySource;
    this.codecs = defaultCodecRegistry(options.codecs ?? []);
    const closeSignal = this.closer.signal;
    const transport: ConversationTransport = {
      publish: (e) => api.publish(e),
      queryPages: (t, r) => api.queryPages(t, r),
      subscribe: (topics, signal) => api.subscribe(topics, AbortSignal.any([signal, closeSignal])),
    };
    this.consent = new Consent(keys.identity, transport, {
      ownAddress: keys.address,
      conversations: async () =>
        (await this.conversations.list()).map((c) => ({
          peerAddress: c.peerAddress,
          consentProof: c instanceof ConversationV2 ? c.consentProof : undefined,
        })),
    });
    const ctx: ConversationsContext = {
      keys,
      transport,
      codecs: this.codecs,
      introduced: new Set(),
      verifiedSenders: new Map(),
      getContact: (a) => contacts.get(a),
      allowPeer: (a) => this.consent.allow([a]),
      getContacts: (a) => contacts.getMany(a),
      allowPeers: (a) => this.consent.allow(a),
      ...(options.maxDecompressedBytes !== undefined
        ? { maxDecompressedBytes: options.maxDecompressedBytes }
        : {}),
    };
    this.conversations = new Conversations(ctx, options);
  }

  /**
   * Starts a client for the signer's wallet (protocol.md §12): keys from `privateKeyOverride`, else
   * the network backup (one signature), else a new identity (two signatures); then publishes the
   * contact bundles unless they are current or `skipContactPublishing`.
   */
  static async create(signer: Signer | null, options: ClientOptions = {}): Promise<Client> {
    // libsecp256k1 first (a few ms in Node): the keys are checked with it rather than with noble,
    // whose first use costs more.
    await initSecp256k1();
    const api = apiFor(options);
    let bundle: PrivateKeyBundleV1;
    let source: KeySource;
    if (!signer) {
      if (!options.privateKeyOverride) throw new Error("a signer or privateKeyOverride is required");
      bundle = decodePrivateKeyBundle(options.privateKeyOverride).bundle;
      source = "static";
    } else {
      ({ bundle, source } = await loadOrCreatePrivateKeyBundle(api, signer, {
        ...(options.privateKeyOverride ? { privateKeyOverride: options.privateKeyOverride } : {}),
        beforePublish: (b) => api.setIdentity(b),
      }));
    }
    api.setIdentity(bundle);
    if (!options.skipContactPublishing) {
      await publishContactBundles(api, bundle, {
        publishLegacyContact: options.publishLegacyContact ?? false,
      });
    }
    const client = new Client(
      api,
      bundle,
      ownKeysFromBundleV1(bundle),
      new ContactCache(api),
      source,
      options,
    );
    await client.conversations.restore();
    return client;
  }

  /** The encoded private key bundle of the signer's wallet, for `privateKeyOverride` later. */
  static async getKeys(
    signer: Signer,
    options: Omit<ClientOptions, "privateKeyOverride"> = {},
  ): Promise<Uint8Array> {
    const client = await Client.create(signer, options);
    const keys = client.exportKeys();
    await client.close();
    return keys;
  }

  /** Whether the address (or each address) has published a contact bundle. */
  static async canMessage(address: string, options: NetworkOptions): Promise<boolean>;
  static async canMessage(addresses: string[], options: NetworkOptions): Promise<boolean[]>;
  static async canMessage(a: string | string[], options: NetworkOptions): Promise<boolean | boolean[]> {
    const api = apiFor(options);
    try {
      const res = await new ContactCache(api).canMessage(Array.isArray(a) ? a : [a]);
      return Array.isArray(a) ? res : (res[0] ?? false);
    } finally {
      if (!options.api) await api.close?.();
    }
  }

  /** Whether the address (or each address) can be messaged. */
  async canMessage(address: string): Promise<boolean>;
  async canMessage(addresses: string[]): Promise<boolean[]>;
  async canMessage(a: string | string[]): Promise<boolean | boolean[]> {
    const res = await this.contacts.canMessage(Array.isArray(a) ? a : [a]);
    return Array.isArray(a) ? res : (res[0] ?? false);
  }

  /** The encoded `PrivateKeyBundle{v1}`; keep it secret. */
  exportKeys(): Uint8Array {
    return encodePrivateKeyBundle(this.bundle);
  }

  /** The newest contact bundle of an address, or undefined. */
  getUserContact(address: string) {
    return this.contacts.get(toChecksumAddress(address));
  }

  /** Encodes content with this client's codecs. */
  encodeContent(content: unknown, options: EncodeContentOptions = {}) {
    return encodeContent(content, options, this.codecs);
  }

  /** Decodes `EncodedContent` bytes with this client's codecs. */
  decodeContent(payload: Uint8Array, options: DecodeContentOptions = {}) {
    const max = this.options.maxDecompressedBytes;
    return decodeContent(
      payload,
      this.codecs,
      max !== undefined && options.maxDecompressedBytes === undefined
        ? { maxDecompressedBytes: max }
        : options,
    );
  }

  /** Publishes raw envelopes (advanced use). */
  publishEnvelopes(envelopes: Envelope[]): Promise<void> {
    return this.api.publish(envelopes);
  }

  /** Ends every stream of this client and releases the API. */
  async close(): Promise<void> {
    this.closer.abort();
    await this.api.close?.();
  }
}
