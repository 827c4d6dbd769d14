/**
 * Raw HTTP against the spawned node: exact JSON shapes and status codes, every protocol limit at
 * its edge, the body cap, CORS, 404, /healthz and /metrics.
 */
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type NodeProcess, spawnNode } from "./node-process.js";

const b64 = (bytes: Uint8Array | string) => Buffer.from(bytes).toString("base64");
const post = async (node: NodeProcess, path: string, body: unknown, headers: Record<string, string> = {}) => {
  const r = await fetch(`${node.url}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
  return { status: r.status, headers: r.headers, text: await r.text() };
};
const status = (code: number, message: string) => JSON.stringify({ code, message, details: [] });

describe("HTTP gateway limits and shapes (auth off)", () => {
  let node: NodeProcess;
  beforeAll(async () => {
    node = await spawnNode({ args: ["--no-auth"] });
  });
  afterAll(async () => {
    expect(await node.stop()).toBe(0);
  });

  const publish = (contentTopic: string, message: Uint8Array, timestampNs = "1") =>
    post(node, "/message/v1/publish", { envelopes: [{ contentTopic, timestampNs, message: b64(message) }] });

  test("topic length: 300 bytes accepted, 301 rejected", async () => {
    const base = "/xmtp/0/m-";
    const topic = (n: number) => `${base}${"x".repeat(n - base.length - "/proto".length)}/proto`;
    expect(Buffer.byteLength(topic(300))).toBe(300);
    expect(await publish(topic(300), new Uint8Array([1]))).toMatchObject({ status: 200, text: "{}" });
    expect(await publish(topic(301), new Uint8Array([1]))).toMatchObject({
      status: 400,
      text: status(3, "topic length too big"),
    });
    // Bytes, not characters: 150 two-byte characters are 300 bytes.
    const wide = `/xmtp/0/m-${"é".repeat(142)}/proto`;
    expect(Buffer.byteLength(wide)).toBe(300);
    expect((await publish(wide, new Uint8Array([1]))).status).toBe(200);
    expect((await publish(`${wide}x`, new Uint8Array([1]))).status).toBe(400);
  });

  test("message size: 1,048,214 bytes accepted, 1,048,215 rejected", async () => {
    const topic = "/xmtp/0/m-big/proto";
    expect(await publish(topic, new Uint8Array(1_048_214).fill(7), "5")).toMatchObject({
      status: 200,
      text: "{}",
    });
    expect(await publish(topic, new Uint8Array(1_048_215).fill(7), "6")).toMatchObject({
      status: 400,
      text: status(3, "message too big"),
    });
    const q = JSON.parse((await post(node, "/message/v1/query", { contentTopics: [topic] })).text);
    expect(q.envelopes).toHaveLength(1);
    expect(Buffer.from(q.envelopes[0].message, "base64").length).toBe(1_048_214);
  });

  test("a multi-envelope publish with one bad envelope stores nothing", async () => {
    const topic = "/xmtp/0/m-atomic/proto";
    const r = await post(node, "/message/v1/publish", {
      envelopes: [
        { contentTopic: topic, timestampNs: "1", message: b64("ok") },
        { contentTopic: `/xmtp/0/m-${"x".repeat(300)}/proto`, timestampNs: "2", message: b64("bad") },
      ],
    });
    expect(r.status).toBe(400);
    const q = JSON.parse((await post(node, "/message/v1/query", { contentTopics: [topic] })).text);
    expect(q.envelopes).toEqual([]);
  });

  test("query limit: 100 accepted, 101 rejected; 0 means 100", async () => {
    const topic = "/xmtp/0/m-limit/proto";
    const envelopes = Array.from({ length: 101 }, (_, i) => ({
      contentTopic: topic,
      timestampNs: String(i + 1),
      message: b64(`${i}`),
    }));
    expect((await post(node, "/message/v1/publish", { envelopes })).status).toBe(200);
    const q100 = await post(node, "/message/v1/query", {
      contentTopics: [topic],
      pagingInfo: { limit: 100 },
    });
    expect(q100.status).toBe(200);
    expect(JSON.parse(q100.text).envelopes).toHaveLength(100);
    const q0 = JSON.parse((await post(node, "/message/v1/query", { contentTopics: [topic] })).text);
    expect(q0.envelopes).toHaveLength(100);
    expect(q0.pagingInfo.limit).toBe(100);
    expect(q0.pagingInfo.cursor.index.senderTimeNs).toBe("2");
    const q101 = await post(node, "/message/v1/query", {
      contentTopics: [topic],
      pagingInfo: { limit: 101 },
    });
    expect(q101).toMatchObject({ status: 400, text: status(3, "cannot exceed 100 rows per query") });
  });

  test("userpreferences: a single topic may ask for 500, not 501", async () => {
    const topic = "/xmtp/0/userpreferences-abc/proto";
    const q500 = await post(node, "/message/v1/query", {
      contentTopics: [topic],
      pagingInfo: { limit: 500 },
    });
    expect(q500.status).toBe(200);
    expect(JSON.parse(q500.text)).toEqual({
      envelopes: [],
      pagingInfo: { limit: 0, cursor: null, direction: "SORT_DIRECTION_DESCENDING" },
    });
    const q501 = await post(node, "/message/v1/query", {
      contentTopics: [topic],
      pagingInfo: { limit: 501 },
    });
    expect(q501).toMatchObject({ status: 400, text: status(3, "cannot exceed 100 rows per query") });
  });

  test("batch-query: 50 sub-queries accepted, 51 rejected", async () => {
    const req = (n: number) => ({
      requests: Array.from({ length: n }, (_, i) => ({ contentTopics: [`/xmtp/0/m-b${i}/proto`] })),
    });
    const ok = await post(node, "/message/v1/batch-query", req(50));
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.text).responses).toHaveLength(50);
    expect(await post(node, "/message/v1/batch-query", req(51))).toMatchObject({
      status: 400,
      text: status(3, "cannot exceed 50 requests in single batch"),
    });
  });

  test("body cap (50 MiB by default): refused from the declared length, before the body is read", async () => {
    const u = new URL(node.url);
    const cap = 50 * 1024 * 1024;
    const res = await new Promise<{ status: number; body: string; connection: string | undefined }>(
      (resolve, reject) => {
        const req = request(
          {
            host: u.hostname,
            port: u.port,
            method: "POST",
            path: "/message/v1/publish",
            headers: { "content-length": String(cap + 1) },
          },
          (r) => {
            let body = "";
            r.on("data", (c: Buffer) => {
              body += c.toString();
            });
            r.on("end", () => resolve({ status: r.statusCode ?? 0, body, connection: r.headers.connection }));
          },
        );
        req.on("error", reject);
        // Only the first bytes are ever sent: the answer must come without the rest.
        req.write('{"envelopes":[');
      },
    );
    expect(res.status).toBe(429);
    expect(res.body).toBe(status(8, `grpc: received message larger than max (${cap + 1} vs. ${cap})`));
    expect(res.connection).toBe("close");
    // The node keeps serving.
    expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
  });

  test("§2.6 shapes: publish {}, query pages with cursor then null cursor, query {} → 400", async () => {
    const topic = "/xmtp/0/contact-0x3De402A325323Bb97f00cE3ad5bFAc96A11F9A34/proto";
    const envs = [1, 2, 3, 4, 5, 6].map((i) => ({
      contentTopic: topic,
      timestampNs: `169999000000000000${i}`,
      message: b64(`c${i}`),
    }));
    expect(await post(node, "/message/v1/publish", { envelopes: envs })).toMatchObject({
      status: 200,
      text: "{}",
    });
    const p1 = JSON.parse(
      (
        await post(node, "/message/v1/query", {
          contentTopics: [topic],
          pagingInfo: { limit: 5, direction: "SORT_DIRECTION_DESCENDING" },
        })
      ).text,
    );
    expect(Object.keys(p1)).toEqual(["envelopes", "pagingInfo"]);
    expect(p1.envelopes).toEqual(envs.slice(1).reverse());
    expect(Object.keys(p1.pagingInfo)).toEqual(["limit", "cursor", "direction"]);
    expect(p1.pagingInfo.limit).toBe(5);
    expect(p1.pagingInfo.direction).toBe("SORT_DIRECTION_DESCENDING");
    expect(Object.keys(p1.pagingInfo.cursor.index)).toEqual(["digest", "senderTimeNs"]);
    expect(p1.pagingInfo.cursor.index.senderTimeNs).toBe("1699990000000000002");
    expect(p1.pagingInfo.cursor.index.digest).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    const p2 = await post(node, "/message/v1/query", { contentTopics: [topic], pagingInfo: p1.pagingInfo });
    expect(p2.text).toBe(
      `{"envelopes":[${JSON.stringify(envs[0])}],"pagingInfo":{"limit":0,"cursor":null,"direction":"SORT_DIRECTION_DESCENDING"}}`,
    );
    expect(await post(node, "/message/v1/query", {})).toMatchObject({
      status: 400,
      text: status(3, "content topics required"),
    });
  });

  test("404, 501, CORS, healthz, metrics", async () => {
    const nf = await fetch(`${node.url}/swagger.json`);
    expect(nf.status).toBe(404);
    expect(await nf.text()).toBe(status(5, "Not Found"));
    const wrong = await fetch(`${node.url}/message/v1/publish`);
    expect(wrong.status).toBe(501);
    expect(await wrong.text()).toBe(status(12, "Method Not Allowed"));
    const pre = await fetch(`${node.url}/message/v1/query`, {
      method: "OPTIONS",
      headers: {
        origin: "http://localhost:3000",
        "access-control-request-method": "POST",
        "access-control-request-headers": "x-client-version",
      },
    });
    expect(pre.status).toBe(200);
    expect(pre.headers.get("access-control-allow-origin")).toBe("*");
    expect(pre.headers.get("access-control-allow-headers")).toMatch(/X-Client-Version/);
    const hz = await fetch(`${node.url}/healthz`);
    expect(hz.status).toBe(200);
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    expect(metrics).toMatch(/xmtp_api_requests_total\{transport="http",method="Publish",code="3"\} \d+/);
    expect(metrics).toMatch(
      /xmtp_published_envelopes_total\{topic_category="contact",source="publish",outcome="stored"\} 6/,
    );
    expect(metrics).toMatch(/^xmtp_subscriptions 0$/m);
  });
});

describe("HTTP gateway with auth on (the default)", () => {
  let node: NodeProcess;
  beforeAll(async () => {
    node = await spawnNode();
  });
  afterAll(async () => {
    expect(await node.stop()).toBe(0);
  });

  test("publish needs a bearer token; query and subscribe do not", async () => {
    const env = { contentTopic: "/xmtp/0/m-auth/proto", timestampNs: "1", message: b64("x") };
    expect(await post(node, "/message/v1/publish", { envelopes: [env] })).toMatchObject({
      status: 401,
      text: status(16, "authorization token is not provided"),
    });
    const bad = await post(node, "/message/v1/publish", { envelopes: [env] }, { authorization: "Basic abc" });
    expect(bad.status).toBe(401);
    expect(JSON.parse(bad.text).code).toBe(16);
    expect((await post(node, "/message/v1/query", { contentTopics: [env.contentTopic] })).status).toBe(200);
    const ac = new AbortController();
    const sub = await fetch(`${node.url}/message/v1/subscribe`, {
      method: "POST",
      body: JSON.stringify({ contentTopics: [env.contentTopic] }),
      signal: ac.signal,
    });
    expect(sub.status).toBe(200);
    expect(sub.headers.get("grpc-metadata-subscribed")).toBe("true");
    ac.abort();
  });
});
