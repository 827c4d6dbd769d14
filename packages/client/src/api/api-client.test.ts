/**
 * ApiClient against a small real HTTP server that speaks the gateway's JSON, scripted per test to
 * inject the failures a real node rarely produces on demand (503s, 401/code 16, malformed lines).
 * Behaviour against the real node is covered in e2e/client-api.test.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { create, toJson } from "@bufbuild/protobuf";
import { EnvelopeSchema } from "@xmtp-ts/proto";
import { Code } from "@xmtp-ts/protocol";
import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiClient } from "./api-client.js";
import { ApiError } from "./errors.js";
import { readLines } from "./ndjson.js";
import { queryAll } from "./query.js";

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;
interface Seen {
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function serve(handler: Handler): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const srv = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      seen.push({ path: req.url ?? "", headers: req.headers, body });
      handler(req, body, res);
    });
  });
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, seen };
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
};

const env = (topic: string, ts: bigint, text: string) =>
  create(EnvelopeSchema, { contentTopic: topic, timestampNs: ts, message: new TextEncoder().encode(text) });
const line = (topic: string, ts: bigint, text: string) =>
  `${JSON.stringify({ result: toJson(EnvelopeSchema, env(topic, ts, text)) })}\n`;
const fast = { retryDelayMs: 1, maxRetryDelayMs: 5 };
const texts = (xs: { message: Uint8Array }[]) => xs.map((e) => new TextDecoder().decode(e.message));

describe("unary calls", () => {
  it("retries 503 and 429, then succeeds; sends the client headers", async () => {
    let n = 0;
    const { url, seen } = await serve((_req, _body, res) => {
      n++;
      if (n === 1) return json(res, 503, { code: 14, message: "unavailable", details: [] });
      if (n === 2) return json(res, 429, { code: 8, message: "1 exceeds rate limit", details: [] });
      json(res, 200, {
        envelopes: [],
        pagingInfo: { limit: 0, cursor: null, direction: "SORT_DIRECTION_ASCENDING" },
      });
    });
    const api = new ApiClient({ apiUrl: url, appVersion: "test-app/1.0", ...fast });
    const res = await api.query({ contentTopics: ["/xmtp/0/x/proto"] });
    expect(res.envelopes).toEqual([]);
    expect(seen).toHaveLength(3);
    expect(seen[0]?.headers["x-client-version"]).toBe("xmtp-ts/0.1.0");
    expect(seen[0]?.headers["x-app-version"]).toBe("test-app/1.0");
    expect(seen[0]?.headers.authorization).toBeUndefined();
    expect(JSON.parse(seen[0]?.body ?? "")).toEqual({ contentTopics: ["/xmtp/0/x/proto"] });
  });

  it("does not retry a 400 and surfaces the typed error", async () => {
    const { url, seen } = await serve((_q, _b, res) =>
      json(res, 400, { code: 3, message: "content topics required", details: [] }),
    );
    const api = new ApiClient({ apiUrl: url, ...fast });
    const err = await api.query({ contentTopics: [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({
      grpcCode: Code.InvalidArgument,
      message: "content topics required",
      status: 400,
    });
    expect(seen).toHaveLength(1);
  });

  it("gives up after maxRetries with the last error; non-JSON error bodies map from the status", async () => {
    const { url, seen } = await serve((_q, _b, res) => {
      res.writeHead(502);
      res.end("<html>bad gateway</html>");
    });
    const api = new ApiClient({ apiUrl: url, maxRetries: 3, ...fast });
    const err = (await api.query({ contentTopics: ["t"] }).catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(502);
    expect(err.grpcCode).toBe(Code.Unavailable);
    expect(err.code).toBe("network-error");
    expect(seen).toHaveLength(4);
  });

  it("retries network errors (connection refused) and reports Unavailable", async () => {
    const { url } = await serve(() => undefined);
    const s = servers.pop() as Server;
    await new Promise((r) => s.close(r));
    const api = new ApiClient({ apiUrl: url, maxRetries: 2, ...fast });
    await expect(api.query({ contentTopics: ["t"] })).rejects.toMatchObject({ grpcCode: Code.Unavailable });
  });

  it("bounds the response body (declared or chunked) and does not retry it", async () => {
    const big = JSON.stringify({ envelopes: [], pad: "x".repeat(2000) });
    const { url, seen } = await serve((req, _b, res) => {
      if (req.url === "/message/v1/query") return json(res, 200, JSON.parse(big));
      res.writeHead(200, { "content-type": "application/json" }); // chunked: no content-length
      res.write(big.slice(0, 900));
      res.end(big.slice(900));
    });
    const api = new ApiClient({ apiUrl: url, maxResponseBytes: 1000, ...fast });
    await expect(api.query({ contentTopics: ["t"] })).rejects.toMatchObject({
      grpcCode: Code.ResourceExhausted,
      message: "response body exceeds 1000 bytes",
    });
    await expect(api.batchQuery([{ contentTopics: ["t"] }])).rejects.toMatchObject({
      grpcCode: Code.ResourceExhausted,
    });
    expect(seen).toHaveLength(2);
    const roomy = new ApiClient({ apiUrl: url, maxResponseBytes: big.length, ...fast });
    expect((await roomy.query({ contentTopics: ["t"] })).envelopes).toEqual([]);
  });

  it("publish: caches the token, refreshes it once on code 16, and retries once", async () => {
    let tokens = 0;
    const authenticator = { createToken: async () => `tok${++tokens}` };
    const accepted = new Set(["tok1", "tok3"]);
    let clock = 1_000_000;
    const { url, seen } = await serve((req, _b, res) => {
      const tok = (req.headers.authorization ?? "").replace("Bearer ", "");
      if (accepted.has(tok)) return json(res, 200, {});
      json(res, 401, { code: 16, message: "validating token: token expired", details: [] });
    });
    const api = new ApiClient({ apiUrl: url, authenticator, now: () => clock, ...fast });
    const e = env("/xmtp/0/m-x/proto", 1n, "a");
    await api.publish([e]);
    await api.publish([e]);
    expect(tokens).toBe(1); // cached
    expect(seen.map((s) => s.headers.authorization)).toEqual(["Bearer tok1", "Bearer tok1"]);
    clock += 3_590_001; // past the cache age
    accepted.delete("tok1");
    await api.publish([e]); // makes tok2, rejected with 16, refreshes to tok3, accepted
    expect(seen.slice(2).map((s) => s.headers.authorization)).toEqual(["Bearer tok2", "Bearer tok3"]);
    accepted.clear();
    const err = await api.publish([e]).catch((x: unknown) => x);
    expect(err).toMatchObject({ grpcCode: Code.Unauthenticated, status: 401 });
    expect(seen.slice(4)).toHaveLength(2); // one refresh, then it gives up
    expect(JSON.parse(seen[0]?.body ?? "")).toEqual({
      envelopes: [{ contentTopic: "/xmtp/0/m-x/proto", timestampNs: "1", message: "YQ==" }],
    });
  });

  it("batchQuery splits 120 queries into 3 parallel requests and keeps the order", async () => {
    const { url, seen } = await serve((_q, body, res) => {
      const reqs = (JSON.parse(body) as { requests: { contentTopics: string[] }[] }).requests;
      json(res, 200, {
        responses: reqs.map((r) => ({
          envelopes: [
            toJson(EnvelopeSchema, env(r.contentTopics[0] as string, 1n, r.contentTopics[0] as string)),
          ],
          pagingInfo: null,
        })),
      });
    });
    const api = new ApiClient({ apiUrl: url, ...fast });
    const topics = Array.from({ length: 120 }, (_, i) => `/xmtp/0/t-${i}/proto`);
    const res = await api.batchQuery(topics.map((t) => ({ contentTopics: [t], pagingInfo: { limit: 5 } })));
    expect(seen.map((s) => s.path)).toEqual(Array(3).fill("/message/v1/batch-query"));
    expect(seen.map((s) => (JSON.parse(s.body) as { requests: unknown[] }).requests.length).sort()).toEqual([
      20, 50, 50,
    ]);
    expect(res.map((r) => texts(r.envelopes)[0])).toEqual(topics);
  });

  it("queryIteratePages follows cursors, stops on a null cursor, honours limit", async () => {
    const all = Array.from({ length: 23 }, (_, i) => env("t", BigInt(i + 1), `m${i}`));
    const { url, seen } = await serve((_q, body, res) => {
      const q = JSON.parse(body) as {
        pagingInfo: { limit: number; cursor?: { index: { senderTimeNs: string } } };
      };
      const after = Number(q.pagingInfo.cursor?.index.senderTimeNs ?? 0);
      const page = all.filter((e) => Number(e.timestampNs) > after).slice(0, q.pagingInfo.limit);
      const last = page[page.length - 1];
      json(res, 200, {
        envelopes: page.map((e) => toJson(EnvelopeSchema, e)),
        pagingInfo:
          page.length < q.pagingInfo.limit || !last
            ? { limit: 0, cursor: null, direction: "SORT_DIRECTION_ASCENDING" }
            : {
                limit: q.pagingInfo.limit,
                cursor: { index: { digest: "AA==", senderTimeNs: String(last.timestampNs) } },
              },
      });
    });
    const api = new ApiClient({ apiUrl: url, ...fast });
    const pages: number[] = [];
    for await (const p of api.queryPages("t", { pageSize: 5 })) pages.push(p.length);
    expect(pages).toEqual([5, 5, 5, 5, 3]);
    expect(texts(await queryAll(api, "t", { pageSize: 10, limit: 12 }))).toEqual(
      all.slice(0, 12).map((_, i) => `m${i}`),
    );
    const firstBody = JSON.parse(seen[0]?.body ?? "");
    expect(firstBody.pagingInfo).toEqual({ limit: 5, direction: "SORT_DIRECTION_ASCENDING" });
  });
});

describe("NDJSON lines", () => {
  const streamOf = (chunks: Uint8Array[]) =>
    new ReadableStream<Uint8Array>({
      start(c) {
        for (const x of chunks) c.enqueue(x);
        c.close();
      },
    });

  it("reassembles lines across arbitrary chunk boundaries, including inside multi-byte characters", async () => {
    const text = '{"a":"é😀"}\n{"b":1}\n\n{"c":"ü"}\n';
    const bytes = new TextEncoder().encode(text);
    const one = Array.from(bytes, (b) => new Uint8Array([b]));
    const out: string[] = [];
    for await (const l of readLines(streamOf(one), 100)) out.push(l);
    expect(out).toEqual(['{"a":"é😀"}', '{"b":1}', "", '{"c":"ü"}']);
  });

  it("any split of any lines gives the same lines back (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.string({ unit: "grapheme" }).map((x) => x.replaceAll("\n", " ")),
          { maxLength: 20 },
        ),
        fc.array(fc.integer({ min: 0, max: 10_000 }), { maxLength: 30 }),
        async (lines, cuts) => {
          const bytes = new TextEncoder().encode(lines.map((l) => `${l}\n`).join(""));
          const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
          const chunks: Uint8Array[] = [];
          let at = 0;
          for (const p of [...points, bytes.length]) {
            if (p > at) chunks.push(bytes.slice(at, p));
            at = Math.max(at, p);
          }
          const out: string[] = [];
          for await (const l of readLines(streamOf(chunks), 1 << 20)) out.push(l);
          expect(out).toEqual(lines);
        },
      ),
    );
  });

  it("fails a line longer than the bound, with or without a newline", async () => {
    const long = new TextEncoder().encode(`${"x".repeat(101)}\n`);
    await expect(
      (async () => {
        for await (const _ of readLines(streamOf([long.subarray(0, 50), long.subarray(50)]), 100));
      })(),
    ).rejects.toThrow("subscription line exceeds 100 bytes");
    const exact = new TextEncoder().encode(`${"x".repeat(100)}\n`);
    const got: string[] = [];
    for await (const l of readLines(streamOf([exact]), 100)) got.push(l);
    expect(got[0]).toHaveLength(100);
  });
});

describe("subscriptions", () => {
  /** A subscribe endpoint run by a script of connections; query endpoints serve `stored`. */
  async function streamServer(
    connections: ((res: ServerResponse) => void)[],
    stored: ReturnType<typeof env>[] = [],
    extraHeaders: Record<string, string> = {},
  ) {
    let conn = 0;
    return serve((req, body, res) => {
      if (req.url === "/message/v1/subscribe") {
        res.writeHead(200, {
          "content-type": "application/json",
          "grpc-metadata-subscribed": "true",
          ...extraHeaders,
        });
        res.flushHeaders();
        const script = connections[conn++];
        if (script) script(res);
        return;
      }
      const answer = (q: { contentTopics: string[]; startTimeNs?: string }) => ({
        envelopes: stored
          .filter(
            (e) => q.contentTopics.includes(e.contentTopic) && e.timestampNs >= BigInt(q.startTimeNs ?? 0),
          )
          .map((e) => toJson(EnvelopeSchema, e)),
        pagingInfo: { limit: 0, cursor: null, direction: "SORT_DIRECTION_ASCENDING" },
      });
      if (req.url === "/message/v1/batch-query") {
        return json(res, 200, {
          responses: (JSON.parse(body) as { requests: never[] }).requests.map(answer),
        });
      }
      json(res, 200, answer(JSON.parse(body)));
    });
  }

  it("drops a connection on a malformed line, resubscribes, backfills, and delivers each envelope once", async () => {
    const T = "/xmtp/0/m-a/proto";
    const now = BigInt(Date.now()) * 1_000_000n;
    const e1 = env(T, now + 1n, "one");
    const e2 = env(T, now + 2n, "two");
    const e3 = env(T, now + 3n, "three");
    const lost: unknown[] = [];
    const { url } = await streamServer(
      [
        (res) => res.write(`${line(T, now + 1n, "one")}{not json\n${line(T, now + 9n, "never")}`),
        // Second connection: e2 arrived while we were away (only in the store); e1/e2 re-sent live.
        (res) => res.write(line(T, now + 1n, "one") + line(T, now + 2n, "two") + line(T, now + 3n, "three")),
      ],
      [e1, e2],
    );
    const api = new ApiClient({ apiUrl: url, ...fast });
    const sub = api.subscribe([T], { onConnectionLost: (e) => lost.push(e) });
    await sub.ready;
    const got: string[] = [];
    for await (const e of sub) {
      got.push(new TextDecoder().decode(e.message));
      if (got.length === 3) break;
    }
    expect(got).toEqual(["one", "two", "three"]);
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatchObject({ grpcCode: Code.DataLoss });
    void e3;
  });

  it("heartbeats: asked for; where granted, three silent intervals drop the connection and it recovers", async () => {
    // The watchdog runs on (fake) setTimeout; the connections are streams the test writes into, so
    // the outcome depends on what was sent between clock steps, never on the machine's speed.
    const T = "/xmtp/0/m-hb/proto";
    const now = BigInt(Date.now()) * 1_000_000n;
    const lost: unknown[] = [];
    const asked: (string | null)[] = [];
    const connections: ReadableStreamDefaultController<Uint8Array>[] = [];
    const backfills: string[] = [];
    let arrived = () => {};
    const arrival = () => new Promise<void>((r) => (arrived = r));
    // Every microtask (stream reads, fetch resolution, the watchdog re-arming) runs before this.
    const settle = () => new Promise<void>((r) => setImmediate(r));
    const send = (c: ReadableStreamDefaultController<Uint8Array> | undefined, text: string) =>
      c?.enqueue(new TextEncoder().encode(text));
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    vi.stubGlobal("fetch", async (url: string, init: RequestInit) => {
      if (url.endsWith("/message/v1/subscribe")) {
        asked.push(new Headers(init.headers).get("x-xmtp-heartbeat-ms"));
        const body = new ReadableStream<Uint8Array>({
          start(c) {
            connections.push(c);
            init.signal?.addEventListener("abort", () => c.error(init.signal?.reason), { once: true });
          },
        });
        arrived();
        return new Response(body, { headers: { "x-xmtp-heartbeat-ms": "100" } });
      }
      backfills.push(url);
      const { requests } = JSON.parse(String(init.body)) as { requests: unknown[] };
      return Response.json({ responses: requests.map(() => ({ envelopes: [] })) });
    });
    try {
      let next = arrival();
      const api = new ApiClient({ apiUrl: "http://node.invalid", ...fast, streamHeartbeatMs: 100 });
      const sub = api.subscribe([T], { onConnectionLost: (e) => lost.push(e) });
      const first = sub[Symbol.asyncIterator]().next();
      // First connection: granted, then silent (a peer that vanished without closing).
      await next;
      await settle();
      next = arrival();
      await vi.advanceTimersByTimeAsync(299);
      expect(lost).toEqual([]);
      await vi.advanceTimersByTimeAsync(1);
      await next; // dropped and reconnected
      expect(lost).toHaveLength(1);
      expect(lost[0]).toMatchObject({ grpcCode: Code.Unavailable });
      // Second connection: alive, heartbeats only for six intervals (twice the watchdog), then an envelope.
      await settle();
      for (let i = 0; i < 6; i++) {
        send(connections[1], '{"heartbeat":{}}\n');
        await settle();
        await vi.advanceTimersByTimeAsync(100);
      }
      send(connections[1], line(T, now + 1n, "after"));
      const got = await first;
      expect(texts([got.value as { message: Uint8Array }])).toEqual(["after"]);
      expect(asked).toEqual(["100", "100"]);
      expect(backfills).toHaveLength(1); // the reconnect backfilled
      expect(lost).toHaveLength(1); // the connection that beat was kept
      sub.close();
    } finally {
      vi.useRealTimers();
      vi.unstubAllGlobals();
    }
  });

  it("without a granted heartbeat (the reference node) a quiet connection is kept", async () => {
    const T = "/xmtp/0/m-quiet/proto";
    const now = BigInt(Date.now()) * 1_000_000n;
    const lost: unknown[] = [];
    const { url } = await streamServer([
      (res) => setTimeout(() => res.write(line(T, now + 1n, "late")), 500),
    ]);
    const api = new ApiClient({ apiUrl: url, ...fast, streamHeartbeatMs: 100 });
    const sub = api.subscribe([T], { onConnectionLost: (e) => lost.push(e) });
    const first = await sub[Symbol.asyncIterator]().next();
    expect(texts([first.value as { message: Uint8Array }])).toEqual(["late"]);
    expect(lost).toEqual([]);
    sub.close();
  });

  it("an over-long line drops the connection (bounded buffering) and the stream carries on", async () => {
    const T = "/xmtp/0/m-b/proto";
    const now = BigInt(Date.now()) * 1_000_000n;
    const lost: unknown[] = [];
    const { url } = await streamServer([
      (res) => res.write(`{"result":{"contentTopic":"${"x".repeat(500)}`),
      (res) => res.write(line(T, now, "after")),
    ]);
    const api = new ApiClient({ apiUrl: url, maxMessageBytes: 100, ...fast });
    const sub = api.subscribe([T], { onConnectionLost: (e) => lost.push(e) });
    const first = await sub.next();
    expect(texts([first.value as never])).toEqual(["after"]);
    expect(lost[0]).toMatchObject({
      grpcCode: Code.ResourceExhausted,
      message: "subscription line exceeds 200 bytes",
    });
    await sub.return?.();
  });

  it("server EOF resubscribes; a stream error line resubscribes too", async () => {
    const T = "/xmtp/0/m-c/proto";
    const now = BigInt(Date.now()) * 1_000_000n;
    const lost: unknown[] = [];
    const { url, seen } = await streamServer([
      (res) => res.end(line(T, now + 1n, "a")),
      (res) =>
        res.end(
          '{"error":{"code":10,"message":"subscription buffer overflow, resubscribe and backfill","details":[]}}\n',
        ),
      (res) => res.write(line(T, now + 2n, "b")),
    ]);
    const api = new ApiClient({ apiUrl: url, ...fast });
    const sub = api.subscribe([T], { onConnectionLost: (e) => lost.push(e) });
    const got: string[] = [];
    for await (const e of sub) {
      got.push(new TextDecoder().decode(e.message));
      if (got.length === 2) break;
    }
    expect(got).toEqual(["a", "b"]);
    expect(lost).toHaveLength(2);
    expect(String((lost[1] as Error).message)).toMatch(/buffer overflow/);
    expect(seen.filter((s) => s.path === "/message/v1/subscribe")).toHaveLength(3);
    expect(JSON.parse(seen[0]?.body ?? "")).toEqual({ contentTopics: [T] });
  });

  it("an AbortSignal ends a waiting stream without an error; return() and close() end it too", async () => {
    const { url } = await streamServer([() => undefined, () => undefined, () => undefined]);
    const api = new ApiClient({ apiUrl: url, ...fast });
    const ac = new AbortController();
    const sub = api.subscribe(["/xmtp/0/m-d/proto"], { signal: ac.signal });
    await sub.ready;
    const pending = sub.next();
    ac.abort();
    expect(await pending).toEqual({ done: true, value: undefined });

    const sub2 = api.subscribe(["/xmtp/0/m-d/proto"]);
    await sub2.ready;
    const p2 = sub2.next();
    await sub2.return?.();
    expect((await p2).done).toBe(true);

    const sub3 = api.subscribe(["/xmtp/0/m-d/proto"]);
    await sub3.ready;
    const p3 = sub3.next();
    api.close();
    expect((await p3).done).toBe(true);
  });

  it("a rejected subscribe request (4xx) fails the stream and its ready promise", async () => {
    const { url } = await serve((_q, _b, res) =>
      json(res, 400, { code: 3, message: "topic length too big", details: [] }),
    );
    const api = new ApiClient({ apiUrl: url, ...fast });
    const sub = api.subscribe(["x"]);
    await expect(sub.ready).rejects.toMatchObject({ grpcCode: Code.InvalidArgument });
    await expect(sub.next()).rejects.toMatchObject({ message: "topic length too big" });
  });
});
