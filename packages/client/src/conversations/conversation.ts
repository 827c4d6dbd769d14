/**
 * Conversation objects (V2 and V1) with xmtp-js's names: `send`, `messages`, `streamMessages`,
 * `streamEphemeral`. Decoding failures never throw out of `messages()` or a stream: they are
 * skipped and reported to `onError` as a typed {@link MessageDecodeError}.
 */

import { bytesToHex } from "@noble/hashes/utils.js";
import type {
  Compression,
  ConsentProofPayload,
  Envelope,
  PublicKeyBundle,
  SignedPublicKeyBundle,
} from "@xmtp-ts/proto";
import { SortDirection } from "@xmtp-ts/proto";
import { buildTopic } from "@xmtp-ts/protocol";
import {
  type CodecLookup,
  type ContentError,
  type ContentTypeId,
  type ContentTypeIdLike,
  decodeContent,
  encodeContent,
} from "../content/index.js";
import { toLegacyPublicKeyBundle } from "../keys/public.js";
import { abortableQueue } from "./async-queue.js";
import type { ConversationContext } from "./invitation.js";
import type { OwnKeys } from "./own-keys.js";
import { sha256 } from "./primitives.js";
import { type ConversationTransport, type QueryRange, queryAll } from "./transport.js";
import { decodeMessageV1, encodeMessageV1, v1Envelopes } from "./v1.js";
import { type DecodedV2, decodeMessageV2, encodeMessageV2, MessageDecodeError, v2Envelope } from "./v2.js";
import { cryptoPoolFor } from "./worker-pool.js";

/** What conversations share with the client that made them. */
export interface ConversationsContext {
  keys: OwnKeys;
  transport: ConversationTransport;
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

export interface StreamOptions {
  signal?: AbortSignal;
  onError?: (err: MessageDecodeError) => void;
}

/** A message that passed every check, with its content decoded. */
export interface DecodedMessage<T = unknown> {
  id: string;
  messageVersion: "v1" | "v2";
  senderAddress: string;
  recipientAddress: string | undefined;
  sent: Date;
  sentNs: bigint;
  contentTopic: string;
  conversation: Conversation;
  contentType: ContentTypeId | undefined;
  content: T | undefined;
  contentFallback: string | undefined;
  /** Why `content` is undefined (unknown type, bad content); the message itself is authentic. */
  error: ContentError | undefined;
  /** The encoded `EncodedContent` bytes. */
  contentBytes: Uint8Array;
  shouldPush?: boolean | undefined;
  senderHmac?: Uint8Array | undefined;
}

export interface Conversation {
  readonly conversationVersion: "v1" | "v2";
  readonly topic: string;
  readonly ephemeralTopic: string;
  readonly peerAddress: string;
  readonly clientAddress: string;
  readonly createdAt: Date;
  readonly context: ConversationContext | undefined;
  send<T = string>(content: T, options?: SendOptions): Promise<DecodedMessage<T>>;
  messages(options?: ListMessagesOptions): Promise<DecodedMessage[]>;
  streamMessages(options?: StreamOptions): Promise<AsyncIterableIterator<DecodedMessage>>;
  streamEphemeral(options?: StreamOptions): Promise<AsyncIterableIterator<DecodedMessage>>;
  /** Decodes one envelope of this conversation; throws {@link MessageDecodeError}. */
  decodeMessage(env: Envelope): Promise<DecodedMessage>;
}

const msToNs = (d: Date) => BigInt(d.getTime()) * 1_000_000n;

export function rangeOf(o: ListMessagesOptions = {}): QueryRange {
  const desc = o.direction === "descending" || o.direction === SortDirection.DESCENDING;
  const r: QueryRange = { direction: desc ? "descending" : "ascending" };
  if (o.startTime) r.startNs = msToNs(o.startTime);
  if (o.endTime) r.endNs = msToNs(o.endTime);
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
export async function decodeAll(
  convo: Conversation,
  envs: Envelope[],
  onError?: (e: MessageDecodeError) => void,
): Promise<DecodedMessage[]> {
  const out: DecodedMessage[] = [];
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
export async function streamDecoded(
  ctx: ConversationsContext,
  topics: string[],
  decode: (env: Envelope) => Promise<DecodedMessage | undefined>,
  opts: StreamOptions = {},
): Promise<AsyncIterableIterator<DecodedMessage>> {
  const { queue, abort } = abortableQueue<DecodedMessage>(opts.signal);
  if (queue.isClosed) return queue;
  let source = await ctx.transport.subscribe(topics, abort);
  let lastNs = BigInt(Date.now()) * 1_000_000n;
  const seen = new Set<string>();
  const handle = async (env: Envelope) => {
    const k = `${env.contentTopic}:${env.timestampNs}:${bytesToHex(sha256(env.message))}`;
    if (seen.has(k)) return;
    if (seen.size >= STREAM_DEDUPE_WINDOW) seen.clear();
    seen.add(k);
    if (env.timestampNs > lastNs) lastNs = env.timestampNs;
    try {
      const m = await decode(env);
      if (m) queue.push(m);
    } catch (err) {
      opts.onError?.(asDecodeError(err, env));
    }
  };
  // Decode in arrival order, one at a time, so the stream keeps the network order. When the
  // subscription drops, resubscribe and backfill from the last envelope seen (minus a margin for
  // skewed senders), skipping envelopes already delivered.
  (async () => {
    for (let attempt = 0; ; attempt++) {
      try {
        for await (const env of source) {
          if (queue.isClosed) return;
          attempt = 0;
          await handle(env);
        }
      } catch (err) {
        if (abort.aborted) return;
        if (attempt >= STREAM_MAX_RETRIES) {
          queue.end(err);
          return;
        }
      }
      if (queue.isClosed || abort.aborted) return;
      if (attempt >= STREAM_MAX_RETRIES) {
        queue.end(new Error("subscription ended and could not be re-established"));
        return;
      }
      await new Promise((r) => setTimeout(r, Math.min(5_000, 100 * 2 ** attempt)));
      if (abort.aborted) return;
      try {
        source = await ctx.transport.subscribe(topics, abort);
        const since = lastNs > STREAM_BACKFILL_MARGIN_NS ? lastNs - STREAM_BACKFILL_MARGIN_NS : 1n;
        for (const topic of topics) {
          for await (const page of ctx.transport.queryPages(topic, {
            direction: "ascending",
            startNs: since,
          })) {
            for (const env of page) await handle(env);
          }
        }
      } catch {
        // retried on the next turn
        source = (async function* () {})();
      }
    }
  })();
  return queue;
}

/** Streams remember this many delivered envelopes to skip repeats after a resubscribe. */
export const STREAM_DEDUPE_WINDOW = 10_000;
/** Backfill after a dropped subscription starts this far before the last envelope seen. */
export const STREAM_BACKFILL_MARGIN_NS = 60n * 1_000_000_000n;
/** Consecutive failed resubscribes before a stream ends with an error. */
export const STREAM_MAX_RETRIES = 8;

async function buildDecoded(
  ctx: ConversationsContext,
  base: Omit<DecodedMessage, "contentType" | "content" | "contentFallback" | "error">,
): Promise<DecodedMessage> {
  const opts =
    ctx.maxDecompressedBytes !== undefined ? { maxDecompressedBytes: ctx.maxDecompressedBytes } : {};
  const d = await decodeContent(base.contentBytes, ctx.codecs, opts);
  return {
    ...base,
    contentType: d.contentType,
    content: d.content,
    contentFallback: d.contentFallback,
    error: d.error,
  };
}

export class ConversationV2 implements Conversation {
  readonly conversationVersion = "v2" as const;
  readonly ephemeralTopic: string;
  constructor(
    private readonly ctx: ConversationsContext,
    readonly topic: string,
    readonly peerAddress: string,
    readonly createdAt: Date,
    readonly context: ConversationContext | undefined,
    /** @internal */ readonly keyMaterial: Uint8Array,
    readonly consentProof?: ConsentProofPayload,
  ) {
    this.ephemeralTopic = buildTopic.ephemeral(topic);
  }

  get clientAddress(): string {
    return this.ctx.keys.address;
  }

  async send<T = string>(content: T, options: SendOptions = {}): Promise<DecodedMessage<T>> {
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
    return {
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
    };
  }

  async decodeMessage(env: Envelope): Promise<DecodedMessage> {
    const d = await decodeMessageV2({
      envelope: env,
      topic: this.topic,
      keyMaterial: this.keyMaterial,
      participants: [this.ctx.keys.address, this.peerAddress],
      verified: this.ctx.verifiedSenders,
    });
    return this.fromDecoded(d, env.contentTopic);
  }

  async messages(options: ListMessagesOptions = {}): Promise<DecodedMessage[]> {
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
      jobs.push(
        pool
          ? pool.decodeV2(inputs)
          : Promise.all(
              inputs.map((i) =>
                decodeMessageV2({ ...i, verified: this.ctx.verifiedSenders }).catch((e: unknown) =>
                  asDecodeError(e, i.envelope),
                ),
              ),
            ),
      );
    }
    const out: DecodedMessage[] = [];
    for (const job of jobs) {
      const results = await job;
      for (const r of results) {
        if (r instanceof MessageDecodeError) options.onError?.(r);
        else out.push(await this.fromDecoded(r, this.topic));
      }
    }
    return out;
  }

  private fromDecoded(d: DecodedV2, contentTopic: string): Promise<DecodedMessage> {
    return buildDecoded(this.ctx, {
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

  streamMessages(options?: StreamOptions): Promise<AsyncIterableIterator<DecodedMessage>> {
    return streamDecoded(this.ctx, [this.topic], (e) => this.decodeMessage(e), options);
  }

  streamEphemeral(options?: StreamOptions): Promise<AsyncIterableIterator<DecodedMessage>> {
    // Ephemeral messages carry the conversation topic in their header.
    return streamDecoded(this.ctx, [this.ephemeralTopic], (e) => this.decodeMessage(e), options);
  }
}

function encodeOpts(o: SendOptions) {
  return {
    ...(o.contentType ? { contentType: o.contentType } : {}),
    ...(o.compression !== undefined ? { compression: o.compression } : {}),
    ...(o.forceCompression ? { forceCompression: true } : {}),
  };
}

export class ConversationV1 implements Conversation {
  readonly conversationVersion = "v1" as const;
  readonly context = undefined;
  readonly topic: string;
  readonly ephemeralTopic: string;
  constructor(
    private readonly ctx: ConversationsContext,
    readonly peerAddress: string,
    readonly createdAt: Date,
  ) {
    this.topic = buildTopic.dm(ctx.keys.address, peerAddress);
    this.ephemeralTopic = buildTopic.dmEphemeral(ctx.keys.address, peerAddress);
  }

  get clientAddress(): string {
    return this.ctx.keys.address;
  }

  async send<T = string>(content: T, options: SendOptions = {}): Promise<DecodedMessage<T>> {
    const contact = await this.ctx.getContact(this.peerAddress);
    if (!contact) throw new Error(`recipient ${this.peerAddress} is not registered`);
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
    return {
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
    };
  }

  async decodeMessage(env: Envelope): Promise<DecodedMessage> {
    const d = await decodeMessageV1(this.ctx.keys, env, this.topic);
    return buildDecoded(this.ctx, {
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

  async messages(options: ListMessagesOptions = {}): Promise<DecodedMessage[]> {
    const envs = await queryAll(this.ctx.transport, this.topic, rangeOf(options));
    return decodeAll(this, envs, options.onError);
  }

  streamMessages(options?: StreamOptions): Promise<AsyncIterableIterator<DecodedMessage>> {
    return streamDecoded(this.ctx, [this.topic], (e) => this.decodeMessage(e), options);
  }

  streamEphemeral(options?: StreamOptions): Promise<AsyncIterableIterator<DecodedMessage>> {
    return streamDecoded(this.ctx, [this.ephemeralTopic], (e) => this.decodeMessage(e), options);
  }
}
