/**
 * Pieces both store backends share: the order-preserving uint64 ↔ int64 mapping, input validation
 * and key comparison (protocol.md §3.3, §18 row 8).
 */
import { Code, XmtpError } from "@xmtp-ts/protocol";
import type {
  Direction,
  ReceivedLimits,
  StoreCursor,
  StoredEnvelope,
  StoreQuery,
  StoreScan,
} from "./types.js";

export const UINT64_MAX = (1n << 64n) - 1n;
const SIGN = 1n << 63n;
/** The smallest and largest stored (flipped) timestamp: the signed int64 range. */
export const SORTABLE_MIN = -SIGN;
export const SORTABLE_MAX = SIGN - 1n;

/**
 * Maps a uint64 onto a signed int64 keeping the order: both databases store timestamps as signed
 * 64-bit integers, and `ts − 2^63` sorts 0 … 2^64−1 exactly like the unsigned values.
 */
export function toSortable(ts: bigint): bigint {
  return ts - SIGN;
}

/** The inverse of {@link toSortable}. */
export function fromSortable(v: bigint): bigint {
  return v + SIGN;
}

/** Views a driver's Buffer as a plain Uint8Array (no copy). */
export function bytes(b: Uint8Array): Uint8Array {
  return b.constructor === Uint8Array ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Views a Uint8Array as a Buffer (no copy), which is what the drivers bind as a BLOB / bytea. */
export function buffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** Unsigned bytewise comparison, the order of SQLite BLOBs and PostgreSQL bytea. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** Orders (timestampNs, digest) keys ascending. */
export function compareKeys(a: StoreCursor, b: StoreCursor): number {
  if (a.timestampNs !== b.timestampNs) return a.timestampNs < b.timestampNs ? -1 : 1;
  return compareBytes(a.digest, b.digest);
}

const invalid = (message: string) => new XmtpError(Code.InvalidArgument, message);

function checkUint64(name: string, v: unknown): asserts v is bigint {
  if (typeof v !== "bigint") throw invalid(`"${name}" expected a bigint, got ${typeof v}`);
  if (v < 0n || v > UINT64_MAX) throw invalid(`"${name}" expected a uint64, got ${v}`);
}

/**
 * Checks the shape of an insert batch. The digest length is deliberately left to the database's
 * CHECK constraint so that a bad row fails inside the transaction (and the batch rolls back).
 */
export function validateEnvelopes(envelopes: readonly StoredEnvelope[]): void {
  if (!Array.isArray(envelopes)) throw invalid(`"envelopes" expected an array`);
  envelopes.forEach((e, i) => {
    if (typeof e !== "object" || e === null) throw invalid(`"envelopes[${i}]" expected an object`);
    if (typeof e.contentTopic !== "string" || e.contentTopic.includes("\0")) {
      // PostgreSQL text cannot hold NUL, so neither backend accepts it.
      throw invalid(`"envelopes[${i}].contentTopic" expected a string without NUL characters`);
    }
    checkUint64(`envelopes[${i}].timestampNs`, e.timestampNs);
    if (!(e.message instanceof Uint8Array)) throw invalid(`"envelopes[${i}].message" expected a Uint8Array`);
    if (!(e.digest instanceof Uint8Array)) throw invalid(`"envelopes[${i}].digest" expected a Uint8Array`);
  });
}

/** A query normalised for the backends: flipped bounds, deduplicated topics. */
export interface NormalQuery {
  /** Deduplicated; empty = every topic (scan only). */
  topics: string[];
  /** Flipped inclusive bounds (full int64 range when unbounded). */
  lo: bigint;
  hi: bigint;
  direction: Direction;
  limit: number;
  /** Flipped cursor, if any; a missing digest is the empty byte string. */
  cursor: { ts: bigint; digest: Buffer } | undefined;
  /** {@link StoreQuery.maxBytes}. */
  maxBytes: number | undefined;
}

/** Validates and normalises a query (`requireTopics` for {@link StoreQuery}). */
export function normalizeQuery(q: StoreQuery | StoreScan, requireTopics: boolean): NormalQuery {
  if (typeof q !== "object" || q === null) throw invalid(`"query" expected an object`);
  const topics = q.topics ?? [];
  if (!Array.isArray(topics) || topics.some((t) => typeof t !== "string" || t.includes("\0"))) {
    throw invalid(`"topics" expected an array of strings without NUL characters`);
  }
  if (requireTopics && topics.length === 0) throw invalid(`"topics" expected at least one topic`);
  if (q.direction !== "asc" && q.direction !== "desc") {
    throw invalid(`"direction" expected "asc" or "desc", got ${String(q.direction)}`);
  }
  if (!Number.isSafeInteger(q.limit) || q.limit < 1) {
    throw invalid(`"limit" expected a positive integer, got ${q.limit}`);
  }
  let lo = SORTABLE_MIN;
  let hi = SORTABLE_MAX;
  if (q.startTimeNs !== undefined) {
    checkUint64("startTimeNs", q.startTimeNs);
    lo = toSortable(q.startTimeNs);
  }
  if (q.endTimeNs !== undefined) {
    checkUint64("endTimeNs", q.endTimeNs);
    hi = toSortable(q.endTimeNs);
  }
  let cursor: NormalQuery["cursor"];
  if (q.cursor !== undefined) {
    checkUint64("cursor.timestampNs", q.cursor.timestampNs);
    const d: unknown = q.cursor.digest ?? new Uint8Array(0);
    if (!(d instanceof Uint8Array)) throw invalid(`"cursor.digest" expected a Uint8Array`);
    cursor = { ts: toSortable(q.cursor.timestampNs), digest: buffer(d) };
    // Tighten the plain range to the cursor too, so the index range starts at the cursor whichever
    // bound the planner picks (a row-value bound alone may not be used to seek).
    if (q.direction === "asc" && cursor.ts > lo) lo = cursor.ts;
    if (q.direction === "desc" && cursor.ts < hi) hi = cursor.ts;
  }
  const maxBytes = "maxBytes" in q ? q.maxBytes : undefined;
  if (maxBytes !== undefined && (!Number.isSafeInteger(maxBytes) || maxBytes < 1)) {
    throw invalid(`"maxBytes" expected a positive integer, got ${maxBytes}`);
  }
  return { topics: [...new Set(topics)], lo, hi, direction: q.direction, limit: q.limit, cursor, maxBytes };
}

/** Bytes of a store's random id, the first part of every receive position it issues. */
export const STORE_ID_BYTES = 16;

/** A receive position: the store id, then each number as 8 bytes big-endian (docs/sync.md). */
export function encodePosition(storeId: Uint8Array, numbers: readonly bigint[]): Uint8Array {
  const out = new Uint8Array(STORE_ID_BYTES + 8 * numbers.length);
  out.set(storeId, 0);
  const view = new DataView(out.buffer);
  for (const [i, n] of numbers.entries()) view.setBigUint64(STORE_ID_BYTES + 8 * i, BigInt.asUintN(64, n));
  return out;
}

/**
 * The numbers of a position this store issued, or undefined (list from the beginning) when it is
 * empty or another store's. A position that names this store but has the wrong shape is refused.
 */
export function decodePosition(
  position: Uint8Array | undefined,
  storeId: Uint8Array,
  count: number,
): bigint[] | undefined {
  if (position === undefined || position.length === 0) return undefined;
  if (!(position instanceof Uint8Array) || position.length < STORE_ID_BYTES) {
    throw invalid(`"position" expected at least ${STORE_ID_BYTES} bytes`);
  }
  if (compareBytes(position.subarray(0, STORE_ID_BYTES), storeId) !== 0) return undefined;
  if (position.length !== STORE_ID_BYTES + 8 * count) {
    throw invalid(`"position" expected ${STORE_ID_BYTES + 8 * count} bytes, got ${position.length}`);
  }
  const view = new DataView(position.buffer, position.byteOffset, position.byteLength);
  return Array.from({ length: count }, (_, i) => view.getBigUint64(STORE_ID_BYTES + 8 * i));
}

/** Checks receive-listing limits. */
export function checkReceivedLimits(limits: ReceivedLimits): void {
  if (!Number.isSafeInteger(limits.limit) || limits.limit < 1) {
    throw invalid(`"limit" expected a positive integer, got ${limits.limit}`);
  }
  if (!Number.isSafeInteger(limits.maxBytes) || limits.maxBytes < 1) {
    throw invalid(`"maxBytes" expected a positive integer, got ${limits.maxBytes}`);
  }
}

/** The leading rows whose payloads stay under `maxBytes` (always at least one row). */
export function withinBytes<T extends { message: Uint8Array }>(rows: T[], maxBytes: number): T[] {
  let bytes = 0;
  for (let i = 0; i < rows.length; i++) {
    bytes += rows[i]!.message.length;
    if (i > 0 && bytes > maxBytes) return rows.slice(0, i);
  }
  return rows;
}

/** The error for calls on a store that is not running. */
export function notRunning(state: "new" | "stopped"): XmtpError {
  return new XmtpError(Code.Unavailable, state === "new" ? "store not started" : "store is stopped");
}
