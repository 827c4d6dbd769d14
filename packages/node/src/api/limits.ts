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
import { DetailedError } from "./errors.js";

export const TOPIC_TOO_BIG = "topic length too big";
/** A topic holding a lone UTF-16 surrogate (from a JSON `\ud800` escape): not storable as UTF-8. */
export const TOPIC_NOT_UTF8 = "topic is not valid UTF-8";
export const MESSAGE_TOO_BIG = "message too big";
export const TOPICS_REQUIRED = "content topics required";
export const LIMIT_TOO_BIG = `cannot exceed ${MAX_QUERY_LIMIT} rows per query`;
/** Only with the optional far-future window (protocol.md §18 row 10); the reference has none. */
export const TIMESTAMP_IN_FUTURE = "timestamp too far in the future";

/** Why an envelope is refused. */
export type EnvelopeProblem =
  | typeof TOPIC_TOO_BIG
  | typeof TOPIC_NOT_UTF8
  | typeof MESSAGE_TOO_BIG
  | typeof TIMESTAMP_IN_FUTURE;

/**
 * Most content topics in one request (a Query, all sub-queries of a BatchQuery, a Subscribe or
 * one Subscribe2 update). 10,000 topics of 80 bytes decode in about 50 ms and index in about
 * 50 ms on a busy 2-core machine (0.7 MB of heap while subscribed); xmtp-js subscribes to one
 * topic per conversation, so this is a user with 10,000 conversations in one stream.
 */
export const MAX_TOPICS_PER_REQUEST = 10_000;
/**
 * Largest request other than Publish (a query, batch query or subscription), JSON or protobuf:
 * room for {@link MAX_TOPICS_PER_REQUEST} topics of 100 bytes, and small enough that decoding
 * any such body takes well under a second.
 */
export const MAX_QUERY_REQUEST_BYTES = 1024 * 1024;
/** Most topics one client (address) may hold across its open subscriptions (about 7 MB of index). */
export const MAX_TOPICS_PER_CLIENT = 100_000;

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

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why a topic cannot be stored or matched, or undefined when it can. */
export function topicProblem(topic: string): typeof TOPIC_TOO_BIG | typeof TOPIC_NOT_UTF8 | undefined {
  if (topicTooLong(topic)) return TOPIC_TOO_BIG;
  if (LONE_SURROGATE.test(topic)) return TOPIC_NOT_UTF8;
  return undefined;
}

/** Throws InvalidArgument when a request lists too many topics, or a topic is too long or not UTF-8. */
export function checkTopics(topics: readonly string[]): void {
  checkTopicCount(topics.length);
  for (const t of topics) {
    const problem = topicProblem(t);
    if (problem !== undefined) throw new XmtpError(Code.InvalidArgument, problem);
  }
}

/** Throws InvalidArgument when `count` topics are more than one request may list. */
export function checkTopicCount(count: number): void {
  if (count > MAX_TOPICS_PER_REQUEST) {
    throw new DetailedError(
      Code.InvalidArgument,
      `too many content topics: ${count} (at most ${MAX_TOPICS_PER_REQUEST} per request)`,
      { limit: { name: "topics-per-request", max: MAX_TOPICS_PER_REQUEST } },
    );
  }
}

/** The reason an envelope must be refused, or undefined when it is acceptable. */
export function validateEnvelope(env: Envelope, rules?: EnvelopeRules): EnvelopeProblem | undefined {
  const topic = topicProblem(env.contentTopic);
  if (topic !== undefined) return topic;
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

/**
 * A page of Query stops once its messages reach this many bytes (at least one envelope; §18 row
 * 19): 100 envelopes of up to 1 MB would otherwise make a ~134 MB JSON answer.
 */
export const MAX_QUERY_PAGE_BYTES = 4 * 1024 * 1024;
/** The sub-queries of one BatchQuery share this many bytes of messages (§18 row 19). */
export const MAX_BATCH_QUERY_BYTES = 16 * 1024 * 1024;
/** …and each may take at least this much of it. */
export const MIN_BATCH_SUBQUERY_BYTES = 256 * 1024;

/** The page budget of each of `n` sub-queries of one BatchQuery. */
export function batchSubqueryBytes(n: number): number {
  return Math.min(
    MAX_QUERY_PAGE_BYTES,
    Math.max(MIN_BATCH_SUBQUERY_BYTES, Math.floor(MAX_BATCH_QUERY_BYTES / Math.max(1, n))),
  );
}

/**
 * Checks a QueryRequest and turns it into a store query whose page stops at `maxBytes` of
 * messages; throws XmtpError(InvalidArgument).
 */
export function validateQuery(req: QueryRequest, maxBytes = MAX_QUERY_PAGE_BYTES): ValidatedQuery {
  const topics = req.contentTopics;
  if (topics.length === 0) throw new XmtpError(Code.InvalidArgument, TOPICS_REQUIRED);
  checkTopics(topics);
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
    maxBytes,
  };
  if (req.startTimeNs !== 0n) store.startTimeNs = req.startTimeNs;
  if (req.endTimeNs !== 0n) store.endTimeNs = req.endTimeNs;
  const c = paging?.cursor?.cursor;
  // §18 row 8: always keyset semantics; a missing digest is the empty byte string.
  if (c?.case === "index") store.cursor = { timestampNs: c.value.senderTimeNs, digest: c.value.digest };
  return { store, direction };
}
