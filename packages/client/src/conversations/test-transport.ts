/**
 * Test-only: an in-process {@link NetworkApi} (no paging cursors) with the node's query order and
 * live subscriptions.
 */
import { clone, create } from "@bufbuild/protobuf";
import {
  type Envelope,
  EnvelopeSchema,
  type QueryResponse,
  QueryResponseSchema,
  SortDirection,
} from "@xmtp-ts/proto";
import { isEphemeralTopic } from "@xmtp-ts/protocol";
import type {
  EnvelopeInit,
  NetworkApi,
  QueryPagesOptions,
  QueryRequestInit,
  SubscribeOptions,
  Subscription,
} from "../api/types.js";
import { AsyncQueue } from "./async-queue.js";
import { sha256, toHex } from "./primitives.js";

const toNs = (t: bigint | Date | undefined) =>
  t === undefined ? undefined : typeof t === "bigint" ? t : BigInt(t.getTime()) * 1_000_000n;

export class MemoryTransport implements NetworkApi {
  readonly rows = new Map<string, { env: Envelope; digest: string }[]>();
  private readonly subs = new Set<{ topics: Set<string>; q: AsyncQueue<Envelope> }>();
  private readonly closer = new AbortController();
  readonly closed = this.closer.signal;
  publishes = 0;
  readonly queries: { topic: string; range: QueryPagesOptions }[] = [];

  setAuthenticator(): void {}

  close(): void {
    this.closer.abort();
    this.dropSubscriptions();
  }

  async query(req: QueryRequestInit): Promise<QueryResponse> {
    const [topic] = req.contentTopics ?? [];
    const envelopes: Envelope[] = [];
    for await (const page of this.queryPages(topic ?? "", {
      startTime: req.startTimeNs,
      endTime: req.endTimeNs,
      direction: req.pagingInfo?.direction ?? SortDirection.DESCENDING,
      limit: req.pagingInfo?.limit || 100,
    }))
      envelopes.push(...page);
    return create(QueryResponseSchema, { envelopes });
  }

  async batchQuery(reqs: QueryRequestInit[]): Promise<QueryResponse[]> {
    return Promise.all(reqs.map((r) => this.query(r)));
  }

  async publish(inits: EnvelopeInit[]): Promise<void> {
    const envelopes = inits.map((e) => create(EnvelopeSchema, e));
    this.publishes++;
    for (const e of envelopes) {
      const env = clone(EnvelopeSchema, e);
      if (!isEphemeralTopic(env.contentTopic)) {
        const list = this.rows.get(env.contentTopic) ?? [];
        const digest = toHex(
          sha256(new Uint8Array([...new TextEncoder().encode(env.contentTopic), ...env.message])),
        );
        if (!list.some((r) => r.digest === digest && r.env.timestampNs === env.timestampNs))
          list.push({ env, digest });
        list.sort((a, b) =>
          a.env.timestampNs < b.env.timestampNs
            ? -1
            : a.env.timestampNs > b.env.timestampNs
              ? 1
              : a.digest < b.digest
                ? -1
                : 1,
        );
        this.rows.set(env.contentTopic, list);
      }
      for (const s of this.subs) if (s.topics.has(env.contentTopic)) s.q.push(env);
    }
  }

  async *queryPages(topics: string | string[], range: QueryPagesOptions = {}): AsyncIterable<Envelope[]> {
    const topic = typeof topics === "string" ? topics : (topics[0] ?? "");
    this.queries.push({ topic, range });
    let list = (this.rows.get(topic) ?? []).map((r) => r.env);
    const startNs = toNs(range.startTime);
    const endNs = toNs(range.endTime);
    if (startNs) list = list.filter((e) => e.timestampNs >= startNs);
    if (endNs) list = list.filter((e) => e.timestampNs <= endNs);
    if (range.direction === SortDirection.DESCENDING) list = list.reverse();
    if (range.limit !== undefined) list = list.slice(0, range.limit);
    const size = range.pageSize ?? 100;
    for (let i = 0; i < list.length; i += size) yield list.slice(i, i + size);
  }

  subscribe(topics: string[], opts: SubscribeOptions = {}): Subscription {
    const entry = { topics: new Set(topics), q: new AsyncQueue<Envelope>(() => this.subs.delete(entry)) };
    this.subs.add(entry);
    const end = () => entry.q.end();
    for (const s of [opts.signal, this.closed]) s?.addEventListener("abort", end, { once: true });
    if (opts.signal?.aborted || this.closed.aborted) end();
    const it = entry.q[Symbol.asyncIterator]();
    return {
      ready: Promise.resolve(),
      next: () => it.next(),
      return: async () => {
        end();
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]() {
        return this;
      },
      updateTopics(next: string[]) {
        entry.topics = new Set(next);
      },
      close: end,
    };
  }

  /** Ends every live subscription, as a dropped connection would. */
  dropSubscriptions(): void {
    for (const s of [...this.subs]) s.q.end();
  }

  get subscriptions(): number {
    return this.subs.size;
  }
}
