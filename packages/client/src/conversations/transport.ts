/**
 * What conversations need from the network, independent of the transport: publish, paged
 * queries over a time range, and subscriptions. `client.ts` adapts `api/ApiClient` to it.
 */
import type { Envelope } from "@xmtp-ts/proto";

export interface QueryRange {
  /** Inclusive lower bound on the envelope timestamp (ns); 0/undefined = unbounded. */
  startNs?: bigint;
  /** Inclusive upper bound (ns); 0/undefined = unbounded. */
  endNs?: bigint;
  direction: "ascending" | "descending";
  /** Stop after this many envelopes. */
  limit?: number;
  /** Envelopes per page (1–100; default 100). */
  pageSize?: number;
}

/** Callbacks on a stream's connection: lost (the stream reconnects by itself) and regained. */
export interface ConnectionHooks {
  /** The connection dropped; the stream is reconnecting (envelopes meanwhile are backfilled). */
  onConnectionLost?: ((err: unknown) => void) | undefined;
  /** The connection is back. */
  onReconnect?: (() => void) | undefined;
}

/** A live subscription; `updateTopics`, when present, changes its topics without a new stream. */
export interface LiveSubscription extends AsyncIterable<Envelope> {
  updateTopics?(topics: string[]): void;
}

export interface ConversationTransport {
  /** Aborted when the transport is closed for good (the client's `close()`): streams end. */
  readonly closed?: AbortSignal;
  publish(envelopes: Envelope[]): Promise<void>;
  /** Pages of `topic` in `range`, following cursors until the end (or `limit`). */
  queryPages(topic: string, range: QueryRange): AsyncIterable<Envelope[]>;
  /**
   * Envelopes published to any of `topics` from now on, until `signal` aborts. Resolves once the
   * subscription is live.
   */
  subscribe(topics: string[], signal: AbortSignal, hooks?: ConnectionHooks): Promise<LiveSubscription>;
}

/** Every envelope of a query, collected. */
export async function queryAll(
  t: ConversationTransport,
  topic: string,
  range: QueryRange,
): Promise<Envelope[]> {
  const out: Envelope[] = [];
  for await (const page of t.queryPages(topic, range)) out.push(...page);
  return range.limit !== undefined ? out.slice(0, range.limit) : out;
}
