/**
 * The network surface the key backup and contact code need. `api/ApiClient` implements it; tests
 * implement it over a real node or an in-memory topic map. Envelopes are the proto `Envelope`.
 */
import type { Cursor, Envelope, SortDirection } from "@xmtp-ts/proto";

/** Options of one single-page query. */
export interface EnvelopeQueryOptions {
  /** Page size (the node caps it at 100). */
  limit: number;
  direction: SortDirection;
  /** Continue after this cursor (see {@link cursorAfter}). */
  cursor?: Cursor;
}

/** Reads one page of a topic and publishes envelopes (publish needs an auth token for the wallet). */
export interface EnvelopeApi {
  /** One page of `topic`, in `direction` order, at most `limit` envelopes. */
  query(topic: string, opts: EnvelopeQueryOptions): Promise<Envelope[]>;
  /** Publishes envelopes in one request. */
  publish(envelopes: Envelope[]): Promise<void>;
}

/** {@link EnvelopeApi} plus BatchQuery, used by the batch contact lookup (`canMessage`). */
export interface BatchEnvelopeApi extends EnvelopeApi {
  /** First pages of up to 50 queries in one request; result `i` answers request `i`. */
  batchQuery(requests: { topic: string; opts: EnvelopeQueryOptions }[]): Promise<Envelope[][]>;
}
