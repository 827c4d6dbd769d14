import { type IncomingMessage, request } from "node:http";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type Harness, startHarness } from "./test-harness.js";

const TOPIC = "/xmtp/0/m-http-test/proto";
const post = (h: Harness, path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${h.url}${path}`, {
    method: "POST",
    headers,
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
const b64 = (s: string) => Buffer.from(s).toString("base64");

/** A raw HTTP/1.1 request, for what fetch cannot express (no Content-Type, chunked bodies). */
function raw(
  url: string,
  opts: {
    method?: string;
    path: string;
    headers?: Record<string, string>;
    body?: Buffer | string;
    chunks?: Buffer[];
  },
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        method: opts.method ?? "POST",
        path: opts.path,
        headers: opts.headers ?? {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (opts.chunks !== undefined) {
      for (const c of opts.chunks) req.write(c);
      req.end();
    } else {
      req.end(opts.body);
    }
  });
}

describe("HTTP gateway", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ maxBodyBytes: 64 * 1024 });
  });
  afterAll(() => h.close());

  test("publish answers {} and query pages with the reference's paging_info", async () => {
    const envelopes = [1, 2, 3].map((i) => ({
      contentTopic: TOPIC,
      timestampNs: `${1700000000000000000n + BigInt(i)}`,
      message: b64(`m${i}`),
    }));
    const p = await post(h, "/message/v1/publish", { envelopes });
    expect(p.status).toBe(200);
    expect(p.headers.get("content-type")).toBe("application/json");
    expect(await p.text()).toBe("{}");

    const q = await post(h, "/message/v1/query", {
      contentTopics: [TOPIC],
      pagingInfo: { limit: 2, direction: "SORT_DIRECTION_DESCENDING" },
    });
    expect(q.status).toBe(200);
    const page = await q.json();
    expect(page.envelopes).toEqual([envelopes[2], envelopes[1]]);
    expect(page.pagingInfo).toEqual({
      limit: 2,
      cursor: { index: { digest: expect.any(String), senderTimeNs: "1700000000000000002" } },
      direction: "SORT_DIRECTION_DESCENDING",
    });
    // The cursor is passed back verbatim, as xmtp-js does.
    const q2 = await post(h, "/message/v1/query", {
      contentTopics: [TOPIC],
      pagingInfo: { ...page.pagingInfo },
    });
    expect(await q2.text()).toBe(
      `{"envelopes":[${JSON.stringify(envelopes[0])}],"pagingInfo":{"limit":0,"cursor":null,"direction":"SORT_DIRECTION_DESCENDING"}}`,
    );
  });

  test("batch-query keeps each sub-query's paging", async () => {
    const r = await post(h, "/message/v1/batch-query", {
      requests: [
        { contentTopics: [TOPIC], pagingInfo: { limit: 1, direction: "SORT_DIRECTION_ASCENDING" } },
        { contentTopics: ["/xmtp/0/m-nothing/proto"] },
      ],
    });
    expect(r.status).toBe(200);
    const body = await r.json();
    expect(body.responses).toHaveLength(2);
    expect(body.responses[0].envelopes[0].timestampNs).toBe("1700000000000000001");
    expect(body.responses[0].pagingInfo.direction).toBe("SORT_DIRECTION_ASCENDING");
    expect(body.responses[1]).toEqual({
      envelopes: [],
      pagingInfo: { limit: 0, cursor: null, direction: "SORT_DIRECTION_DESCENDING" },
    });
  });

  test("any Content-Type, or none, is read as JSON", async () => {
    const body = JSON.stringify({ contentTopics: [TOPIC] });
    for (const headers of [
      {},
      { "content-type": "text/plain;charset=UTF-8" },
      { "content-type": "application/x-www-form-urlencoded" },
      { "content-type": "application/json" },
    ]) {
      const r = await raw(h.url, { path: "/message/v1/query", headers, body });
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body).envelopes).toHaveLength(3);
    }
  });

  test("errors are google.rpc.Status JSON with the gateway's HTTP status", async () => {
    const cases: Array<[string, unknown, number, string | RegExp]> = [
      ["/message/v1/query", {}, 400, "content topics required"],
      ["/message/v1/query", "{nope", 400, /^invalid JSON/],
      ["/message/v1/query", "[1]", 400, "invalid request: expected a JSON object"],
      ["/message/v1/publish", { envelopes: [{ contentTopic: TOPIC, message: "%%%" }] }, 400, /base64/],
      [
        "/message/v1/publish",
        { envelopes: [{ contentTopic: TOPIC, timestampNs: "-5" }] },
        400,
        /out of range/,
      ],
      ["/message/v1/query", { contentTopics: [TOPIC], pagingInfo: { limit: -1 } }, 400, /out of range/],
      [
        "/message/v1/query",
        { contentTopics: [TOPIC], pagingInfo: { direction: "UP" } },
        400,
        /enum field direction/,
      ],
      [
        "/message/v1/query",
        { contentTopics: [TOPIC], pagingInfo: { limit: 101 } },
        400,
        "cannot exceed 100 rows per query",
      ],
      // A lone surrogate (a JSON escape) is not UTF-8, on every route.
      [
        "/message/v1/publish",
        '{"envelopes":[{"contentTopic":"/xmtp/0/m-\\ud800/proto"}]}',
        400,
        /invalid UTF-?8/i,
      ],
      ["/message/v1/query", '{"contentTopics":["\\udfff"]}', 400, /invalid UTF-?8/i],
      ["/message/v1/query", { contentTopics: ["x".repeat(301)] }, 400, "topic length too big"],
      // A bad sub-query is the caller's error.
      [
        "/message/v1/batch-query",
        { requests: [{ contentTopics: [TOPIC] }, { contentTopics: [] }] },
        400,
        "content topics required",
      ],
      [
        "/message/v1/batch-query",
        { requests: [{ contentTopics: ["t"] }, { contentTopics: ["\udc00"] }] },
        400,
        /invalid UTF-?8/i,
      ],
    ];
    for (const [path, body, status, message] of cases) {
      const r = await post(h, path, body);
      expect(r.status, JSON.stringify(body)).toBe(status);
      const json = await r.json();
      expect(Object.keys(json)).toEqual(["code", "message", "details"]);
      expect(json.code).toBe(3);
      expect(json.details).toEqual([]);
      if (typeof message === "string") expect(json.message).toBe(message);
      else expect(json.message).toMatch(message);
    }
    // Nothing was stored by the failed publishes.
    expect(await h.store.count()).toBe(3);
  });

  test("unknown paths: 404 JSON; wrong method on an API route: 501 Method Not Allowed", async () => {
    const nf = await fetch(`${h.url}/nope`);
    expect(nf.status).toBe(404);
    expect(await nf.text()).toBe('{"code":5,"message":"Not Found","details":[]}');
    expect(nf.headers.get("access-control-allow-origin")).toBe("*");
    const nf2 = await post(h, "/message/v1/nope", {});
    expect(nf2.status).toBe(404);
    for (const method of ["GET", "PUT", "DELETE", "PATCH"]) {
      const r = await fetch(`${h.url}/message/v1/query`, { method });
      expect(r.status).toBe(501);
      expect(await r.text()).toBe('{"code":12,"message":"Method Not Allowed","details":[]}');
    }
  });

  test("CORS: every response allows any origin; preflights are answered directly", async () => {
    const r = await fetch(`${h.url}/message/v1/publish`, {
      method: "OPTIONS",
      headers: {
        origin: "https://app.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,x-client-version,x-app-version,x-libxmtp-version",
      },
    });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe("");
    expect(r.headers.get("access-control-allow-origin")).toBe("*");
    expect(r.headers.get("access-control-allow-methods")).toBe("GET,HEAD,POST,PUT,PATCH,DELETE");
    const allowed = (r.headers.get("access-control-allow-headers") ?? "").toLowerCase().split(/\s*,\s*/);
    for (const name of [
      "content-type",
      "accept",
      "authorization",
      "x-client-version",
      "x-app-version",
      "x-libxmtp-version",
    ]) {
      expect(allowed).toContain(name);
    }
    const q = await post(h, "/message/v1/query", { contentTopics: [TOPIC] });
    expect(q.headers.get("access-control-allow-origin")).toBe("*");
    const e = await post(h, "/message/v1/query", {});
    expect(e.headers.get("access-control-allow-origin")).toBe("*");
  });

  test("Connect JSON on the HTTP port, with CORS headers for browsers", async () => {
    const r = await fetch(`${h.url}/xmtp.message_api.v1.MessageApi/Query`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ contentTopics: [TOPIC], pagingInfo: { limit: 1 } }),
    });
    expect(r.status).toBe(200);
    expect(r.headers.get("access-control-allow-origin")).toBe("*");
    expect(r.headers.get("access-control-expose-headers")).toMatch(/Grpc-Status/);
    const body = await r.json();
    expect(body.envelopes).toHaveLength(1);
    expect(body.envelopes[0].timestampNs).toBe("1700000000000000003");
  });

  test("gzip only for query and batch-query, only when accepted", async () => {
    const body = JSON.stringify({ contentTopics: [TOPIC] });
    const gz = await raw(h.url, {
      path: "/message/v1/query",
      headers: { "accept-encoding": "gzip, deflate" },
      body,
    });
    expect(gz.headers["content-encoding"]).toBe("gzip");
    const plain = await raw(h.url, { path: "/message/v1/query", body });
    expect(plain.headers["content-encoding"]).toBeUndefined();
    const batch = await new Promise<Buffer>((resolve, reject) => {
      const u = new URL(h.url);
      const req = request(
        {
          host: u.hostname,
          port: u.port,
          method: "POST",
          path: "/message/v1/batch-query",
          headers: { "accept-encoding": "gzip" },
        },
        (res) => {
          expect(res.headers["content-encoding"]).toBe("gzip");
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve(Buffer.concat(chunks)));
        },
      );
      req.on("error", reject);
      req.end(JSON.stringify({ requests: [{ contentTopics: [TOPIC] }] }));
    });
    expect(JSON.parse(gunzipSync(batch).toString()).responses[0].envelopes).toHaveLength(3);
    const pub = await raw(h.url, {
      path: "/message/v1/publish",
      headers: { "accept-encoding": "gzip" },
      body: "{}",
    });
    expect(pub.headers["content-encoding"]).toBeUndefined();
    expect(pub.body).toBe("{}");
  });

  test("bodies over the cap: 429 ResourceExhausted, refused before being read whole", async () => {
    const cap = 64 * 1024;
    const big = Buffer.alloc(cap + 1, 0x20);
    const declared = await raw(h.url, { path: "/message/v1/publish", body: big });
    expect(declared.status).toBe(429);
    expect(JSON.parse(declared.body)).toEqual({
      code: 8,
      message: `grpc: received message larger than max (${cap + 1} vs. ${cap})`,
      details: [],
    });
    // Chunked, no Content-Length: refused once the cap is passed; the rest is never read.
    const chunk = Buffer.alloc(16 * 1024, 0x20);
    const chunked = await raw(h.url, {
      path: "/message/v1/publish",
      headers: { "transfer-encoding": "chunked" },
      chunks: Array.from({ length: 8 }, () => chunk),
    }).catch((err: Error) => ({ status: -1, headers: {}, body: err.message }));
    if (chunked.status !== -1) {
      expect(chunked.status).toBe(429);
      expect(JSON.parse(chunked.body).message).toMatch(
        /^grpc: received message larger than max \(\d+ vs\. 65536\)$/,
      );
    }
    // Exactly the cap is fine (it is just not a valid request).
    const atCap = await raw(h.url, {
      path: "/message/v1/query",
      body: Buffer.concat([Buffer.from("{}"), Buffer.alloc(cap - 2, 0x20)]),
    });
    expect(atCap.status).toBe(400);
    expect(JSON.parse(atCap.body).message).toBe("content topics required");
  });

  test("requests other than publish are held to 1 MiB and 10,000 topics", async () => {
    const full = await startHarness();
    const topics = (n: number) => Array.from({ length: n }, (_, i) => `/xmtp/0/m-${i}/proto`);
    const big = await raw(full.url, {
      path: "/message/v1/subscribe",
      body: JSON.stringify({ contentTopics: ["x".repeat(1024 * 1024)] }),
    });
    expect(big.status).toBe(429);
    expect(JSON.parse(big.body).message).toMatch(
      /^grpc: received message larger than max \(\d+ vs\. 1048576\)$/,
    );
    for (const path of ["/message/v1/query", "/message/v1/subscribe"]) {
      const r = await post(full, path, { contentTopics: topics(10_001) });
      expect(r.status).toBe(400);
      expect(r.headers.get("xmtp-limit")).toBe("topics-per-request=10000");
      expect(await r.text()).toContain("too many content topics: 10001 (at most 10000 per request)");
    }
    const ok = await post(full, "/message/v1/query", { contentTopics: topics(10_000) });
    expect(ok.status).toBe(200);
    await full.close();
  });

  test("healthz and metrics", async () => {
    const hz = await fetch(`${h.url}/healthz`);
    expect(hz.status).toBe(200);
    expect(await hz.json()).toEqual({ status: "SERVING" });
    const m = await fetch(`${h.url}/metrics`);
    expect(m.status).toBe(200);
    expect(m.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await m.text();
    expect(text).toMatch(/xmtp_api_requests_total\{transport="http",method="Publish",code="0"\} \d+/);
    expect(text).toMatch(/xmtp_api_requests_total\{transport="http",method="Query",code="3"\} \d+/);
    expect(text).toMatch(
      /xmtp_api_request_duration_seconds_count\{transport="http",method="Query",code="0"\} \d+/,
    );
    expect(text).toMatch(
      /xmtp_published_envelopes_total\{topic_category="v2-conversation",source="publish",outcome="stored"\} 3/,
    );
    expect(text).toMatch(/^xmtp_subscriptions \d+$/m);
    expect(text).toMatch(/^xmtp_subscribed_topics \d+$/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
  });
});

/** Reads NDJSON lines from a fetch body. */
function lines(body: ReadableStream<Uint8Array>) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  return {
    async next(): Promise<string> {
      for (;;) {
        const i = buf.indexOf("\n");
        if (i >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          return line;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended (rest: ${JSON.stringify(buf)})`);
        buf += decoder.decode(value, { stream: true });
      }
    },
    async rest(): Promise<string> {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return buf;
        buf += decoder.decode(value, { stream: true });
      }
    },
    cancel: () => reader.cancel().catch(() => undefined),
  };
}

const until = async (cond: () => boolean, what: string) => {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
};

describe("HTTP streams", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ bufferSize: 4 });
  });
  afterAll(() => h.close());

  test("headers arrive before any envelope; each envelope is one {result} line; abort unsubscribes", async () => {
    const topic = "/xmtp/0/m-stream/proto";
    const r = await post(h, "/message/v1/subscribe", { contentTopics: [topic] });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/json");
    expect(r.headers.get("grpc-metadata-subscribed")).toBe("true");
    expect(r.headers.get("access-control-allow-origin")).toBe("*");
    expect(h.dispatcher.stats().subscriptions).toBe(1);
    const env = { contentTopic: topic, timestampNs: "42", message: b64("hello") };
    await post(h, "/message/v1/publish", {
      envelopes: [env, { ...env, contentTopic: "/xmtp/0/m-other/proto" }, { ...env, timestampNs: "43" }],
    });
    const l = lines(r.body as ReadableStream<Uint8Array>);
    expect(await l.next()).toBe(`{"result":${JSON.stringify(env)}}`);
    expect(await l.next()).toBe(`{"result":${JSON.stringify({ ...env, timestampNs: "43" })}}`);
    await l.cancel();
    await until(() => h.dispatcher.stats().subscriptions === 0, "unsubscribe after abort");
  });

  test("ephemeral envelopes are streamed but not stored; subscribe-all sees /xmtp/0/ topics", async () => {
    const all = await post(h, "/message/v1/subscribe-all", {});
    expect(all.headers.get("grpc-metadata-subscribed")).toBe("true");
    const topic = "/xmtp/0/mE-eph/proto";
    const one = await post(h, "/message/v1/subscribe", { contentTopics: [topic] });
    const env = { contentTopic: topic, timestampNs: "7", message: b64("e") };
    await post(h, "/message/v1/publish", { envelopes: [env] });
    const la = lines(all.body as ReadableStream<Uint8Array>);
    const lo = lines(one.body as ReadableStream<Uint8Array>);
    expect(JSON.parse(await la.next())).toEqual({ result: env });
    expect(JSON.parse(await lo.next())).toEqual({ result: env });
    const q = await (await post(h, "/message/v1/query", { contentTopics: [topic] })).json();
    expect(q.envelopes).toEqual([]);
    await la.cancel();
    await lo.cancel();
    await until(() => h.dispatcher.stats().subscriptions === 0, "unsubscribe");
  });

  test("a subscriber that does not read ends with one error line; others are unaffected", async () => {
    const topic = "/xmtp/0/m-slow/proto";
    // A raw response that is paused: TCP flow control stops the server's writes.
    const u = new URL(h.url);
    const slow = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request(
        { host: u.hostname, port: u.port, method: "POST", path: "/message/v1/subscribe" },
        resolve,
      );
      req.on("error", reject);
      req.end(JSON.stringify({ contentTopics: [topic] }));
    });
    slow.pause();
    expect(slow.headers["grpc-metadata-subscribed"]).toBe("true");
    const fast = await post(h, "/message/v1/subscribe", { contentTopics: [topic] });
    const lf = lines(fast.body as ReadableStream<Uint8Array>);
    const payload = b64("x".repeat(256 * 1024));
    let received = 0;
    // Publish more than the socket buffers plus the 4-envelope queue can hold, reading only `fast`.
    for (let i = 0; i < 120 && h.dispatcher.stats().overflows === 0; i++) {
      await post(h, "/message/v1/publish", {
        envelopes: [{ contentTopic: topic, timestampNs: String(i + 1), message: payload }],
      });
      JSON.parse(await lf.next());
      received++;
    }
    expect(h.dispatcher.stats().overflows).toBe(1);
    expect(received).toBeGreaterThan(4);
    const text = await new Promise<string>((resolve) => {
      const chunks: Buffer[] = [];
      slow.on("data", (c: Buffer) => chunks.push(c));
      slow.on("end", () => resolve(Buffer.concat(chunks).toString()));
      slow.resume();
    });
    const all = text.trimEnd().split("\n");
    const last = JSON.parse(all[all.length - 1] as string);
    expect(last).toEqual({
      error: { code: 10, message: "subscription buffer overflow, resubscribe and backfill", details: [] },
    });
    for (const line of all.slice(0, -1)) expect(JSON.parse(line).result.contentTopic).toBe(topic);
    await lf.cancel();
  });

  test("heartbeat lines only when asked (X-Xmtp-Heartbeat-Ms), echoed in a readable header", async () => {
    const topic = "/xmtp/0/m-heartbeat/proto";
    const plain = await post(h, "/message/v1/subscribe", { contentTopics: [topic] });
    expect(plain.headers.get("x-xmtp-heartbeat-ms")).toBeNull();
    await plain.body?.cancel();
    const r = await post(
      h,
      "/message/v1/subscribe",
      { contentTopics: [topic] },
      { "x-xmtp-heartbeat-ms": "1000" },
    );
    expect(r.status).toBe(200);
    expect(r.headers.get("x-xmtp-heartbeat-ms")).toBe("1000");
    expect(r.headers.get("access-control-expose-headers")).toBe("x-xmtp-heartbeat-ms");
    const l = lines(r.body as ReadableStream<Uint8Array>);
    expect(await l.next()).toBe('{"heartbeat":{}}');
    await post(h, "/message/v1/publish", {
      envelopes: [{ contentTopic: topic, timestampNs: "7", message: b64("x") }],
    });
    expect(JSON.parse(await l.next()).result.timestampNs).toBe("7");
    await l.cancel();
    for (const bad of ["5", "abc", "600001", "-1000"]) {
      const refused = await post(
        h,
        "/message/v1/subscribe",
        { contentTopics: [topic] },
        { "x-xmtp-heartbeat-ms": bad },
      );
      expect(refused.status).toBe(400);
      expect(JSON.parse(await refused.text()).error.message).toContain(
        "x-xmtp-heartbeat-ms must be an integer",
      );
    }
    await until(() => h.dispatcher.stats().subscriptions === 0, "unsubscribe");
  });

  test("a bad subscribe request is answered with its status and an error line", async () => {
    const r = await post(h, "/message/v1/subscribe", "{bad");
    expect(r.status).toBe(400);
    const body = await r.text();
    expect(body.endsWith("\n")).toBe(true);
    expect(JSON.parse(body).error.code).toBe(3);
  });
});

describe("health when the store is down", () => {
  test("503 JSON", async () => {
    const h = await startHarness();
    await h.store.stop();
    const r = await fetch(`${h.url}/healthz`);
    expect(r.status).toBe(503);
    expect(await r.json()).toEqual({ code: 14, message: "not serving: store unavailable", details: [] });
    await h.close();
  });
});

describe("publish without fastify", () => {
  // The same requests against a node answering publish directly and one where fastify's route
  // does (as during shutdown or with debug logs): every answer must be the same.
  const requests: { headers?: Record<string, string>; body?: string | Buffer; chunks?: Buffer[] }[] = [
    { body: JSON.stringify({ envelopes: [{ contentTopic: TOPIC, timestampNs: "1", message: b64("a") }] }) },
    {
      headers: { origin: "https://app.example", "content-type": "text/plain" },
      body: JSON.stringify({ envelopes: [{ contentTopic: TOPIC, timestampNs: "2", message: b64("b") }] }),
    },
    { body: JSON.stringify({ envelopes: [{ content_topic: TOPIC, timestamp_ns: 3, message: "Yw" }] }) },
    { body: "" },
    { body: "{bad" },
    { body: "[]" },
    { body: JSON.stringify({ envelopes: [{ contentTopic: TOPIC, message: "%%%" }] }) },
    { body: JSON.stringify({ envelopes: [{ contentTopic: "not a topic", timestampNs: "1", message: "" }] }) },
    { body: '{"envelopes":[{"contentTopic":"/xmtp/0/m-\\ud800/proto"}]}' },
    { body: Buffer.alloc(2048, 0x20) },
    {
      headers: { "transfer-encoding": "chunked" },
      chunks: [Buffer.alloc(1500, 0x20), Buffer.alloc(1500, 0x20)],
    },
    // The rate limit (a burst of four envelopes, then one a minute) is hit by now.
    { body: JSON.stringify({ envelopes: [{ contentTopic: TOPIC, timestampNs: "4", message: b64("d") }] }) },
  ];
  const answers = async (directPublish: boolean) => {
    const h = await startHarness({
      directPublish,
      maxBodyBytes: 1024,
      rateLimits: { pub: { perMinute: 1, max: 4 }, janitorIntervalMs: 0 },
    });
    try {
      const out = [];
      for (const r of requests) {
        const a = await raw(h.url, { path: "/message/v1/publish", ...r }).catch((err: Error) => ({
          status: -1,
          headers: {},
          body: err.message,
        }));
        const { date: _date, ...headers } = a.headers;
        out.push({ status: a.status, headers, body: a.body });
      }
      const metrics = await (await fetch(`${h.url}/metrics`)).text();
      const stored = await h.store.query({ topics: [TOPIC], limit: 100, direction: "asc" });
      return {
        out,
        calls: metrics.split("\n").filter((l) => l.includes('method="Publish"') && !l.includes("_bucket")),
        stored: stored.map((e) => e.timestampNs),
      };
    } finally {
      await h.close();
    }
  };

  test("answers, counts and stores exactly as fastify's route does", async () => {
    const direct = await answers(true);
    const routed = await answers(false);
    expect(direct.out.map((a) => a.status)).toEqual([
      200, 200, 200, 200, 400, 400, 400, 200, 400, 429, 429, 429,
    ]);
    expect(direct.out[0]?.headers["access-control-allow-origin"]).toBe("*");
    expect(direct.out[9]?.headers.connection).toBe("close");
    expect(direct.stored).toEqual([1n, 2n, 3n]);
    expect(direct.calls.length).toBeGreaterThan(0);
    const noTimes = (lines: string[]) => lines.filter((l) => !/_sum\{/.test(l));
    expect({ ...direct, calls: noTimes(direct.calls) }).toEqual({ ...routed, calls: noTimes(routed.calls) });
  });
});
