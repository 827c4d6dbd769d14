/**
 * The message API core (protocol.md §2.11–2.13, §3.3–3.4, §18): validation, auth, rate limits,
 * atomic store writes, then local fan-out and relay. Transports call it with decoded protobuf-es
 * requests; every failure is an XmtpError.
 */
import { create } from "@bufbuild/protobuf";
import {
  type BatchQueryResponse,
  BatchQueryResponseSchema,
  type Envelope,
  EnvelopeSchema,
  type PagingInfo,
  PagingInfoSchema,
  PublishResponseSchema,
  type QueryResponse,
  QueryResponseSchema,
  type SortDirection,
} from "@xmtp-ts/proto";
import { Code, isEphemeralTopic, MAX_BATCH_QUERIES, XmtpError } from "@xmtp-ts/protocol";
import PQueue from "p-queue";
import type { Dispatcher } from "../dispatch/types.js";
import type { Store, StoredEnvelope, StoreQuery } from "../store/types.js";
import { createPriorityCheck, createPublishAuthorizer, type PublishAuthOptions } from "./auth.js";
import { nodeEnvelopeDigest } from "./digest.js";
import { DetailedError } from "./errors.js";
import {
  batchSubqueryBytes,
  checkTopicCount,
  checkTopics,
  type EnvelopeProblem,
  type EnvelopeRules,
  MAX_TOPICS_PER_CLIENT,
  type ValidatedQuery,
  validateEnvelope,
  validateQuery,
} from "./limits.js";
import { createRateLimiter, type RateLimiter, type RateLimiterOptions } from "./rate-limit.js";
import { createTokenCache } from "./token-cache.js";
import type { MessageApi, RequestContext, Subscription } from "./types.js";

/** Where an envelope entered the node. */
export type EnvelopeSource = "publish" | "relay";
/** What happened to an accepted envelope: newly stored, already stored, or not stored (ephemeral). */
export type EnvelopeOutcome = "stored" | "duplicate" | "ephemeral";

/** Optional observation hooks (wired to Prometheus by the node); none may throw. */
export interface MessageApiMetrics {
  /** Every envelope accepted by publish or ingest, after commit. */
  envelope?(source: EnvelopeSource, envelope: Envelope, outcome: EnvelopeOutcome): void;
  /** A relayed envelope dropped by validation (the API would have refused it). */
  ingestRejected?(problem: EnvelopeProblem, envelope: Envelope): void;
  /** A call refused by the rate limiter. */
  rateLimited?(err: XmtpError): void;
  /** `relay.broadcast` threw after a publish was committed. */
  relayFailed?(err: unknown): void;
  /** A subscription opened through the API. */
  subscribed?(topics: number | "all"): void;
}

export interface MessageApiOptions {
  store: Store;
  dispatcher: Dispatcher;
  auth: PublishAuthOptions & {
    /** Require a valid bearer token on Publish (`--api.authn.enable`). */
    required: boolean;
  };
  /** Rate limits: options to build a limiter, an existing limiter, or undefined for none (default). */
  rateLimits?: RateLimiterOptions | RateLimiter | undefined;
  /**
   * Wallets whose requests use the larger priority buckets (`P…`) when they carry a valid token,
   * as the reference's allow list does (protocol.md §4.6). An invalid token is ignored here.
   */
  rateLimitPriorityAddresses?: readonly string[] | undefined;
  /** Sends locally published envelopes to peers, after they are committed. */
  relay?: { broadcast(envelopes: Envelope[]): void } | undefined;
  /** Clock in ns since the Unix epoch; default wall clock. */
  now?: (() => bigint) | undefined;
  metrics?: MessageApiMetrics | undefined;
  /** Sub-queries of one BatchQuery run at most this many at a time; default 4. */
  batchConcurrency?: number | undefined;
  /**
   * Refuse envelopes timestamped more than this ahead of the node's clock (publish: InvalidArgument
   * "timestamp too far in the future"; ingest: dropped and counted). Off by default, as in the
   * reference; back-dated envelopes are always accepted (protocol.md §18 row 10).
   */
  maxEnvelopeFutureNs?: bigint | undefined;
  /** How many recent ephemeral envelopes are remembered to deliver each once; default 8192. */
  ephemeralDedupeSize?: number | undefined;
  /**
   * How many recently delivered envelopes are remembered so that one reaching this node by two
   * paths is delivered once even when the store cannot tell (a database shared by several
   * nodes already holds what a peer relays); default 16384.
   */
  deliveredDedupeSize?: number | undefined;
}

export interface MessageApiService extends MessageApi {
  /**
   * The relay-in path: validates (dropping what the API would refuse), stores non-ephemeral
   * envelopes with de-duplication and dispatches only the new ones. Never re-broadcasts.
   * `"relay"` (live, default) also dispatches envelopes the store already held but this node has
   * not delivered recently (a shared database); `"sync"` (history) dispatches only newly stored ones.
   */
  ingest(envelopes: Envelope[], source?: "relay" | "sync"): Promise<void>;
  /**
   * Charges an attachment upload of `bytes` to the caller's Publish bucket when rate limits are
   * on: one token per started MiB, as if each MiB were one envelope. Throws the limiter's
   * refusal (ResourceExhausted, with when to retry).
   */
  chargeUpload(ctx: RequestContext, bytes: number): void;
  /** Counters for metrics and tests. */
  stats(): { ingestRejected: number; duplicates: number };
  /** Stops timers owned by the service (the rate limiter janitor, if it built the limiter). */
  stop(): void;
}

const wallClockNs = () => BigInt(Date.now()) * 1_000_000n;

/** Creates the transport-agnostic message API over a store and a dispatcher. */
export function createMessageApi(opts: MessageApiOptions): MessageApiService {
  const { store, dispatcher, relay } = opts;
  const metrics = opts.metrics === undefined ? undefined : guardHooks(opts.metrics);
  const now = opts.now ?? wallClockNs;
  const tokens = createTokenCache(opts.auth);
  const authorizer = opts.auth.required ? createPublishAuthorizer(opts.auth, tokens) : undefined;
  const ownsLimiter = opts.rateLimits !== undefined && !isLimiter(opts.rateLimits);
  const limiter =
    opts.rateLimits === undefined
      ? undefined
      : isLimiter(opts.rateLimits)
        ? opts.rateLimits
        : createRateLimiter(opts.rateLimits);
  const batchConcurrency = Math.max(1, opts.batchConcurrency ?? 4);
  const seenEphemeral = new RecentSet(opts.ephemeralDedupeSize ?? 8192);
  const delivered = new RecentSet(opts.deliveredDedupeSize ?? 16384);
  /** Delivery keys of committed non-ephemeral envelopes (ephemeral ones are deduped in commit). */
  const deliveryKey = new WeakMap<Envelope, string>();
  const maxFutureNs = opts.maxEnvelopeFutureNs;
  const envelopeRules = (): EnvelopeRules | undefined =>
    maxFutureNs === undefined ? undefined : { maxFutureNs, nowNs: now() };
  let ingestRejected = 0;
  let duplicates = 0;
  /** Topics held by each client's open subscriptions. */
  const clientTopics = new Map<string, number>();
  const holdTopics = (client: string, delta: number) => {
    const total = (clientTopics.get(client) ?? 0) + delta;
    if (delta > 0 && total > MAX_TOPICS_PER_CLIENT) {
      throw new DetailedError(
        Code.ResourceExhausted,
        `too many subscribed topics: ${total} (at most ${MAX_TOPICS_PER_CLIENT} per client across its subscriptions)`,
        { limit: { name: "topics-per-client", max: MAX_TOPICS_PER_CLIENT } },
      );
    }
    if (total <= 0) clientTopics.delete(client);
    else clientTopics.set(client, total);
  };

  const priority =
    limiter !== undefined && (opts.rateLimitPriorityAddresses?.length ?? 0) > 0
      ? createPriorityCheck(opts.rateLimitPriorityAddresses ?? [], tokens)
      : undefined;

  const spend = (type: "PUB" | "DEF", ctx: RequestContext, cost: number) => {
    if (limiter === undefined) return;
    try {
      limiter.spend(type, ctx.clientIp, cost, priority?.(ctx.authorization, now()) ?? false);
    } catch (err) {
      if (err instanceof XmtpError) metrics?.rateLimited?.(err);
      throw err;
    }
  };

  /**
   * Stores the non-ephemeral envelopes in one transaction and returns, in input order, the
   * envelopes that are new to this node (newly stored, or ephemeral and not seen recently).
   */
  const commit = async (
    envelopes: readonly Envelope[],
    source: EnvelopeSource,
    includeStoredDuplicates = false,
  ): Promise<Envelope[]> => {
    const rows: StoredEnvelope[] = [];
    const ephemeral: boolean[] = new Array(envelopes.length);
    for (let i = 0; i < envelopes.length; i++) {
      const env = envelopes[i] as Envelope;
      const eph = isEphemeralTopic(env.contentTopic);
      ephemeral[i] = eph;
      if (!eph) {
        const digest = nodeEnvelopeDigest(env.contentTopic, env.message);
        rows.push({
          contentTopic: env.contentTopic,
          timestampNs: env.timestampNs,
          message: env.message,
          digest,
        });
        deliveryKey.set(env, `${env.timestampNs}:${hex(digest)}`);
      }
    }
    const { inserted } = rows.length > 0 ? await store.insert(rows) : { inserted: [] as boolean[] };
    const fresh: Envelope[] = [];
    let r = 0;
    for (let i = 0; i < envelopes.length; i++) {
      const env = envelopes[i] as Envelope;
      let outcome: EnvelopeOutcome;
      if (ephemeral[i]) {
        const key = `${env.timestampNs}:${hexDigest(env)}`;
        if (seenEphemeral.addIfAbsent(key)) {
          outcome = "ephemeral";
          fresh.push(env);
        } else {
          outcome = "duplicate";
        }
      } else {
        outcome = inserted[r++] === true ? "stored" : "duplicate";
        if (outcome === "stored" || includeStoredDuplicates) fresh.push(env);
      }
      if (outcome === "duplicate") duplicates++;
      metrics?.envelope?.(source, env, outcome);
    }
    return fresh;
  };

  const deliver = (envelopes: readonly Envelope[]) => {
    for (const env of envelopes) {
      const key = deliveryKey.get(env);
      if (key !== undefined && !delivered.addIfAbsent(key)) continue;
      dispatcher.publish(env);
    }
  };

  const runValidated = async (q: ValidatedQuery): Promise<QueryResponse> => {
    const rows = await store.query(q.store);
    const envelopes = rows.map((row) =>
      create(EnvelopeSchema, {
        contentTopic: row.contentTopic,
        timestampNs: row.timestampNs,
        message: row.message,
      }),
    );
    return create(QueryResponseSchema, {
      envelopes,
      pagingInfo: pagingInfoFor(rows, q.store, q.direction),
    });
  };

  return {
    async publish(req, ctx) {
      const envelopes = req.envelopes;
      spend("PUB", ctx, envelopes.length);
      if (authorizer !== undefined) authorizer.authorize(ctx.authorization, envelopes, now());
      const rules = envelopeRules();
      for (const env of envelopes) {
        const problem = validateEnvelope(env, rules);
        if (problem !== undefined) throw new XmtpError(Code.InvalidArgument, problem);
      }
      if (envelopes.length === 0) return PUBLISHED;
      const fresh = await commit(envelopes, "publish");
      if (fresh.length > 0) {
        deliver(fresh);
        if (relay !== undefined) {
          // Committed and delivered locally: a relay failure must not turn into a publish error.
          try {
            relay.broadcast(fresh);
          } catch (err) {
            metrics?.relayFailed?.(err);
          }
        }
      }
      return PUBLISHED;
    },

    async ingest(envelopes, source = "relay") {
      let valid: Envelope[] = envelopes;
      const rules = envelopeRules();
      for (let i = 0; i < envelopes.length; i++) {
        const problem = validateEnvelope(envelopes[i] as Envelope, rules);
        if (problem === undefined) continue;
        // Rare path: rebuild the list without the invalid envelopes.
        valid = [];
        for (const env of envelopes) {
          const p = validateEnvelope(env, rules);
          if (p === undefined) valid.push(env);
          else {
            ingestRejected++;
            metrics?.ingestRejected?.(p, env);
          }
        }
        break;
      }
      if (valid.length === 0) return;
      deliver(await commit(valid, "relay", source === "relay"));
    },

    async query(req, ctx) {
      spend("DEF", ctx, 1);
      return runValidated(validateQuery(req));
    },

    async batchQuery(req, ctx) {
      const requests = req.requests;
      spend("DEF", ctx, requests.length);
      if (requests.length > MAX_BATCH_QUERIES) {
        throw new XmtpError(
          Code.InvalidArgument,
          `cannot exceed ${MAX_BATCH_QUERIES} requests in single batch`,
        );
      }
      const internal = (err: unknown) =>
        new XmtpError(Code.Internal, XmtpError.from(err).message, { cause: err });
      checkTopicCount(requests.reduce((n, r) => n + r.contentTopics.length, 0));
      // Validate every sub-query before touching the store, so a bad one costs no database work;
      // a bad sub-query is the caller's error.
      const budget = batchSubqueryBytes(requests.length);
      const queries = requests.map((r) => validateQuery(r, budget));
      // At most `batchConcurrency` sub-queries at a time; after a failure the rest never start.
      const queue = new PQueue({ concurrency: batchConcurrency });
      const responses = await Promise.all(
        queries.map((q) => queue.add(() => runValidated(q), { throwOnTimeout: true })),
      ).catch((err: unknown) => {
        queue.clear();
        throw internal(err);
      });
      return create(BatchQueryResponseSchema, { responses }) as BatchQueryResponse;
    },

    subscribe(topics, ctx): Subscription {
      spend("DEF", ctx, 1);
      if (topics !== "all") checkTopics(topics);
      const client = ctx.clientIp ?? "";
      let held = topicCost(topics);
      holdTopics(client, held);
      let sub: Subscription;
      try {
        sub = dispatcher.subscribe(topics, {
          signal: ctx.signal,
          onEnd: () => {
            holdTopics(client, -held);
            held = 0;
          },
        });
      } catch (err) {
        holdTopics(client, -held);
        throw err;
      }
      metrics?.subscribed?.(topics === "all" || topics.includes("*") ? "all" : topics.length);
      return {
        [Symbol.asyncIterator]: () => sub[Symbol.asyncIterator](),
        close: () => sub.close(),
        setTopics(next) {
          checkTopics(next);
          if (held === 0) return; // ended
          const cost = topicCost(next);
          holdTopics(client, cost - held);
          held = cost;
          sub.setTopics(next);
        },
      };
    },

    chargeUpload: (ctx, bytes) => spend("PUB", ctx, Math.max(1, Math.ceil(bytes / 1_048_576))),
    stats: () => ({ ingestRejected, duplicates }),

    stop() {
      if (ownsLimiter) limiter?.stop();
    },
  };
}

/** Wraps every hook so that a failing one cannot fail a request that already committed. */
function guardHooks(hooks: MessageApiMetrics): MessageApiMetrics {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(hooks)) {
    if (typeof fn !== "function") continue;
    out[name] = (...args: unknown[]) => {
      try {
        fn.apply(hooks, args);
      } catch {
        // Metrics are best effort.
      }
    };
  }
  return out as MessageApiMetrics;
}

/** What a subscription costs against the per-client topic budget: its topics, or 1 for all. */
function topicCost(topics: readonly string[] | "all"): number {
  return topics === "all" || topics.includes("*") ? 1 : topics.length;
}

function isLimiter(x: RateLimiterOptions | RateLimiter): x is RateLimiter {
  return typeof (x as RateLimiter).spend === "function";
}

/**
 * Response paging per protocol.md §3.4: a cursor only when the page came back full, or was cut at
 * its byte budget (§18 row 19), so clients page on to the rest.
 */
function pagingInfoFor(rows: readonly StoredEnvelope[], q: StoreQuery, direction: SortDirection): PagingInfo {
  const last = rows[rows.length - 1];
  let bytes = 0;
  for (const r of rows) bytes += r.message.length;
  const cut = q.maxBytes !== undefined && bytes >= q.maxBytes;
  if ((rows.length < q.limit && !cut) || last === undefined) {
    return create(PagingInfoSchema, { limit: 0, direction });
  }
  return create(PagingInfoSchema, {
    limit: Math.min(q.limit, 100),
    cursor: { cursor: { case: "index", value: { digest: last.digest, senderTimeNs: last.timestampNs } } },
    direction,
  });
}

function hexDigest(env: Envelope): string {
  return hex(nodeEnvelopeDigest(env.contentTopic, env.message));
}

/** Hex of bytes without copying them first. */
function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

/** Publish's answer has no fields: one instance serves every call (never mutated). */
const PUBLISHED = create(PublishResponseSchema);

/**
 * A bounded insertion-ordered set: the oldest key is forgotten when full. The keys are also kept
 * in a ring, so finding the oldest costs nothing (a Set's own first entry is slow to reach after
 * many deletions at its front).
 */
export class RecentSet {
  private readonly keys = new Set<string>();
  private readonly ring: (string | undefined)[];
  private next = 0;
  constructor(private readonly max: number) {
    this.ring = new Array(Math.max(1, max));
  }
  /** Adds the key; false when it was already present. */
  addIfAbsent(key: string): boolean {
    if (this.keys.has(key)) return false;
    if (this.max <= 0) return true;
    const oldest = this.ring[this.next];
    if (oldest !== undefined) this.keys.delete(oldest);
    this.ring[this.next] = key;
    this.next = (this.next + 1) % this.max;
    this.keys.add(key);
    return true;
  }
}
