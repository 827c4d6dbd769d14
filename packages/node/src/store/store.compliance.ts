/**
 * The one test suite every {@link Store} implementation passes (architecture.md §6.1). Backends
 * call `describeStoreCompliance` from their own test file with a factory for a fresh, empty,
 * not yet started store.
 */
import { Code, envelopeDigest, XmtpError } from "@xmtp-ts/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareKeys, UINT64_MAX } from "./common.js";
import type { Direction, Store, StoredEnvelope, StoreQuery, StoreScan } from "./types.js";

export interface StoreFixture {
  /** A fresh, empty store, not started yet. */
  store: Store;
  /** Stops every store handed out and removes the data. */
  cleanup(): Promise<void>;
  /** A second store over the same data (same file / same schema), not started yet. */
  reopen?: () => Store;
}

const TOP = 1n << 63n;
const enc = new TextEncoder();

/** An envelope with its real digest. */
export function makeEnvelope(contentTopic: string, timestampNs: bigint, text = "m"): StoredEnvelope {
  const message = enc.encode(text);
  return { contentTopic, timestampNs, message, digest: envelopeDigest(contentTopic, message) };
}

const topicName = (s: string) => `/xmtp/0/${s}/proto`;
const keyOf = (e: StoredEnvelope) => `${e.timestampNs}:${Buffer.from(e.digest).toString("hex")}`;
const plain = (e: StoredEnvelope) => ({
  contentTopic: e.contentTopic,
  timestampNs: e.timestampNs,
  message: Array.from(e.message),
  digest: Array.from(e.digest),
});
const sorted = (rows: StoredEnvelope[], direction: Direction) => {
  const out = [...rows].sort(compareKeys);
  return direction === "asc" ? out : out.reverse();
};

/** Follows cursors the way the API does until a short page; returns every page. */
async function pages(
  run: (q: StoreQuery | StoreScan) => Promise<StoredEnvelope[]>,
  q: StoreQuery | StoreScan,
  maxPages = 100_000,
): Promise<StoredEnvelope[][]> {
  const out: StoredEnvelope[][] = [];
  let cursor = q.cursor;
  for (let i = 0; i < maxPages; i++) {
    const page = await run({ ...q, cursor });
    out.push(page);
    if (page.length < q.limit) return out;
    const last = page[page.length - 1]!;
    cursor = { timestampNs: last.timestampNs, digest: last.digest };
  }
  throw new Error("paging did not end");
}

async function expectCode(p: Promise<unknown>, code: Code): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(XmtpError);
  expect((err as XmtpError).code).toBe(code);
}

/** What a factory may be given: the node clock, stored as each row's receiver time. */
export interface StoreFixtureOptions {
  now?: () => bigint;
}

export function describeStoreCompliance(
  name: string,
  factory: (opts?: StoreFixtureOptions) => Promise<StoreFixture>,
): void {
  /** Runs `fn` with a started, empty store and always cleans up. */
  const withStore = async (
    fn: (store: Store, fx: StoreFixture) => Promise<void>,
    opts?: StoreFixtureOptions,
  ) => {
    const fx = await factory(opts);
    try {
      await fx.store.start();
      await fn(fx.store, fx);
    } finally {
      await fx.store.stop();
      await fx.cleanup();
    }
  };

  describe(`Store compliance: ${name}`, () => {
    describe("insert", () => {
      it("reports per-row inserted flags and dedupes on (timestamp, digest)", () =>
        withStore(async (store) => {
          const t = topicName("dedupe");
          const [a, b, c] = [makeEnvelope(t, 1n, "a"), makeEnvelope(t, 2n, "b"), makeEnvelope(t, 3n, "c")];
          expect(await store.insert([a, b])).toEqual({ inserted: [true, true] });
          expect(await store.insert([b, c])).toEqual({ inserted: [false, true] });
          expect(await store.insert([c, c])).toEqual({ inserted: [false, false] });
          const d = makeEnvelope(t, 4n, "d");
          expect(await store.insert([d, d])).toEqual({ inserted: [true, false] });
          expect(await store.insert([])).toEqual({ inserted: [] });
          expect(await store.count()).toBe(4);
        }));

      it("stores the same topic and payload with a different timestamp as a new row", () =>
        withStore(async (store) => {
          const t = topicName("retime");
          expect(await store.insert([makeEnvelope(t, 10n, "x")])).toEqual({ inserted: [true] });
          expect(await store.insert([makeEnvelope(t, 11n, "x")])).toEqual({ inserted: [true] });
          const rows = await store.query({ topics: [t], direction: "asc", limit: 10 });
          expect(rows.map((r) => r.timestampNs)).toEqual([10n, 11n]);
          expect(rows[0]!.digest).toEqual(rows[1]!.digest);
        }));

      it("returns envelopes byte for byte as inserted", () =>
        withStore(async (store) => {
          const t = topicName("bytes");
          const message = new Uint8Array(256).map((_, i) => i);
          const e = { contentTopic: t, timestampNs: 5n, message, digest: envelopeDigest(t, message) };
          const empty = {
            contentTopic: t,
            timestampNs: 6n,
            message: new Uint8Array(0),
            digest: envelopeDigest(t, new Uint8Array(0)),
          };
          await store.insert([e, empty]);
          const rows = await store.query({ topics: [t], direction: "asc", limit: 10 });
          expect(rows.map(plain)).toEqual([plain(e), plain(empty)]);
          expect(rows[0]!.message).toBeInstanceOf(Uint8Array);
        }));

      it("is all-or-nothing: a batch with one bad row stores nothing", () =>
        withStore(async (store) => {
          const t = topicName("atomic");
          const good = [makeEnvelope(t, 1n, "a"), makeEnvelope(t, 2n, "b")];
          const bad = { ...makeEnvelope(t, 3n, "c"), digest: new Uint8Array(31) };
          await expectCode(store.insert([...good, bad]), Code.InvalidArgument);
          await expectCode(store.insert([good[0]!, bad, good[1]!]), Code.InvalidArgument);
          // The error names the rule that failed, not a guess.
          const err = (await store.insert([bad]).catch((e: unknown) => e)) as XmtpError;
          expect(err.message).toMatch(/^envelope rejected by the store: .*digest/);
          expect(await store.count()).toBe(0);
          expect(await store.query({ topics: [t], direction: "asc", limit: 10 })).toEqual([]);
          // The rows were not half-claimed either: they insert fine afterwards.
          expect(await store.insert(good)).toEqual({ inserted: [true, true] });
        }));

      it("keeps large batches atomic (thousands of rows, megabyte payloads)", () =>
        withStore(async (store) => {
          const t = topicName("large");
          const many = Array.from({ length: 2500 }, (_, i) => makeEnvelope(t, BigInt(i), `l${i}`));
          const bad = { ...makeEnvelope(t, 9999n, "bad"), digest: new Uint8Array(33) };
          await expectCode(store.insert([...many, bad]), Code.InvalidArgument);
          expect(await store.count()).toBe(0);
          const { inserted } = await store.insert([...many, many[0]!]);
          expect(inserted.filter(Boolean).length).toBe(2500);
          expect(inserted[2500]).toBe(false);
          const big = Array.from({ length: 10 }, (_, i) => {
            const message = new Uint8Array(1_000_000).fill(i);
            return {
              contentTopic: t,
              timestampNs: 10_000n + BigInt(i),
              message,
              digest: envelopeDigest(t, message),
            };
          });
          await expectCode(store.insert([...big, bad]), Code.InvalidArgument);
          expect(await store.count()).toBe(2500);
          expect((await store.insert(big)).inserted.every(Boolean)).toBe(true);
          const got = await store.query({ topics: [t], direction: "desc", limit: 10 });
          expect(got.map((e) => [e.timestampNs, e.message.length, e.message[999_999]])).toEqual(
            big.map((e, i) => [e.timestampNs, 1_000_000, i]).reverse(),
          );
        }));

      it("keeps concurrent batches independent: a failing one does not take others down", () =>
        withStore(async (store) => {
          const t = topicName("concurrent");
          const batches = Array.from({ length: 40 }, (_, i) => {
            const rows = [makeEnvelope(t, BigInt(i), `x${i}`), makeEnvelope(t, BigInt(i), `y${i}`)];
            if (i % 4 === 3) rows.push({ ...makeEnvelope(t, BigInt(i), `z${i}`), digest: new Uint8Array(0) });
            return rows;
          });
          const results = await Promise.allSettled(batches.map((b) => store.insert(b)));
          results.forEach((r, i) => {
            if (i % 4 === 3) {
              expect(r.status).toBe("rejected");
              expect((r as PromiseRejectedResult).reason).toBeInstanceOf(XmtpError);
            } else {
              expect(r).toEqual({ status: "fulfilled", value: { inserted: [true, true] } });
            }
          });
          const rows = await store.query({ topics: [t], direction: "asc", limit: 1000 });
          expect(rows.length).toBe(30 * 2);
          expect(rows.every((r) => Number(r.timestampNs) % 4 !== 3)).toBe(true);
        }));

      it("keeps concurrent one-row batches independent: a failing row does not take others down", () =>
        withStore(async (store) => {
          const t = topicName("concurrent-one");
          const batches = Array.from({ length: 40 }, (_, i) => {
            const row = makeEnvelope(t, BigInt(i), `o${i}`);
            return [i % 4 === 3 ? { ...row, digest: new Uint8Array(0) } : row];
          });
          // A duplicate in the same transaction as its original is simply not inserted.
          batches.push([makeEnvelope(t, 0n, "o0")]);
          const results = await Promise.allSettled(batches.map((b) => store.insert(b)));
          results.forEach((r, i) => {
            if (i % 4 === 3 && i < 40) {
              expect(r.status).toBe("rejected");
              expect((r as PromiseRejectedResult).reason).toBeInstanceOf(XmtpError);
            } else {
              expect(r).toEqual({ status: "fulfilled", value: { inserted: [i < 40] } });
            }
          });
          const rows = await store.query({ topics: [t], direction: "asc", limit: 1000 });
          expect(rows.map((r) => Number(r.timestampNs))).toEqual(
            Array.from({ length: 40 }, (_, i) => i).filter((i) => i % 4 !== 3),
          );
        }));

      it("rejects malformed input before touching the database", () =>
        withStore(async (store) => {
          const t = topicName("malformed");
          const e = makeEnvelope(t, 1n);
          await expectCode(store.insert([{ ...e, timestampNs: -1n }]), Code.InvalidArgument);
          await expectCode(store.insert([{ ...e, timestampNs: UINT64_MAX + 1n }]), Code.InvalidArgument);
          await expectCode(
            store.insert([{ ...e, timestampNs: 1 as unknown as bigint }]),
            Code.InvalidArgument,
          );
          await expectCode(
            store.insert([e, { ...e, message: "x" as unknown as Uint8Array }]),
            Code.InvalidArgument,
          );
          await expectCode(
            store.insert([{ ...e, contentTopic: "/xmtp/0/a\u0000b/proto" }]),
            Code.InvalidArgument,
          );
          await expectCode(
            store.query({ topics: ["a\u0000"], direction: "asc", limit: 1 }),
            Code.InvalidArgument,
          );
          expect(await store.count()).toBe(0);
        }));

      it("rejects inserts on a stopped store and stores nothing", async () => {
        const fx = await factory();
        try {
          const t = topicName("closed");
          await expectCode(fx.store.insert([makeEnvelope(t, 1n)]), Code.Unavailable);
          await fx.store.start();
          await fx.store.stop();
          await expectCode(fx.store.insert([makeEnvelope(t, 1n)]), Code.Unavailable);
          await expectCode(fx.store.query({ topics: [t], direction: "asc", limit: 1 }), Code.Unavailable);
          if (fx.reopen) {
            const again = fx.reopen();
            await again.start();
            expect(await again.count()).toBe(0);
            await again.stop();
          }
        } finally {
          await fx.store.stop();
          await fx.cleanup();
        }
      });
    });

    describe("query (protocol.md §3.3, §3.8)", () => {
      const ten = (t: string) =>
        Array.from({ length: 10 }, (_, i) => makeEnvelope(t, BigInt(i) * 1_000_000_000n, `e${i}`));

      it("start=env[2], end=env[8], DESC, limit 3 gives pages of 3, 3, 1", () =>
        withStore(async (store) => {
          const t = topicName("ref");
          const envs = ten(t);
          await store.insert(envs);
          const q = {
            topics: [t],
            startTimeNs: envs[2]!.timestampNs,
            endTimeNs: envs[8]!.timestampNs,
            direction: "desc" as const,
            limit: 3,
          };
          const got = await pages((x) => store.query(x as StoreQuery), q);
          expect(got.map((p) => p.length)).toEqual([3, 3, 1]);
          expect(got.flat().map(plain)).toEqual(envs.slice(2, 9).reverse().map(plain));
        }));

      it("returns a short page when the limit exceeds the result", () =>
        withStore(async (store) => {
          const t = topicName("short");
          await store.insert(ten(t));
          const rows = await store.query({ topics: [t], direction: "asc", limit: 100 });
          expect(rows.length).toBe(10);
        }));

      it("walks one row at a time with page size 1 and ends with an empty page", () =>
        withStore(async (store) => {
          const t = topicName("one");
          const envs = ten(t);
          await store.insert(envs);
          const got = await pages((x) => store.query(x as StoreQuery), {
            topics: [t],
            startTimeNs: envs[2]!.timestampNs,
            endTimeNs: envs[8]!.timestampNs,
            direction: "asc",
            limit: 1,
          });
          expect(got.map((p) => p.length)).toEqual([1, 1, 1, 1, 1, 1, 1, 0]);
          expect(got.flat().map(plain)).toEqual(envs.slice(2, 9).map(plain));
        }));

      it("orders ties on the timestamp by digest bytes, unsigned", () =>
        withStore(async (store) => {
          const t = topicName("ties");
          const envs = Array.from({ length: 12 }, (_, i) => makeEnvelope(t, 7n, `tie${i}`));
          await store.insert(envs);
          const asc = await store.query({ topics: [t], direction: "asc", limit: 100 });
          expect(asc.map(plain)).toEqual(sorted(envs, "asc").map(plain));
          const desc = await store.query({ topics: [t], direction: "desc", limit: 100 });
          expect(desc.map(plain)).toEqual(sorted(envs, "desc").map(plain));
          // Crafted digests: a signed byte order would put 0x80 and 0xff before 0x00.
          const crafted = [0xff, 0x00, 0x80, 0x7f, 0x01].map((b) => ({
            ...makeEnvelope(topicName("crafted"), 9n, `c${b}`),
            digest: new Uint8Array(32).fill(b),
          }));
          await store.insert(crafted);
          const got = await store.query({ topics: [topicName("crafted")], direction: "asc", limit: 10 });
          expect(got.map((r) => r.digest[0])).toEqual([0x00, 0x01, 0x7f, 0x80, 0xff]);
        }));

      it("orders ASC and DESC and treats both bounds as inclusive", () =>
        withStore(async (store) => {
          const t = topicName("bounds");
          const envs = ten(t);
          await store.insert(envs);
          const ts = (rows: StoredEnvelope[]) => rows.map((r) => r.timestampNs / 1_000_000_000n);
          const q = (o: Partial<StoreQuery>) =>
            store.query({ topics: [t], direction: "asc", limit: 100, ...o });
          expect(ts(await q({}))).toEqual([0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n]);
          expect(ts(await q({ direction: "desc" }))).toEqual([9n, 8n, 7n, 6n, 5n, 4n, 3n, 2n, 1n, 0n]);
          expect(ts(await q({ startTimeNs: 3_000_000_000n }))).toEqual([3n, 4n, 5n, 6n, 7n, 8n, 9n]);
          expect(ts(await q({ endTimeNs: 3_000_000_000n }))).toEqual([0n, 1n, 2n, 3n]);
          expect(ts(await q({ startTimeNs: 3_000_000_000n, endTimeNs: 3_000_000_000n }))).toEqual([3n]);
          expect(ts(await q({ startTimeNs: 3_000_000_001n, endTimeNs: 3_999_999_999n }))).toEqual([]);
          expect(ts(await q({ startTimeNs: 5_000_000_000n, endTimeNs: 4_000_000_000n }))).toEqual([]);
          expect(ts(await q({ startTimeNs: 0n, direction: "desc", limit: 2 }))).toEqual([9n, 8n]);
          expect(ts(await q({ endTimeNs: 0n }))).toEqual([0n]);
        }));

      it("returns nothing for unknown topics and only the asked topics' rows", () =>
        withStore(async (store) => {
          await store.insert([makeEnvelope(topicName("a"), 1n), makeEnvelope(topicName("b"), 2n)]);
          expect(await store.query({ topics: [topicName("nope")], direction: "asc", limit: 10 })).toEqual([]);
          const rows = await store.query({
            topics: [topicName("b"), topicName("b")],
            direction: "asc",
            limit: 10,
          });
          expect(rows.map((r) => r.contentTopic)).toEqual([topicName("b")]);
        }));

      it("stops a page at maxBytes of messages: at least one row, the one crossing the mark last", () =>
        withStore(async (store) => {
          const a = topicName("bytes-a");
          const b = topicName("bytes-b");
          // Messages of 100, 200, …, 600 bytes at times 1…6, alternating between two topics.
          const envs = [1, 2, 3, 4, 5, 6].map((i) =>
            makeEnvelope(i % 2 === 1 ? a : b, BigInt(i), "x".repeat(100 * i)),
          );
          await store.insert(envs);
          const sizes = async (q: Partial<StoreQuery>) =>
            (await store.query({ topics: [a, b], direction: "asc", limit: 10, ...q })).map(
              (r) => r.message.length,
            );
          expect(await sizes({ maxBytes: 250 })).toEqual([100, 200]);
          expect(await sizes({ maxBytes: 300 })).toEqual([100, 200]);
          expect(await sizes({ maxBytes: 301 })).toEqual([100, 200, 300]);
          expect(await sizes({ maxBytes: 1 })).toEqual([100]);
          expect(await sizes({ maxBytes: 1 << 20 })).toEqual([100, 200, 300, 400, 500, 600]);
          expect(await sizes({ maxBytes: 1000, direction: "desc" })).toEqual([600, 500]);
          expect(await sizes({ maxBytes: 1000, limit: 1, direction: "desc" })).toEqual([600]);
          // One topic and every topic (scan) read the same way.
          expect(await sizes({ topics: [b], maxBytes: 700 })).toEqual([200, 400, 600]);
          expect(await sizes({ topics: [b], maxBytes: 600 })).toEqual([200, 400]);
          // From a cursor, the next page goes on where the cut one ended.
          const first = await store.query({ topics: [a, b], direction: "asc", limit: 10, maxBytes: 250 });
          const last = first[first.length - 1]!;
          const cursor = { timestampNs: last.timestampNs, digest: last.digest };
          expect(await sizes({ cursor, maxBytes: 250 })).toEqual([300]);
          await expect(store.query({ topics: [a], direction: "asc", limit: 1, maxBytes: 0 })).rejects.toThrow(
            /maxBytes/,
          );
        }));

      it("rejects malformed queries", () =>
        withStore(async (store) => {
          const t = topicName("badq");
          await expectCode(store.query({ topics: [], direction: "asc", limit: 1 }), Code.InvalidArgument);
          await expectCode(store.query({ topics: [t], direction: "asc", limit: 0 }), Code.InvalidArgument);
          await expectCode(store.query({ topics: [t], direction: "asc", limit: 1.5 }), Code.InvalidArgument);
          await expectCode(
            store.query({ topics: [t], direction: "up" as unknown as Direction, limit: 1 }),
            Code.InvalidArgument,
          );
          await expectCode(
            store.query({ topics: [t], direction: "asc", limit: 1, startTimeNs: -1n }),
            Code.InvalidArgument,
          );
          await expectCode(
            store.query({
              topics: [t],
              direction: "asc",
              limit: 1,
              cursor: { timestampNs: UINT64_MAX + 1n, digest: new Uint8Array(0) },
            }),
            Code.InvalidArgument,
          );
        }));
    });

    describe("cursors (protocol.md §3.3, §18 row 8)", () => {
      it("is exclusive on (timestamp, digest) in both directions", () =>
        withStore(async (store) => {
          const t = topicName("cursor");
          const envs = [1n, 2n, 2n, 2n, 3n].map((ts, i) => makeEnvelope(t, ts, `c${i}`));
          await store.insert(envs);
          const asc = sorted(envs, "asc");
          const mid = asc[2]!;
          const after = await store.query({ topics: [t], direction: "asc", limit: 10, cursor: mid });
          expect(after.map(plain)).toEqual(asc.slice(3).map(plain));
          const before = await store.query({ topics: [t], direction: "desc", limit: 10, cursor: mid });
          expect(before.map(plain)).toEqual(asc.slice(0, 2).reverse().map(plain));
        }));

      it("counts an empty digest as before every digest", () =>
        withStore(async (store) => {
          const t = topicName("emptydigest");
          const envs = [1n, 2n, 2n, 3n].map((ts, i) => makeEnvelope(t, ts, `d${i}`));
          await store.insert(envs);
          const cursor = { timestampNs: 2n, digest: new Uint8Array(0) };
          const asc = await store.query({ topics: [t], direction: "asc", limit: 10, cursor });
          expect(asc.map((r) => r.timestampNs)).toEqual([2n, 2n, 3n]);
          const desc = await store.query({ topics: [t], direction: "desc", limit: 10, cursor });
          expect(desc.map((r) => r.timestampNs)).toEqual([1n]);
          // A missing digest (from a sloppy caller) behaves the same.
          const loose = { timestampNs: 2n } as unknown as StoreQuery["cursor"];
          const asc2 = await store.query({ topics: [t], direction: "asc", limit: 10, cursor: loose });
          expect(asc2.map((r) => r.timestampNs)).toEqual([2n, 2n, 3n]);
        }));

      it("treats timestamp 0 in a cursor as an ordinary value", () =>
        withStore(async (store) => {
          const t = topicName("zero");
          const envs = [0n, 0n, 1n].map((ts, i) => makeEnvelope(t, ts, `z${i}`));
          await store.insert(envs);
          const asc = sorted(envs, "asc");
          const fromStart = await store.query({
            topics: [t],
            direction: "asc",
            limit: 10,
            cursor: { timestampNs: 0n, digest: new Uint8Array(0) },
          });
          expect(fromStart.map(plain)).toEqual(asc.map(plain));
          const afterFirst = await store.query({ topics: [t], direction: "asc", limit: 10, cursor: asc[0]! });
          expect(afterFirst.map(plain)).toEqual(asc.slice(1).map(plain));
          const beforeSecond = await store.query({
            topics: [t],
            direction: "desc",
            limit: 10,
            cursor: asc[1]!,
          });
          expect(beforeSecond.map(plain)).toEqual([plain(asc[0]!)]);
          const beforeZero = await store.query({
            topics: [t],
            direction: "desc",
            limit: 10,
            cursor: { timestampNs: 0n, digest: new Uint8Array(0) },
          });
          expect(beforeZero).toEqual([]);
        }));
    });

    describe("uint64 timestamps", () => {
      const extremes = [TOP, 0n, UINT64_MAX, TOP - 1n, 1n, TOP + 1n, UINT64_MAX - 1n];

      it("orders 0, 2^63−1, 2^63 and 2^64−1 as unsigned values", () =>
        withStore(async (store) => {
          const t = topicName("u64");
          const envs = extremes.map((ts, i) => makeEnvelope(t, ts, `u${i}`));
          await store.insert(envs);
          const want = [...extremes].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
          const asc = await store.query({ topics: [t], direction: "asc", limit: 100 });
          expect(asc.map((r) => r.timestampNs)).toEqual(want);
          const desc = await store.query({ topics: [t], direction: "desc", limit: 100 });
          expect(desc.map((r) => r.timestampNs)).toEqual([...want].reverse());
          const high = await store.query({ topics: [t], direction: "asc", limit: 100, startTimeNs: TOP });
          expect(high.map((r) => r.timestampNs)).toEqual([TOP, TOP + 1n, UINT64_MAX - 1n, UINT64_MAX]);
          const low = await store.query({ topics: [t], direction: "asc", limit: 100, endTimeNs: TOP - 1n });
          expect(low.map((r) => r.timestampNs)).toEqual([0n, 1n, TOP - 1n]);
          const top = await store.query({
            topics: [t],
            direction: "asc",
            limit: 100,
            startTimeNs: UINT64_MAX,
            endTimeNs: UINT64_MAX,
          });
          expect(top.map((r) => r.timestampNs)).toEqual([UINT64_MAX]);
          const across = await pages((x) => store.query(x as StoreQuery), {
            topics: [t],
            direction: "asc",
            limit: 2,
          });
          expect(across.flat().map((r) => r.timestampNs)).toEqual(want);
          const back = await pages((x) => store.query(x as StoreQuery), {
            topics: [t],
            direction: "desc",
            limit: 2,
          });
          expect(back.flat().map((r) => r.timestampNs)).toEqual([...want].reverse());
          expect(await store.newestTimestampNs()).toBe(UINT64_MAX);
          const scanned = await store.scan({
            direction: "asc",
            limit: 100,
            startTimeNs: TOP - 1n,
            endTimeNs: TOP,
          });
          expect(scanned.map((r) => r.timestampNs)).toEqual([TOP - 1n, TOP]);
        }));
    });

    describe("many topics and scans", () => {
      it("answers one query over 5000 topics", () =>
        withStore(async (store) => {
          const topics = Array.from({ length: 5000 }, (_, i) => topicName(`many-${i}`));
          const envs = topics.map((t, i) => makeEnvelope(t, BigInt((i * 7919) % 5000), `m${i}`));
          expect((await store.insert(envs)).inserted.every(Boolean)).toBe(true);
          await store.insert([makeEnvelope(topicName("other"), 1n)]);
          const first = await store.query({ topics, direction: "asc", limit: 100 });
          expect(first.map(plain)).toEqual(sorted(envs, "asc").slice(0, 100).map(plain));
          const all = await pages((x) => store.query(x as StoreQuery), {
            topics,
            direction: "desc",
            limit: 1000,
          });
          expect(all.map((p) => p.length)).toEqual([1000, 1000, 1000, 1000, 1000, 0]);
          expect(all.flat().map(keyOf)).toEqual(sorted(envs, "desc").map(keyOf));
        }));

      it("scans across topics in (timestamp, digest) order, optionally filtered", () =>
        withStore(async (store) => {
          const envs = Array.from({ length: 30 }, (_, i) =>
            makeEnvelope(topicName(`scan-${i % 4}`), BigInt(i % 7), `s${i}`),
          );
          await store.insert(envs);
          for (const direction of ["asc", "desc"] as const) {
            const all = await pages((x) => store.scan(x), { direction, limit: 4 });
            expect(all.flat().map(plain)).toEqual(sorted(envs, direction).map(plain));
            const some = [topicName("scan-1"), topicName("scan-3")];
            const filtered = await pages((x) => store.scan(x), { topics: some, direction, limit: 3 });
            const want = envs.filter((e) => some.includes(e.contentTopic));
            expect(filtered.flat().map(plain)).toEqual(sorted(want, direction).map(plain));
          }
          const window = await store.scan({
            direction: "asc",
            limit: 100,
            startTimeNs: 2n,
            endTimeNs: 3n,
            topics: [],
          });
          expect(window.map(plain)).toEqual(
            sorted(
              envs.filter((e) => e.timestampNs === 2n || e.timestampNs === 3n),
              "asc",
            ).map(plain),
          );
        }));
    });

    describe("retention", () => {
      it("deletes only expiring rows (topics outside /xmtp/) received before the cut-off, oldest first, in bounded batches", async () => {
        let clock = 1_000n;
        await withStore(
          async (store) => {
            const old = [1n, 2n, 3n].map((t) => makeEnvelope(`/waku/2/old-${t}/proto`, t));
            const kept = makeEnvelope(topicName("kept"), 4n);
            await store.insert([...old, kept]);
            clock = 2_000n;
            const recent = makeEnvelope("/waku/2/recent/proto", 5n);
            await store.insert([recent]);
            expect(await store.deleteExpired(2_000n, 2)).toBe(2);
            expect(await store.deleteExpired(2_000n, 2)).toBe(1);
            expect(await store.deleteExpired(2_000n, 2)).toBe(0);
            expect(await store.count()).toBe(2);
            const left = await store.scan({ direction: "asc", limit: 10 });
            expect(left.map((e) => e.contentTopic)).toEqual([kept.contentTopic, recent.contentTopic]);
            // Rows under /xmtp/ stay whatever their age.
            expect(await store.deleteExpired(10_000n, 100)).toBe(1);
            expect((await store.scan({ direction: "asc", limit: 10 })).map((e) => e.contentTopic)).toEqual([
              kept.contentTopic,
            ]);
          },
          { now: () => clock },
        );
      });
    });

    describe("receive order (docs/sync.md)", () => {
      /** Every envelope received after `from`, page by page, with the final position. */
      const walk = async (store: Store, from: Uint8Array | undefined, limit = 3, maxBytes = 1 << 20) => {
        const got: StoredEnvelope[] = [];
        let position = from;
        for (let i = 0; i < 10_000; i++) {
          const page = await store.receivedSince(position, { limit, maxBytes });
          position = page.position;
          if (page.envelopes.length === 0) return { got, position };
          got.push(...page.envelopes);
        }
        throw new Error("receive order did not end");
      };

      it("lists envelopes in the order received, whatever their timestamps, and resumes from a position", () =>
        withStore(async (store) => {
          const t = topicName("recv");
          const first = [
            makeEnvelope(t, 500n, "a"),
            makeEnvelope(t, UINT64_MAX, "b"),
            makeEnvelope(t, 7n, "c"),
          ];
          // One insert is received at once (its order within is the store's); these come one by one.
          for (const e of first) await store.insert([e]);
          const one = await walk(store, undefined);
          expect(one.got.map(plain)).toEqual(first.map(plain));
          // Later arrivals stamped in the past come after the position, duplicates never.
          const later = [makeEnvelope(t, 1n, "d"), makeEnvelope(t, 0n, "e")];
          await store.insert([first[0]!, later[0]!]);
          await store.insert([later[1]!]);
          const two = await walk(store, one.position, 1);
          expect(two.got.map(plain)).toEqual(later.map(plain));
          expect((await walk(store, two.position)).got).toEqual([]);
          expect((await walk(store, undefined, 2)).got.map(plain)).toEqual([...first, ...later].map(plain));
        }));

      it("says which envelopes it holds by (timestamp, digest)", () =>
        withStore(async (store) => {
          const t = topicName("holds");
          const [a, b] = [makeEnvelope(t, 1n, "a"), makeEnvelope(t, 2n ** 64n - 1n, "b")];
          await store.insert([a!, b!]);
          const absent = makeEnvelope(t, 3n, "c");
          expect(
            await store.holds([
              { timestampNs: b!.timestampNs, digest: b!.digest },
              { timestampNs: absent.timestampNs, digest: absent.digest },
              // The same digest under another timestamp is another envelope.
              { timestampNs: 9n, digest: a!.digest },
              { timestampNs: a!.timestampNs, digest: a!.digest },
            ]),
          ).toEqual([true, false, false, true]);
          expect(await store.holds([])).toEqual([]);
        }));

      it("stops a page at the byte budget but always returns one envelope", () =>
        withStore(async (store) => {
          const t = topicName("recv-bytes");
          const envs = [makeEnvelope(t, 1n, "x".repeat(100)), makeEnvelope(t, 2n, "y".repeat(100))];
          await store.insert(envs);
          const page = await store.receivedSince(undefined, { limit: 10, maxBytes: 150 });
          expect(page.envelopes.map(plain)).toEqual([plain(envs[0]!)]);
          const tiny = await store.receivedSince(page.position, { limit: 10, maxBytes: 1 });
          expect(tiny.envelopes.map(plain)).toEqual([plain(envs[1]!)]);
        }));

      it("never reuses a position after deletions, and keeps positions across a restart", async () => {
        let clock = 1n;
        await withStore(
          async (store) => {
            const old = makeEnvelope("/waku/2/old/proto", 1n);
            await store.insert([old]);
            const { position } = await walk(store, undefined);
            clock = 10n;
            expect(await store.deleteExpired(5n, 10)).toBe(1);
            await store.stop();
            await store.start();
            const fresh = makeEnvelope(topicName("after-delete"), 2n);
            await store.insert([fresh]);
            expect((await walk(store, position)).got.map(plain)).toEqual([plain(fresh)]);
          },
          { now: () => clock },
        );
      });

      it("lists from the beginning for another store's position and refuses a malformed one", () =>
        withStore(async (store) => {
          const e = makeEnvelope(topicName("recv-foreign"), 3n);
          await store.insert([e]);
          const foreign = new Uint8Array(40).fill(7);
          expect(
            (await store.receivedSince(foreign, { limit: 5, maxBytes: 1000 })).envelopes.map(plain),
          ).toEqual([plain(e)]);
          await expectCode(
            store.receivedSince(new Uint8Array(5), { limit: 5, maxBytes: 1000 }),
            Code.InvalidArgument,
          );
          const { position } = await walk(store, undefined);
          await expectCode(
            store.receivedSince(position.subarray(0, position.length - 1), { limit: 5, maxBytes: 1000 }),
            Code.InvalidArgument,
          );
          await expectCode(
            store.receivedSince(undefined, { limit: 0, maxBytes: 1000 }),
            Code.InvalidArgument,
          );
        }));
    });

    describe("lifecycle and stats", () => {
      it("reports newestTimestampNs, count and health", () =>
        withStore(async (store) => {
          expect(await store.newestTimestampNs()).toBeUndefined();
          expect(await store.count()).toBe(0);
          expect(await store.healthy()).toBe(true);
          expect(await store.health()).toEqual({ ok: true });
          expect(store.id()).toHaveLength(16);
          await store.insert([makeEnvelope(topicName("n"), 5n), makeEnvelope(topicName("n2"), 3n)]);
          expect(await store.newestTimestampNs()).toBe(5n);
          expect(await store.count()).toBe(2);
          await store.stop();
          expect(await store.healthy()).toBe(false);
          expect(await store.health()).toEqual({ ok: false, error: "store is stopped" });
        }));

      it("can be stopped twice and started twice, also concurrently", () =>
        withStore(async (store) => {
          await store.start();
          await Promise.all([store.start(), store.start()]);
          expect(await store.healthy()).toBe(true);
          await store.stop();
          await store.stop();
          expect(await store.healthy()).toBe(false);
          await Promise.all([store.start(), store.start()]);
          expect(await store.healthy()).toBe(true);
          await Promise.all([store.stop(), store.stop()]);
          expect(await store.healthy()).toBe(false);
        }));

      it("keeps its data across a restart and a reopen", () =>
        withStore(async (store, fx) => {
          const t = topicName("restart");
          const envs = [makeEnvelope(t, 1n), makeEnvelope(t, UINT64_MAX)];
          await store.insert(envs);
          const id = store.id();
          await store.stop();
          await store.start();
          expect(store.id()).toEqual(id);
          expect((await store.query({ topics: [t], direction: "asc", limit: 10 })).map(plain)).toEqual(
            envs.map(plain),
          );
          await store.stop();
          if (fx.reopen) {
            const again = fx.reopen();
            await again.start();
            try {
              expect((await again.query({ topics: [t], direction: "asc", limit: 10 })).map(plain)).toEqual(
                envs.map(plain),
              );
              expect(await again.insert(envs)).toEqual({ inserted: [false, false] });
              expect(await again.newestTimestampNs()).toBe(UINT64_MAX);
            } finally {
              await again.stop();
            }
          }
        }));
    });

    describe("property: paging equals a sorted in-memory model", () => {
      const tsArb = fc.oneof(
        fc.constantFrom(0n, 1n, 2n, TOP - 1n, TOP, UINT64_MAX),
        fc.bigInt({ min: 0n, max: 5n }),
        fc.bigInt({ min: 0n, max: UINT64_MAX }),
      );
      const envArb = fc.record({
        topic: fc.integer({ min: 0, max: 4 }),
        ts: tsArb,
        msg: fc.uint8Array({ maxLength: 6 }),
      });
      const queryArb = fc.record({
        topics: fc.uniqueArray(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 5 }),
        direction: fc.constantFrom<Direction>("asc", "desc"),
        limit: fc.integer({ min: 1, max: 8 }),
        start: fc.option(tsArb, { nil: undefined }),
        end: fc.option(tsArb, { nil: undefined }),
      });

      it("for arbitrary cursors (any timestamp, any or empty digest)", () =>
        withStore(async (store) => {
          const t = topicName("prop-cursor");
          const envs = [0n, 1n, 1n, 2n, TOP - 1n, TOP, TOP, UINT64_MAX].map((ts, i) =>
            makeEnvelope(t, ts, `pc${i}`),
          );
          await store.insert(envs);
          await fc.assert(
            fc.asyncProperty(
              tsArb,
              fc.oneof(fc.uint8Array({ maxLength: 33 }), fc.constantFrom(...envs.map((e) => e.digest))),
              fc.constantFrom<Direction>("asc", "desc"),
              fc.integer({ min: 1, max: 10 }),
              async (timestampNs, digest, direction, limit) => {
                const cursor = { timestampNs, digest };
                const after = (e: StoredEnvelope) =>
                  direction === "asc" ? compareKeys(e, cursor) > 0 : compareKeys(e, cursor) < 0;
                const want = sorted(envs.filter(after), direction).slice(0, limit);
                const got = await store.query({ topics: [t], direction, limit, cursor });
                expect(got.map(keyOf)).toEqual(want.map(keyOf));
                const scanned = await store.scan({ direction, limit, cursor });
                expect(scanned.map(keyOf)).toEqual(want.map(keyOf));
              },
            ),
            { numRuns: 60 },
          );
        }));

      it("for query and scan, in both directions", () =>
        withStore(async (store) => {
          const model = new Map<string, StoredEnvelope>();
          await fc.assert(
            fc.asyncProperty(fc.array(envArb, { maxLength: 25 }), queryArb, async (raw, q) => {
              const envs = raw.map((r) => {
                const t = topicName(`prop-${r.topic}`);
                return {
                  contentTopic: t,
                  timestampNs: r.ts,
                  message: r.msg,
                  digest: envelopeDigest(t, r.msg),
                };
              });
              const { inserted } = await store.insert(envs);
              envs.forEach((e, i) => {
                expect(inserted[i]).toBe(!model.has(keyOf(e)));
                model.set(keyOf(e), e);
              });
              const topics = q.topics.map((i) => topicName(`prop-${i}`));
              const inRange = (e: StoredEnvelope) =>
                (q.start === undefined || e.timestampNs >= q.start) &&
                (q.end === undefined || e.timestampNs <= q.end);
              const base = { direction: q.direction, limit: q.limit, startTimeNs: q.start, endTimeNs: q.end };
              const want = sorted(
                [...model.values()].filter((e) => topics.includes(e.contentTopic) && inRange(e)),
                q.direction,
              );
              const got = await pages((x) => store.query(x as StoreQuery), { ...base, topics });
              expect(got.flat().map(keyOf)).toEqual(want.map(keyOf));
              expect(got.every((p) => p.length <= q.limit)).toBe(true);
              const all = await pages((x) => store.scan(x), { ...base, limit: q.limit * 8 });
              expect(all.flat().map(keyOf)).toEqual(
                sorted([...model.values()].filter(inRange), q.direction).map(keyOf),
              );
            }),
            { numRuns: 40 },
          );
          expect(await store.count()).toBe(model.size);
        }));
    });
  });
}
