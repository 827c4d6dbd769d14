/** A raw gRPC client (connect-node, HTTP/2) against the spawned node: all six RPCs, Health and reflection. */
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  Health,
  HealthCheckResponse_ServingStatus,
  MessageApi,
  reflectionV1,
  type SubscribeRequest,
} from "@xmtp-ts/proto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { requestQueue } from "../packages/node/src/transport/test-harness.js";
import { type NodeProcess, spawnNode } from "./node-process.js";

const enc = (s: string) => new TextEncoder().encode(s);

describe("gRPC against `xmtp node`", () => {
  let node: NodeProcess;
  let client: ReturnType<typeof createClient<typeof MessageApi>>;
  beforeAll(async () => {
    node = await spawnNode({ args: ["--no-auth"] });
    client = createClient(MessageApi, createGrpcTransport({ baseUrl: node.grpcUrl, httpVersion: "2" }));
  });
  afterAll(async () => {
    expect(await node.stop()).toBe(0);
  });

  /** Reads a gauge from /metrics: the node is another process. */
  const gauge = async (name: string) => {
    const text = await (await fetch(`${node.url}/metrics`)).text();
    const m = new RegExp(`^${name} (\\d+)$`, "m").exec(text);
    return Number(m?.[1] ?? Number.NaN);
  };
  const until = async (cond: () => Promise<boolean>, what: string) => {
    for (let i = 0; i < 400; i++) {
      if (await cond()) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`timed out waiting for ${what}`);
  };

  test("Publish, Query, BatchQuery", async () => {
    const topic = "/xmtp/0/m-e2e-grpc/proto";
    await client.publish({
      envelopes: [1n, 2n, 3n].map((t) => ({ contentTopic: topic, timestampNs: t, message: enc(`${t}`) })),
    });
    const q = await client.query({ contentTopics: [topic], pagingInfo: { limit: 2 } });
    expect(q.envelopes.map((e) => e.timestampNs)).toEqual([3n, 2n]);
    const q2 = await client.query({ contentTopics: [topic], pagingInfo: q.pagingInfo });
    expect(q2.envelopes.map((e) => e.timestampNs)).toEqual([1n]);
    expect(q2.pagingInfo?.cursor).toBeUndefined();
    const b = await client.batchQuery({
      requests: [{ contentTopics: [topic] }, { contentTopics: ["/xmtp/0/m-none/proto"] }],
    });
    expect(b.responses.map((r) => r.envelopes.length)).toEqual([3, 0]);
    const err = await client
      .batchQuery({ requests: Array.from({ length: 51 }, () => ({ contentTopics: [topic] })) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.InvalidArgument);
  });

  test("Subscribe and SubscribeAll: `subscribed` header first, then envelopes", async () => {
    const topic = "/xmtp/0/m-e2e-sub/proto";
    const ac = new AbortController();
    let h1: Headers | undefined;
    let h2: Headers | undefined;
    const one = client
      .subscribe({ contentTopics: [topic] }, { signal: ac.signal, onHeader: (h) => (h1 = h) })
      [Symbol.asyncIterator]();
    const all = client
      .subscribeAll({}, { signal: ac.signal, onHeader: (h) => (h2 = h) })
      [Symbol.asyncIterator]();
    const n1 = one.next();
    const n2 = all.next();
    await until(async () => h1 !== undefined && h2 !== undefined, "headers");
    expect(h1?.get("subscribed")).toBe("true");
    expect(h2?.get("subscribed")).toBe("true");
    await client.publish({ envelopes: [{ contentTopic: topic, timestampNs: 7n, message: enc("s") }] });
    expect((await n1).value?.timestampNs).toBe(7n);
    expect((await n2).value?.contentTopic).toBe(topic);
    ac.abort();
    await one.next().catch(() => undefined);
    await all.next().catch(() => undefined);
    await until(async () => (await gauge("xmtp_subscriptions")) === 0, "unsubscribe on cancel");
  });

  test("Subscribe2 swaps topic sets", async () => {
    const a = "/xmtp/0/m-e2e-s2a/proto";
    const b = "/xmtp/0/m-e2e-s2b/proto";
    const requests = requestQueue<SubscribeRequest>();
    const ac = new AbortController();
    let headers: Headers | undefined;
    const it = client
      .subscribe2(requests as AsyncIterable<SubscribeRequest>, {
        signal: ac.signal,
        onHeader: (h) => (headers = h),
      })
      [Symbol.asyncIterator]();
    const first = it.next();
    await until(async () => headers !== undefined, "headers");
    requests.push({ contentTopics: [a] } as SubscribeRequest);
    await until(async () => (await gauge("xmtp_subscribed_topics")) === 1, "topic a");
    await client.publish({ envelopes: [{ contentTopic: a, timestampNs: 1n, message: enc("a1") }] });
    expect((await first).value?.message).toEqual(enc("a1"));
    requests.push({ contentTopics: [a, b] } as SubscribeRequest);
    await until(async () => (await gauge("xmtp_subscribed_topics")) === 2, "topics a+b");
    requests.push({ contentTopics: [b] } as SubscribeRequest);
    await until(async () => (await gauge("xmtp_subscribed_topics")) === 1, "topic b only");
    await client.publish({ envelopes: [{ contentTopic: a, timestampNs: 2n, message: enc("a2") }] });
    await client.publish({ envelopes: [{ contentTopic: b, timestampNs: 3n, message: enc("b1") }] });
    expect((await it.next()).value?.message).toEqual(enc("b1"));
    ac.abort();
    await it.next().catch(() => undefined);
  });

  test("Health/Check is SERVING", async () => {
    const health = createClient(Health, createGrpcTransport({ baseUrl: node.grpcUrl, httpVersion: "2" }));
    expect((await health.check({})).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });

  test("server reflection lists the services", async () => {
    const reflection = createClient(
      reflectionV1.ServerReflection,
      createGrpcTransport({ baseUrl: node.grpcUrl, httpVersion: "2" }),
    );
    const names: string[] = [];
    async function* ask() {
      yield { messageRequest: { case: "listServices" as const, value: "" } };
    }
    for await (const res of reflection.serverReflectionInfo(ask()))
      if (res.messageResponse.case === "listServicesResponse")
        names.push(...res.messageResponse.value.service.map((s) => s.name));
    expect(names).toContain("xmtp.message_api.v1.MessageApi");
    expect(names).toContain("grpc.health.v1.Health");
  });

  test("a message over 50 MiB is ResourceExhausted", async () => {
    // The client's HTTP/2 session must be allowed to buffer the big request (default 10 MB).
    const big = createClient(
      MessageApi,
      createGrpcTransport({
        baseUrl: node.grpcUrl,
        httpVersion: "2",
        nodeOptions: { maxSessionMemory: 200 },
      }),
    );
    const err = await big
      .publish({
        envelopes: [{ contentTopic: "/xmtp/0/m-huge/proto", message: new Uint8Array(50 * 1024 * 1024 + 1) }],
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.ResourceExhausted);
    expect((err as ConnectError).rawMessage).toMatch(
      /^message size \d+ is larger than configured readMaxBytes 52428800$/,
    );
  });
});
