/**
 * `Client`: a wallet-bound XMTP V2 identity on one network, with xmtp-js's names.
 *
 * ```ts
 * const client = await Client.create(account, { env: "local" }); // a viem account, wallet client, ethers signer or Signer
 * const convo = await client.conversations.newConversation(peerAddress);
 * await convo.send("gm");
 * for await (const m of await convo.streamMessages()) console.log(m.senderAddress, m.content);
 * ```
 */
import type { PrivateKeyBundleV1 } from "@xmtp-ts/proto";
import { initSecp256k1 } from "@xmtp-ts/protocol";
import { ApiClient, type ApiTransportChoice } from "./api/api-client.js";
import { localAuthenticator } from "./api/authenticator.js";
import type { EnvelopeInit, NetworkApi } from "./api/types.js";
import { Consent } from "./consent/consent.js";
import { ContactCache } from "./contacts/cache.js";
import { Contacts } from "./contacts/contacts.js";
import { publishContactBundles } from "./contacts/publish.js";
import {
  type Attachment,
  type CodecRegistry,
  type Composite,
  type ContentCodec,
  type ContentTypeIdLike,
  type DecodeContentOptions,
  type DecodedContent,
  decodeContent,
  defaultCodecRegistry,
  type EncodeContentOptions,
  encodeContent,
  type Reaction,
  type ReadReceipt,
  type RemoteAttachment,
  type Reply,
  type TransactionReference,
} from "./content/index.js";
import type { ConversationsContext } from "./conversations/conversation.js";
import { Conversations, type ConversationsOptions } from "./conversations/conversations.js";
import type { ConversationStore } from "./conversations/persistence.js";
import { checkedAddress, invalidArgument } from "./errors.js";
import { type OwnKeys, ownKeysFromBundleV1 } from "./keys/own-keys.js";
import { decodePrivateKeyBundle, encodePrivateKeyBundle } from "./keys/private.js";
import { type KeySource, loadOrCreatePrivateKeyBundle } from "./keystore/bootstrap.js";
import { type SignerLike, signerAddress, toSigner } from "./signer.js";

/** A codec of any content type (the type is recovered with {@link ExtractDecodedType}). */
// biome-ignore lint/suspicious/noExplicitAny: codecs of any content type share one list
type AnyCodec = ContentCodec<any>;

/** The networks `env` names, as in xmtp-js. */
export type XmtpEnv = "local" | "dev" | "production";

/**
 * The HTTP port of each `env` (the gateway, Connect and gRPC-Web): `local` is a node on this
 * machine (`xmtp node`). gRPC uses its own port (`grpcTransport.apiUrls`).
 */
export const ApiUrls: Readonly<Record<XmtpEnv, string>> = Object.freeze({
  local: "http://localhost:5555",
  dev: "https://dev.xmtp.network",
  production: "https://production.xmtp.network",
});

export interface NetworkOptions {
  /** Which network (default `"local"`); `apiUrl` wins when both are given. */
  env?: XmtpEnv;
  /**
   * The node, e.g. `http://localhost:5555` (its HTTP port; with gRPC its gRPC port,
   * `http://localhost:5556`). Default: the `env`'s URL for the transport.
   */
  apiUrl?: string;
  /**
   * How to talk to the node: `"http"` the HTTP/JSON gateway (default), `"connect"` the Connect
   * protocol, `"grpc-web"` gRPC-Web (both on the HTTP port, over `fetch`: browsers and Node), or
   * `grpcTransport` from `@xmtp-ts/client/grpc` (Node only: gRPC over HTTP/2, the gRPC port).
   * Every transport behaves the same: streams resubscribe and backfill, errors are `ApiError`s.
   */
  apiTransport?: ApiTransportChoice;
  /** Sent to the node as `X-App-Version` (e.g. `"my-app/1.2.0"`), as xmtp-js does. */
  appVersion?: string;
  /** A ready network API instead of `apiUrl` and `apiTransport` (tests, custom transports). */
  api?: NetworkApi;
}

export interface ClientOptions<Codecs extends AnyCodec[] = AnyCodec[]>
  extends NetworkOptions,
    ConversationsOptions {
  /** An encoded `PrivateKeyBundle` from {@link Client.getKeys}: no wallet signature needed. */
  privateKeyOverride?: Uint8Array;
  /** Publish only the V1 contact bundle (peers will start V1 conversations). */
  publishLegacyContact?: boolean;
  /** Do not publish contact bundles at start. */
  skipContactPublishing?: boolean;
  /** Extra content codecs (text, reaction, reply, attachments, read receipts are built in). */
  codecs?: Codecs;
  /** Bound on decompressed content (default: the maximum message size). */
  maxDecompressedBytes?: number;
  /**
   * Keeps the wallet's XMTP keys between runs, so a restarted client needs no wallet signature:
   * read at start (when the store has this wallet's keys), written after a signature gave them.
   * The keys are stored as they are (as `exportKeys()` gives them): use a store only this app
   * and user can read (a 0600 file store, the origin's IndexedDB).
   */
  keyStore?: ConversationStore;
}

/** The store key of a wallet's keys in a `keyStore`. */
export function keysKey(address: string): string {
  return `xmtp-ts/keys/v1/${address}`;
}

/** The wallet's stored keys, when a readable entry of the right wallet is there. */
async function storedKeys(store: ConversationStore, address: string): Promise<Uint8Array | undefined> {
  try {
    const bytes = await store.get(keysKey(address));
    if (bytes === undefined) return undefined;
    const { bundle } = decodePrivateKeyBundle(bytes);
    return ownKeysFromBundleV1(bundle).address === address ? bytes : undefined;
  } catch {
    return undefined; // unreadable or damaged: the wallet signs as without a store
  }
}

/** The content type a codec decodes to. */
export type ExtractDecodedType<C> = C extends ContentCodec<infer T> ? T : never;

/** The content types every client reads and writes without extra codecs. */
export type BuiltInContent =
  | string
  | Composite
  | Reaction
  | Reply
  | ReadReceipt
  | Attachment
  | RemoteAttachment
  | TransactionReference;

const ENV_NAMES = Object.keys(ApiUrls) as XmtpEnv[];

/** The gateway URL the options name (undefined with a ready `api`). */
function apiUrlOf(opts: NetworkOptions): string | undefined {
  if (opts.api) return undefined;
  if (opts.env !== undefined && !ENV_NAMES.includes(opts.env))
    throw invalidArgument("env", `env must be one of ${ENV_NAMES.join(", ")}; got ${String(opts.env)}`);
  const urls = typeof opts.apiTransport === "function" ? (opts.apiTransport.apiUrls ?? ApiUrls) : ApiUrls;
  const apiUrl = opts.apiUrl ?? urls[opts.env ?? "local"];
  if (!/^https?:\/\/[^/]/.test(apiUrl))
    throw invalidArgument("apiUrl", `apiUrl must be an http(s) URL; got ${String(apiUrl)}`);
  return apiUrl;
}

function apiFor(opts: NetworkOptions): NetworkApi {
  const apiUrl = apiUrlOf(opts);
  if (apiUrl === undefined) return opts.api as NetworkApi;
  return new ApiClient({
    apiUrl,
    ...(opts.apiTransport !== undefined ? { transport: opts.apiTransport } : {}),
    ...(opts.appVersion !== undefined ? { appVersion: opts.appVersion } : {}),
  });
}

// biome-ignore lint/suspicious/noExplicitAny: the content type defaults to anything, as in xmtp-js
export class Client<ContentTypes = any> {
  /** The wallet address (EIP-55). */
  readonly address: string;
  readonly conversations: Conversations<ContentTypes>;
  /** The consent list and other addresses' contact bundles, as xmtp-js's `client.contacts`. */
  readonly contacts: Contacts;
  /** The consent list alone (`client.contacts` has the same operations). */
  readonly consent: Consent;
  readonly codecs: CodecRegistry;
  /** Where the keys came from at start. */
  readonly keySource: KeySource;
  /** The `appVersion` option, sent to nodes as `X-App-Version`. */
  readonly appVersion: string | undefined;
  /** The node's URL (from `apiUrl` or `env`; undefined with a ready `api`). */
  readonly apiUrl: string | undefined;

  private constructor(
    /** The network API (advanced use: raw queries, subscriptions). */
    readonly api: NetworkApi,
    private readonly bundle: PrivateKeyBundleV1,
    /** The identity and pre-keys, private parts included (for advanced use; keep them secret). */
    readonly keys: OwnKeys,
    private readonly contactCache: ContactCache,
    keySource: KeySource,
    private readonly options: ClientOptions,
  ) {
    this.address = keys.address;
    this.keySource = keySource;
    this.appVersion = options.appVersion;
    this.apiUrl = apiUrlOf(options);
    this.codecs = defaultCodecRegistry(options.codecs ?? []);
    this.consent = new Consent(keys.identity, api, {
      ownAddress: keys.address,
      conversations: async () =>
        (await this.conversations.list()).map((c) => ({
          peerAddress: c.peerAddress,
          consentProof: c.conversationVersion === "v2" ? c.consentProof : undefined,
        })),
    });
    this.contacts = new Contacts(this.consent, contactCache);
    const ctx: ConversationsContext = {
      keys,
      transport: api,
      codecs: this.codecs,
      introduced: new Set(),
      verifiedSenders: new Map(),
      getContact: (a) => contactCache.get(a),
      allowPeer: (a) => this.consent.allow([a]),
      getContacts: (a) => contactCache.getMany(a),
      allowPeers: (a) => this.consent.allow(a),
      consent: this.consent,
      ...(options.maxDecompressedBytes !== undefined
        ? { maxDecompressedBytes: options.maxDecompressedBytes }
        : {}),
    };
    this.conversations = new Conversations<ContentTypes>(ctx, options);
  }

  /**
   * Starts a client for the wallet (protocol.md §12): keys from `privateKeyOverride`, else the
   * network backup (one signature), else a new identity (two signatures); then publishes the
   * contact bundles unless they are current or `skipContactPublishing`. The wallet may be a
   * {@link Signer}, a viem account or wallet client, or an ethers signer.
   */
  static async create<Codecs extends AnyCodec[] = []>(
    wallet: SignerLike | null,
    options: ClientOptions<Codecs> = {},
  ): Promise<Client<BuiltInContent | ExtractDecodedType<Codecs[number]>>> {
    const signer = wallet === null ? null : toSigner(wallet);
    // libsecp256k1 first (a few ms in Node): the keys are checked with it rather than with noble,
    // whose first use costs more.
    await initSecp256k1();
    const api = apiFor(options);
    const authenticate = (b: PrivateKeyBundleV1) => api.setAuthenticator(localAuthenticator(b));
    let bundle: PrivateKeyBundleV1;
    let source: KeySource;
    const keyStore = options.keyStore;
    const address = signer && keyStore ? await signerAddress(signer) : undefined;
    const stored =
      keyStore && address && !options.privateKeyOverride ? await storedKeys(keyStore, address) : undefined;
    if (stored) options = { ...options, privateKeyOverride: stored };
    if (!signer) {
      if (!options.privateKeyOverride)
        throw invalidArgument("signer", "a wallet or the privateKeyOverride option is required");
      bundle = decodePrivateKeyBundle(options.privateKeyOverride).bundle;
      source = "static";
    } else {
      ({ bundle, source } = await loadOrCreatePrivateKeyBundle(api, signer, {
        ...(options.privateKeyOverride ? { privateKeyOverride: options.privateKeyOverride } : {}),
        beforePublish: authenticate,
      }));
    }
    authenticate(bundle);
    if (keyStore && address && !stored)
      await keyStore.set(keysKey(address), encodePrivateKeyBundle(bundle)).catch(() => undefined);
    if (!options.skipContactPublishing) {
      await publishContactBundles(api, bundle, {
        publishLegacyContact: options.publishLegacyContact ?? false,
      });
    }
    const client = new Client<BuiltInContent | ExtractDecodedType<Codecs[number]>>(
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

  /** The encoded private key bundle of the wallet, for `privateKeyOverride` later. */
  static async getKeys(
    wallet: SignerLike,
    options: Omit<ClientOptions, "privateKeyOverride"> = {},
  ): Promise<Uint8Array> {
    const client = await Client.create(wallet, options);
    const keys = client.exportKeys();
    await client.close();
    return keys;
  }

  /** Whether the address (or each address) has published a contact bundle. */
  static async canMessage(address: string, options?: NetworkOptions): Promise<boolean>;
  static async canMessage(addresses: string[], options?: NetworkOptions): Promise<boolean[]>;
  static async canMessage(a: string | string[], options: NetworkOptions = {}): Promise<boolean | boolean[]> {
    const api = apiFor(options);
    try {
      const res = await new ContactCache(api).canMessage(Array.isArray(a) ? a : [a]);
      return Array.isArray(a) ? res : (res[0] ?? false);
    } finally {
      if (!options.api) api.close();
    }
  }

  /** Whether the address (or each address) can be messaged. */
  async canMessage(address: string): Promise<boolean>;
  async canMessage(addresses: string[]): Promise<boolean[]>;
  async canMessage(a: string | string[]): Promise<boolean | boolean[]> {
    const res = await this.contactCache.canMessage(Array.isArray(a) ? a : [a]);
    return Array.isArray(a) ? res : (res[0] ?? false);
  }

  /** The encoded `PrivateKeyBundle{v1}`; keep it secret. */
  exportKeys(): Uint8Array {
    return encodePrivateKeyBundle(this.bundle);
  }

  /** The newest contact bundle of an address, or undefined. */
  getUserContact(address: string) {
    return this.contactCache.get(checkedAddress(address));
  }

  /** The newest contact bundle of each address (undefined where none), in input order. */
  async getUserContacts(addresses: string[]) {
    const found = await this.contactCache.getMany(addresses.map(checkedAddress));
    return addresses.map((a) => found.get(checkedAddress(a)));
  }

  /** Forgets the cached contact bundle of an address. */
  forgetContact(address: string): void {
    this.contactCache.clear(checkedAddress(address));
  }

  /** Adds (or replaces) a content codec; returns the client typed with its content. */
  registerCodec<C extends AnyCodec>(codec: C): Client<ContentTypes | ExtractDecodedType<C>> {
    this.codecs.register(codec);
    return this as Client<ContentTypes | ExtractDecodedType<C>>;
  }

  /** The codec registered for a content type, or undefined. */
  codecFor(contentType: ContentTypeIdLike): AnyCodec | undefined {
    return this.codecs.codecFor(contentType);
  }

  /** Encodes content with this client's codecs. */
  encodeContent(content: ContentTypes, options: EncodeContentOptions = {}) {
    return encodeContent(content, options, this.codecs);
  }

  /** Decodes `EncodedContent` bytes with this client's codecs. */
  decodeContent(
    payload: Uint8Array,
    options: DecodeContentOptions = {},
  ): Promise<DecodedContent<ContentTypes>> {
    const max = this.options.maxDecompressedBytes;
    return decodeContent<ContentTypes>(
      payload,
      this.codecs,
      max !== undefined && options.maxDecompressedBytes === undefined
        ? { maxDecompressedBytes: max }
        : options,
    );
  }

  /** Publishes raw envelopes (advanced use). */
  publishEnvelopes(envelopes: EnvelopeInit[]): Promise<void> {
    return this.api.publish(envelopes);
  }

  /** Whether {@link close} was called. */
  get isClosed(): boolean {
    return this.api.closed.aborted;
  }

  /**
   * Ends every stream of this client and releases the API; afterwards sending, listing and
   * streaming fail with an `XmtpError` of code `"client-closed"`.
   */
  async close(): Promise<void> {
    this.api.close();
  }
}
