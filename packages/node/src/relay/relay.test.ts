import { readFileSync, rmSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { type GossipSub, gossipsub } from "@chainsafe/libp2p-gossipsub";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { identify } from "@libp2p/identify";
import { tcp } from "@libp2p/tcp";
import { multiaddr } from "@multiformats/multiaddr";
import { type Envelope, PublishRequestSchema } from "@xmtp-ts/proto";
import {
  HistoryQuerySchema,
  HistoryRPCSchema,
  PagingInfo_Direction,
  PagingInfoSchema,
  WakuMessageSchema,
} from "@xmtp-ts/proto/waku";
import { envelopeDigest, MAX_MESSAGE_BYTES } from "@xmtp-ts/protocol";
import * as lp from "it-length-prefixed";
import { createLibp2p, type Libp2p } from "libp2p";
import { afterEach, describe, expect, test } from "vitest";
import { env, nextWithin } from "../api/test-support.js";
import type { StoredEnvelope } from "../store/types.js";
import { RELAY_MULTICODECS } from "./relay.js";
import {
  answerHistoryQuery,
  decodeHistoryRequest,
  queryPeerStore,
  RECEIVED_SYNC_PROTOCOL,
  StoreSession,
  WAKU_STORE_PROTOCOL,
} from "./store-protocol.js";
import { removeDir, startTestNode, type TestNode, tempDir, waitFor } from "./test-support.js";
import { WAKU_PUBSUB_TOPIC } from "./waku-message.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function node(opts: Parameters<typeof startTestNode>[0] = {}): Promise<TestNode> {
  const n = await startTestNode(opts);
  cleanups.push(async () => {
    await n.stop();
    if (opts.dir === undefined) removeDir(n.dir);
  });
  return n;
}

const hex = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString("hex");
const topic = (s: string) => `/xmtp/0/m-${s}/proto`;
const publish = (n: TestNode, envs: Envelope[]) =>
  n.api.publish(create(PublishRequestSchema, { envelopes: envs }), {});
const row = (e: Envelope): StoredEnvelope => ({
  contentTopic: e.contentTopic,
  timestampNs: e.timestampNs,
  message: e.message,
  digest: envelopeDigest(e.contentTopic, e.message),
});

async function rawPeer(): Promise<Libp2p<{ pubsub: GossipSub }>> {
  const p = await createLibp2p({
    start: false,
    privateKey: await generateKeyPair("secp256k1"),
    addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      pubsub: gossipsub({
        globalSignaturePolicy: "StrictNoSign",
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
      }) as unknown as (c: unknown) => GossipSub,
    },
  });
  p.services.pubsub.multicodecs = [...RELAY_MULTICODECS];
  await p.start();
  p.services.pubsub.subscribe(WAKU_PUBSUB_TOPIC);
  cleanups.push(() => p.stop());
  return p as unknown as Libp2p<{ pubsub: GossipSub }>;
}

describe("relay", () => {
  test("a publish on A reaches subscribers on B and C in a line A–B–C, stored everywhere once", async () => {
    const b = await node();
    const a = await node({ peers: [b.addr] });
    const c = await node({ peers: [b.addr] });
    await waitFor(
      "mesh",
      () => b.relay.meshPeerCount() === 2 && a.relay.meshPeerCount() === 1 && c.relay.meshPeerCount() === 1,
    );
    const subC = c.api.subscribe([topic("line")], {});
    const subB = b.api.subscribe([topic("line")], {});
    const e = env(topic("line"), 1_700_000_000_000_000_000n, "hello");
    await publish(a, [e]);
    const got = await nextWithin(subC[Symbol.asyncIterator](), 10_000);
    expect(hex(got.value?.message)).toBe(hex(e.message));
    expect(got.value?.timestampNs).toBe(e.timestampNs);
    expect((await nextWithin(subB[Symbol.asyncIterator](), 10_000)).value?.contentTopic).toBe(topic("line"));
    await waitFor("stored on C", async () => (await c.store.count()) === 1);
    expect(await b.store.count()).toBe(1);
    expect(a.relay.stats().relayOut).toBe(1);
    expect(c.relay.stats().relayIn).toBe(1);
    subB.close();
    subC.close();
  });

  test("a node without subscribed peers stores and delivers but does not gossip", async () => {
    const a = await node();
    const sub = a.api.subscribe([topic("alone")], {});
    await publish(a, [env(topic("alone"), 1_700_000_000_000_000_000n, "alone")]);
    expect((await nextWithin(sub[Symbol.asyncIterator](), 5_000)).value?.contentTopic).toBe(topic("alone"));
    expect(await a.store.count()).toBe(1);
    expect(a.relay.stats()).toMatchObject({ relayOut: 0, relayUnsent: 1 });
    sub.close();
  });

  test("an envelope arriving by two paths is stored and delivered once", async () => {
    const a = await node();
    const c = await node({ peers: [a.addr] });
    await waitFor("mesh", () => a.relay.meshPeerCount() === 1 && c.relay.meshPeerCount() === 1);
    const sub = c.api.subscribe([topic("dup")], {});
    const it = sub[Symbol.asyncIterator]();
    const e = env(topic("dup"), 42n, "twice");
    await publish(c, [e]); // path 1: a client publishes it on C
    await publish(a, [e]); // path 2: the same envelope published on A arrives over the relay
    const first = await nextWithin(it, 5_000);
    expect(hex(first.value?.message)).toBe(hex(e.message));
    const marker = env(topic("dup"), 43n, "marker");
    await publish(a, [marker]);
    // The next delivery is the marker, not a second copy.
    expect(hex((await nextWithin(it, 10_000)).value?.message)).toBe(hex(marker.message));
    expect(await c.store.count()).toBe(2);
    expect(await a.store.count()).toBe(2);
    sub.close();
  });

  test("nodes sharing one store still deliver what a peer relays to their own subscribers, once", async () => {
    const a = await node();
    const b = await node({ store: a.store, peers: [a.addr] });
    await waitFor("mesh", () => a.relay.meshPeerCount() === 1 && b.relay.meshPeerCount() === 1);
    const subB = b.api.subscribe([topic("shared")], {});
    const subA = a.api.subscribe([topic("shared")], {});
    const itB = subB[Symbol.asyncIterator]();
    const itA = subA[Symbol.asyncIterator]();
    const e1 = env(topic("shared"), 1n, "one");
    const e2 = env(topic("shared"), 2n, "two");
    await publish(a, [e1]);
    await publish(b, [e2]);
    const two = async (it: AsyncIterator<Envelope>) =>
      [
        hex((await nextWithin(it, 10_000)).value?.message),
        hex((await nextWithin(it, 10_000)).value?.message),
      ].sort();
    expect(await two(itB)).toEqual([hex(e1.message), hex(e2.message)].sort());
    expect(await two(itA)).toEqual([hex(e1.message), hex(e2.message)].sort());
    // A history sync of the same envelopes delivers nothing again.
    await b.relay.syncFrom(a.relay.peerId());
    const e3 = env(topic("shared"), 3n, "three");
    await publish(a, [e3]);
    expect(hex((await nextWithin(itB, 10_000)).value?.message)).toBe(hex(e3.message));
    expect(await a.store.count()).toBe(3);
    subA.close();
    subB.close();
  });

  test("relayed envelopes beyond the in-flight limit are shed and counted, not queued", async () => {
    const a = await node();
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const b = await node({
      peers: [a.addr],
      relayInflightLimit: 3,
      wrapIngest: (ingest) => async (e, source) => {
        if (source === "relay") await gate;
        await ingest(e, source);
      },
    });
    await waitFor(
      "mesh and the initial sync",
      () =>
        a.relay.meshPeerCount() === 1 && b.relay.meshPeerCount() === 1 && b.relay.stats().syncCompleted === 1,
    );
    for (let i = 0; i < 5; i++) await publish(a, [env(topic("flood"), BigInt(i + 1))]);
    await waitFor("shed", () => (b.relay.stats().relayRejected.overloaded ?? 0) === 2);
    release();
    await waitFor("three stored", async () => (await b.store.count()) === 3);
    expect(b.relay.stats().relayIn).toBe(3);
  });

  test("an envelope at the API's size limits crosses the relay and a sync", async () => {
    const a = await node();
    const b = await node({ peers: [a.addr] });
    await waitFor("mesh", () => a.relay.meshPeerCount() === 1 && b.relay.meshPeerCount() === 1);
    const longTopic = `/xmtp/0/m-${"x".repeat(300 - "/xmtp/0/m-/proto".length)}/proto`;
    expect(new TextEncoder().encode(longTopic).length).toBe(300);
    const big = env(longTopic, 2n ** 63n - 1n, new Uint8Array(MAX_MESSAGE_BYTES).fill(7));
    await publish(a, [big]);
    await waitFor("relayed", async () => (await b.store.count()) === 1);
    const c = await node({ peers: [a.addr] });
    await waitFor("synced", async () => (await c.store.count()) === 1);
    const [got] = await c.store.scan({ direction: "asc", limit: 1 });
    expect(got?.message.length).toBe(MAX_MESSAGE_BYTES);
    expect(got?.timestampNs).toBe(2n ** 63n - 1n);
  });

  test("a static peer that is not up yet is dialled again until it answers", async () => {
    const dirA = tempDir();
    cleanups.push(() => removeDir(dirA));
    const { loadOrCreateNodeKey } = await import("./node-key.js");
    const { peerIdFromPrivateKey } = await import("@libp2p/peer-id");
    const idA = peerIdFromPrivateKey((await loadOrCreateNodeKey(join(dirA, "node-key"))) as never).toString();
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, "127.0.0.1", () => {
        const p = (srv.address() as AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    const b = await node({ peers: [`/ip4/127.0.0.1/tcp/${port}/p2p/${idA}`] });
    await waitFor("two failed dials", () => b.relay.stats().dialFailures >= 2);
    expect(b.relay.peerCount()).toBe(0);
    const a = await node({ dir: dirA, port });
    await waitFor("b reached a", () => b.relay.peerCount() === 1 && a.relay.peerCount() === 1);
  });

  test("the node key file gives a stable peer id", async () => {
    const dir = tempDir();
    cleanups.push(() => removeDir(dir));
    const first = await startTestNode({ dir });
    const id = first.relay.peerId();
    await first.stop();
    const second = await node({ dir });
    expect(second.relay.peerId()).toBe(id);
    expect(id.startsWith("16Uiu2")).toBe(true);
    expect(readFileSync(join(dir, "node-key"), "utf8").trim()).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("history sync", () => {
  const HOUR_NS = 3_600_000_000_000n;
  const nowNs = () => BigInt(Date.now()) * 1_000_000n;

  test("a fresh node catches up every envelope of its peer, page by page", async () => {
    const a = await node();
    const envs = Array.from({ length: 350 }, (_, i) =>
      env(topic(`s${i % 7}`), BigInt(i + 1) * 1_000_000_000n),
    );
    await a.store.insert(envs.map(row));
    const b = await node({ peers: [a.addr], syncPageSize: 100 });
    await waitFor("synced", async () => (await b.store.count()) === 350);
    await waitFor("sync done", () => b.relay.stats().syncCompleted === 1);
    // Four full pages and the empty page that ends the walk.
    expect(b.relay.stats().syncPages).toBe(5);
    expect(b.relay.syncStatus()[0]).toMatchObject({ mode: "received", state: "done", envelopes: 350 });
    const rows = await b.store.scan({ direction: "asc", limit: 1000 });
    expect(rows.map((r) => r.timestampNs)).toEqual(envs.map((e) => e.timestampNs));
  });

  test("envelopes reaching a peer after a pass are fetched by the next one, whatever their timestamps", async () => {
    const a = await node();
    const b = await node({ peers: [a.addr] });
    await waitFor("first pass", () => b.relay.stats().syncCompleted === 1);
    await b.store.insert([row(env(topic("newest"), nowNs(), "b's own, newest"))]);
    // Written to A's store directly: only sync can bring them. Stamped hours off both ways.
    const skewed = [
      env(topic("skew"), nowNs() - 5n * HOUR_NS, "queued offline"),
      env(topic("skew"), nowNs() + 3n * HOUR_NS, "clock ahead"),
      env(topic("skew"), 1n, "epoch"),
    ];
    await a.store.insert(skewed.map(row));
    await b.relay.syncFrom(a.relay.peerId());
    const got = await b.store.query({ topics: [topic("skew")], direction: "asc", limit: 10 });
    expect(got.map((e) => hex(e.message)).sort()).toEqual(skewed.map((e) => hex(e.message)).sort());
    expect(b.relay.syncStatus()[0]).toMatchObject({ envelopes: 3 });
  });

  test("a repair pass checks summaries and fetches only the pages holding what this node lacks", async () => {
    const a = await node();
    const b = await node({ peers: [a.addr], syncPageSize: 100 });
    await waitFor("first pass", () => b.relay.stats().syncCompleted === 1);
    // 300 envelopes reach both nodes (as gossip would deliver them) ...
    const both = Array.from({ length: 300 }, (_, i) => env(topic("both"), BigInt(i + 1) * 1_000_000n));
    await a.store.insert(both.map(row));
    await b.store.insert(both.map(row));
    const before = { ...b.relay.stats() };
    await b.relay.syncFrom(a.relay.peerId());
    const quiet = { ...b.relay.stats() };
    // ... so the repair pass moved summaries only: no envelope, three pages of digests.
    expect(b.relay.syncStatus()[0]).toMatchObject({ repair: true, envelopes: 0 });
    expect(quiet.syncChecked - before.syncChecked).toBe(300);
    expect(quiet.syncMissing - before.syncMissing).toBe(0);
    expect(quiet.syncEnvelopes - before.syncEnvelopes).toBe(0);
    // Two gossip losses in the next 300, in different pages: only those two pages come whole.
    const more = Array.from({ length: 300 }, (_, i) => env(topic("more"), BigInt(i + 1) * 1_000_000n));
    await a.store.insert(more.map(row));
    await b.store.insert(more.filter((_, i) => i !== 10 && i !== 250).map(row));
    await b.relay.syncFrom(a.relay.peerId());
    const after = b.relay.stats();
    expect(after.syncMissing - quiet.syncMissing).toBe(2);
    expect(after.syncEnvelopes - quiet.syncEnvelopes).toBe(200);
    expect(await b.store.count()).toBe(600);
    // A reconnection is caught up whole again (what happened while away is not checked piecemeal).
    for (const conn of b.relay.libp2p.getConnections()) await conn.close();
    await a.store.insert([row(env(topic("away"), 5n, "while away"))]);
    await waitFor("resynced", async () => (await b.store.count()) === 601, 25_000);
    expect(b.relay.syncStatus()[0]).toMatchObject({ repair: false });
  });

  test("an interrupted pass resumes from its persisted position", async () => {
    const a = await node();
    const envs = Array.from({ length: 1000 }, (_, i) => env(topic("r"), BigInt(i + 1) * 1_000_000_000n));
    for (let i = 0; i < envs.length; i += 100) await a.store.insert(envs.slice(i, i + 100).map(row));
    const dir = tempDir();
    cleanups.push(() => removeDir(dir));
    let calls = 0;
    const b1 = await startTestNode({
      dir,
      peers: [a.addr],
      syncPageSize: 100,
      wrapIngest: (ingest) => async (e, source) => {
        if (source === "sync" && ++calls > 3) throw new Error("simulated crash");
        await ingest(e, source);
      },
    });
    await waitFor("sync failed", () => b1.relay.stats().syncFailed >= 1);
    await b1.stop();
    expect(await countIn(dir)).toBe(300);
    const state = JSON.parse(readFileSync(join(dir, "sync-state.json"), "utf8"));
    expect(Object.keys(state.positions)).toEqual([a.relay.peerId()]);

    const b2 = await node({ dir, peers: [a.addr], syncPageSize: 100 });
    await waitFor("resumed", () => b2.relay.stats().syncCompleted === 1);
    expect(await b2.store.count()).toBe(1000);
    // Only what the first pass had not stored was fetched again.
    expect(b2.relay.syncStatus()[0]?.envelopes).toBe(700);
  });

  test("positions kept for a store that was since replaced are ignored: every peer is walked whole", async () => {
    const a = await node();
    await a.store.insert([row(env(topic("replaced"), 1n)), row(env(topic("replaced"), 2n))]);
    const dir = tempDir();
    cleanups.push(() => removeDir(dir));
    const b1 = await startTestNode({ dir, peers: [a.addr] });
    await waitFor("first walk", () => b1.relay.stats().syncCompleted === 1);
    await b1.stop();
    // The operator deletes the database but not sync-state.json.
    for (const f of ["xmtp.db", "xmtp.db-wal", "xmtp.db-shm"]) rmSync(join(dir, f), { force: true });
    const b2 = await node({ dir, peers: [a.addr] });
    await waitFor("walked whole again", async () => (await b2.store.count()) === 2);
  });

  test("a connected peer is walked again periodically, and again on reconnection", async () => {
    const a = await node();
    const b = await node({ peers: [a.addr], syncIntervalMs: 200 });
    await waitFor("first pass", () => b.relay.stats().syncCompleted >= 1);
    await a.store.insert([row(env(topic("periodic"), nowNs() - 2n * HOUR_NS, "late"))]);
    await waitFor("periodic pass", async () => (await b.store.count()) === 1);
    const c = await node({ peers: [a.addr] });
    await waitFor("c's first pass", () => c.relay.stats().syncCompleted === 1);
    for (const conn of c.relay.libp2p.getConnections()) await conn.close();
    await a.store.insert([row(env(topic("periodic"), 5n, "while away"))]);
    // The redial backs off from 500 ms; a loaded machine needs more than the default wait.
    await waitFor("resynced", async () => (await c.store.count()) === 2, 25_000);
  });

  test("a peer serving only the standard Waku store is synced by sender time", async () => {
    const a = await node();
    await a.relay.libp2p.unhandle(RECEIVED_SYNC_PROTOCOL);
    const envs = Array.from({ length: 150 }, (_, i) => env(topic("legacy"), nowNs() + BigInt(i)));
    await a.store.insert(envs.map(row));
    const b = await node({ peers: [a.addr] });
    await waitFor("synced", () => b.relay.stats().syncCompleted === 1);
    expect(b.relay.syncStatus()[0]).toMatchObject({ mode: "sender-time", envelopes: 150 });
    expect(await b.store.count()).toBe(150);
  });
});

describe("Waku store protocol", () => {
  test("serves content-filtered, time-bounded pages in both directions", async () => {
    const a = await node();
    const envs = Array.from({ length: 25 }, (_, i) =>
      env(topic(i % 2 === 0 ? "even" : "odd"), BigInt(i + 1)),
    );
    await a.store.insert(envs.map(row));
    const b = await node({ sync: false, peers: [a.addr] });
    await waitFor("connected", () => b.relay.peerCount() === 1);
    const peer = b.relay.libp2p.getConnections()[0]?.remotePeer;
    if (peer === undefined) throw new Error("no peer");
    const q = (init: Parameters<typeof create<typeof HistoryQuerySchema>>[1]) =>
      queryPeerStore(b.relay.libp2p, peer, create(HistoryQuerySchema, init), AbortSignal.timeout(5000));

    // Forward over the even topic, timestamps 3…21, pages of 4.
    const seen: bigint[] = [];
    let cursor: ReturnType<typeof create<typeof import("@xmtp-ts/proto/waku").IndexSchema>> | undefined;
    for (let i = 0; i < 10; i++) {
      const r = await q({
        contentFilters: [{ contentTopic: topic("even") }],
        startTime: 3n,
        endTime: 21n,
        pagingInfo: create(PagingInfoSchema, {
          pageSize: 4n,
          direction: PagingInfo_Direction.FORWARD,
          ...(cursor ? { cursor } : {}),
        }),
      });
      seen.push(...r.messages.map((m) => m.timestamp ?? -1n));
      cursor = r.pagingInfo?.cursor;
      if (cursor === undefined) break;
    }
    expect(seen).toEqual([3n, 5n, 7n, 9n, 11n, 13n, 15n, 17n, 19n, 21n]);

    // Backward, no filter: the newest page first, each page ascending.
    const back = await q({
      pagingInfo: create(PagingInfoSchema, { pageSize: 5n, direction: PagingInfo_Direction.BACKWARD }),
    });
    expect(back.messages.map((m) => m.timestamp)).toEqual([21n, 22n, 23n, 24n, 25n]);
    expect(back.pagingInfo?.cursor?.senderTime).toBe(21n);
    const back2 = await q({
      pagingInfo: create(PagingInfoSchema, {
        pageSize: 5n,
        direction: PagingInfo_Direction.BACKWARD,
        ...(back.pagingInfo?.cursor ? { cursor: back.pagingInfo.cursor } : {}),
      }),
    });
    expect(back2.messages.map((m) => m.timestamp)).toEqual([16n, 17n, 18n, 19n, 20n]);

    // Page size 0 and > 100 both mean 100; a bad cursor digest is INVALID_CURSOR.
    const big = await q({
      pagingInfo: create(PagingInfoSchema, { pageSize: 1000n, direction: PagingInfo_Direction.FORWARD }),
    });
    expect(big.messages.length).toBe(25);
    expect(big.pagingInfo?.pageSize).toBe(100n);
    expect(big.pagingInfo?.cursor).toBeUndefined();
    const bad = await q({
      pagingInfo: create(PagingInfoSchema, { cursor: { digest: new Uint8Array(5), senderTime: 1n } }),
    });
    expect(bad.error).toBe(1);
    // Another pubsub topic holds nothing here.
    expect((await q({ pubsubTopic: "/waku/2/other/proto" })).messages.length).toBe(0);
  });

  test("malformed and oversized store frames close that stream; the node keeps serving", async () => {
    const a = await node();
    await a.store.insert([row(env(topic("x"), 1n))]);
    const raw = await rawPeer();
    const target = multiaddr(a.addr);
    const readAll = async (s: Awaited<ReturnType<Libp2p["dialProtocol"]>>) => {
      const chunks: number[] = [];
      try {
        for await (const c of s.source) chunks.push(c.byteLength);
      } catch {
        // an aborted stream is also a closed one
      }
      return chunks.length;
    };
    // 1. Garbage protobuf in a well-formed frame.
    const s1 = await raw.dialProtocol(target, WAKU_STORE_PROTOCOL);
    await s1.sink([lp.encode.single(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3]))]);
    expect(await readAll(s1)).toBe(0);
    // 2. A length prefix over the request limit.
    const s2 = await raw.dialProtocol(target, WAKU_STORE_PROTOCOL);
    await s2.sink([new Uint8Array([0x80, 0x80, 0x80, 0x10])]);
    expect(await readAll(s2)).toBe(0);
    // 3. A HistoryRPC with no query.
    const s3 = await raw.dialProtocol(target, WAKU_STORE_PROTOCOL);
    await s3.sink([
      lp.encode.single(toBinary(HistoryRPCSchema, create(HistoryRPCSchema, { requestId: "x" }))),
    ]);
    expect(await readAll(s3)).toBe(0);
    await waitFor("errors counted", () => a.relay.stats().storeStreamErrors === 3);
    // Still serving.
    const r = await queryPeerStore(
      raw,
      a.relay.libp2p.peerId,
      create(HistoryQuerySchema, {}),
      AbortSignal.timeout(5000),
    );
    expect(r.messages.length).toBe(1);
  });

  test("a session keeps working against a server that answers one query per stream", async () => {
    const a = await node();
    await a.store.insert(Array.from({ length: 5 }, (_, i) => row(env(topic("one"), BigInt(i + 1)))));
    const raw = await rawPeer();
    await raw.handle(WAKU_STORE_PROTOCOL, ({ stream }) => {
      void stream.sink(
        (async function* () {
          for await (const f of lp.decode(stream.source)) {
            const req = decodeHistoryRequest(f.subarray());
            const response = await answerHistoryQuery(a.store, req.query);
            yield lp.encode.single(
              toBinary(HistoryRPCSchema, create(HistoryRPCSchema, { requestId: req.requestId, response })),
            );
            return; // one query per stream, then close
          }
        })(),
      );
    });
    const b = await node({ sync: false });
    await b.relay.libp2p.dial(raw.getMultiaddrs()[0] ?? multiaddr());
    const session = new StoreSession(b.relay.libp2p, raw.peerId);
    const seen: bigint[] = [];
    let cursor: import("@xmtp-ts/proto/waku").Index | undefined;
    for (let i = 0; i < 10; i++) {
      const r = await session.query(
        create(HistoryQuerySchema, {
          pagingInfo: create(PagingInfoSchema, {
            pageSize: 2n,
            direction: PagingInfo_Direction.FORWARD,
            ...(cursor ? { cursor } : {}),
          }),
        }),
        AbortSignal.timeout(5000),
      );
      seen.push(...r.messages.map((m) => m.timestamp ?? 0n));
      cursor = r.pagingInfo?.cursor;
      if (cursor === undefined) break;
    }
    await session.close();
    expect(seen).toEqual([1n, 2n, 3n, 4n, 5n]);
  });

  test("relay messages that break the limits are dropped and counted; good ones still flow", async () => {
    const a = await node();
    const raw = await rawPeer();
    await raw.dial(multiaddr(a.addr));
    await waitFor(
      "mesh",
      () => a.relay.meshPeerCount() === 1 && raw.services.pubsub.getMeshPeers(WAKU_PUBSUB_TOPIC).length === 1,
    );
    const pub = (bytes: Uint8Array) => raw.services.pubsub.publish(WAKU_PUBSUB_TOPIC, bytes);
    await pub(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])); // truncated bytes field
    await pub(
      toBinary(
        WakuMessageSchema,
        create(WakuMessageSchema, {
          contentTopic: topic("big"),
          payload: new Uint8Array(MAX_MESSAGE_BYTES + 1),
          timestamp: 1n,
        }),
      ),
    );
    await pub(
      toBinary(
        WakuMessageSchema,
        create(WakuMessageSchema, { contentTopic: "x".repeat(301), payload: new Uint8Array(1) }),
      ),
    );
    await pub(
      toBinary(
        WakuMessageSchema,
        create(WakuMessageSchema, { contentTopic: "", payload: new Uint8Array(1) }),
      ),
    );
    const good = create(WakuMessageSchema, {
      contentTopic: topic("ok"),
      payload: new Uint8Array([1]),
      timestamp: -5n,
    });
    await pub(toBinary(WakuMessageSchema, good));
    await waitFor("good one stored", async () => (await a.store.count()) === 1);
    expect(a.relay.stats().relayRejected).toEqual({ malformed: 1, "payload-too-large": 1, "bad-topic": 2 });
    const rows = await a.store.scan({ direction: "asc", limit: 10 });
    expect(rows[0]?.timestampNs).toBe(0n); // negative timestamps become 0
  });
});

async function countIn(dir: string): Promise<number> {
  const { createSqliteStore } = await import("../store/sqlite.js");
  const s = createSqliteStore({ path: join(dir, "xmtp.db") });
  await s.start();
  try {
    return await s.count();
  } finally {
    await s.stop();
  }
}
