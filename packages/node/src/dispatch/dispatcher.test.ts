import { create } from "@bufbuild/protobuf";
import { type Envelope, EnvelopeSchema } from "@xmtp-ts/proto";
import { Code, XmtpError } from "@xmtp-ts/protocol";
import { describe, expect, it } from "vitest";
import { createDispatcher, OVERFLOW_MESSAGE } from "./dispatcher.js";

const env = (topic: string, i = 0): Envelope =>
  create(EnvelopeSchema, {
    contentTopic: topic,
    timestampNs: BigInt(i),
    message: new Uint8Array([i & 0xff]),
  });

/** Takes exactly n envelopes from an iterator, bounded by a timeout. */
async function take(it: AsyncIterator<Envelope>, n: number, ms = 2000): Promise<Envelope[]> {
  const out: Envelope[] = [];
  const deadline = Date.now() + ms;
  while (out.length < n) {
    const r = await Promise.race([
      it.next(),
      new Promise<never>((_, rej) =>
        setTimeout(() => rej(new Error("timeout")), Math.max(1, deadline - Date.now())),
      ),
    ]);
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

const T1 = "/xmtp/0/m-one/proto";
const T2 = "/xmtp/0/m-two/proto";
const T3 = "/xmtp/0/m-three/proto";

describe("dispatcher", () => {
  it("delivers by exact topic in arrival order", async () => {
    const d = createDispatcher();
    const s = d.subscribe([T1]);
    const it = s[Symbol.asyncIterator]();
    d.publish(env(T1, 1));
    d.publish(env(T2, 2));
    d.publish(env(T1, 3));
    const got = await take(it, 2);
    expect(got.map((e) => e.timestampNs)).toEqual([1n, 3n]);
    s.close();
    expect(await it.next()).toEqual({ done: true, value: undefined });
  });

  it("resolves a pending next() with the next envelope and with done on close", async () => {
    const d = createDispatcher();
    const s = d.subscribe([T1]);
    const it = s[Symbol.asyncIterator]();
    const p = it.next();
    d.publish(env(T1, 7));
    expect((await p).value?.timestampNs).toBe(7n);
    const pending = it.next();
    s.close();
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(d.stats().subscriptions).toBe(0);
  });

  it("several streams on one topic each get every envelope; closing one leaves the others", async () => {
    const d = createDispatcher();
    const a = d.subscribe([T1]);
    const b = d.subscribe([T1]);
    d.publish(env(T1, 1));
    a.close();
    d.publish(env(T1, 2));
    expect((await take(b[Symbol.asyncIterator](), 2)).map((e) => e.timestampNs)).toEqual([1n, 2n]);
    expect(d.stats()).toMatchObject({ subscriptions: 1, topics: 1 });
    b.close();
    expect(d.stats()).toMatchObject({ subscriptions: 0, topics: 0 });
  });

  it("subscribe-all gets every /xmtp/0/ envelope and nothing else; '*' promotes to all", async () => {
    const d = createDispatcher();
    const all = d.subscribe("all");
    const star = d.subscribe(["x", "*"]);
    d.publish(env(T1, 1));
    d.publish(env("/other/topic", 2));
    d.publish(env("test-abc", 3));
    d.publish(env(T2, 4));
    expect((await take(all[Symbol.asyncIterator](), 2)).map((e) => e.timestampNs)).toEqual([1n, 4n]);
    expect((await take(star[Symbol.asyncIterator](), 2)).map((e) => e.timestampNs)).toEqual([1n, 4n]);
    d.closeAll();
    expect(d.stats().subscriptions).toBe(0);
  });

  it("for await ends on close and return() unsubscribes", async () => {
    const d = createDispatcher();
    const s = d.subscribe([T1]);
    const seen: bigint[] = [];
    const loop = (async () => {
      for await (const e of s) {
        seen.push(e.timestampNs);
        if (seen.length === 2) break; // calls return()
      }
    })();
    d.publish(env(T1, 1));
    d.publish(env(T1, 2));
    d.publish(env(T1, 3));
    await loop;
    expect(seen).toEqual([1n, 2n]);
    expect(d.stats().subscriptions).toBe(0);
  });

  it("a subscriber is also held to a byte budget, and a reader that keeps up gets its bytes back", async () => {
    const big = (i: number) =>
      create(EnvelopeSchema, { contentTopic: T1, timestampNs: BigInt(i), message: new Uint8Array(1000) });
    const d = createDispatcher({ bufferSize: 100, bufferBytes: 3 * (1000 + T1.length) });
    const slow = d.subscribe([T1]);
    const reader = d.subscribe([T1]);
    const it = reader[Symbol.asyncIterator]();
    // Three fit; the reader drains between rounds so it never holds more than three.
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 3; i++) d.publish(big(round * 3 + i));
      expect(await take(it, 3)).toHaveLength(3);
    }
    expect(d.stats()).toMatchObject({ subscriptions: 1, overflows: 1 });
    const err = await slow[Symbol.asyncIterator]()
      .next()
      .catch((e: unknown) => e);
    expect((err as XmtpError).message).toBe(OVERFLOW_MESSAGE);
    reader.close();
  });

  it("overflow ends only the slow subscriber, with an explicit Aborted error, and is counted", async () => {
    const overflowed: unknown[] = [];
    const d = createDispatcher({ bufferSize: 4, onOverflow: (s) => overflowed.push(s) });
    const slow = d.subscribe([T1]);
    const fast = d.subscribe([T1]);
    const fastIt = fast[Symbol.asyncIterator]();
    const received: bigint[] = [];
    for (let i = 0; i < 10; i++) {
      d.publish(env(T1, i));
      received.push(...(await take(fastIt, 1)).map((e) => e.timestampNs));
    }
    expect(received).toHaveLength(10);
    expect(d.stats()).toMatchObject({ subscriptions: 1, overflows: 1 });
    expect(overflowed).toEqual([{ all: false, topics: 1 }]);
    const slowIt = slow[Symbol.asyncIterator]();
    const err = await slowIt.next().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(XmtpError);
    expect((err as XmtpError).code).toBe(Code.Aborted);
    expect((err as XmtpError).message).toBe(OVERFLOW_MESSAGE);
    expect(await slowIt.next()).toEqual({ done: true, value: undefined });
    fast.close();
  });

  it("subscribe-all uses its own buffer size", async () => {
    const d = createDispatcher({ bufferSize: 1, allBufferSize: 3 });
    const s = d.subscribe("all");
    for (let i = 0; i < 3; i++) d.publish(env(T1, i));
    expect(d.stats().overflows).toBe(0);
    d.publish(env(T1, 3));
    expect(d.stats()).toMatchObject({ overflows: 1, subscriptions: 0 });
    await expect(s[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: Code.Aborted });
  });

  it("setTopics keeps queued envelopes of kept topics and drops removed ones", async () => {
    const d = createDispatcher();
    const s = d.subscribe([T1, T2]);
    d.publish(env(T1, 1));
    d.publish(env(T2, 2));
    d.publish(env(T1, 3));
    s.setTopics([T1, T3]);
    d.publish(env(T2, 4)); // no longer subscribed
    d.publish(env(T3, 5));
    d.publish(env(T1, 6));
    const got = await take(s[Symbol.asyncIterator](), 4);
    expect(got.map((e) => e.timestampNs)).toEqual([1n, 3n, 5n, 6n]);
    expect(d.stats().topics).toBe(2);
    s.setTopics(["*"]);
    expect(d.stats().topics).toBe(0);
    d.publish(env("/xmtp/0/m-any/proto", 7));
    expect((await take(s[Symbol.asyncIterator](), 1))[0]?.timestampNs).toBe(7n);
    s.setTopics([T2]);
    d.publish(env(T1, 8));
    d.publish(env(T2, 9));
    expect((await take(s[Symbol.asyncIterator](), 1))[0]?.timestampNs).toBe(9n);
    s.close();
    expect(d.stats()).toMatchObject({ subscriptions: 0, topics: 0 });
  });

  it("an aborted signal closes the subscription", async () => {
    const d = createDispatcher();
    const ac = new AbortController();
    const s = d.subscribe([T1], { signal: ac.signal });
    const p = s[Symbol.asyncIterator]().next();
    ac.abort();
    expect(await p).toEqual({ done: true, value: undefined });
    expect(d.stats().subscriptions).toBe(0);
    const pre = new AbortController();
    pre.abort();
    d.subscribe([T1], { signal: pre.signal });
    expect(d.stats().subscriptions).toBe(0);
  });

  it("publish cost does not depend on unrelated subscriptions (10k subscribers)", async () => {
    const d = createDispatcher({ bufferSize: 2 });
    const subs = [];
    for (let i = 0; i < 10_000; i++) subs.push(d.subscribe([`/xmtp/0/m-${i}/proto`]));
    expect(d.stats()).toMatchObject({ subscriptions: 10_000, topics: 10_000 });
    // Each unrelated subscriber has room for 2 envelopes: if publish touched them, 3 publishes
    // to one topic would overflow all of them. Only topic 42's own subscriber receives anything.
    const target = subs[42]!;
    const it = target[Symbol.asyncIterator]();
    for (let i = 0; i < 1000; i++) {
      d.publish(env("/xmtp/0/m-42/proto", i));
      await take(it, 1);
    }
    expect(d.stats()).toMatchObject({ subscriptions: 10_000, overflows: 0, delivered: 1000 });
    const all = d.subscribe("all");
    d.publish(env("/xmtp/0/m-43/proto", 0));
    expect(d.stats().delivered).toBe(1002); // topic 43's subscriber and the subscribe-all one
    all.close();
    d.closeAll();
    expect(d.stats()).toMatchObject({ subscriptions: 0, topics: 0 });
  });

  it("keeps order for a consumer that always lags behind (queue compaction)", async () => {
    const d = createDispatcher({ bufferSize: 8 });
    const s = d.subscribe([T1]);
    const it = s[Symbol.asyncIterator]();
    let expected = 0;
    for (let i = 0; i < 5000; i++) {
      d.publish(env(T1, i));
      d.publish(env(T1, i + 100_000));
      for (const v of await take(it, 2)) {
        const want = expected % 2 === 0 ? Math.floor(expected / 2) : Math.floor(expected / 2) + 100_000;
        expect(v.timestampNs).toBe(BigInt(want));
        expected++;
      }
    }
    // Lag by a few envelopes for a long run: never drained, never reordered, never overflowed.
    for (let i = 0; i < 3; i++) d.publish(env(T2, i));
    s.setTopics([T1]);
    let n = 0;
    d.publish(env(T1, -1 >>> 0));
    for (let i = 0; i < 4000; i++) {
      d.publish(env(T1, i));
      const [v] = await take(it, 1);
      expect(v?.timestampNs).toBe(i === 0 ? BigInt(-1 >>> 0) : BigInt(i - 1));
      n++;
    }
    expect(n).toBe(4000);
    expect(d.stats().overflows).toBe(0);
    s.close();
  });

  it("a fan-out over the turn budget yields to the event loop between turns, in publish order", async () => {
    // A budget of one byte: every delivery spends the turn, so each turn hands out one envelope.
    const d = createDispatcher({ turnBytes: 1 });
    const [a, b, c, gone, moved] = Array.from({ length: 5 }, () => d.subscribe([T1]));
    const got = new Map<unknown, bigint[]>();
    const read = (s: typeof a) => {
      const list: bigint[] = [];
      got.set(s, list);
      void (async () => {
        for await (const e of s as AsyncIterable<Envelope>) list.push(e.timestampNs);
      })();
    };
    for (const s of [a, b, c]) read(s);
    const nextTurn = () => new Promise<void>((r) => setImmediate(r));
    await Promise.resolve(); // the readers wait in next()
    d.publish(env(T1, 1));
    d.publish(env(T1, 2));
    gone?.close();
    moved?.setTopics([T2]);
    await Promise.resolve();
    // The first turn reached only the first subscriber; the others follow, one per turn.
    expect([got.get(a), got.get(b), got.get(c)]).toEqual([[1n], [], []]);
    const turns: bigint[][][] = [];
    while ((got.get(c)?.length ?? 0) < 2) {
      await nextTurn();
      turns.push([a, b, c].map((s) => [...(got.get(s) ?? [])]));
      expect(turns.length).toBeLessThan(20);
    }
    for (const s of [a, b, c]) expect(got.get(s)).toEqual([1n, 2n]);
    // Who moved to other topics before its turn got nothing from the old one.
    d.publish(env(T2, 9));
    const first = await (moved as AsyncIterable<Envelope>)[Symbol.asyncIterator]().next();
    expect(first.value?.timestampNs).toBe(9n);
    d.closeAll();
  });

  it("rejects invalid buffer sizes", () => {
    expect(() => createDispatcher({ bufferSize: 0 })).toThrow(/bufferSize/);
  });
});
