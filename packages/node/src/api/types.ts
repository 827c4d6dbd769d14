/**
 * The transport-agnostic message API. HTTP and gRPC adapters decode requests into the protobuf-es
 * messages from `@xmtp-ts/proto`, call these methods, and encode the results; errors are thrown as
 * `XmtpError` (from `@xmtp-ts/protocol`) and mapped to statuses at the edge.
 */
import type {
  BatchQueryRequest,
  BatchQueryResponse,
  Envelope,
  PublishRequest,
  PublishResponse,
  QueryRequest,
  QueryResponse,
} from "@xmtp-ts/proto";

/** What a transport knows about the caller. */
export interface RequestContext {
  /** The raw `Authorization` header / metadata value, if any. */
  authorization?: string | undefined;
  /** Client IP (socket address, or the first X-Forwarded-For hop from a trusted proxy). */
  clientIp?: string | undefined;
  clientVersion?: string | undefined;
  appVersion?: string | undefined;
  /** Aborted when the caller goes away. */
  signal?: AbortSignal | undefined;
}

/** A live subscription: envelopes in arrival order until closed or overflowed. */
export interface Subscription extends AsyncIterable<Envelope> {
  /** Replaces the topic set (Subscribe2); envelopes of topics kept across the swap are not lost. */
  setTopics(topics: readonly string[]): void;
  /** Ends the iteration; idempotent. */
  close(): void;
}

export interface MessageApi {
  publish(req: PublishRequest, ctx: RequestContext): Promise<PublishResponse>;
  query(req: QueryRequest, ctx: RequestContext): Promise<QueryResponse>;
  batchQuery(req: BatchQueryRequest, ctx: RequestContext): Promise<BatchQueryResponse>;
  /**
   * Registers a subscription synchronously (it is live when this returns). `"all"` streams every
   * `/xmtp/0/` topic; a topic list containing `"*"` is promoted to all, as the reference does.
   */
  subscribe(topics: readonly string[] | "all", ctx: RequestContext): Subscription;
}
