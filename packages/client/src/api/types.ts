/** The network surface higher layers (keystore, contacts, conversations) depend on. */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  Envelope,
  EnvelopeSchema,
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
  pageSize?: number;
  /** Default ascending (as xmtp-js). */
  direction?: SortDirection;
  /** Inclusive lower bound: bigint ns or a Date. */
  startTime?: bigint | Date;
  /** Inclusive upper bound: bigint ns or a Date. */
  endTime?: bigint | Date;
  /** Stop after this many envelopes. */
  limit?: number;
  signal?: AbortSignal;
}

export interface SubscribeOptions {
  /** Ends the stream (the iterator finishes without an error). */
  signal?: AbortSignal;
  /** Called each time the connection drops and a resubscribe is scheduled. */
  onConnectionLost?: (err: unknown) => void;
  /** Called each time a dropped connection is open again (missed envelopes follow, backfilled). */
  onReconnect?: () => void;
}

/** A live, self-healing subscription: an async iterable of envelopes. */
export interface Subscription extends AsyncIterableIterator<Envelope> {
  /** Resolves once the first connection is established (the node registered the topics). */
  readonly ready: Promise<void>;
  /** Replaces the topic set (reconnects; known topics are backfilled, nothing is missed). */
  updateTopics(topics: string[]): void;
  /** Ends the stream. */
  close(): void;
}

/** What keystore, contacts and conversations need from the network. `ApiClient` implements it. */
export interface NetworkApi {
  publish(envelopes: EnvelopeInit[]): Promise<void>;
  query(req: QueryRequestInit): Promise<QueryResponse>;
  /** Any number of queries; sent in chunks of 50 in parallel; results in request order. */
  batchQuery(reqs: QueryRequestInit[]): Promise<QueryResponse[]>;
  queryIteratePages(topics: string | string[], opts?: QueryPagesOptions): AsyncGenerator<Envelope[]>;
  queryAll(topics: string | string[], opts?: QueryPagesOptions): Promise<Envelope[]>;
  subscribe(topics: string[], opts?: SubscribeOptions): Subscription;
  /** Installs (or removes) the token source used for Publish. */
  setAuthenticator(authenticator: Authenticator | undefined): void;
}
