/**
 * Waku store 13/WAKU2-STORE v2.0.0-beta4 (protocol.md §16.1): varint-length-prefixed HistoryRPC
 * frames on `/vac/waku/store/2.0.0-beta4`. The server answers from the node's Store; the client
 * sends one query per stream. Frames from peers are untrusted: every size is bounded, and a bad
 * frame closes that stream with a logged reason.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Connection, PeerId, Stream } from "@libp2p/interface";
import type { Envelope } from "@xmtp-ts/proto";
import {
  type HistoryQuery,
  type HistoryResponse,
  HistoryResponse_HistoryError,
  HistoryResponseSchema,
  type HistoryRPC,
  HistoryRPCSchema,
  type Index,
  IndexSchema,
  PagingInfo_Direction,
  PagingInfoSchema,
  type WakuMessage,
  WakuMessageSchema,
} from "@xmtp-ts/proto/waku";
import { Code, XmtpError } from "@xmtp-ts/protocol";
import * as lp from "it-length-prefixed";
import type { Logger } from "pino";
import type { EnvelopeKey, Store, StoreCursor, StoredEnvelope } from "../store/types.js";
import {
  envelopeToWakuMessage,
  MAX_WAKU_MESSAGE_BYTES,
  WAKU_PUBSUB_TOPIC,
  type WakuDecodeResult,
  wakuMessageToEnvelope,
} from "./waku-message.js";

export const WAKU_STORE_PROTOCOL = "/vac/waku/store/2.0.0-beta4";
/**
 * Node-to-node catch-up in the server's receive order (docs/sync.md): HistoryRPC frames whose
 * cursor digest is an opaque store position.
 */
export const RECEIVED_SYNC_PROTOCOL = "/xmtp-ts/sync/received/1.0.0";
/**
 * The catch-up protocol's summary form (docs/sync.md): the same pages and positions, each envelope
 * named only by its timestamp and digest, so a repair pass fetches only what it lacks.
 */
export const RECEIVED_DIGESTS_PROTOCOL = "/xmtp-ts/sync/received-digests/1.0.0";
/** Largest page of the catch-up protocol; 0 asks for this default too. */
export const MAX_RECEIVED_PAGE_SIZE = 1_000;
/** Longest position a catch-up request may carry. */
export const MAX_POSITION_BYTES = 64;
/** Largest page a query gets; 0 asks for this default too. */
export const MAX_STORE_PAGE_SIZE = 100;
/** Largest request frame accepted by the server. */
export const MAX_STORE_REQUEST_BYTES = 1_048_576;
/** Most content filters in one query. */
export const MAX_CONTENT_FILTERS = 1_000;
/** The server stops filling a page once its payloads reach this many bytes (≥ 1 message). */
export const MAX_STORE_PAGE_BYTES = 4 * 1_048_576;
/** Largest response frame accepted by the client: a full page plus one maximal message. */
export const MAX_STORE_RESPONSE_BYTES = MAX_STORE_PAGE_BYTES + 2 * MAX_WAKU_MESSAGE_BYTES;
/** Requests served on one stream before the server closes it. */
export const MAX_REQUESTS_PER_STREAM = 1_000;
/** Queries a client session sends on one stream before opening a new one. */
export const SESSION_REQUESTS_PER_STREAM = 500;
/** A stream that sends no frame for this long is closed. */
export const STORE_STREAM_IDLE_MS = 30_000;

/** A frame the server or client refuses; the stream carrying it is closed. */
export class StoreFrameError extends Error {
  override name = "StoreFrameError";
}

/** Decodes an untrusted HistoryRPC request frame. */
export function decodeHistoryRequest(frame: Uint8Array): HistoryRPC & { query: HistoryQuery } {
  if (frame.length > MAX_STORE_REQUEST_BYTES) {
    throw new StoreFrameError(`request frame of ${frame.length} bytes exceeds ${MAX_STORE_REQUEST_BYTES}`);
  }
  let rpc: HistoryRPC;
  try {
    rpc = fromBinary(HistoryRPCSchema, frame, { readUnknownFields: false });
  } catch (err) {
    throw new StoreFrameError(`malformed HistoryRPC: ${(err as Error).message}`);
  }
  if (rpc.query === undefined) throw new StoreFrameError("HistoryRPC without a query");
  if (rpc.requestId.length > 256) {
    throw new StoreFrameError(`request id of ${rpc.requestId.length} characters exceeds 256`);
  }
  if (rpc.query.contentFilters.length > MAX_CONTENT_FILTERS) {
    throw new StoreFrameError(
      `${rpc.query.contentFilters.length} content filters exceed ${MAX_CONTENT_FILTERS}`,
    );
  }
  return rpc as HistoryRPC & { query: HistoryQuery };
}

/** Decodes an untrusted HistoryRPC response frame and checks it answers `requestId`. */
export function decodeHistoryResponse(frame: Uint8Array, requestId: string): HistoryResponse {
  if (frame.length > MAX_STORE_RESPONSE_BYTES) {
    throw new StoreFrameError(`response frame of ${frame.length} bytes exceeds ${MAX_STORE_RESPONSE_BYTES}`);
  }
  let rpc: HistoryRPC;
  try {
    rpc = fromBinary(HistoryRPCSchema, frame, { readUnknownFields: false });
  } catch (err) {
    throw new StoreFrameError(`malformed HistoryRPC: ${(err as Error).message}`);
  }
  if (rpc.response === undefined) throw new StoreFrameError("HistoryRPC without a response");
  if (rpc.requestId !== requestId) {
    throw new StoreFrameError(`response for request ${rpc.requestId}, expected ${requestId}`);
  }
  return rpc.response;
}

/** Maps a beta4 Index to a store cursor; undefined when the digest is not 0 or 32 bytes. */
function cursorFromIndex(index: Index): StoreCursor | undefined {
  if (index.digest.length !== 0 && index.digest.length !== 32) return undefined;
  return { timestampNs: index.senderTime < 0n ? 0n : index.senderTime, digest: index.digest };
}

function indexOf(env: StoredEnvelope): Index {
  return create(IndexSchema, {
    digest: env.digest,
    senderTime: BigInt.asIntN(64, env.timestampNs),
    receiverTime: BigInt.asIntN(64, env.timestampNs),
    pubsubTopic: WAKU_PUBSUB_TOPIC,
  });
}

/** Answers one history query from the store (one page, messages ascending). */
export async function answerHistoryQuery(store: Store, q: HistoryQuery): Promise<HistoryResponse> {
  const forward = q.pagingInfo?.direction === PagingInfo_Direction.FORWARD;
  const direction = forward ? PagingInfo_Direction.FORWARD : PagingInfo_Direction.BACKWARD;
  const asked = q.pagingInfo?.pageSize ?? 0n;
  const pageSize = asked === 0n || asked > BigInt(MAX_STORE_PAGE_SIZE) ? MAX_STORE_PAGE_SIZE : Number(asked);
  const empty = (error = HistoryResponse_HistoryError.NONE): HistoryResponse =>
    create(HistoryResponseSchema, {
      messages: [],
      pagingInfo: create(PagingInfoSchema, { pageSize: BigInt(pageSize), direction }),
      error,
    });

  if (q.pubsubTopic !== "" && q.pubsubTopic !== WAKU_PUBSUB_TOPIC) return empty();
  let cursor: StoreCursor | undefined;
  if (q.pagingInfo?.cursor !== undefined) {
    cursor = cursorFromIndex(q.pagingInfo.cursor);
    if (cursor === undefined) return empty(HistoryResponse_HistoryError.INVALID_CURSOR);
  }
  if (q.endTime < 0n) return empty();
  const topics = [...new Set(q.contentFilters.map((f) => f.contentTopic).filter((t) => t !== ""))];
  if (q.contentFilters.length > 0 && topics.length === 0) return empty();

  // One row more than the page tells whether another page follows.
  const rows = await store.scan({
    topics: topics.length > 0 ? topics : undefined,
    startTimeNs: q.startTime > 0n ? q.startTime : undefined,
    endTimeNs: q.endTime > 0n ? q.endTime : undefined,
    direction: forward ? "asc" : "desc",
    limit: pageSize + 1,
    cursor,
  });
  const page: StoredEnvelope[] = [];
  let bytes = 0;
  for (const row of rows) {
    if (page.length === pageSize) break;
    if (page.length > 0 && bytes + row.message.length > MAX_STORE_PAGE_BYTES) break;
    page.push(row);
    bytes += row.message.length;
  }
  const more = page.length < rows.length;
  const last = page[page.length - 1];
  const messages: WakuMessage[] = page.map(envelopeToWakuMessage);
  if (!forward) messages.reverse();
  return create(HistoryResponseSchema, {
    messages,
    pagingInfo: create(PagingInfoSchema, {
      pageSize: BigInt(pageSize),
      direction,
      ...(more && last !== undefined ? { cursor: indexOf(last) } : {}),
    }),
    error: HistoryResponse_HistoryError.NONE,
  });
}

/**
 * Answers one catch-up query (docs/sync.md): envelopes the store received after the position in
 * `pagingInfo.cursor.digest`, with the position after them.
 */
export function answerReceivedQuery(store: Store, q: HistoryQuery): Promise<HistoryResponse> {
  return answerReceived(store, q, envelopeToWakuMessage);
}

/**
 * Answers one summary query of the catch-up protocol: the page {@link answerReceivedQuery} would
 * give, each envelope as a WakuMessage with only `timestamp` and the digest as `payload`.
 */
export function answerReceivedDigestsQuery(store: Store, q: HistoryQuery): Promise<HistoryResponse> {
  return answerReceived(store, q, (e) =>
    create(WakuMessageSchema, { payload: e.digest, timestamp: BigInt.asIntN(64, e.timestampNs) }),
  );
}

/** The (timestamp, digest) keys of a summary page; throws when a message is not a key. */
export function responseKeys(response: HistoryResponse): EnvelopeKey[] {
  return response.messages.map((m) => {
    if (m.payload.length !== 32) throw new StoreFrameError("summary entry without a 32-byte digest");
    // The timestamp as a full page would carry it (see wakuMessageToEnvelope).
    const ts = m.timestamp ?? 0n;
    return { timestampNs: ts < 0n ? 0n : ts, digest: m.payload };
  });
}

async function answerReceived(
  store: Store,
  q: HistoryQuery,
  toMessage: (e: StoredEnvelope) => WakuMessage,
): Promise<HistoryResponse> {
  const asked = q.pagingInfo?.pageSize ?? 0n;
  const pageSize =
    asked === 0n || asked > BigInt(MAX_RECEIVED_PAGE_SIZE) ? MAX_RECEIVED_PAGE_SIZE : Number(asked);
  const answer = (
    messages: WakuMessage[],
    position: Uint8Array | undefined,
    error = HistoryResponse_HistoryError.NONE,
  ) =>
    create(HistoryResponseSchema, {
      messages,
      pagingInfo: create(PagingInfoSchema, {
        pageSize: BigInt(pageSize),
        direction: PagingInfo_Direction.FORWARD,
        ...(position !== undefined ? { cursor: create(IndexSchema, { digest: position }) } : {}),
      }),
      error,
    });
  if (q.pubsubTopic !== "" && q.pubsubTopic !== WAKU_PUBSUB_TOPIC) return answer([], undefined);
  const position = q.pagingInfo?.cursor?.digest;
  if (position !== undefined && position.length > MAX_POSITION_BYTES) {
    return answer([], undefined, HistoryResponse_HistoryError.INVALID_CURSOR);
  }
  let page: Awaited<ReturnType<Store["receivedSince"]>>;
  try {
    page = await store.receivedSince(position, { limit: pageSize, maxBytes: MAX_STORE_PAGE_BYTES });
  } catch (err) {
    if (err instanceof XmtpError && err.code === Code.InvalidArgument) {
      return answer([], undefined, HistoryResponse_HistoryError.INVALID_CURSOR);
    }
    throw err;
  }
  return answer(page.envelopes.map(toMessage), page.position);
}

export interface StoreServerOptions {
  store: Store;
  /** Answers one query (default: the standard Waku store's {@link answerHistoryQuery}). */
  answer?: (store: Store, q: HistoryQuery) => Promise<HistoryResponse>;
  logger: Logger;
  /** Called once per served query. */
  onQuery?: () => void;
  /** Called when a stream is closed for a bad frame or timeout. */
  onStreamError?: () => void;
}

/** Serves HistoryRPC queries on one inbound stream until the peer closes its side. */
export async function serveStoreStream(
  stream: Stream,
  connection: Connection,
  opts: StoreServerOptions,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      stream.abort(new StoreFrameError(`no request for ${STORE_STREAM_IDLE_MS} ms`));
    }, STORE_STREAM_IDLE_MS);
  };
  arm();
  try {
    await stream.sink(
      (async function* () {
        let served = 0;
        for await (const frame of lp.decode(stream.source, {
          maxDataLength: MAX_STORE_REQUEST_BYTES,
        })) {
          clearTimeout(timer);
          const rpc = decodeHistoryRequest(frame.subarray());
          const response = await (opts.answer ?? answerHistoryQuery)(opts.store, rpc.query);
          opts.onQuery?.();
          yield lp.encode.single(
            toBinary(HistoryRPCSchema, create(HistoryRPCSchema, { requestId: rpc.requestId, response })),
          );
          if (++served >= MAX_REQUESTS_PER_STREAM) return;
          arm();
        }
      })(),
    );
  } catch (err) {
    opts.onStreamError?.();
    opts.logger.warn(
      { peer: connection.remotePeer.toString(), reason: (err as Error).message },
      "closing Waku store stream",
    );
    stream.abort(err as Error);
  } finally {
    clearTimeout(timer);
  }
}

/** Something that can open a protocol stream to a peer (a libp2p node). */
export interface StreamDialer {
  dialProtocol(
    peer: PeerId,
    protocols: string | string[],
    options?: { signal?: AbortSignal },
  ): Promise<Stream>;
}

let nextRequestId = 0;
const newRequestId = () => `${process.pid}-${Date.now()}-${nextRequestId++}`;

/** A sink source that yields frames as they are pushed, until ended. */
class Outbox implements AsyncIterable<Uint8Array> {
  private queue: Uint8Array[] = [];
  private wake: (() => void) | undefined;
  private ended = false;
  push(frame: Uint8Array): void {
    this.queue.push(frame);
    this.wake?.();
  }
  end(): void {
    this.ended = true;
    this.wake?.();
  }
  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    for (;;) {
      const next = this.queue.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
  }
}

interface OpenStream {
  stream: Stream;
  outbox: Outbox;
  frames: AsyncIterator<{ subarray(): Uint8Array }>;
  sent: Promise<void>;
  used: number;
}

/**
 * Sequential store queries to one peer over a reused stream (a new stream every
 * SESSION_REQUESTS_PER_STREAM queries, or when the server closed the previous one: servers that
 * answer one query per stream work too). Not for concurrent use.
 */
export class StoreSession {
  private open: OpenStream | undefined;

  constructor(
    private readonly dialer: StreamDialer,
    private readonly peer: PeerId,
    private readonly protocol: string = WAKU_STORE_PROTOCOL,
    /** Told the size of every response frame (traffic figures). */
    private readonly onResponseBytes?: (bytes: number) => void,
  ) {}

  /** Sends one query and returns its response; aborting `signal` aborts the stream. */
  async query(query: HistoryQuery, signal: AbortSignal): Promise<HistoryResponse> {
    const reused = this.open !== undefined;
    try {
      return await this.attempt(query, signal);
    } catch (err) {
      // The server may have closed a reused stream between queries: retry once on a fresh one.
      if (!reused || signal.aborted || err instanceof StoreFrameError) throw err;
      return await this.attempt(query, signal);
    }
  }

  /** Closes the current stream (gracefully, else by reset after 2 s). */
  async close(): Promise<void> {
    const o = this.open;
    this.open = undefined;
    if (o === undefined) return;
    o.outbox.end();
    const signal = AbortSignal.timeout(2000);
    try {
      await Promise.race([
        o.sent,
        new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))),
      ]);
      await o.stream.close({ signal });
    } catch (err) {
      o.stream.abort(err as Error);
    }
  }

  private async attempt(query: HistoryQuery, signal: AbortSignal): Promise<HistoryResponse> {
    let o = this.open;
    if (o === undefined) {
      const stream = await this.dialer.dialProtocol(this.peer, this.protocol, { signal });
      const outbox = new Outbox();
      const sent = stream.sink(outbox);
      sent.catch(() => {});
      const frames = lp
        .decode(stream.source, { maxDataLength: MAX_STORE_RESPONSE_BYTES })
        [Symbol.asyncIterator]();
      o = { stream, outbox, frames, sent, used: 0 };
      this.open = o;
    }
    const current = o;
    const onAbort = () => current.stream.abort(new Error("store query aborted"));
    if (signal.aborted) onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      const requestId = newRequestId();
      current.outbox.push(
        lp.encode
          .single(toBinary(HistoryRPCSchema, create(HistoryRPCSchema, { requestId, query })))
          .subarray(),
      );
      const next = await current.frames.next();
      if (next.done === true) throw new Error("store peer closed the stream without a response");
      const frame = next.value.subarray();
      this.onResponseBytes?.(frame.byteLength);
      const response = decodeHistoryResponse(frame, requestId);
      if (++current.used >= SESSION_REQUESTS_PER_STREAM) await this.close();
      return response;
    } catch (err) {
      if (this.open === current) this.open = undefined;
      current.outbox.end();
      current.stream.abort(err as Error);
      throw err;
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }
}

/** Sends one history query to `peer` on a fresh stream and returns its response. */
export async function queryPeerStore(
  dialer: StreamDialer,
  peer: PeerId,
  query: HistoryQuery,
  signal: AbortSignal,
): Promise<HistoryResponse> {
  const session = new StoreSession(dialer, peer);
  try {
    return await session.query(query, signal);
  } finally {
    await session.close();
  }
}

/** Maps the messages of a store response to envelopes, splitting off the ones over the limits. */
export function responseEnvelopes(response: HistoryResponse): {
  envelopes: Envelope[];
  rejected: Extract<WakuDecodeResult, { ok: false }>[];
} {
  const envelopes: Envelope[] = [];
  const rejected: Extract<WakuDecodeResult, { ok: false }>[] = [];
  for (const m of response.messages) {
    const r = wakuMessageToEnvelope(m);
    if (r.ok) envelopes.push(r.envelope);
    else rejected.push(r);
  }
  return { envelopes, rejected };
}
