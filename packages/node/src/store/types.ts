/**
 * The store contract every backend (SQLite, PostgreSQL) implements. Semantics are the reference
 * node's (protocol.md §3); `store.compliance.ts` is the one test suite all implementations pass.
 */

/** One stored envelope. `digest` = sha256(topic ‖ message); timestamps are ns. */
export interface StoredEnvelope {
  contentTopic: string;
  /** Client-supplied sender timestamp, kept exactly as sent. */
  timestampNs: bigint;
  message: Uint8Array;
  digest: Uint8Array;
}

export type Direction = "asc" | "desc";

/** An envelope's identity in a store: its timestamp and digest. */
export interface EnvelopeKey {
  timestampNs: bigint;
  digest: Uint8Array;
}

/** A keyset position: rows strictly after (asc) or before (desc) it are returned. */
export interface StoreCursor {
  timestampNs: bigint;
  /** Missing digests count as the empty byte string (before every digest). */
  digest: Uint8Array;
}

export interface StoreQuery {
  /** At least one topic. */
  topics: string[];
  /** Inclusive bound; undefined = unbounded. 0n is an ordinary value (the API maps wire 0 to undefined). */
  startTimeNs?: bigint | undefined;
  /** Inclusive bound; undefined = unbounded. 0n is an ordinary value (the API maps wire 0 to undefined). */
  endTimeNs?: bigint | undefined;
  direction: Direction;
  /** Rows to return, ≥ 1. */
  limit: number;
  cursor?: StoreCursor | undefined;
  /**
   * Stop adding rows once their messages total this many bytes: rows are returned while the
   * bytes before each stay under it, so at least one row whatever its size, and the row that
   * crosses the mark is the last. Undefined: only `limit` bounds the page.
   */
  maxBytes?: number | undefined;
}

/** A query across all topics in ascending (timestamp, digest) order, used by sync and Waku store. */
export interface StoreScan {
  /** Restrict to these topics; empty or undefined = every topic. */
  topics?: string[] | undefined;
  startTimeNs?: bigint | undefined;
  endTimeNs?: bigint | undefined;
  direction: Direction;
  limit: number;
  cursor?: StoreCursor | undefined;
}

/** A page of envelopes in a store's receive order (docs/sync.md). */
export interface ReceivedPage {
  envelopes: StoredEnvelope[];
  /**
   * Opaque position after the last envelope of the page, to pass to the next call; when the page
   * is empty, the position asked from (normalised: a foreign store's position becomes the start).
   */
  position: Uint8Array;
}

/** What a receive-order listing may return. */
export interface ReceivedLimits {
  /** Envelopes at most, ≥ 1. */
  limit: number;
  /** The page stops before this many payload bytes (it always holds at least one envelope). */
  maxBytes: number;
}

/** The store's own view of its health, shown by `/healthz`. */
export type StoreHealth = { ok: true } | { ok: false; error: string };

export interface InsertResult {
  /** For each input envelope, in order: true when newly stored, false when it was a duplicate. */
  inserted: boolean[];
}

export interface Store {
  /** Opens connections and runs migrations; idempotent, and after `stop()` it reopens the same data. */
  start(): Promise<void>;
  /** Flushes and closes; safe to call twice. Calls on a stopped store reject with `Unavailable`. */
  stop(): Promise<void>;
  /**
   * Stores envelopes atomically in one transaction: all or nothing. Duplicates (same
   * timestampNs and digest) are skipped, not errors. Resolves only once durable. A malformed row
   * (digest not 32 bytes, timestamp outside uint64, NUL in the topic) rejects the whole batch with
   * `InvalidArgument`.
   */
  insert(envelopes: StoredEnvelope[]): Promise<InsertResult>;
  /** Keyset-paged query ordered by (timestampNs, digest) in the given direction. */
  query(q: StoreQuery): Promise<StoredEnvelope[]>;
  /** Like query, but topics are optional (all topics when absent). */
  scan(q: StoreScan): Promise<StoredEnvelope[]>;
  /**
   * Retention (protocol.md §3.6): deletes up to `limit` rows that may expire (topics outside
   * `/xmtp/`) and were received before `receivedBeforeNs`; resolves with how many went. Rows under
   * `/xmtp/` are never deleted.
   */
  deleteExpired(receivedBeforeNs: bigint, limit: number): Promise<number>;
  /**
   * Envelopes this store received after `position` (undefined or empty: from the beginning), in
   * the order it received them; a position issued by another store lists from the beginning, a
   * malformed one rejects with `InvalidArgument`. Only rows whose commit is final are listed, so
   * nothing can later appear before the returned position.
   */
  receivedSince(position: Uint8Array | undefined, limits: ReceivedLimits): Promise<ReceivedPage>;
  /**
   * Which of these envelopes, named by (timestampNs, digest), the store holds, in input order: how
   * a repair pass of history sync learns what it lacks without fetching what it has (docs/sync.md).
   */
  holds(keys: readonly EnvelopeKey[]): Promise<boolean[]>;
  /**
   * This store's random id (created with its schema): positions it issues start with it, and sync
   * keeps the positions it reached at peers only while the id stays the same (docs/sync.md).
   */
  id(): Uint8Array;
  /** The largest stored timestampNs, or undefined when the store is empty. */
  newestTimestampNs(): Promise<bigint | undefined>;
  /** Number of stored envelopes (may be approximate for large PostgreSQL tables). */
  count(): Promise<number>;
  /** True when {@link health} is ok. */
  healthy(): Promise<boolean>;
  /**
   * Whether the store can serve, and when not, why in words an operator can act on (database
   * unreachable, disk full, damaged file). Never rejects.
   */
  health(): Promise<StoreHealth>;
}
