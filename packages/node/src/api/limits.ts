/**
 * Request validation with the reference's limits and messages (protocol.md §2.9, §2.10, §3.3).
 */
import { type Envelope, type QueryRequest, SortDirection } from "@xmtp-ts/proto";
import {
  Code,
  DEFAULT_QUERY_LIMIT,
  MAX_MESSAGE_BYTES,
  MAX_QUERY_LIMIT,
  MAX_TOPIC_BYTES,
  MAX_USER_PREFERENCES_QUERY_LIMIT,
  topicCategory,
  XmtpError,
} from "@xmtp-ts/protocol";
import type { StoreQuery } from "../store/types.js";

export const TOPIC_TOO_BIG = "topic length too big";
export const MESSAGE_TOO_BIG = "message too big";
export const TOPICS_REQUIRED = "content topics required";
export const LIMIT_TOO_BIG = `cannot exceed ${MAX_QUERY_LIMIT} rows per query`;
/** Only with the optional far-future window (protocol.md §18 row 10); the reference has none. */
export const TIMESTAMP_IN_FUTURE = "timestamp too far in the future";

/** Why an envelope is refused. */
export type EnvelopeProblem = typeof TOPIC_TOO_BIG | typeof MESSAGE_TOO_BIG | typeof TIMESTAMP_IN_FUTURE;

/** Optional envelope checks beyond the reference's. */
export interface EnvelopeRules {
  /** Refuse envelopes whose timestamp is more than this ahead of `nowNs`; off when undefined. */
  maxFutureNs?: bigint | undefined;
  nowNs?: bigint | undefined;
}

/** UTF-8 byte length, without encoding when the string is obviously short enough. */
function topicTooLong(topic: string): boolean {
  if (topic.length * 3 <= MAX_TOPIC_BYTES) return false;
  if (topic.length > MAX_TOPIC_BYTES) return true;
  return Buffer.byteLength(topic, "utf8") > MAX_TOPIC_BYTES;
}

/** The reason an envelope must be refused, or undefined when it is acceptable. */
export function validateEnvelope(env: Envelope, rules?: EnvelopeRules): EnvelopeProblem | undefined {
  if (topicTooLong(env.contentTopic)) return TOPIC_TOO_BIG;
  if (env.message.length > MAX_MESSAGE_BYTES) return MESSAGE_TOO_BIG;
  if (rules?.maxFutureNs !== undefined && rules.nowNs !== undefined) {
    if (env.timestampNs - rules.nowNs > rules.maxFutureNs) return TIMESTAMP_IN_FUTURE;
  }
  return undefined;
}

export interface ValidatedQuery {
  store: StoreQuery;
  /** The effective direction, echoed in the response's paging info. */
  direction: SortDirection.ASCENDING | SortDirection.DESCENDING;
}

/** Checks a QueryRequest and turns it into a store query; throws XmtpError(InvalidArgument). */
export function validateQuery(req: QueryRequest): ValidatedQuery {
  const topics = req.contentTopics;
  if (topics.length === 0) throw new XmtpError(Code.InvalidArgument, TOPICS_REQUIRED);
  const paging = req.pagingInfo;
  const requested = paging?.limit ?? 0;
  const only = topics.length === 1 ? topics[0] : undefined;
  const max =
    only !== undefined && topicCategory(only) === "userpreferences"
      ? MAX_USER_PREFERENCES_QUERY_LIMIT
      : MAX_QUERY_LIMIT;
  if (requested > max) throw new XmtpError(Code.InvalidArgument, LIMIT_TOO_BIG);
  const limit = requested === 0 ? DEFAULT_QUERY_LIMIT : requested;
  const direction =
    paging?.direction === SortDirection.ASCENDING ? SortDirection.ASCENDING : SortDirection.DESCENDING;
  const store: StoreQuery = {
    topics,
    direction: direction === SortDirection.ASCENDING ? "asc" : "desc",
    limit,
  };
  if (req.startTimeNs !== 0n) store.startTimeNs = req.startTimeNs;
  if (req.endTimeNs !== 0n) store.endTimeNs = req.endTimeNs;
  const c = paging?.cursor?.cursor;
  // §18 row 8: always keyset semantics; a missing digest is the empty byte string.
  if (c?.case === "index") store.cursor = { timestampNs: c.value.senderTimeNs, digest: c.value.digest };
  return { store, direction };
}
