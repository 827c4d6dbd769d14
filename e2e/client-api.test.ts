/**
 * The client's ApiClient against the real node process (`xmtp node`, built dist), over each
 * transport (HTTP gateway, Connect, gRPC-Web, gRPC): paging in both directions, batch queries,
 * errors with their gRPC status, authenticated publishing, and self-healing subscriptions that
 * lose their connection (through a TCP proxy we can cut, and across a node restart on the same
 * data dir) yet deliver every envelope exactly once, and that change topics on the open call.
 * Run `npx tsc -b packages/cli packages/client` first.
 */
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrivateKeyBundle, fromPrivateKey } from "../packages/client/src/advanced.js";
import {
  ApiClient,
  type ApiClientOptions,
  localAuthenticator,
  queryAll,
} from "../packages/client/src/api/index.js";
import { grpcTransport } from "../packages/client/src/grpc.js";
import { EnvelopeSchema, SortDirection } from "../packages/proto/src/index.js";
import { type NodeProcess, spawnNode, subscribeCalls } from "./node-process.js";

const enc = new TextEncoder();
const dec = new TextDecoder();
const texts = (xs: { message: Uint8Array }[]) => xs.map((e) => dec.decode(e.message));
const uniq = () => Math.random().toString(36).slice(2, 10);
const envOf = (topic: string, ts: bigint, text: string) =>
  create(EnvelopeSchema, { contentTopic: topic, timestampNs: ts, message: enc.encode(text) });

/** A TCP proxy that can cut every connection and refuse new ones until `up()`. */
async function proxyTo(port: number) {
  const sockets = new Set<Socket>();
  let isUp = true;
  const srv: Server = createServer((client) => {
    if (!isUp) return client.destroy();
    const upstream = createConnection({ host: "127.0.0.1", port });
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const addr = srv.address();
  return {
    url: `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`,
    down() {
      isUp = false;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    up() {
      isUp = true;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
}

/** Reads `sub` into `into` until `until(into)` holds; bounded by `ms`. */
async function collect(
  sub: AsyncIterator<{ message: Uint8Array }>,
  into: string[],
  until: (got: string[]) => boolean,
  ms = 20_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!until(into)) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timed out; got ${JSON.stringify(into)}`);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const r = await Promise.race([
      sub.next(),
      new Promise<never>((_, rej) => {
        timer = setTimeout(() => rej(new Error(`timed out; got ${JSON.stringify(into)}`)), left);
      }),
    ]);
    clearTimeout(timer);
    if (r.done) throw new Error("stream ended");
    into.push(dec.decode(r.value.message));
  }
}

let node: NodeProcess;
beforeAll(async () => {
  node = await spawnNode({ args: ["--no-auth"] });
});
afterAll(async () => {
  await node?.stop();
});

/** Each transport: its option, and which port of the node it talks to. */
const TRANSPORTS = [
  { name: "http", transport: "http", port: "http" },
  { name: "connect", transport: "connect", port: "http" },
  { name: "grpc-web", transport: "grpc-web", port: "http" },
  { name: "grpc", transport: grpcTransport, port: "grpc" },
] as const;

describe.each(TRANSPORTS)("ApiClient over $name against the real node", ({ name, transport, port }) => {
  const urlOf = (n: NodeProcess) => (port === "grpc" ? n.grpcUrl : n.url);
  const portOf = (n: NodeProcess) => (port === "grpc" ? n.grpcPort : n.httpPort);
  const clients: ApiClient[] = [];
  const apiOf = (n: NodeProcess | string, o: Omit<ApiClientOptions, "apiUrl"> = {}) => {
    const c = new ApiClient({ apiUrl: typeof n === "string" ? n : urlOf(n), transport, ...o });
    clients.push(c);
    return c;
  };
  afterAll(() => {
    for (const c of clients) c.close();
  });

  it("pages a 250-envelope topic in both directions, with bounds and limits", async () => {
    const api = apiOf(node);
    const topic = `/xmtp/0/m-paging-${uniq()}/proto`;
    const base = 1_700_000_000_000_000_000n;
    const all = Array.from({ length: 250 }, (_, i) => envOf(topic, base + BigInt(i) * 1000n, `m${i}`));
    for (let i = 0; i < all.length; i += 50) await api.publish(all.slice(i, i + 50));
    const names = all.map((_, i) => `m${i}`);

    const asc: number[] = [];
    const ascTexts: string[] = [];
    for await (const p of api.queryPages(topic, { pageSize: 7 })) {
      asc.push(p.length);
      ascTexts.push(...texts(p));
    }
    expect(asc).toEqual([...Array(35).fill(7), 5]);
    expect(ascTexts).toEqual(names);

    const desc = await queryAll(api, topic, { pageSize: 9, direction: SortDirection.DESCENDING });
    expect(texts(desc)).toEqual([...names].reverse());

    // Exactly full last page (250 = 25 × 10): the empty page after it ends the iteration.
    const tens: number[] = [];
    for await (const p of api.queryPages(topic, { pageSize: 10 })) tens.push(p.length);
    expect(tens).toEqual(Array(25).fill(10));

    const bounded = await queryAll(api, topic, {
      pageSize: 3,
      startTime: base + 10_000n,
      endTime: base + 19_000n,
      direction: SortDirection.DESCENDING,
    });
    expect(texts(bounded)).toEqual(names.slice(10, 20).reverse());
    expect(texts(await queryAll(api, topic, { limit: 101 }))).toEqual(names.slice(0, 101));
  });

  it("batch-queries 120 topics (3 requests of ≤ 50) and answers in request order", async () => {
    const api = apiOf(node);
    const id = uniq();
    const topics = Array.from({ length: 120 }, (_, i) => `/xmtp/0/m-batch-${id}-${i}/proto`);
    await api.publish(topics.map((t, i) => envOf(t, BigInt(i + 1), t)));
    const res = await api.batchQuery(topics.map((t) => ({ contentTopics: [t], pagingInfo: { limit: 5 } })));
    expect(res.map((r) => texts(r.envelopes))).toEqual(topics.map((t) => [t]));
    await expect(api.query({ contentTopics: [] })).rejects.toMatchObject({
      code: "network-error",
      grpcCode: 3,
      status: name === "http" ? 400 : undefined,
    });
  });

  it("a subscription cut by the network resubscribes, backfills the gap, and never repeats", async () => {
    const proxy = await proxyTo(portOf(node));
    const direct = apiOf(node);
    const api = apiOf(proxy.url, { retryDelayMs: 20, maxRetryDelayMs: 200 });
    const topic = `/xmtp/0/m-drop-${uniq()}/proto`;
    const other = `/xmtp/0/m-drop-other-${uniq()}/proto`;
    let lost = 0;
    const sub = api.subscribe([topic, other], { onConnectionLost: () => lost++ });
    try {
      await sub.ready;
      const t0 = BigInt(Date.now()) * 1_000_000n;
      const got: string[] = [];
      await direct.publish([envOf(topic, t0 + 1n, "live-1"), envOf(topic, t0 + 2n, "live-2")]);
      await collect(sub, got, (g) => g.length >= 2);

      proxy.down();
      // Published while the client cannot reach the node: only a backfill can deliver these. One
      // of them is back-dated into the overlap window; one goes to the other topic.
      await direct.publish([
        envOf(topic, t0 + 3n, "gap-1"),
        envOf(topic, t0 - 5_000_000_000n, "gap-backdated"),
        envOf(other, t0 + 4n, "gap-other"),
      ]);
      proxy.up();
      await collect(sub, got, (g) => g.length >= 5);
      await direct.publish([envOf(topic, t0 + 5n, "live-3")]);
      await collect(sub, got, (g) => g.includes("live-3"));
      expect(lost).toBeGreaterThanOrEqual(1);
      expect(got.slice(0, 2)).toEqual(["live-1", "live-2"]);
      expect([...got.slice(2, 5)].sort()).toEqual(["gap-1", "gap-backdated", "gap-other"]);
      expect(got.slice(5)).toEqual(["live-3"]);
    } finally {
      await sub.return?.();
      await proxy.close();
    }
  });

  it("survives a node restart on the same data dir with nothing missed or repeated", async () => {
    const own = await spawnNode({ args: ["--no-auth"] });
    let restarted: NodeProcess | undefined;
    const proxy = await proxyTo(portOf(own));
    const api = apiOf(proxy.url, { retryDelayMs: 20, maxRetryDelayMs: 200 });
    const topic = `/xmtp/0/m-restart-${uniq()}/proto`;
    const sub = api.subscribe([topic]);
    try {
      await sub.ready;
      const t0 = BigInt(Date.now()) * 1_000_000n;
      const got: string[] = [];
      await apiOf(own).publish([envOf(topic, t0 + 1n, "before")]);
      await collect(sub, got, (g) => g.length >= 1);
      proxy.down();
      await own.stop();
      restarted = await spawnNode({
        args: ["--no-auth"],
        dataDir: own.dataDir,
        httpPort: own.httpPort,
        grpcPort: own.grpcPort,
      });
      const direct = apiOf(restarted);
      await direct.publish([envOf(topic, t0 + 2n, "while-away-1"), envOf(topic, t0 + 3n, "while-away-2")]);
      proxy.up();
      await collect(sub, got, (g) => g.length >= 3);
      await direct.publish([envOf(topic, t0 + 4n, "after")]);
      await collect(sub, got, (g) => g.includes("after"));
      expect(got).toEqual(["before", "while-away-1", "while-away-2", "after"]);
      // The restarted node still has the first envelope: history survived, and it was not re-delivered.
      expect(texts(await queryAll(direct, topic))).toEqual(got);
    } finally {
      await sub.return?.();
      await proxy.close();
      await restarted?.stop();
      await own.stop();
    }
  });

  it("an AbortSignal ends a live stream; updateTopics switches topics without losing any", async () => {
    const api = apiOf(node);
    const opened = await subscribeCalls(node);
    const a = `/xmtp/0/m-abort-a-${uniq()}/proto`;
    const b = `/xmtp/0/m-abort-b-${uniq()}/proto`;
    const ac = new AbortController();
    const sub = api.subscribe([a], { signal: ac.signal });
    await sub.ready;
    const got: string[] = [];
    await api.publish([envOf(a, BigInt(Date.now()) * 1_000_000n, "a1")]);
    await collect(sub, got, (g) => g.length >= 1);
    sub.updateTopics([a, b]);
    await api.publish([envOf(b, BigInt(Date.now()) * 1_000_000n, "b1")]);
    await collect(sub, got, (g) => g.includes("b1"));
    expect(got).toEqual(["a1", "b1"]);
    // gRPC changes the topics on the open Subscribe2 call; the others open one new call.
    expect((await subscribeCalls(node)) - opened).toBe(name === "grpc" ? 1 : 2);
    const pending = sub.next();
    ac.abort();
    expect(await pending).toEqual({ done: true, value: undefined });
  });

  it("publishes with the wallet's auth token where the node checks it, and refuses without one", async () => {
    const own = await spawnNode();
    try {
      const topic = `/xmtp/0/m-auth-${uniq()}/proto`;
      const anonymous = apiOf(own, { maxRetries: 0 });
      await expect(
        anonymous.publish([envOf(topic, BigInt(Date.now()) * 1_000_000n, "no token")]),
      ).rejects.toMatchObject({ code: "network-error", grpcCode: 16 });
      const bundle = await createPrivateKeyBundle(fromPrivateKey(new Uint8Array(32).fill(7)));
      const signed = apiOf(own, { authenticator: localAuthenticator(bundle) });
      await signed.publish([envOf(topic, BigInt(Date.now()) * 1_000_000n, "with token")]);
      expect(texts(await queryAll(signed, topic))).toEqual(["with token"]);
    } finally {
      await own.stop();
    }
  });

  it("a response over the read bound fails with ResourceExhausted and is not retried", async () => {
    const api = apiOf(node);
    const topic = `/xmtp/0/m-bound-${uniq()}/proto`;
    const big = "x".repeat(3000);
    await api.publish([1n, 2n, 3n].map((i) => envOf(topic, i, big)));
    const bounded = apiOf(node, { maxResponseBytes: 6000 });
    await expect(bounded.query({ contentTopics: [topic] })).rejects.toMatchObject({
      code: "network-error",
      grpcCode: 8,
    });
    expect(
      texts((await bounded.query({ contentTopics: [topic], pagingInfo: { limit: 1 } })).envelopes),
    ).toEqual([big]);
  });

  it("an envelope over the stream bound drops the call; the stream reconnects and backfills it", async () => {
    const api = apiOf(node);
    const topic = `/xmtp/0/m-stream-bound-${uniq()}/proto`;
    const lost: unknown[] = [];
    const sub = apiOf(node, { maxMessageBytes: 600, retryDelayMs: 20, maxRetryDelayMs: 200 }).subscribe(
      [topic],
      {
        onConnectionLost: (e) => lost.push(e),
      },
    );
    try {
      await sub.ready;
      const t0 = BigInt(Date.now()) * 1_000_000n;
      await api.publish([envOf(topic, t0, "y".repeat(3000))]);
      await api.publish([envOf(topic, t0 + 1n, "small")]);
      const got: string[] = [];
      await collect(sub, got, (g) => g.includes("small"));
      expect(got.map((g) => g.length)).toEqual([3000, 5]);
      expect(lost).toContainEqual(expect.objectContaining({ code: "network-error", grpcCode: 8 }));
    } finally {
      sub.close();
    }
  });

  it("close() ends every stream and refuses further calls", async () => {
    const api = apiOf(node);
    const sub = api.subscribe([`/xmtp/0/m-close-${uniq()}/proto`]);
    await sub.ready;
    const pending = sub.next();
    api.close();
    expect(await pending).toEqual({ done: true, value: undefined });
    await expect(api.query({ contentTopics: ["/xmtp/0/x/proto"] })).rejects.toMatchObject({
      code: "client-closed",
    });
    expect(() => api.subscribe(["/xmtp/0/x/proto"])).toThrow(/closed/);
  });
});
