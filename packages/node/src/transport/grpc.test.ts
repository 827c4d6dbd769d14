import * as http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code as ConnectCode, ConnectError, createClient } from "@connectrpc/connect";
import {
  createGrpcTransport as createClientTransport,
  createConnectTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import {
  Health,
  HealthCheckResponse_ServingStatus,
  MessageApi,
  PublishRequestSchema,
  SortDirection,
  type SubscribeRequest,
  SubscribeRequestSchema,
} from "@xmtp-ts/proto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { UNREAD_BUDGET_SPENT } from "./connect.js";
import { grpcFrame, type Harness, rawGrpcCall, requestQueue, startHarness } from "./test-harness.js";

const enc = (s: string) => new TextEncoder().encode(s);

const until = async (cond: () => boolean, what: string) => {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
};

describe("gRPC", () => {
  let h: Harness;
  let transport: ReturnType<typeof createClientTransport>;
  beforeAll(async () => {
    h = await startHarness({ bufferSize: 4 });
    transport = createClientTransport({ baseUrl: h.grpcUrl, httpVersion: "2" });
  });
  afterAll(() => h.close());

  test("Publish, Query, BatchQuery", async () => {
    const client = createClient(MessageApi, transport);
    const topic = "/xmtp/0/m-grpc/proto";
    await client.publish({
      envelopes: [1n, 2n, 3n].map((t) => ({ contentTopic: topic, timestampNs: t, message: enc(`m${t}`) })),
    });
    const q = await client.query({ contentTopics: [topic], pagingInfo: { limit: 2 } });
    expect(q.envelopes.map((e) => e.timestampNs)).toEqual([3n, 2n]);
    expect(q.pagingInfo?.cursor?.cursor.case).toBe("index");
    const next = await client.query({ contentTopics: [topic], pagingInfo: q.pagingInfo });
    expect(next.envelopes.map((e) => e.timestampNs)).toEqual([1n]);
    const b = await client.batchQuery({
      requests: [
        { contentTopics: [topic], pagingInfo: { direction: SortDirection.ASCENDING, limit: 1 } },
        { contentTopics: [topic] },
      ],
    });
    expect(b.responses.map((r) => r.envelopes.length)).toEqual([1, 3]);
    const err = await client.query({ contentTopics: [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(ConnectCode.InvalidArgument);
    expect((err as ConnectError).rawMessage).toBe("content topics required");
  });

  test("Subscribe sends `subscribed: true` before any envelope, then streams", async () => {
    const client = createClient(MessageApi, transport);
    const topic = "/xmtp/0/m-grpc-sub/proto";
    const ac = new AbortController();
    let headers: Headers | undefined;
    const stream = client.subscribe(
      { contentTopics: [topic] },
      { signal: ac.signal, onHeader: (hd) => (headers = hd) },
    );
    const it = stream[Symbol.asyncIterator]();
    const first = it.next();
    await until(() => headers !== undefined, "response headers");
    expect(headers?.get("subscribed")).toBe("true");
    await client.publish({ envelopes: [{ contentTopic: topic, timestampNs: 9n, message: enc("x") }] });
    const got = await first;
    expect(got.value?.timestampNs).toBe(9n);
    ac.abort();
    await it.next().catch(() => undefined);
    await until(() => h.dispatcher.stats().subscriptions === 0, "unsubscribe on cancel");
  });

  test("SubscribeAll", async () => {
    const client = createClient(MessageApi, transport);
    const ac = new AbortController();
    let headers: Headers | undefined;
    const it = client
      .subscribeAll({}, { signal: ac.signal, onHeader: (hd) => (headers = hd) })
      [Symbol.asyncIterator]();
    const first = it.next();
    await until(() => headers !== undefined, "headers");
    await client.publish({
      envelopes: [{ contentTopic: "test-not-xmtp", timestampNs: 1n, message: enc("no") }],
    });
    await client.publish({
      envelopes: [{ contentTopic: "/xmtp/0/m-any/proto", timestampNs: 1n, message: enc("yes") }],
    });
    expect((await first).value?.contentTopic).toBe("/xmtp/0/m-any/proto");
    ac.abort();
    await it.next().catch(() => undefined);
  });

  test("Subscribe2: each request replaces the topic set; half-close keeps the last set", async () => {
    const client = createClient(MessageApi, transport);
    const a = "/xmtp/0/m-s2-a/proto";
    const b = "/xmtp/0/m-s2-b/proto";
    const requests = requestQueue<SubscribeRequest>();
    const ac = new AbortController();
    let headers: Headers | undefined;
    const it = client
      .subscribe2(requests as AsyncIterable<SubscribeRequest>, {
        signal: ac.signal,
        onHeader: (hd) => (headers = hd),
      })
      [Symbol.asyncIterator]();
    // The call starts with the first read; headers come before any request is sent.
    const firstA = it.next();
    await until(() => headers !== undefined, "headers before the first request");
    expect(headers?.get("subscribed")).toBe("true");
    // The distinct-topic count tells when a swap has reached the server.
    const topics = () => h.dispatcher.stats().topics;
    const before = topics();
    requests.push({ contentTopics: [a] } as SubscribeRequest);
    await until(() => topics() === before + 1, "subscription to a");
    await client.publish({ envelopes: [{ contentTopic: a, timestampNs: 1n, message: enc("a1") }] });
    expect((await firstA).value?.message).toEqual(enc("a1"));
    requests.push({ contentTopics: [a, b] } as SubscribeRequest);
    await until(() => topics() === before + 2, "swap to a+b");
    requests.push({ contentTopics: [b] } as SubscribeRequest);
    await until(() => topics() === before + 1, `swap to b (topics ${topics()}, before ${before})`);
    await client.publish({ envelopes: [{ contentTopic: a, timestampNs: 2n, message: enc("a2") }] });
    await client.publish({ envelopes: [{ contentTopic: b, timestampNs: 3n, message: enc("b1") }] });
    expect((await it.next()).value?.message).toEqual(enc("b1"));
    requests.end();
    await client.publish({ envelopes: [{ contentTopic: b, timestampNs: 4n, message: enc("b2") }] });
    expect((await it.next()).value?.message).toEqual(enc("b2"));
    ac.abort();
    await it.next().catch(() => undefined);
  });

  test("a subscriber that does not read is ended with ABORTED", async () => {
    // A raw HTTP/2 stream that is paused: flow control stops the server's writes deterministically.
    const topic = "/xmtp/0/m-grpc-slow/proto";
    const session = http2.connect(h.grpcUrl);
    const body = toBinary(SubscribeRequestSchema, create(SubscribeRequestSchema, { contentTopics: [topic] }));
    const req = rawGrpcCall(session, "Subscribe");
    req.end(grpcFrame(body));
    req.pause();
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => req.once("response", resolve));
    expect(headers[":status"]).toBe(200);
    expect(headers.subscribed).toBe("true");
    const client = createClient(MessageApi, transport);
    const big = new Uint8Array(64 * 1024);
    const overflows = h.dispatcher.stats().overflows;
    for (let i = 0; i < 100 && h.dispatcher.stats().overflows === overflows; i++) {
      await client.publish({
        envelopes: [{ contentTopic: topic, timestampNs: BigInt(i + 1), message: big }],
      });
    }
    expect(h.dispatcher.stats().overflows).toBe(overflows + 1);
    const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => req.once("trailers", resolve));
    req.resume();
    const t = await trailers;
    expect(t["grpc-status"]).toBe("10");
    expect(decodeURIComponent(String(t["grpc-message"]))).toBe(
      "subscription buffer overflow, resubscribe and backfill",
    );
    session.close();
  });

  test("a unary call shorter than the message prefix is refused and the node keeps serving", async () => {
    for (let n = 1; n <= 4; n++) {
      const session = http2.connect(h.grpcUrl);
      const req = rawGrpcCall(session, "Publish");
      req.end(Buffer.alloc(n, 1));
      req.resume();
      const status = await new Promise<string | undefined>((resolve) => {
        req.once("trailers", (t) => resolve(String(t["grpc-status"])));
        req.once("response", (hd) => {
          if (hd["grpc-status"] !== undefined) resolve(String(hd["grpc-status"]));
        });
        req.once("close", () => resolve(undefined));
      });
      expect(status).toBe(String(ConnectCode.InvalidArgument));
      session.close();
    }
    const client = createClient(MessageApi, transport);
    expect((await client.query({ contentTopics: ["/xmtp/0/m-after/proto"] })).envelopes).toEqual([]);
  });

  test("a bad sub-query or topic update is the caller's error (InvalidArgument)", async () => {
    const client = createClient(MessageApi, transport);
    const err = await client
      .batchQuery({ requests: [{ contentTopics: ["/xmtp/0/m-ok/proto"] }, { contentTopics: [] }] })
      .catch((e: unknown) => e);
    expect((err as ConnectError).code).toBe(ConnectCode.InvalidArgument);
    expect((err as ConnectError).rawMessage).toBe("content topics required");
    const requests = requestQueue<SubscribeRequest>();
    const it = client.subscribe2(requests as AsyncIterable<SubscribeRequest>)[Symbol.asyncIterator]();
    const first = it.next();
    requests.push({ contentTopics: ["/xmtp/0/m-s2-ok/proto"] } as SubscribeRequest);
    requests.push({ contentTopics: ["x".repeat(301)] } as SubscribeRequest);
    const refused = await first.catch((e: unknown) => e);
    expect((refused as ConnectError).code).toBe(ConnectCode.InvalidArgument);
    expect((refused as ConnectError).rawMessage).toBe("topic length too big");
    await until(() => h.dispatcher.stats().subscriptions === 0, "the refused stream to end");
  });

  test("refusals carry retry-after and the limit hit as metadata, over gRPC and Connect", async () => {
    const limited = await startHarness({
      rateLimits: { def: { perMinute: 1, max: 1 }, janitorIntervalMs: 0 },
    });
    for (const t of [
      createClientTransport({ baseUrl: limited.grpcUrl, httpVersion: "2" }),
      createConnectTransport({ baseUrl: limited.url, httpVersion: "1.1" }),
    ]) {
      const client = createClient(MessageApi, t);
      // Both transports come from 127.0.0.1: one bucket, already spent after the first query.
      await client.query({ contentTopics: ["/xmtp/0/m-rl/proto"] }).catch(() => undefined);
      const err = (await client
        .query({ contentTopics: ["/xmtp/0/m-rl/proto"] })
        .catch((e: unknown) => e)) as ConnectError;
      expect(err.code).toBe(ConnectCode.ResourceExhausted);
      expect(Number(err.metadata.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(err.metadata.get("xmtp-limit")).toBe("RDEF=1");
    }
    await limited.close();
  });

  test("calls that do not read share one unread budget: refused first, then cut", async () => {
    const small = await startHarness({ unreadBytes: 512 * 1024 });
    const topic = "/xmtp/0/m-unread/proto";
    const reader = createClient(
      MessageApi,
      createClientTransport({ baseUrl: small.grpcUrl, httpVersion: "2" }),
    );
    const ac = new AbortController();
    const it = reader.subscribe({ contentTopics: [topic] }, { signal: ac.signal })[Symbol.asyncIterator]();
    const first = it.next();
    await until(() => small.dispatcher.stats().subscriptions === 1, "the reader");
    const body = toBinary(SubscribeRequestSchema, create(SubscribeRequestSchema, { contentTopics: [topic] }));
    const session = http2.connect(small.grpcUrl);
    const statuses: string[] = [];
    const streams: http2.ClientHttp2Stream[] = [];
    const refused = new Set<http2.ClientHttp2Stream>();
    for (let i = 0; i < 5; i++) {
      const req = rawGrpcCall(session, "Subscribe");
      req.end(grpcFrame(body));
      req.pause();
      // Trailers arrive even on a paused stream (HEADERS frames are not flow-controlled).
      req.once("trailers", (t) => {
        statuses.push(`${t["grpc-status"]} ${decodeURIComponent(String(t["grpc-message"]))}`);
        refused.add(req);
      });
      await new Promise((resolve) => req.once("response", resolve));
      streams.push(req);
    }
    const send = (i: bigint, size: number) =>
      reader.publish({ envelopes: [{ contentTopic: topic, timestampNs: i, message: new Uint8Array(size) }] });
    await send(1n, 200_000);
    expect((await first).value?.message.length).toBe(200_000);
    // The reader's copy and one non-reader's fit in 512 kB; the other four are refused the
    // message before a copy is made, and their calls end with the reason.
    await until(() => statuses.length === 4, "four refusals");
    expect(statuses).toEqual(Array(4).fill(`8 ${UNREAD_BUDGET_SPENT}`));
    expect(small.dispatcher.stats().subscriptions).toBe(2);
    // A bigger message for the reader needs room: the non-reader still holding the first one
    // unread has waited longest, so it is cut.
    const holder = streams.find((req) => !refused.has(req)) as http2.ClientHttp2Stream;
    const rst = new Promise<number>((resolve) => holder.once("close", () => resolve(holder.rstCode)));
    await send(2n, 400_000);
    expect((await it.next()).value?.timestampNs).toBe(2n);
    expect(await rst).toBe(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
    await until(() => small.dispatcher.stats().subscriptions === 1, "the holder's call to end");
    ac.abort();
    session.destroy();
    await small.close();
  });

  test("grpc.health.v1.Health/Check answers SERVING", async () => {
    const health = createClient(Health, transport);
    expect((await health.check({})).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    expect((await health.check({ service: "xmtp.message_api.v1.MessageApi" })).status).toBe(
      HealthCheckResponse_ServingStatus.SERVING,
    );
    const err = await health.check({ service: "nope" }).catch((e: unknown) => e);
    expect((err as ConnectError).code).toBe(ConnectCode.NotFound);
  });

  test("requests over the max receive size are ResourceExhausted", async () => {
    const small = await startHarness({ maxBodyBytes: 64 * 1024 });
    for (const t of [
      // The client's HTTP/2 session must be allowed to buffer the big request (default 10 MB).
      createClientTransport({
        baseUrl: small.grpcUrl,
        httpVersion: "2",
        nodeOptions: { maxSessionMemory: 200 },
      }),
      createConnectTransport({ baseUrl: small.url, httpVersion: "1.1" }),
    ]) {
      const client = createClient(MessageApi, t);
      const err = await client
        .publish({
          envelopes: [{ contentTopic: "/xmtp/0/m-big/proto", message: new Uint8Array(16 * 1024 * 1024) }],
        })
        .catch((e: unknown) => e);
      expect((err as ConnectError).code).toBe(ConnectCode.ResourceExhausted);
    }
    // Over gRPC the length prefix is checked before the message is read (connect's wording).
    const grpc = createClient(
      MessageApi,
      createClientTransport({
        baseUrl: small.grpcUrl,
        httpVersion: "2",
        nodeOptions: { maxSessionMemory: 200 },
      }),
    );
    const req = { envelopes: [{ contentTopic: "/xmtp/0/m-big/proto", message: new Uint8Array(70_000) }] };
    const size = toBinary(PublishRequestSchema, create(PublishRequestSchema, req)).length;
    const err = await grpc.publish(req).catch((e: unknown) => e);
    expect((err as ConnectError).code).toBe(ConnectCode.ResourceExhausted);
    expect((err as ConnectError).rawMessage).toBe(
      `message size ${size} is larger than configured readMaxBytes 65536`,
    );
    // A request under the cap on the same connection still works.
    await grpc.publish({
      envelopes: [{ contentTopic: "/xmtp/0/m-big/proto", message: new Uint8Array(100) }],
    });
    await small.close();
  });
});

describe("Connect and gRPC-Web on the HTTP port", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  test("the same MessageApi answers over Connect and gRPC-Web", async () => {
    for (const transport of [
      createConnectTransport({ baseUrl: h.url, httpVersion: "1.1" }),
      createGrpcWebTransport({ baseUrl: h.url, httpVersion: "1.1" }),
    ]) {
      const client = createClient(MessageApi, transport);
      const topic = `/xmtp/0/m-web-${Math.random().toString(36).slice(2)}/proto`;
      await client.publish({ envelopes: [{ contentTopic: topic, timestampNs: 5n, message: enc("w") }] });
      const q = await client.query({ contentTopics: [topic] });
      expect(q.envelopes.map((e) => e.message)).toEqual([enc("w")]);
      const ac = new AbortController();
      let headers: Headers | undefined;
      const it = client
        .subscribe({ contentTopics: [topic] }, { signal: ac.signal, onHeader: (hd) => (headers = hd) })
        [Symbol.asyncIterator]();
      const next = it.next();
      // Headers (with `subscribed`) arrive before any message, once the subscription is live.
      await until(() => headers !== undefined, "stream headers");
      expect(headers?.get("subscribed")).toBe("true");
      expect(headers?.get("access-control-allow-origin")).toBe("*");
      expect(h.dispatcher.stats().subscriptions).toBe(1);
      await client.publish({ envelopes: [{ contentTopic: topic, timestampNs: 6n, message: enc("w2") }] });
      expect((await next).value?.timestampNs).toBe(6n);
      ac.abort();
      await it.next().catch(() => undefined);
      await until(() => h.dispatcher.stats().subscriptions === 0, "unsubscribe");
    }
  });
});
