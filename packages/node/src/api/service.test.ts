import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { LocalAuthenticator, PrivateKeyBundleV1 } from "@xmtp/xmtp-js";
import {
  BatchQueryRequestSchema,
  type Envelope,
  PublishRequestSchema,
  type QueryRequest,
  QueryRequestSchema,
  type QueryResponse,
  SortDirection,
} from "@xmtp-ts/proto";
import {
  buildTopic,
  Code,
  envelopeDigest,
  MAX_MESSAGE_BYTES,
  MAX_TOPIC_BYTES,
  XmtpError,
} from "@xmtp-ts/protocol";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createDispatcher } from "../dispatch/dispatcher.js";
import type { Dispatcher } from "../dispatch/types.js";
import { createPostgresStore } from "../store/postgres.js";
import { createSqliteStore } from "../store/sqlite.js";
import type { Store } from "../store/types.js";
import { detailsOf } from "./errors.js";
import {
  batchSubqueryBytes,
  MAX_QUERY_PAGE_BYTES,
  MAX_TOPICS_PER_CLIENT,
  MAX_TOPICS_PER_REQUEST,
  TOPIC_NOT_UTF8,
  TOPIC_TOO_BIG,
} from "./limits.js";
import { createRateLimiter } from "./rate-limit.js";
import { createMessageApi, type MessageApiOptions, type MessageApiService } from "./service.js";
import { alice, aliceFixture, bob, dropSchema, env, nextWithin, TEST_DATABASE_URL } from "./test-support.js";
import type { RequestContext } from "./types.js";

const T = "/xmtp/0/m-service-test/proto";
const ctx: RequestContext = {};

let store: Store;
let dispatcher: Dispatcher;
let relayed: Envelope[][];
let api: MessageApiService;

function make(extra: Partial<MessageApiOptions> = {}): MessageApiService {
  return createMessageApi({
    store,
    dispatcher,
    auth: { required: false },
    relay: { broadcast: (envs) => relayed.push(envs) },
    ...extra,
  });
}

/** Every behaviour runs against both real backends. */
const BACKENDS: { name: string; open(): { store: Store; cleanup(): Promise<void> } }[] = [
  {
    name: "sqlite",
    open: () => ({ store: createSqliteStore({ path: ":memory:" }), cleanup: async () => {} }),
  },
  {
    name: "postgres",
    open: () => {
      const schema = `api_test_${randomBytes(6).toString("hex")}`;
      return {
        store: createPostgresStore({ url: TEST_DATABASE_URL, schema, poolSize: 4 }),
        cleanup: () => dropSchema(schema),
      };
    },
  },
];

describe.each(BACKENDS)("message API on $name", (backend) => {
  let cleanup: () => Promise<void>;

  beforeEach(async () => {
    const opened = backend.open();
    store = opened.store;
    cleanup = opened.cleanup;
    await store.start();
    dispatcher = createDispatcher();
    relayed = [];
    api = make();
  });

  afterEach(async () => {
    api.stop();
    dispatcher.closeAll();
    await store.stop();
    await cleanup();
  });

  const publish = (envelopes: Envelope[], c: RequestContext = ctx, a = api) =>
    a.publish(create(PublishRequestSchema, { envelopes }), c);

  const query = (
    init: Partial<QueryRequest> & { limit?: number; direction?: SortDirection; cursor?: unknown },
  ) => {
    const { limit, direction, cursor, ...rest } = init;
    return create(QueryRequestSchema, {
      ...rest,
      pagingInfo: {
        limit: limit ?? 0,
        direction: direction ?? SortDirection.UNSPECIFIED,
        ...(cursor ? { cursor } : {}),
      },
    } as Parameters<typeof create<typeof QueryRequestSchema>>[1]);
  };

  async function expectError(
    p: Promise<unknown> | (() => unknown),
    code: Code,
    message: string,
  ): Promise<XmtpError> {
    let err: unknown;
    try {
      await (typeof p === "function" ? p() : p);
    } catch (e) {
      err = e;
    }
    expect(err, `expected XmtpError(${Code[code]}, ${message})`).toBeInstanceOf(XmtpError);
    expect(Code[(err as XmtpError).code]).toBe(Code[code]);
    expect((err as XmtpError).message).toBe(message);
    return err as XmtpError;
  }

  /** The end-of-results marker of protocol.md §3.4. */
  function expectEnd(r: QueryResponse, direction?: SortDirection): void {
    expect(r.pagingInfo?.limit).toBe(0);
    expect(r.pagingInfo?.cursor).toBeUndefined();
    if (direction !== undefined) expect(r.pagingInfo?.direction).toBe(direction);
  }

  const stamps = (r: QueryResponse) => r.envelopes.map((e) => e.timestampNs);

  describe("publish", () => {
    it("stores, dispatches and relays; keeps timestamps exactly as sent", async () => {
      const sub = api.subscribe([T], ctx);
      const it = sub[Symbol.asyncIterator]();
      const max = (1n << 64n) - 1n;
      await publish([env(T, 0), env(T, max), env(T, 5)]);
      expect((await nextWithin(it)).value?.timestampNs).toBe(0n);
      expect((await nextWithin(it)).value?.timestampNs).toBe(max);
      expect((await nextWithin(it)).value?.timestampNs).toBe(5n);
      expect(relayed.map((b) => b.map((e) => e.timestampNs))).toEqual([[0n, max, 5n]]);
      const r = await api.query(query({ contentTopics: [T], direction: SortDirection.ASCENDING }), ctx);
      expect(stamps(r)).toEqual([0n, 5n, max]);
      sub.close();
    });

    it("an empty publish succeeds", async () => {
      await expect(publish([])).resolves.toBeDefined();
      expect(relayed).toEqual([]);
    });

    it("limits the topic to 300 UTF-8 bytes", async () => {
      await publish([env(`/${"a".repeat(MAX_TOPIC_BYTES - 1)}`, 1)]);
      await expectError(
        publish([env(`/${"a".repeat(MAX_TOPIC_BYTES)}`, 1)]),
        Code.InvalidArgument,
        "topic length too big",
      );
      await publish([env("é".repeat(MAX_TOPIC_BYTES / 2), 1)]); // 2 bytes each: exactly 300
      await expectError(publish([env("€".repeat(101), 1)]), Code.InvalidArgument, "topic length too big"); // 303 bytes
    });

    it("limits the message to 1 048 214 bytes", async () => {
      await publish([env(T, 1, new Uint8Array(MAX_MESSAGE_BYTES))]);
      await expectError(
        publish([env(T, 2, new Uint8Array(MAX_MESSAGE_BYTES + 1))]),
        Code.InvalidArgument,
        "message too big",
      );
      expect(await store.count()).toBe(1);
    });

    it("is atomic: one bad envelope means nothing stored, dispatched or relayed", async () => {
      const sub = api.subscribe("all", ctx);
      const it = sub[Symbol.asyncIterator]();
      const eph = buildTopic.ephemeral(T);
      await expectError(
        publish([env(T, 1), env(eph, 2), env(T, 3, new Uint8Array(MAX_MESSAGE_BYTES + 1))]),
        Code.InvalidArgument,
        "message too big",
      );
      expect(await store.count()).toBe(0);
      expect(relayed).toEqual([]);
      expect(dispatcher.stats().delivered).toBe(0);
      // The stream is still open and sees the next good publish first.
      await publish([env(T, 9)]);
      expect((await nextWithin(it)).value?.timestampNs).toBe(9n);
      sub.close();
    });

    it("never stores ephemeral envelopes but delivers and relays them", async () => {
      const eph = buildTopic.ephemeral(T);
      expect(eph).toBe("/xmtp/0/mE-service-test/proto");
      const sub = api.subscribe([eph], ctx);
      await publish([env(eph, 1)]);
      expect((await nextWithin(sub[Symbol.asyncIterator]())).value?.contentTopic).toBe(eph);
      expect(relayed).toHaveLength(1);
      expect(await store.count()).toBe(0);
      expect((await api.query(query({ contentTopics: [eph] }), ctx)).envelopes).toEqual([]);
      sub.close();
    });

    it("skips relaying and dispatching duplicates, but still succeeds", async () => {
      const sub = api.subscribe([T], ctx);
      const it = sub[Symbol.asyncIterator]();
      await publish([env(T, 1)]);
      await publish([env(T, 1), env(T, 2)]);
      expect((await nextWithin(it)).value?.timestampNs).toBe(1n);
      expect((await nextWithin(it)).value?.timestampNs).toBe(2n);
      expect(relayed.map((b) => b.map((e) => e.timestampNs))).toEqual([[1n], [2n]]);
      // Same payload, different timestamp: a new row.
      await publish([env(T, 3, "m1")]);
      expect((await nextWithin(it)).value?.timestampNs).toBe(3n);
      expect(api.stats().duplicates).toBe(1);
      sub.close();
    });

    it("refuses far-future timestamps only when a window is configured; back-dated ones always pass", async () => {
      const nowNs = 1_700_000_000_000_000_000n;
      const minute = 60_000_000_000n;
      await publish([env(T, nowNs + 1000n * minute)]);
      const strict = make({ maxEnvelopeFutureNs: minute, now: () => nowNs });
      await publish(
        [env(T, nowNs + minute), env(T, nowNs - 5n * 24n * 60n * minute), env(T, 0)],
        ctx,
        strict,
      );
      await expectError(
        publish([env(T, 1), env(T, nowNs + minute + 1n)], ctx, strict),
        Code.InvalidArgument,
        "timestamp too far in the future",
      );
      await strict.ingest([env(T, nowNs + 2n * minute), env(T, nowNs)]);
      expect(strict.stats().ingestRejected).toBe(1);
      expect(await store.count()).toBe(5);
      strict.stop();
    });

    it("a relay that throws does not fail a committed publish", async () => {
      const a = make({
        relay: {
          broadcast() {
            throw new Error("peer gone");
          },
        },
      });
      await expect(publish([env(T, 1)], ctx, a)).resolves.toBeDefined();
      expect(await store.count()).toBe(1);
    });
  });

  describe("ingest (relay in)", () => {
    it("stores, dispatches new envelopes once and never re-broadcasts", async () => {
      const sub = api.subscribe([T], ctx);
      const it = sub[Symbol.asyncIterator]();
      await api.ingest([env(T, 1), env(T, 2)]);
      await api.ingest([env(T, 1)]);
      await api.ingest([env(T, 3)]);
      expect((await nextWithin(it)).value?.timestampNs).toBe(1n);
      expect((await nextWithin(it)).value?.timestampNs).toBe(2n);
      expect((await nextWithin(it)).value?.timestampNs).toBe(3n);
      expect(relayed).toEqual([]);
      expect(await store.count()).toBe(3);
      sub.close();
    });

    it("drops envelopes the API would refuse, silently, and counts them", async () => {
      const sub = api.subscribe("all", ctx);
      const it = sub[Symbol.asyncIterator]();
      await api.ingest([
        env(`/xmtp/0/m-${"x".repeat(MAX_TOPIC_BYTES)}/proto`, 1),
        env(T, 2),
        env(T, 3, new Uint8Array(MAX_MESSAGE_BYTES + 1)),
      ]);
      expect(api.stats().ingestRejected).toBe(2);
      expect(await store.count()).toBe(1);
      expect((await nextWithin(it)).value?.timestampNs).toBe(2n);
      sub.close();
    });

    it("delivers an envelope once when publish and ingest race", async () => {
      const sub = api.subscribe([T, buildTopic.ephemeral(T)], ctx);
      const it = sub[Symbol.asyncIterator]();
      for (let i = 0; i < 20; i++) {
        const e = env(T, 100 + i);
        const eph = env(buildTopic.ephemeral(T), 100 + i);
        await Promise.all([publish([e, eph]), api.ingest([e, eph]), api.ingest([e])]);
      }
      await publish([env(T, 999)]); // sentinel
      const got: bigint[] = [];
      for (;;) {
        const v = (await nextWithin(it)).value as Envelope;
        if (v.timestampNs === 999n) break;
        got.push(v.timestampNs);
      }
      expect(got).toHaveLength(40);
      expect(new Set(got.map((t, i) => `${t}:${i % 2}`)).size).toBe(40);
      sub.close();
    });
  });

  describe("two nodes on one database", () => {
    it("a relayed envelope the shared store already holds is still delivered once to local subscribers", async () => {
      const dispatcherB = createDispatcher();
      const nodeB = createMessageApi({ store, dispatcher: dispatcherB, auth: { required: false } });
      const subB = nodeB.subscribe([T], ctx);
      const itB = subB[Symbol.asyncIterator]();
      // Node A (api) publishes and relays; node B receives it over the relay after A committed it.
      await publish([env(T, 1), env(T, 2)]);
      for (const batch of relayed) await nodeB.ingest(batch, "relay");
      await nodeB.ingest([env(T, 1)], "relay"); // the same envelope again: not delivered twice
      await nodeB.ingest([env(T, 3)], "relay");
      const got: bigint[] = [];
      for (let i = 0; i < 3; i++) got.push((await nextWithin(itB)).value?.timestampNs as bigint);
      expect(got).toEqual([1n, 2n, 3n]);
      subB.close();
      nodeB.stop();
    });

    it("history sync dispatches only envelopes this node newly stored", async () => {
      const sub = api.subscribe([T], ctx);
      const it = sub[Symbol.asyncIterator]();
      await store.insert([
        {
          contentTopic: T,
          timestampNs: 1n,
          message: env(T, 1).message,
          digest: envelopeDigest(T, env(T, 1).message),
        },
      ]);
      await api.ingest([env(T, 1), env(T, 2)], "sync");
      expect((await nextWithin(it)).value?.timestampNs).toBe(2n);
      await publish([env(T, 9)]); // sentinel: nothing else was queued in between
      expect((await nextWithin(it)).value?.timestampNs).toBe(9n);
      sub.close();
    });
  });

  describe("query", () => {
    it("stops a page at 4 MiB of messages with a cursor, so clients page on (§18 row 19)", async () => {
      const big = "/xmtp/0/m-big-pages/proto";
      await publish([1, 2, 3, 4, 5, 6].map((i) => env(big, i, new Uint8Array(1_000_000).fill(i))));
      const first = await api.query(query({ contentTopics: [big], direction: SortDirection.ASCENDING }), ctx);
      // 4 × 1 MB < 4 MiB ≤ 5 × 1 MB.
      expect(MAX_QUERY_PAGE_BYTES).toBe(4 * 1024 * 1024);
      expect(stamps(first)).toEqual([1n, 2n, 3n, 4n, 5n]);
      const cursor = first.pagingInfo?.cursor;
      expect(cursor).toBeDefined();
      const rest = await api.query(
        query({ contentTopics: [big], direction: SortDirection.ASCENDING, cursor }),
        ctx,
      );
      expect(stamps(rest)).toEqual([6n]);
      expect(rest.pagingInfo?.cursor).toBeUndefined();
    });

    const ten = Array.from({ length: 10 }, (_, i) => env(T, BigInt(i + 1) * 1_000_000_000n, `msg-${i}`));

    it("requires topics", async () => {
      await expectError(
        api.query(create(QueryRequestSchema, {}), ctx),
        Code.InvalidArgument,
        "content topics required",
      );
    });

    it("pages start=env[2], end=env[8], DESC, limit 3 as 3, 3, 1 following cursors", async () => {
      await publish(ten);
      const sizes: number[] = [];
      const seen: bigint[] = [];
      let cursor: unknown;
      for (let guard = 0; guard < 10; guard++) {
        const r = await api.query(
          query({
            contentTopics: [T],
            startTimeNs: ten[2]!.timestampNs,
            endTimeNs: ten[8]!.timestampNs,
            limit: 3,
            direction: SortDirection.DESCENDING,
            cursor,
          }),
          ctx,
        );
        sizes.push(r.envelopes.length);
        seen.push(...stamps(r));
        expect(r.pagingInfo?.direction).toBe(SortDirection.DESCENDING);
        if (r.pagingInfo?.cursor === undefined) {
          expect(r.pagingInfo?.limit).toBe(0);
          break;
        }
        expect(r.pagingInfo.limit).toBe(3);
        const last = r.envelopes[r.envelopes.length - 1]!;
        expect(r.pagingInfo.cursor.cursor).toEqual({
          case: "index",
          value: expect.objectContaining({
            digest: envelopeDigest(last.contentTopic, last.message),
            senderTimeNs: last.timestampNs,
          }),
        });
        cursor = r.pagingInfo.cursor;
      }
      expect(sizes).toEqual([3, 3, 1]);
      expect(seen).toEqual([9n, 8n, 7n, 6n, 5n, 4n, 3n].map((s) => s * 1_000_000_000n));
    });

    it("a limit larger than the result ends with limit 0 and no cursor", async () => {
      await publish(ten);
      const r = await api.query(
        query({ contentTopics: [T], limit: 50, direction: SortDirection.ASCENDING }),
        ctx,
      );
      expect(r.envelopes).toHaveLength(10);
      expectEnd(r, SortDirection.ASCENDING);
    });

    it("page size 1 walks one row at a time and ends with an empty page", async () => {
      await publish(ten.slice(0, 3));
      const pages: number[] = [];
      let cursor: unknown;
      for (let guard = 0; guard < 10; guard++) {
        const r = await api.query(
          query({ contentTopics: [T], limit: 1, direction: SortDirection.ASCENDING, cursor }),
          ctx,
        );
        pages.push(r.envelopes.length);
        if (r.pagingInfo?.cursor === undefined) {
          expect(r.pagingInfo?.limit).toBe(0);
          break;
        }
        cursor = r.pagingInfo.cursor;
      }
      expect(pages).toEqual([1, 1, 1, 0]);
    });

    it("orders ties on the same timestamp by digest, both directions", async () => {
      const ties = ["a", "b", "c", "d", "e"].map((m) => env(T, 7, m));
      await publish(ties);
      const byDigest = [...ties].sort((x, y) =>
        Buffer.compare(envelopeDigest(T, x.message), envelopeDigest(T, y.message)),
      );
      const asc = await api.query(query({ contentTopics: [T], direction: SortDirection.ASCENDING }), ctx);
      expect(asc.envelopes.map((e) => new TextDecoder().decode(e.message))).toEqual(
        byDigest.map((e) => new TextDecoder().decode(e.message)),
      );
      const desc = await api.query(query({ contentTopics: [T], direction: SortDirection.DESCENDING }), ctx);
      expect(desc.envelopes.map((e) => new TextDecoder().decode(e.message))).toEqual(
        byDigest.reverse().map((e) => new TextDecoder().decode(e.message)),
      );
      // Paging through ties with limit 2 yields every row once.
      const seen: string[] = [];
      let cursor: unknown;
      for (let guard = 0; guard < 10; guard++) {
        const r = await api.query(
          query({ contentTopics: [T], limit: 2, direction: SortDirection.ASCENDING, cursor }),
          ctx,
        );
        seen.push(...r.envelopes.map((e) => new TextDecoder().decode(e.message)));
        if (r.pagingInfo?.cursor === undefined) break;
        cursor = r.pagingInfo.cursor;
      }
      expect(seen.sort()).toEqual(["a", "b", "c", "d", "e"]);
    });

    it("defaults to DESC when the direction is unspecified or paging info is absent", async () => {
      await publish(ten.slice(0, 3));
      const r1 = await api.query(query({ contentTopics: [T] }), ctx);
      expect(stamps(r1)).toEqual([3n, 2n, 1n].map((s) => s * 1_000_000_000n));
      expect(r1.pagingInfo?.direction).toBe(SortDirection.DESCENDING);
      const r2 = await api.query(create(QueryRequestSchema, { contentTopics: [T] }), ctx);
      expect(stamps(r2)).toEqual(stamps(r1));
      expectEnd(r2, SortDirection.DESCENDING);
    });

    it("a full page returns a cursor and the next page is empty with none", async () => {
      await publish(ten.slice(0, 4));
      const r = await api.query(query({ contentTopics: [T], limit: 4 }), ctx);
      expect(r.pagingInfo?.limit).toBe(4);
      const next = await api.query(
        query({ contentTopics: [T], limit: 4, cursor: r.pagingInfo?.cursor }),
        ctx,
      );
      expect(next.envelopes).toEqual([]);
      expectEnd(next);
    });

    it("limit 0 means 100 and more than 100 is refused", async () => {
      await publish(Array.from({ length: 120 }, (_, i) => env(T, i + 1)));
      const r = await api.query(query({ contentTopics: [T] }), ctx);
      expect(r.envelopes).toHaveLength(100);
      expect(r.pagingInfo?.limit).toBe(100);
      expect(r.pagingInfo?.cursor).toBeDefined();
      await api.query(query({ contentTopics: [T], limit: 100 }), ctx);
      await expectError(
        api.query(query({ contentTopics: [T], limit: 101 }), ctx),
        Code.InvalidArgument,
        "cannot exceed 100 rows per query",
      );
    });

    it("a single userpreferences topic may ask for up to 500 rows; the returned limit is 100", async () => {
      const up = buildTopic.userPreferences("abc");
      await publish(Array.from({ length: 501 }, (_, i) => env(up, i + 1)));
      const r = await api.query(query({ contentTopics: [up], limit: 500 }), ctx);
      expect(r.envelopes).toHaveLength(500);
      expect(r.pagingInfo?.limit).toBe(100);
      expect(r.pagingInfo?.cursor).toBeDefined();
      await expectError(
        api.query(query({ contentTopics: [up], limit: 501 }), ctx),
        Code.InvalidArgument,
        "cannot exceed 100 rows per query",
      );
      await expectError(
        api.query(query({ contentTopics: [up, T], limit: 101 }), ctx),
        Code.InvalidArgument,
        "cannot exceed 100 rows per query",
      );
    });

    it("a non-existent topic returns an empty result", async () => {
      const r = await api.query(query({ contentTopics: ["/xmtp/0/m-nothing/proto"] }), ctx);
      expect(r.envelopes).toEqual([]);
      expect(r.pagingInfo?.limit).toBe(0);
    });

    it("applies keyset semantics to a cursor without digest and to sender_time_ns 0 (§18 row 8)", async () => {
      await publish(ten.slice(0, 5));
      const t3 = ten[2]!.timestampNs;
      const noDigest = { cursor: { case: "index", value: { senderTimeNs: t3 } } };
      const asc = await api.query(
        query({ contentTopics: [T], direction: SortDirection.ASCENDING, cursor: noDigest }),
        ctx,
      );
      expect(stamps(asc)).toEqual([3n, 4n, 5n].map((s) => s * 1_000_000_000n));
      const desc = await api.query(
        query({ contentTopics: [T], direction: SortDirection.DESCENDING, cursor: noDigest }),
        ctx,
      );
      expect(stamps(desc)).toEqual([2n, 1n].map((s) => s * 1_000_000_000n));
      const zero = {
        cursor: { case: "index", value: { senderTimeNs: 0n, digest: new Uint8Array(32).fill(0xff) } },
      };
      const fromZero = await api.query(
        query({ contentTopics: [T], direction: SortDirection.ASCENDING, cursor: zero }),
        ctx,
      );
      expect(fromZero.envelopes).toHaveLength(5);
    });

    it("start and end are inclusive; 0 means unbounded", async () => {
      await publish(ten);
      const r = await api.query(
        query({ contentTopics: [T], startTimeNs: ten[3]!.timestampNs, direction: SortDirection.ASCENDING }),
        ctx,
      );
      expect(r.envelopes[0]?.timestampNs).toBe(ten[3]!.timestampNs);
      expect(r.envelopes).toHaveLength(7);
      const e = await api.query(query({ contentTopics: [T], endTimeNs: ten[3]!.timestampNs }), ctx);
      expect(e.envelopes[0]?.timestampNs).toBe(ten[3]!.timestampNs);
      expect(e.envelopes).toHaveLength(4);
    });
  });

  describe("batchQuery", () => {
    it("runs each sub-query with its own paging, in order", async () => {
      const A = "/xmtp/0/m-a/proto";
      const B = "/xmtp/0/m-b/proto";
      await publish([env(A, 1), env(A, 2), env(A, 3), env(B, 10)]);
      const r = await api.batchQuery(
        create(BatchQueryRequestSchema, {
          requests: [
            query({ contentTopics: [A], limit: 2, direction: SortDirection.ASCENDING }),
            query({ contentTopics: [B] }),
            query({ contentTopics: [A], limit: 1 }),
          ],
        }),
        ctx,
      );
      expect(r.responses.map(stamps)).toEqual([[1n, 2n], [10n], [3n]]);
      expect(r.responses[0]?.pagingInfo).toMatchObject({ limit: 2, direction: SortDirection.ASCENDING });
      expect(r.responses[0]?.pagingInfo?.cursor).toBeDefined();
      expect(r.responses[1]?.pagingInfo).toMatchObject({ limit: 0, direction: SortDirection.DESCENDING });
      expect(r.responses[2]?.pagingInfo?.limit).toBe(1);
    });

    it("shares a byte budget: each sub-query's page stops early, with a cursor (§18 row 19)", async () => {
      const big = "/xmtp/0/m-big/proto";
      await publish([1, 2, 3].map((i) => env(big, i, new Uint8Array(300_000).fill(i))));
      const many = await api.batchQuery(
        create(BatchQueryRequestSchema, {
          requests: Array.from({ length: 50 }, () =>
            query({ contentTopics: [big], limit: 10, direction: SortDirection.ASCENDING }),
          ),
        }),
        ctx,
      );
      // 50 sub-queries get 16 MiB / 50 ≈ 328 KiB each: two 300 kB envelopes, and a cursor.
      expect(batchSubqueryBytes(50)).toBe(Math.floor((16 * 1024 * 1024) / 50));
      for (const r of many.responses) {
        expect(stamps(r)).toEqual([1n, 2n]);
        expect(r.pagingInfo?.cursor).toBeDefined();
      }
      const one = await api.batchQuery(
        create(BatchQueryRequestSchema, {
          requests: [query({ contentTopics: [big], limit: 10, direction: SortDirection.ASCENDING })],
        }),
        ctx,
      );
      expect(stamps(one.responses[0]!)).toEqual([1n, 2n, 3n]);
      expect(one.responses[0]?.pagingInfo?.cursor).toBeUndefined();
    });

    it("accepts 50 sub-queries and refuses 51", async () => {
      const reqs = (n: number) =>
        create(BatchQueryRequestSchema, {
          requests: Array.from({ length: n }, (_, i) => query({ contentTopics: [`/xmtp/0/m-${i}/proto`] })),
        });
      expect((await api.batchQuery(reqs(50), ctx)).responses).toHaveLength(50);
      await expectError(
        api.batchQuery(reqs(51), ctx),
        Code.InvalidArgument,
        "cannot exceed 50 requests in single batch",
      );
    });

    it("runs at most batchConcurrency sub-queries at a time", async () => {
      let running = 0;
      let most = 0;
      const counting: Store = Object.create(store);
      counting.query = async (q) => {
        running++;
        most = Math.max(most, running);
        try {
          return await store.query(q);
        } finally {
          running--;
        }
      };
      const limited = make({ store: counting, batchConcurrency: 3 });
      const r = await limited.batchQuery(
        create(BatchQueryRequestSchema, {
          requests: Array.from({ length: 20 }, (_, i) => query({ contentTopics: [`/xmtp/0/m-c${i}/proto`] })),
        }),
        ctx,
      );
      expect(r.responses).toHaveLength(20);
      expect(most).toBeGreaterThan(0);
      expect(most).toBeLessThanOrEqual(3);
    });

    it("fails as a whole with the caller's error when a sub-query is bad", async () => {
      await expectError(
        api.batchQuery(
          create(BatchQueryRequestSchema, {
            requests: [query({ contentTopics: [T] }), query({ contentTopics: [] })],
          }),
          ctx,
        ),
        Code.InvalidArgument,
        "content topics required",
      );
    });
  });

  describe("topic limits on every call", () => {
    const long = `/xmtp/0/${"x".repeat(MAX_TOPIC_BYTES)}/proto`;
    const lone = "/xmtp/0/m-\ud800/proto";
    const many = (n: number, tag = "") => Array.from({ length: n }, (_, i) => `/xmtp/0/m-${tag}${i}/proto`);

    it("refuses a topic that is too long or not UTF-8, and stores nothing", async () => {
      for (const [topic, why] of [
        [long, TOPIC_TOO_BIG],
        [lone, TOPIC_NOT_UTF8],
      ] as const) {
        await expectError(publish([env(topic, 1)]), Code.InvalidArgument, why);
        await expectError(api.query(query({ contentTopics: [T, topic] }), ctx), Code.InvalidArgument, why);
        await expectError(
          api.batchQuery(
            create(BatchQueryRequestSchema, { requests: [query({ contentTopics: [topic] })] }),
            ctx,
          ),
          Code.InvalidArgument,
          why,
        );
        await expectError(() => api.subscribe([topic], ctx), Code.InvalidArgument, why);
        const sub = api.subscribe([T], ctx);
        await expectError(() => sub.setTopics([topic]), Code.InvalidArgument, why);
        sub.close();
      }
      expect(await store.query({ topics: [lone, long], direction: "asc", limit: 10 })).toEqual([]);
      // A surrogate pair is a real character and fine.
      await publish([env("/xmtp/0/m-\ud83d\ude00/proto", 1)]);
    });

    it(`refuses more than ${MAX_TOPICS_PER_REQUEST} topics in one request`, async () => {
      const tooMany = many(MAX_TOPICS_PER_REQUEST + 1);
      const msg = `too many content topics: ${tooMany.length} (at most ${MAX_TOPICS_PER_REQUEST} per request)`;
      const err = await expectError(() => api.subscribe(tooMany, ctx), Code.InvalidArgument, msg);
      expect(detailsOf(err).limit).toEqual({ name: "topics-per-request", max: MAX_TOPICS_PER_REQUEST });
      await expectError(api.query(query({ contentTopics: tooMany }), ctx), Code.InvalidArgument, msg);
      const split = [
        query({ contentTopics: tooMany.slice(0, 5000) }),
        query({ contentTopics: tooMany.slice(5000) }),
      ];
      await expectError(
        api.batchQuery(create(BatchQueryRequestSchema, { requests: split }), ctx),
        Code.InvalidArgument,
        msg,
      );
      api.subscribe(many(MAX_TOPICS_PER_REQUEST), ctx).close();
    });

    it(`holds a client to ${MAX_TOPICS_PER_CLIENT} subscribed topics and gives them back on close`, async () => {
      const me: RequestContext = { clientIp: "192.0.2.7" };
      const per = MAX_TOPICS_PER_REQUEST;
      const subs = Array.from({ length: MAX_TOPICS_PER_CLIENT / per }, (_, k) =>
        api.subscribe(many(per, `${k}-`), me),
      );
      const err = await expectError(
        () => api.subscribe([T], me),
        Code.ResourceExhausted,
        `too many subscribed topics: ${MAX_TOPICS_PER_CLIENT + 1} (at most ${MAX_TOPICS_PER_CLIENT} per client across its subscriptions)`,
      );
      expect(detailsOf(err).limit?.name).toBe("topics-per-client");
      // Another client is not affected; a Subscribe2 update is held to the same budget.
      api.subscribe([T], { clientIp: "192.0.2.8" }).close();
      await expectError(
        () => subs[0]?.setTopics(many(per + 1, "x")),
        Code.InvalidArgument,
        `too many content topics: ${per + 1} (at most ${per} per request)`,
      );
      subs[0]?.setTopics(many(per - 1));
      api.subscribe([T], me).close();
      for (const s of subs) s.close();
      const again = Array.from({ length: MAX_TOPICS_PER_CLIENT / per }, (_, k) =>
        api.subscribe(many(per, `${k}-`), me),
      );
      for (const s of again) s.close();
      expect(dispatcher.stats().subscriptions).toBe(0);
    });
  });

  describe("subscribe", () => {
    it("is live when it returns and stops delivering after close", async () => {
      const s = api.subscribe([T], ctx);
      const other = api.subscribe([T], ctx);
      await publish([env(T, 1)]);
      expect((await nextWithin(s[Symbol.asyncIterator]())).value?.timestampNs).toBe(1n);
      s.close();
      expect(await s[Symbol.asyncIterator]().next()).toEqual({ done: true, value: undefined });
      await publish([env(T, 2)]);
      const o = other[Symbol.asyncIterator]();
      expect((await nextWithin(o)).value?.timestampNs).toBe(1n);
      expect((await nextWithin(o)).value?.timestampNs).toBe(2n);
      other.close();
      expect(dispatcher.stats().subscriptions).toBe(0);
    });

    it("promotes '*' to subscribe-all, which sees only /xmtp/0/ topics", async () => {
      const s = api.subscribe(["/xmtp/0/m-x/proto", "*"], ctx);
      const it = s[Symbol.asyncIterator]();
      await publish([env("/other/1", 1), env(T, 2), env(buildTopic.ephemeral(T), 3)]);
      expect((await nextWithin(it)).value?.timestampNs).toBe(2n);
      expect((await nextWithin(it)).value?.timestampNs).toBe(3n);
      s.close();
    });

    it("closes when the caller's signal aborts", async () => {
      const ac = new AbortController();
      const s = api.subscribe([T], { signal: ac.signal });
      const p = s[Symbol.asyncIterator]().next();
      ac.abort();
      expect(await p).toEqual({ done: true, value: undefined });
      expect(dispatcher.stats().subscriptions).toBe(0);
    });

    it("setTopics swaps the topic set without losing envelopes of kept topics", async () => {
      const A = "/xmtp/0/m-a/proto";
      const B = "/xmtp/0/m-b/proto";
      const s = api.subscribe([A], ctx);
      await publish([env(A, 1)]);
      s.setTopics([A, B]);
      await publish([env(A, 2), env(B, 3)]);
      const it = s[Symbol.asyncIterator]();
      const got = [];
      for (let i = 0; i < 3; i++) got.push((await nextWithin(it)).value?.timestampNs);
      expect(got).toEqual([1n, 2n, 3n]);
      s.close();
    });

    it("with 10k open subscriptions a publish reaches only its topic's subscribers", async () => {
      const subs = Array.from({ length: 10_000 }, (_, i) => api.subscribe([`/xmtp/0/m-sub-${i}/proto`], ctx));
      const target = subs[1234]!;
      const it = target[Symbol.asyncIterator]();
      for (let i = 1; i <= 100; i++) {
        await publish([env("/xmtp/0/m-sub-1234/proto", i)]);
        expect((await nextWithin(it)).value?.timestampNs).toBe(BigInt(i));
      }
      expect(dispatcher.stats()).toMatchObject({ subscriptions: 10_000, delivered: 100, overflows: 0 });
      for (const s of subs) s.close();
      expect(dispatcher.stats()).toMatchObject({ subscriptions: 0, topics: 0 });
    });

    it("a slow subscriber overflows with an explicit Aborted error; others keep receiving", async () => {
      dispatcher = createDispatcher({ bufferSize: 3 });
      const a = make();
      const slow = a.subscribe([T], ctx);
      const fast = a.subscribe([T], ctx);
      const fastIt = fast[Symbol.asyncIterator]();
      for (let i = 1; i <= 5; i++) {
        await publish([env(T, i)], ctx, a);
        expect((await nextWithin(fastIt)).value?.timestampNs).toBe(BigInt(i));
      }
      await expectError(
        slow[Symbol.asyncIterator]().next(),
        Code.Aborted,
        "subscription buffer overflow, resubscribe and backfill",
      );
      expect(dispatcher.stats()).toMatchObject({ overflows: 1, subscriptions: 1 });
      fast.close();
      a.stop();
    });
  });

  describe("auth", () => {
    const now = aliceFixture.createdNs + 10n * 60_000_000_000n;
    const bobContact = buildTopic.contact(bob.wallet);
    const aliceContact = buildTopic.contact(alice.wallet);
    let authed: MessageApiService;
    beforeEach(() => {
      authed = make({ auth: { required: true }, now: () => now });
    });
    afterEach(() => authed.stop());

    const pub = (envelopes: Envelope[], authorization?: string, a = authed) =>
      a.publish(
        create(PublishRequestSchema, { envelopes }),
        authorization === undefined ? {} : { authorization },
      );

    it("accepts xmtp-js's token for Alice's own restricted topics and open topics", async () => {
      await pub(
        [
          env(aliceContact, 1),
          env(buildTopic.privateStore(alice.wallet), 2),
          env(buildTopic.invite(bob.wallet), 3),
        ],
        aliceFixture.header,
      );
      expect(await store.count()).toBe(3);
      await pub([], aliceFixture.header); // empty publish with a valid token
    });

    it("refuses a missing token, a bad header, a bad scheme and an expired token", async () => {
      await expectError(pub([env(T, 1)]), Code.Unauthenticated, "authorization token is not provided");
      await expectError(pub([], "Bearer"), Code.Unauthenticated, "invalid authorization header");
      await expectError(
        pub([env(T, 1)], aliceFixture.header.replace("Bearer", "Basic")),
        Code.Unauthenticated,
        "unrecognized authorization scheme Basic",
      );
      await expectError(
        pub([env(T, 1)], "Bearer AAAA"),
        Code.Unauthenticated,
        "validating token: missing identity key",
      );
      const late = make({ auth: { required: true }, now: () => aliceFixture.createdNs + 3_600_000_000_001n });
      await expectError(
        pub([env(T, 1)], aliceFixture.header, late),
        Code.Unauthenticated,
        "validating token: token expired",
      );
      expect(await store.count()).toBe(0);
    });

    it("refuses publishing to someone else's restricted topic, atomically", async () => {
      const sub = authed.subscribe("all", {});
      await expectError(
        pub([env(T, 1), env(bobContact, 2)], aliceFixture.header),
        Code.PermissionDenied,
        "publishing to restricted topic",
      );
      await expectError(
        pub([env(buildTopic.privateStore(bob.wallet), 2)], aliceFixture.header),
        Code.PermissionDenied,
        "publishing to restricted topic",
      );
      // The owner compare is exact: a lowercased address is not Alice's topic.
      await expectError(
        pub([env(buildTopic.contact(alice.wallet.toLowerCase()), 2)], aliceFixture.header),
        Code.PermissionDenied,
        "publishing to restricted topic",
      );
      expect(await store.count()).toBe(0);
      expect(relayed).toEqual([]);
      expect(dispatcher.stats().delivered).toBe(0);
      sub.close();
    });

    it("accepts a token built by our createAuthToken for Bob on Bob's contact topic", async () => {
      await pub([env(bobContact, 1)], bob.bearer(now - 1_000_000_000n));
      await expectError(
        pub([env(aliceContact, 1)], bob.bearer(now)),
        Code.PermissionDenied,
        "publishing to restricted topic",
      );
    });

    it("accepts a token from a fresh xmtp-js 12.1.0 identity (LocalAuthenticator)", async () => {
      const account = privateKeyToAccount(generatePrivateKey());
      const wallet = {
        getAddress: async () => account.address,
        signMessage: async (message: ArrayLike<number> | string) =>
          account.signMessage({
            message: typeof message === "string" ? message : { raw: Uint8Array.from(message) },
          }),
      };
      const bundle = await PrivateKeyBundleV1.generate(wallet);
      const token = await new LocalAuthenticator(bundle.identityKey).createToken();
      const live = make({ auth: { required: true } });
      await pub([env(buildTopic.contact(account.address), 1)], `Bearer ${token.toBase64()}`, live);
      await expectError(
        pub([env(bobContact, 1)], `Bearer ${token.toBase64()}`, live),
        Code.PermissionDenied,
        "publishing to restricted topic",
      );
      live.stop();
    });

    it("lets a privileged address publish into anyone's restricted topics", async () => {
      const priv = make({
        auth: { required: true, privilegedAddresses: [alice.wallet.toLowerCase()] },
        now: () => now,
      });
      await pub([env(bobContact, 1)], aliceFixture.header, priv);
      expect(await store.count()).toBe(1);
      // Bob is not privileged.
      await expectError(
        pub([env(aliceContact, 1)], bob.bearer(now), priv),
        Code.PermissionDenied,
        "publishing to restricted topic",
      );
    });

    it("rejects future tokens only when maxFutureNs is configured", async () => {
      const future = bob.bearer(now + 3_600_000_000_000n);
      await pub([env(T, 1)], future);
      const strict = make({ auth: { required: true, maxFutureNs: 60_000_000_000n }, now: () => now });
      await expectError(
        pub([env(T, 2)], future, strict),
        Code.Unauthenticated,
        "validating token: token created in the future",
      );
    });

    it("does not require tokens for query, batch query and subscribe", async () => {
      await authed.query(query({ contentTopics: [T] }), {});
      await authed.batchQuery(
        create(BatchQueryRequestSchema, { requests: [query({ contentTopics: [T] })] }),
        {},
      );
      authed.subscribe([T], {}).close();
    });
  });

  describe("metrics hooks", () => {
    it("reports envelope outcomes, rejected relay input, rate limiting, subscriptions and relay failures", async () => {
      const events: string[] = [];
      const a = make({
        rateLimits: { def: { perMinute: 1, max: 1 }, now: () => 0, janitorIntervalMs: 0 },
        relay: {
          broadcast() {
            throw new Error("down");
          },
        },
        metrics: {
          envelope: (source, e, outcome) => events.push(`${source}:${e.timestampNs}:${outcome}`),
          ingestRejected: (problem) => events.push(`rejected:${problem}`),
          rateLimited: (err) => events.push(`limited:${err.message}`),
          subscribed: (n) => events.push(`subscribed:${n}`),
          relayFailed: (err) => events.push(`relay:${(err as Error).message}`),
        },
      });
      const eph = buildTopic.ephemeral(T);
      await publish([env(T, 1), env(eph, 2)], ctx, a);
      await publish([env(T, 1)], ctx, a);
      await a.ingest([env(T, 1), env(T, 3), env(T, 4, new Uint8Array(MAX_MESSAGE_BYTES + 1)), env(eph, 2)]);
      a.subscribe([T, eph], { clientIp: "1.1.1.1" }).close();
      expect(() => a.subscribe("all", { clientIp: "1.1.1.1" })).toThrow(XmtpError);
      expect(events).toEqual([
        "publish:1:stored",
        "publish:2:ephemeral",
        "relay:down",
        "publish:1:duplicate",
        "rejected:message too big",
        "relay:1:duplicate",
        "relay:3:stored",
        "relay:2:duplicate",
        "subscribed:2",
        "limited:1 exceeds rate limit R1.1.1.1DEF",
      ]);
      expect(a.stats()).toEqual({ ingestRejected: 1, duplicates: 3 });
      a.stop();
    });

    it("a throwing hook never fails a request", async () => {
      const boom = () => {
        throw new Error("metrics down");
      };
      const a = make({ metrics: { envelope: boom, subscribed: boom } });
      const sub = a.subscribe([T], ctx);
      await publish([env(T, 1)], ctx, a);
      expect((await nextWithin(sub[Symbol.asyncIterator]())).value?.timestampNs).toBe(1n);
      sub.close();
      a.stop();
    });

    it("an empty ingest does nothing", async () => {
      await api.ingest([]);
      expect(await store.count()).toBe(0);
    });
  });

  describe("rate limits", () => {
    it("gives a valid token of a priority wallet the larger P bucket; invalid tokens are ignored", async () => {
      const limiter = createRateLimiter({
        pub: { perMinute: 1, max: 1 },
        def: { perMinute: 1, max: 1 },
        priorityMultiplier: { def: 3, pub: 3 },
        now: () => 0,
        janitorIntervalMs: 0,
      });
      const nowNs = aliceFixture.createdNs + 60_000_000_000n;
      const a = make({ rateLimits: limiter, rateLimitPriorityAddresses: [alice.wallet], now: () => nowNs });
      const withAlice = { clientIp: "9.9.9.9", authorization: aliceFixture.header };
      for (let i = 0; i < 3; i++) await a.query(query({ contentTopics: [T] }), withAlice);
      await expectError(
        a.query(query({ contentTopics: [T] }), withAlice),
        Code.ResourceExhausted,
        "1 exceeds rate limit P9.9.9.9DEF",
      );
      // Bob's valid token is not priority, and a broken token just means the regular bucket.
      await a.query(query({ contentTopics: [T] }), { clientIp: "9.9.9.9", authorization: bob.bearer(nowNs) });
      await expectError(
        a.query(query({ contentTopics: [T] }), { clientIp: "9.9.9.9", authorization: "Bearer garbage" }),
        Code.ResourceExhausted,
        "1 exceeds rate limit R9.9.9.9DEF",
      );
      a.stop();
    });

    it("charges publish per envelope before auth, and every other call in the DEF class", async () => {
      let ms = 0;
      const limiter = createRateLimiter({
        pub: { perMinute: 60, max: 3 },
        def: { perMinute: 60, max: 3 },
        now: () => ms,
        janitorIntervalMs: 0,
      });
      const a = make({ rateLimits: limiter, auth: { required: true } });
      const ip = { clientIp: "1.2.3.4" };
      // Publish: cost = envelope count, checked before auth (which then fails).
      await expectError(
        a.publish(create(PublishRequestSchema, { envelopes: [env(T, 1), env(T, 2)] }), ip),
        Code.Unauthenticated,
        "authorization token is not provided",
      );
      await expectError(
        a.publish(create(PublishRequestSchema, { envelopes: [env(T, 1), env(T, 2)] }), ip),
        Code.ResourceExhausted,
        "2 exceeds rate limit R1.2.3.4PUB",
      );
      // DEF: query 1 + batch of 2 exhausts the bucket; a stream open costs 1 too.
      await a.query(query({ contentTopics: [T] }), ip);
      await a.batchQuery(
        create(BatchQueryRequestSchema, {
          requests: [query({ contentTopics: [T] }), query({ contentTopics: [T] })],
        }),
        ip,
      );
      await expectError(
        () => a.subscribe([T], ip),
        Code.ResourceExhausted,
        "1 exceeds rate limit R1.2.3.4DEF",
      );
      // Another client is unaffected; an unknown client shares the ip_unknown bucket.
      a.subscribe([T], { clientIp: "5.6.7.8" }).close();
      await a.query(query({ contentTopics: [T] }), {});
      // Fractional refill: one second at 60/min gives one token back.
      ms += 1000;
      a.subscribe([T], ip).close();
      a.stop();
    });
  });
});
