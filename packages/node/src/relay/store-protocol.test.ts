import { create, toBinary } from "@bufbuild/protobuf";
import {
  HistoryQuerySchema,
  HistoryResponse_HistoryError,
  HistoryResponseSchema,
  HistoryRPCSchema,
  IndexSchema,
  PagingInfo_Direction,
  PagingInfoSchema,
} from "@xmtp-ts/proto/waku";
import { envelopeDigest } from "@xmtp-ts/protocol";
import fc from "fast-check";
import { afterEach, describe, expect, test } from "vitest";
import { createSqliteStore } from "../store/sqlite.js";
import {
  answerHistoryQuery,
  answerReceivedQuery,
  decodeHistoryRequest,
  decodeHistoryResponse,
  MAX_CONTENT_FILTERS,
  MAX_POSITION_BYTES,
  MAX_RECEIVED_PAGE_SIZE,
  MAX_STORE_PAGE_BYTES,
  MAX_STORE_REQUEST_BYTES,
  MAX_STORE_RESPONSE_BYTES,
  StoreFrameError,
} from "./store-protocol.js";

const rpc = (init: Parameters<typeof create<typeof HistoryRPCSchema>>[1]) =>
  toBinary(HistoryRPCSchema, create(HistoryRPCSchema, init));

describe("request frame limits", () => {
  test("a request over the frame limit is refused", () => {
    expect(() => decodeHistoryRequest(new Uint8Array(MAX_STORE_REQUEST_BYTES + 1))).toThrow(StoreFrameError);
  });
  test(`up to ${MAX_CONTENT_FILTERS} content filters are accepted, one more is refused`, () => {
    const filters = (n: number) => Array.from({ length: n }, (_, i) => ({ contentTopic: `t${i}` }));
    expect(
      decodeHistoryRequest(rpc({ query: { contentFilters: filters(MAX_CONTENT_FILTERS) } })).query
        .contentFilters,
    ).toHaveLength(MAX_CONTENT_FILTERS);
    expect(() =>
      decodeHistoryRequest(rpc({ query: { contentFilters: filters(MAX_CONTENT_FILTERS + 1) } })),
    ).toThrow(/content filters/);
  });
  test("a request id over 256 characters is refused", () => {
    expect(() => decodeHistoryRequest(rpc({ requestId: "x".repeat(257), query: {} }))).toThrow(/request id/);
    expect(decodeHistoryRequest(rpc({ requestId: "x".repeat(256), query: {} })).requestId).toHaveLength(256);
  });
  test("malformed bytes and frames without a query are refused", () => {
    expect(() => decodeHistoryRequest(new Uint8Array([0x12, 0x09, 0]))).toThrow(StoreFrameError);
    expect(() => decodeHistoryRequest(rpc({ requestId: "1" }))).toThrow(/without a query/);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          decodeHistoryRequest(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(StoreFrameError);
        }
      }),
    );
  });
});

describe("response frame limits", () => {
  test("a response over the frame limit is refused", () => {
    expect(() => decodeHistoryResponse(new Uint8Array(MAX_STORE_RESPONSE_BYTES + 1), "1")).toThrow(/exceeds/);
  });
  test("a response must answer the request id and carry a response", () => {
    const response = create(HistoryResponseSchema, {});
    expect(() => decodeHistoryResponse(rpc({ requestId: "2", response }), "1")).toThrow(/expected 1/);
    expect(() => decodeHistoryResponse(rpc({ requestId: "1" }), "1")).toThrow(/without a response/);
    expect(decodeHistoryResponse(rpc({ requestId: "1", response }), "1").messages).toEqual([]);
  });
});

describe("answerHistoryQuery", () => {
  const stores: { stop(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.stop();
  });

  test("pages are capped by bytes (at least one message), and the cursor continues the walk", async () => {
    const store = createSqliteStore({ path: ":memory:" });
    await store.start();
    stores.push(store);
    const big = new Uint8Array(1_000_000);
    const rows = Array.from({ length: 6 }, (_, i) => {
      const message = big.slice();
      message[0] = i;
      return {
        contentTopic: "/t/proto",
        timestampNs: BigInt(i + 1),
        message,
        digest: envelopeDigest("/t/proto", message),
      };
    });
    await store.insert(rows);
    const seen: bigint[] = [];
    let cursor = undefined as
      | undefined
      | NonNullable<Awaited<ReturnType<typeof answerHistoryQuery>>["pagingInfo"]>["cursor"];
    for (let i = 0; i < 10; i++) {
      const r = await answerHistoryQuery(
        store,
        create(HistoryQuerySchema, {
          pagingInfo: create(PagingInfoSchema, {
            direction: PagingInfo_Direction.FORWARD,
            ...(cursor ? { cursor } : {}),
          }),
        }),
      );
      expect(r.messages.reduce((n, m) => n + m.payload.length, 0)).toBeLessThanOrEqual(MAX_STORE_PAGE_BYTES);
      seen.push(...r.messages.map((m) => m.timestamp ?? 0n));
      cursor = r.pagingInfo?.cursor;
      if (cursor === undefined) break;
    }
    expect(seen).toEqual([1n, 2n, 3n, 4n, 5n, 6n]);
  });
});

describe("answerReceivedQuery (docs/sync.md)", () => {
  const stores: { stop(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.stop();
  });
  const started = async () => {
    const store = createSqliteStore({ path: ":memory:" });
    await store.start();
    stores.push(store);
    return store;
  };
  const ask = (store: Awaited<ReturnType<typeof started>>, digest?: Uint8Array, pageSize = 0n) =>
    answerReceivedQuery(
      store,
      create(HistoryQuerySchema, {
        pagingInfo: create(PagingInfoSchema, {
          pageSize,
          ...(digest !== undefined ? { cursor: create(IndexSchema, { digest }) } : {}),
        }),
      }),
    );
  const row = (i: number, ts: bigint) => {
    const message = new Uint8Array([i]);
    return {
      contentTopic: "/t/proto",
      timestampNs: ts,
      message,
      digest: envelopeDigest("/t/proto", message),
    };
  };

  test("walks the receive order with the returned positions, capped at the page size", async () => {
    const store = await started();
    for (let i = 0; i < 5; i++) await store.insert([row(i, BigInt(100 - i))]);
    const first = await ask(store, undefined, 2n);
    expect(first.messages.map((m) => m.payload[0])).toEqual([0, 1]);
    const second = await ask(store, first.pagingInfo?.cursor?.digest, 5000n);
    expect(second.pagingInfo?.pageSize).toBe(BigInt(MAX_RECEIVED_PAGE_SIZE));
    expect(second.messages.map((m) => m.payload[0])).toEqual([2, 3, 4]);
    const end = await ask(store, second.pagingInfo?.cursor?.digest);
    expect(end.messages).toEqual([]);
    expect(end.pagingInfo?.cursor?.digest).toEqual(second.pagingInfo?.cursor?.digest);
  });

  test(`a position over ${MAX_POSITION_BYTES} bytes or of the wrong shape is an invalid cursor`, async () => {
    const store = await started();
    await store.insert([row(1, 1n)]);
    const own = (await ask(store)).pagingInfo?.cursor?.digest as Uint8Array;
    expect((await ask(store, new Uint8Array(MAX_POSITION_BYTES + 1))).error).toBe(
      HistoryResponse_HistoryError.INVALID_CURSOR,
    );
    expect((await ask(store, own.subarray(0, own.length - 1))).error).toBe(
      HistoryResponse_HistoryError.INVALID_CURSOR,
    );
    // Another store's position (the peer's data was replaced): everything from the start.
    const foreign = await ask(store, new Uint8Array(MAX_POSITION_BYTES).fill(9));
    expect(foreign.error).toBe(HistoryResponse_HistoryError.NONE);
    expect(foreign.messages).toHaveLength(1);
  });
});
