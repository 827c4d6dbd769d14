/**
 * Conversation objects (V2 and V1) with xmtp-js's names: `send`, `messages`, `messagesPaginated`,
 * `streamMessages`, `streamEphemeral`, and the peer's consent (`consentState`, `allow`, `deny`).
 * Decoding failures never throw out of `messages()` or a stream: they are skipped and reported to
 * `onError` as a typed {@link MessageDecodeError}.
 */

import type {
  Compression,
  ConsentProofPayload,
  Envelope,
  PublicKeyBundle,
  SignedPublicKeyBundle,
} from "@xmtp-ts/proto";
import { SortDirection } from "@xmtp-ts/proto";
import { buildTopic } from "@xmtp-ts/protocol";
import { queryAll } from "../api/query.js";
import type { NetworkApi, QueryPagesOptions } from "../api/types.js";
import type { ConsentState } from "../consent/consent.js";
import {
  type CodecLookup,
  type ContentTypeId,
  type ContentTypeIdLike,
  decodeContent,
  encodeContent,
} from "../content/index.js";
import { XmtpError } from "../errors.js";
import type { OwnKeys } from "../keys/own-keys.js";
import { toLegacyPublicKeyBundle } from "../keys/public.js";
import { curvePoolFor, runCurveJobs } from "./curve-pool.js";
import { DecodedMessage, type DecodedMessageFields } from "./decoded-message.js";
import type { ConversationContext } from "./invitation.js";
import { type StreamOptionsOrCallback, streamEnvelopes, streamOptions } from "./stream.js";
import { decodeMessageV1, encodeMessageV1, v1Envelopes } from "./v1.js";
import {
  type DecodedV2,
  decodeMessagesV2,
  decodeMessageV2,
  encodeMessageV2,
  MessageDecodeError,
  v2Envelope,
} from "./v2.js";
import { cryptoPoolFor } from "./worker-pool.js";

export type { StreamOptions, StreamOptionsOrCallback } from "./stream.js";
export { STREAM_BACKFILL_MARGIN_NS, STREAM_DEDUPE_WINDOW, STREAM_MAX_RETRIES } from "./stream.js";
export { DecodedMessage };

/** The consent operations conversations use (the client's contacts implement them). */
export interface ConsentList {
  consentState(address: string): ConsentState;
  allow(addresses: string[]): Promise<void>;
  deny(addresses: string[]): Promise<void>;
}

/** What conversations share with the client that made them. */
export interface ConversationsContext {
  keys: OwnKeys;
  transport: NetworkApi;
  codecs: CodecLookup;
  maxDecompressedBytes?: number;
  /** The newest verified contact bundle of `address`, or undefined when it is not on the network. */
  getContact(address: string): Promise<PublicKeyBundle | SignedPublicKeyBundle | undefined>;
  /** Peers this client instance has already sent a V1 introduction to. */
  introduced: Set<string>;
  /** Decoded sender bundles → address (skips repeated pre-key checks and wallet recoveries). */
  verifiedSenders: Map<string, string>;
  /** Allows peers this client starts conversations with (protocol.md §8.3 step 4), when set. */
  allowPeer?: (address: string) => Promise<void>;
  /** Bundles of many (EIP-55) addresses in one batch lookup, when set (group invitation rounds). */
  getContacts?: (
    addresses: string[],
  ) => Promise<Map<string, PublicKeyBundle | SignedPublicKeyBundle | undefined>>;
  /** Allows several peers in one consent action, when set (group members). */
  allowPeers?: (addresses: string[]) => Promise<void>;
  /** The client's consent list (conversation `consentState`, `allow`, `deny`). */
  consent?: ConsentList;
}

export interface SendOptions {
  contentType?: ContentTypeIdLike;
  compression?: Compression;
  ephemeral?: boolean;
  /** Compress content over 1000 bytes too (xmtp-js 11–13 peers cannot read it). */
  forceCompression?: boolean;
  /** Send time; defaults to now. */
  timestamp?: Date;
}

export interface ListMessagesOptions {
  limit?: number;
  startTime?: Date;
  endTime?: Date;
  /** Default ascending. Accepts the proto enum too. */
  direction?: "ascending" | "descending" | SortDirection;
  /** Receives each envelope that was skipped, with the reason. */
  onError?: (err: MessageDecodeError) => void;
}

/** Options of {@link Conversation.messagesPaginated}. */
export interface ListMessagesPaginatedOptions {
  startTime?: Date;
  endTime?: Date;
  /** Messages per page (the node's page size; 1–100, default 100). */
  pageSize?: number;
  direction?: "ascending" | "descending" | SortDirection;
  onError?: (err: MessageDecodeError) => void;
}

// biome-ignore lint/suspicious/noExplicitAny: the content type defaults to anything, as in xmtp-js
export interface Conversation<ContentTypes = any> {
  readonly conversationVersion: "v1" | "v2";
  readonly topic: string;
  readonly ephemeralTopic: string;
  readonly peerAddress: string;
  readonly clientAddress: string;
  readonly createdAt: Date;
  readonly context: ConversationContext | undefined;
  /** The consent proof the peer's invitation carried (V2), if any. */
  readonly consentProof?: ConsentProofPayload | undefined;
  /** The peer's consent state in the client's consent list (refreshed by `contacts.refreshConsentList()`). */
  readonly consentState: ConsentState;
  readonly isAllowed: boolean;
  readonly isDenied: boolean;
  /** Allows the peer (one consent action on the network). */
  allow(): Promise<void>;
  /** Denies the peer (one consent action on the network). */
  deny(): Promise<void>;
  send(content: ContentTypes, options?: SendOptions): Promise<DecodedMessage<ContentTypes>>;
  messages(options?: ListMessagesOptions): Promise<DecodedMessage<ContentTypes>[]>;
  /** Pages of messages, fetched as the iteration goes. */
  messagesPaginated(options?: ListMessagesPaginatedOptions): AsyncGenerator<DecodedMessage<ContentTypes>[]>;
  streamMessages(
    options?: StreamOptionsOrCallback<MessageDecodeError>,
  ): Promise<AsyncIterableIterator<DecodedMessage<ContentTypes>>>;
  streamEphemeral(
    options?: StreamOptionsOrCallback<MessageDecodeError>,
  ): Promise<AsyncIterableIterator<DecodedMessage<ContentTypes>>>;
  /** Decodes one envelope of this conversation; throws {@link MessageDecodeError}. */
  decodeMessage(env: Envelope): Promise<DecodedMessage<ContentTypes>>;
}

const msToNs = (d: Date) => BigInt(d.getTime()) * 1_000_000n;

export function rangeOf(o: ListMessagesOptions = {}): QueryPagesOptions {
  const desc = o.direction === "descending" || o.direction === SortDirection.DESCENDING;
  const r: QueryPagesOptions = { direction: desc ? SortDirection.DESCENDING : SortDirection.ASCENDING };
  if (o.startTime) r.startTime = msToNs(o.startTime);
  if (o.endTime) r.endTime = msToNs(o.endTime);
  if (o.limit !== undefined) r.limit = o.limit;
  return r;
}

function asDecodeError(err: unknown, env: Envelope): MessageDecodeError {
  return err instanceof MessageDecodeError
    ? err
    : new MessageDecodeError("malformed", err instanceof Error ? err.message : String(err), env, {
        cause: err,
      });
}

/** Decodes envelopes in parallel chunks, skipping failures (reported to `onError`), in input order. */
export async function decodeAll<T>(
  convo: { decodeMessage(env: Envelope): Promise<DecodedMessage<T>> },
  envs: Envelope[],
  onError?: (e: MessageDecodeError) => void,
): Promise<DecodedMessage<T>[]> {
  const out: DecodedMessage<T>[] = [];
  const CHUNK = 256;
  for (let i = 0; i < envs.length; i += CHUNK) {
    const chunk = envs.slice(i, i + CHUNK);
    const results = await Promise.allSettled(chunk.map((e) => convo.decodeMessage(e)));
    results.forEach((r, j) => {
      if (r.status === "fulfilled") out.push(r.value);
      else onError?.(asDecodeError(r.reason, chunk[j]!));
    });
  }
  return out;
}

/** A stream of decoded messages on `topics`; bad envelopes go to `onError`, never end the stream. */
export function streamDecoded<T>(
  ctx: ConversationsContext,
  topics: string[],
  decode: (env: Envelope) => Promise<DecodedMessage<T> | undefined>,
  opts: StreamOptionsOrCallback<MessageDecodeError> = {},
): Promise<AsyncIterableIterator<DecodedMessage<T>>> {
  const o = streamOptions(opts);
  return streamEnvelopes(ctx.transport, topics, decode, {
    ...(o.signal ? { signal: o.signal } : {}),
    onConnectionLost: o.onConnectionLost,
    onReconnect: o.onReconnect,
    onFailure: (err, env) => o.onError?.(asDecodeError(err, env)),
  });
}

type DecodedBase<T> = Omit<DecodedMessageFields<T>, "contentType" | "content" | "contentFallback" | "error">;

async function buildDecoded<T>(ctx: ConversationsContext, base: DecodedBase<T>): Promise<DecodedMessage<T>> {
  const opts =
    ctx.maxDecompressedBytes !== undefined ? { maxDecompressedBytes: ctx.maxDecompressedBytes } : {};
  const d = await decodeContent<T>(base.contentBytes, ctx.codecs, opts);
  return new DecodedMessage<T>({
    ...base,
    contentType: d.contentType,
    content: d.content,
    contentFallback: d.contentFallback,
    error: d.error,
  });
}

function encodeOpts(o: SendOptions) {
  return {
    ...(o.contentType ? { contentType: o.contentType } : {}),
    ...(o.compression !== undefined ? { compression: o.compression } : {}),
    ...(o.forceCompression ? { forceCompression: true } : {}),
  };
}

/** One peer's entry in the client's consent list. */
export class PeerConsent {
  constructor(
    private readonly ctx: ConversationsContext,
    private readonly peer: string,
  ) {}
  get consentState(): ConsentState {
    return this.ctx.consent?.consentState(this.peer) ?? "unknown";
  }
  get isAllowed(): boolean {
    return this.consentState === "allowed";
  }
  get isDenied(): boolean {
    return this.consentState === "denied";
  }
  async allow(): Promise<void> {
    await this.ctx.consent?.allow([this.peer]);
  }
  async deny(): Promise<void> {
    await this.ctx.consent?.deny([this.peer]);
  }
}

/** What V1 and V2 conversations share: consent, paging and streams. */
// biome-ignore lint/suspicious/noExplicitAny: the content type defaults to anything, as in xmtp-js
abstract class ConversationBase<ContentTypes = any> {
  abstract readonly topic: string;
  abstract readonly ephemeralTopic: string;
  abstract readonly peerAddress: string;
  abstract decodeMessage(env: Envelope): Promise<DecodedMessage<ContentTypes>>;

  constructor(protected readonly ctx: ConversationsContext) {}

  get clientAddress(): string {
    return this.ctx.keys.address;
  }

  private get peerConsent(): PeerConsent {
    return new PeerConsent(this.ctx, this.peerAddress);
  }

  get consentState(): ConsentState {
    return this.peerConsent.consentState;
  }

  get isAllowed(): boolean {
    return this.peerConsent.isAllowed;
  }

  get isDenied(): boolean {
    return this.peerConsent.isDenied;
  }

  allow(): Promise<void> {
    return this.peerConsent.allow();
  }

  deny(): Promise<void> {
    return this.peerConsent.deny();
  }

  async *messagesPaginated(
    options: ListMessagesPaginatedOptions = {},
  ): AsyncGenerator<DecodedMessage<ContentTypes>[]> {
    const range = rangeOf(options);
    if (options.pageSize !== undefined) {
      if (!Number.isInteger(options.pageSize) || options.pageSize < 1 || options.pageSize > 100)
        throw new XmtpError("invalid-argument", "pageSize must be an integer from 1 to 100", {
          argument: "pageSize",
        });
      range.pageSize = options.pageSize;
    }
    for await (const page of this.ctx.transport.queryPages(this.topic, range)) {
      const decoded = await decodeAll<ContentTypes>(this, page, options.onError);
      if (decoded.length > 0) yield decoded;
    }
  }

  streamMessages(
    options?: StreamOptionsOrCallback<MessageDecodeError>,
  ): Promise<AsyncIterableIterator<DecodedMessage<ContentTypes>>> {
    return streamDecoded(this.ctx, [this.topic], (e) => this.decodeMessage(e), options);
  }

  streamEphemeral(
    options?: StreamOptionsOrCallback<MessageDecodeError>,
  ): Promise<AsyncIterableIterator<DecodedMessage<ContentTypes>>> {
    // V2 ephemeral messages carry the conversation topic in their header.
    return streamDecoded(this.ctx, [this.ephemeralTopic], (e) => this.decodeMessage(e), options);
  }
}

// biome-ignore lint/suspicious/noExplicitAny: the content type defaults to anything, as in xmtp-js
export class ConversationV2<ContentTypes = any>
  extends ConversationBase<ContentTypes>
  implements Conversation<ContentTypes>
{
  readonly conversationVersion = "v2" as const;
  readonly ephemeralTopic: string;
  constructor(
    ctx: ConversationsContext,
    readonly topic: string,
    readonly peerAddress: string,
    readonly createdAt: Date,
    readonly context: ConversationContext | undefined,
    /** @internal */ readonly keyMaterial: Uint8Array,
    readonly consentProof?: ConsentProofPayload,
  ) {
    super(ctx);
    this.ephemeralTopic = buildTopic.ephemeral(topic);
  }

  /** xmtp-js's other name for {@link consentProof}. */
  get consentProofPayload(): ConsentProofPayload | undefined {
    return this.consentProof;
  }

  async send(content: ContentTypes, options: SendOptions = {}): Promise<DecodedMessage<ContentTypes>> {
    const enc = await encodeContent(content, encodeOpts(options), this.ctx.codecs);
    const createdNs = msToNs(options.timestamp ?? new Date());
    const msg = await encodeMessageV2({
      own: this.ctx.keys,
      topic: this.topic,
      keyMaterial: this.keyMaterial,
      payload: enc.payload,
      createdNs,
      shouldPush: enc.shouldPush,
    });
    const env = v2Envelope(this.topic, createdNs, msg.bytes, options.ephemeral ?? false);
    await this.ctx.transport.publish([env]);
    return new DecodedMessage<ContentTypes>({
      id: msg.id,
      messageVersion: "v2",
      senderAddress: this.ctx.keys.address,
      recipientAddress: this.peerAddress,
      sent: new Date(Number(createdNs / 1_000_000n)),
      sentNs: createdNs,
      contentTopic: env.contentTopic,
      conversation: this,
      contentType: enc.encoded.type as ContentTypeId,
      content,
      contentFallback: enc.encoded.fallback,
      error: undefined,
      contentBytes: enc.payload,
      shouldPush: enc.shouldPush,
      senderHmac: msg.senderHmac,
    });
  }

  async decodeMessage(env: Envelope): Promise<DecodedMessage<ContentTypes>> {
    const d = await decodeMessageV2({
      envelope: env,
      topic: this.topic,
      keyMaterial: this.keyMaterial,
      participants: [this.ctx.keys.address, this.peerAddress],
      verified: this.ctx.verifiedSenders,
    });
    return this.fromDecoded(d, env.contentTopic);
  }

  async messages(options: ListMessagesOptions = {}): Promise<DecodedMessage<ContentTypes>[]> {
    // Pages are verified and decrypted (in worker threads for a long history, see worker-pool.ts)
    // while the next page is fetched.
    const participants: [string, string] = [this.ctx.keys.address, this.peerAddress];
    const jobs: Promise<(DecodedV2 | MessageDecodeError)[]>[] = [];
    let seen = 0;
    for await (const page of this.ctx.transport.queryPages(this.topic, rangeOf(options))) {
      seen += page.length;
      const inputs = page.map((envelope) => ({
        envelope,
        topic: this.topic,
        keyMaterial: this.keyMaterial,
        participants,
      }));
      const pool = cryptoPoolFor(page.length, seen);
      // Without the crypto pool, the signature checks are shared with the curve workers once
      // the history is long enough to start them.
      const curve = pool ? undefined : curvePoolFor(seen);
      jobs.push(
        pool
          ? pool.decodeV2(inputs)
          : decodeMessagesV2(inputs, this.ctx.verifiedSenders, (jobs, local) =>
              runCurveJobs(jobs, local, curve?.liveWorkers()),
            ),
      );
    }
    const out: DecodedMessage<ContentTypes>[] = [];
    for (const job of jobs) {
      const results = await job;
      for (const r of results) {
        if (r instanceof MessageDecodeError) options.onError?.(r);
        else out.push(await this.fromDecoded(r, this.topic));
      }
    }
    return out;
  }

  private fromDecoded(d: DecodedV2, contentTopic: string): Promise<DecodedMessage<ContentTypes>> {
    return buildDecoded<ContentTypes>(this.ctx, {
      id: d.id,
      messageVersion: "v2",
      senderAddress: d.senderAddress,
      recipientAddress: d.senderAddress === this.peerAddress ? this.ctx.keys.address : this.peerAddress,
      sent: new Date(Number(d.sentNs / 1_000_000n)),
      sentNs: d.sentNs,
      contentTopic,
      conversation: this,
      contentBytes: d.payload,
      shouldPush: d.shouldPush,
      senderHmac: d.senderHmac,
    });
  }
}

// biome-ignore lint/suspicious/noExplicitAny: the content type defaults to anything, as in xmtp-js
export class ConversationV1<ContentTypes = any>
  extends ConversationBase<ContentTypes>
  implements Conversation<ContentTypes>
{
  readonly conversationVersion = "v1" as const;
  readonly context = undefined;
  readonly consentProof = undefined;
  readonly topic: string;
  readonly ephemeralTopic: string;
  constructor(
    ctx: ConversationsContext,
    readonly peerAddress: string,
    readonly createdAt: Date,
  ) {
    super(ctx);
    this.topic = buildTopic.dm(ctx.keys.address, peerAddress);
    this.ephemeralTopic = buildTopic.dmEphemeral(ctx.keys.address, peerAddress);
  }

  async send(content: ContentTypes, options: SendOptions = {}): Promise<DecodedMessage<ContentTypes>> {
    const contact = await this.ctx.getContact(this.peerAddress);
    if (!contact)
      throw new XmtpError("not-on-network", `Recipient ${this.peerAddress} is not on the XMTP network`, {
        address: this.peerAddress,
      });
    const recipient =
      contact.$typeName === "xmtp.message_contents.SignedPublicKeyBundle"
        ? toLegacyPublicKeyBundle(contact)
        : contact;
    const enc = await encodeContent(content, encodeOpts(options), this.ctx.codecs);
    const timestampMs = BigInt((options.timestamp ?? new Date()).getTime());
    const msg = await encodeMessageV1(this.ctx.keys, recipient, enc.payload, timestampMs);
    const intro = !this.ctx.introduced.has(this.peerAddress);
    const envs = v1Envelopes(this.ctx.keys.address, this.peerAddress, msg.bytes, timestampMs, {
      intro,
      ephemeral: options.ephemeral ?? false,
    });
    await this.ctx.transport.publish(envs);
    if (intro && !options.ephemeral) this.ctx.introduced.add(this.peerAddress);
    return new DecodedMessage<ContentTypes>({
      id: msg.id,
      messageVersion: "v1",
      senderAddress: this.ctx.keys.address,
      recipientAddress: this.peerAddress,
      sent: new Date(Number(timestampMs)),
      sentNs: timestampMs * 1_000_000n,
      contentTopic: envs[envs.length - 1]!.contentTopic,
      conversation: this,
      contentType: enc.encoded.type as ContentTypeId,
      content,
      contentFallback: enc.encoded.fallback,
      error: undefined,
      contentBytes: enc.payload,
      shouldPush: enc.shouldPush,
    });
  }

  async decodeMessage(env: Envelope): Promise<DecodedMessage<ContentTypes>> {
    const d = await decodeMessageV1(this.ctx.keys, env, this.topic);
    return buildDecoded<ContentTypes>(this.ctx, {
      id: d.id,
      messageVersion: "v1",
      senderAddress: d.senderAddress,
      recipientAddress: d.recipientAddress,
      sent: new Date(Number(d.sentMs)),
      sentNs: d.sentMs * 1_000_000n,
      contentTopic: env.contentTopic,
      conversation: this,
      contentBytes: d.payload,
    });
  }

  async messages(options: ListMessagesOptions = {}): Promise<DecodedMessage<ContentTypes>[]> {
    const envs = await queryAll(this.ctx.transport, this.topic, rangeOf(options));
    return decodeAll<ContentTypes>(this, envs, options.onError);
  }
}
