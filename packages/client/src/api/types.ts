/**
 * The one network interface of the client ({@link NetworkApi}) and the wire under it
 * ({@link ApiTransport}). The client, keystore, contacts, consent and conversations receive a
 * `NetworkApi` (or a `Pick<>` of it) by injection; `ApiClient` implements it once over any
 * `ApiTransport`: the HTTP gateway, Connect, gRPC-Web, or gRPC (Node, `@xmtp-ts/client/grpc`).
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  BatchQueryRequest,
  BatchQueryResponse,
  Envelope,
  EnvelopeSchema,
  PublishRequest,
  QueryRequest,
  QueryRequestSchema,
  QueryResponse,
  SortDirection,
} from "@xmtp-ts/proto";

export type { Envelope };
/** An envelope to publish (`timestampNs` as bigint nanoseconds). */
export type EnvelopeInit = MessageInitShape<typeof EnvelopeSchema>;
/** A raw QueryRequest (content topics, time bounds, paging info). */
export type QueryRequestInit = MessageInitShape<typeof QueryRequestSchema>;

/** Signs auth tokens for Publish. */
export interface Authenticator {
  /** A fresh `Token` (base64, std alphabet), valid for about an hour. */
  createToken(): Promise<string>;
}

/** Options of a paged query. */
export interface QueryPagesOptions {
  /** Page size (1–100; default 100). */
  pageSize?: number | undefined;
  /** Default ascending (as xmtp-js). */
  direction?: SortDirection | undefined;
  /** Inclusive lower bound: bigint ns or a Date (0/undefined = unbounded). */
  startTime?: bigint | Date | undefined;
  /** Inclusive upper bound: bigint ns or a Date (0/undefined = unbounded). */
  endTime?: bigint | Date | undefined;
  /** Stop after this many envelopes. */
  limit?: number | undefined;
  signal?: AbortSignal | undefined;
}

/** Callbacks on a stream's connection: lost (the stream reconnects by itself) and regained. */
export interface ConnectionHooks {
  /** The connection dropped; the stream is reconnecting (envelopes meanwhile are backfilled). */
  onConnectionLost?: ((err: unknown) => void) | undefined;
  /** The connection is back (missed envelopes follow, backfilled). */
  onReconnect?: (() => void) | undefined;
}

export interface SubscribeOptions extends ConnectionHooks {
  /** Ends the stream (the iterator finishes without an error). */
  signal?: AbortSignal | undefined;
}

/** A live, self-healing subscription: an async iterable of envelopes. */
export interface Subscription extends AsyncIterableIterator<Envelope> {
  /** Resolves once the first connection is established (the node registered the topics). */
  readonly ready: Promise<void>;
  /**
   * Replaces the topic set. Over gRPC the open call is told (Subscribe2) and the new topics are
   * read back from the moment they were added; over the other transports (server streaming only)
   * the subscription is opened again with the new set and backfilled. Either way nothing is missed
   * and nothing repeated, and the subscription stays one call.
   */
  updateTopics(topics: string[]): void;
  /** Ends the stream. */
  close(): void;
}

/**
 * What the client and everything in it (keystore, contacts, consent, conversations) need from the
 * network. `ApiClient` implements it over each transport; tests may pass a `Pick<>` of it.
 */
export interface NetworkApi {
  /** Aborted once {@link close} was called: calls are refused and every stream ends. */
  readonly closed: AbortSignal;
  /** Publishes envelopes in one request (authenticated when an authenticator is set). */
  publish(envelopes: EnvelopeInit[]): Promise<void>;
  /** One Query request. */
  query(req: QueryRequestInit, signal?: AbortSignal): Promise<QueryResponse>;
  /** Any number of queries; sent in chunks of 50 in parallel; results in request order. */
  batchQuery(reqs: QueryRequestInit[], signal?: AbortSignal): Promise<QueryResponse[]>;
  /** Pages of envelopes, following cursors until the end (or `limit`). */
  queryPages(topics: string | string[], opts?: QueryPagesOptions): AsyncIterable<Envelope[]>;
  /** A self-healing subscription (resubscribes with backoff and backfills what it missed). */
  subscribe(topics: string[], opts?: SubscribeOptions): Subscription;
  /** Installs (or removes) the token source used for Publish. */
  setAuthenticator(authenticator: Authenticator | undefined): void;
  /** Ends every subscription and refuses further calls. */
  close(): void;
}

/** Request metadata: `Authorization`, `X-Client-Version`, `X-App-Version`. */
export type ApiHeaders = Record<string, string>;

/** One open subscription call of an {@link ApiTransport}. */
export interface TransportStream {
  /** Envelopes as they arrive; `undefined` marks a heartbeat. Errors are `ApiError`s. */
  readonly events: AsyncIterable<Envelope | undefined>;
  /** The heartbeat interval the node granted: silence for three of them means a dead connection. */
  readonly heartbeatMs?: number | undefined;
  /** Present on a bidirectional call (gRPC Subscribe2): replaces the topics on the same call. */
  setTopics?(topics: string[]): void;
}

/**
 * The wire under a {@link NetworkApi}: one request per call, errors as `ApiError` (with the gRPC
 * status and the node's retry delay), no retries (`ApiClient` retries, pages and resubscribes).
 */
export interface ApiTransport {
  /** `"http"`, `"connect"`, `"grpc-web"` or `"grpc"`. */
  readonly name: string;
  publish(req: PublishRequest, headers: ApiHeaders, signal?: AbortSignal): Promise<void>;
  query(req: QueryRequest, headers: ApiHeaders, signal?: AbortSignal): Promise<QueryResponse>;
  batchQuery(req: BatchQueryRequest, headers: ApiHeaders, signal?: AbortSignal): Promise<BatchQueryResponse>;
  /** Opens a subscription call; resolves once the node answered (the topics are registered). */
  subscribe(topics: string[], headers: ApiHeaders, signal: AbortSignal): Promise<TransportStream>;
  /** Releases connections. */
  close?(): void;
}

/** Limits and settings every transport is built with. */
export interface TransportSettings {
  /** Base URL of the node (the HTTP port for http/connect/grpc-web, the gRPC port for grpc). */
  apiUrl: string;
  /** Largest unary response read; larger ones fail with ResourceExhausted. */
  maxResponseBytes: number;
  /** Largest envelope expected on a stream; a larger one fails the connection (and it reconnects). */
  maxStreamMessageBytes: number;
  /** Heartbeat or keepalive interval asked for on streams (0 = none). */
  streamHeartbeatMs: number;
}

/** Builds an {@link ApiTransport}; `@xmtp-ts/client/grpc` exports the gRPC one. */
export interface ApiTransportFactory {
  (settings: TransportSettings): ApiTransport;
  /** The node URL of each `env` for this transport, when it is not the HTTP port's. */
  readonly apiUrls?: Readonly<Record<"local" | "dev" | "production", string>> | undefined;
}
