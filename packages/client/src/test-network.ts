/**
 * Test-only in-memory topic store with the node's ordering rules (sender time, then digest; keyset
 * cursors), exposed as the publish/query/batchQuery part of our NetworkApi and as xmtp-js's ApiClient shape.
 */
import { create } from "@bufbuild/protobuf";
import type { ApiClient as XmtpJsApiClient } from "@xmtp/xmtp-js";
import {
  type Cursor,
  type Envelope,
  EnvelopeSchema,
  type QueryResponse,
  QueryResponseSchema,
  SortDirection,
} from "@xmtp-ts/proto";
import { envelopeDigest } from "@xmtp-ts/protocol";
import type { EnvelopeInit, NetworkApi, QueryRequestInit } from "./api/types.js";

type PageOptions = { limit: number; direction: SortDirection; cursor?: Cursor | undefined };

function compare(a: { t: bigint; d: Uint8Array }, b: { t: bigint; d: Uint8Array }): number {
  if (a.t !== b.t) return a.t < b.t ? -1 : 1;
  for (let i = 0; i < Math.min(a.d.length, b.d.length); i++) if (a.d[i] !== b.d[i]) return a.d[i]! - b.d[i]!;
  return a.d.length - b.d.length;
}

/** xmtp-js sends ts-proto string enums; unspecified means descending, as on the node. */
function direction(d: unknown): SortDirection {
  return d === SortDirection.ASCENDING || d === "SORT_DIRECTION_ASCENDING"
    ? SortDirection.ASCENDING
    : SortDirection.DESCENDING;
}

export class TestNetwork implements Pick<NetworkApi, "publish" | "query" | "batchQuery"> {
  readonly topics = new Map<string, Envelope[]>();
  calls = { query: 0, batchQuery: 0, publish: 0 };

  /** Stores envelopes, skipping exact duplicates. */
  async publish(envelopes: EnvelopeInit[]): Promise<void> {
    this.calls.publish++;
    for (const e of envelopes) {
      const env = create(EnvelopeSchema, e);
      const list = this.topics.get(env.contentTopic) ?? [];
      list.push(env);
      this.topics.set(env.contentTopic, list);
    }
  }

  private page(topic: string, opts: PageOptions): Envelope[] {
    const key = (e: Envelope) => ({ t: e.timestampNs, d: envelopeDigest(e.contentTopic, e.message) });
    const desc = opts.direction === SortDirection.DESCENDING;
    let rows = [...(this.topics.get(topic) ?? [])].sort((a, b) => compare(key(a), key(b)));
    if (desc) rows.reverse();
    const c = opts.cursor?.cursor.case === "index" ? opts.cursor.cursor.value : undefined;
    if (c) {
      const at = { t: c.senderTimeNs, d: c.digest };
      rows = rows.filter((e) => (desc ? compare(key(e), at) < 0 : compare(key(e), at) > 0));
    }
    return rows.slice(0, Math.min(opts.limit || 100, 100));
  }

  private answer(req: QueryRequestInit): QueryResponse {
    const p = req.pagingInfo;
    const envelopes = this.page(req.contentTopics?.[0] ?? "", {
      limit: p?.limit ?? 100,
      direction: p?.direction ?? SortDirection.DESCENDING,
      cursor: p?.cursor ? (p.cursor as Cursor) : undefined,
    });
    return create(QueryResponseSchema, { envelopes });
  }

  async query(req: QueryRequestInit): Promise<QueryResponse> {
    this.calls.query++;
    return this.answer(req);
  }

  async batchQuery(requests: QueryRequestInit[]): Promise<QueryResponse[]> {
    this.calls.batchQuery++;
    if (requests.length > 50) throw new Error("cannot exceed 50 requests in single batch");
    return requests.map((r) => this.answer(r));
  }

  /** The same store in xmtp-js's ApiClient shape (only what key storage and contacts use). */
  xmtpJsApiClient(): XmtpJsApiClient {
    // biome-ignore lint/suspicious/noExplicitAny: xmtp-js's envelope and option types are ts-proto shapes.
    const toXmtp = (e: Envelope): any => ({
      contentTopic: e.contentTopic,
      timestampNs: e.timestampNs.toString(),
      message: e.message,
    });
    const self = this;
    const client = {
      async query(params: { contentTopic: string }, o: { direction?: unknown; limit?: number }) {
        const dir = direction(o.direction);
        return self.page(params.contentTopic, { limit: o.limit ?? 100, direction: dir }).map(toXmtp);
      },
      async *queryIteratePages(
        params: { contentTopic: string },
        o: { direction?: unknown; pageSize?: number },
      ) {
        const dir = direction(o.direction);
        let cursor: Cursor | undefined;
        for (;;) {
          const page = self.page(params.contentTopic, {
            limit: o.pageSize ?? 100,
            direction: dir,
            ...(cursor ? { cursor } : {}),
          });
          if (page.length === 0) return;
          yield page.map(toXmtp);
          const last = page[page.length - 1]!;
          cursor = {
            $typeName: "xmtp.message_api.v1.Cursor",
            cursor: {
              case: "index",
              value: {
                $typeName: "xmtp.message_api.v1.IndexCursor",
                digest: envelopeDigest(last.contentTopic, last.message),
                senderTimeNs: last.timestampNs,
              },
            },
          };
        }
      },
      async *queryIterator(params: { contentTopic: string }, o: { direction?: unknown; pageSize?: number }) {
        for await (const page of this.queryIteratePages(params, o)) yield* page;
      },
      async batchQuery(queries: { contentTopic: string; direction?: unknown; pageSize?: number }[]) {
        return queries.map((q) =>
          self
            .page(q.contentTopic, {
              limit: q.pageSize ?? 100,
              direction: direction(q.direction),
            })
            .map(toXmtp),
        );
      },
      async publish(messages: { contentTopic: string; message: Uint8Array; timestamp?: Date }[]) {
        await self.publish(
          messages.map((m) =>
            create(EnvelopeSchema, {
              contentTopic: m.contentTopic,
              message: m.message,
              timestampNs: BigInt((m.timestamp ?? new Date()).getTime()) * 1_000_000n,
            }),
          ),
        );
        return {};
      },
      subscribe() {
        throw new Error("not used");
      },
      setAuthenticator() {},
    };
    return client as unknown as XmtpJsApiClient;
  }
}
