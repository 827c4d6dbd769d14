/**
 * A spawned `xmtp node` under what an attacker on the network would try, with no credentials:
 * malformed and truncated gRPC frames, hostile JSON, oversized topic lists, bodies that never
 * finish and thousands of streams that never read. Throughout, /healthz must answer 200, the
 * process must stay alive with bounded memory, and nothing from a refused request may be stored.
 * Run `npx tsc -b packages/cli` first.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import * as http from "node:http";
import * as http2 from "node:http2";
import { connect as tcpConnect } from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { MessageApi, SubscribeRequestSchema } from "@xmtp-ts/proto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type NodeProcess, spawnNode } from "./node-process.js";

/** Refused requests use topics under this prefix; none may ever be stored. */
const BAD = "/xmtp/0/m-abuse-refused";
const GOOD = "/xmtp/0/m-abuse-ok/proto";

/** Kilobytes from /proc/<pid>/status (VmRSS now, VmHWM the peak). */
function memKb(pid: number, field: "VmRSS" | "VmHWM"): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? Number.NaN);
}

describe("abuse of a running node", () => {
  let node: NodeProcess;
  let pid: number;
  let inputs = 0;
  let healthFailures = 0;
  let healthChecks = 0;
  let slowestHealthMs = 0;
  let watcher: ChildProcess;

  beforeAll(async () => {
    node = await spawnNode({ args: ["--no-auth"] });
    pid = node.proc.pid as number;
    // /healthz, polled for the whole suite from another process (curl), so that the load this
    // test process puts on itself cannot be mistaken for the node's; each answer must be 200.
    watcher = spawn(
      "sh",
      [
        "-c",
        `while :; do curl -s -o /dev/null -m 60 -w '%{http_code} %{time_total}\\n' ${node.url}/healthz; sleep 0.1; done`,
      ],
      { stdio: ["ignore", "pipe", "ignore"] },
    );
    watcher.stdout?.setEncoding("utf8").on("data", (text: string) => {
      for (const line of text.split("\n").filter(Boolean)) {
        const [code, seconds] = line.split(" ");
        healthChecks++;
        if (code !== "200") healthFailures++;
        slowestHealthMs = Math.max(slowestHealthMs, Number(seconds) * 1000);
      }
    });
  });

  afterAll(async () => {
    watcher.kill();
    const peakMb = Math.round(memKb(pid, "VmHWM") / 1024);
    console.log(
      `abuse: ${inputs} hostile inputs, ${healthChecks} health checks (${healthFailures} failed, slowest ${Math.round(slowestHealthMs)} ms), peak RSS ${peakMb} MB, node alive: ${node.proc.exitCode === null}`,
    );
    expect(node.proc.exitCode).toBeNull();
    expect(healthFailures).toBe(0);
    expect(await node.stop()).toBe(0);
  });

  const grpcCall = (session: http2.ClientHttp2Session, method: string, body: Buffer, end = true) => {
    inputs++;
    const req = session.request({
      ":method": "POST",
      ":path": `/xmtp.message_api.v1.MessageApi/${method}`,
      "content-type": "application/grpc",
      te: "trailers",
    });
    req.on("error", () => undefined);
    if (end) req.end(body);
    else req.write(body);
    req.resume();
    return new Promise<string | undefined>((resolve) => {
      req.once("response", (h) => {
        if (h["grpc-status"] !== undefined) resolve(String(h["grpc-status"]));
      });
      req.once("trailers", (t) => resolve(String(t["grpc-status"])));
      req.once("close", () => resolve(undefined));
    });
  };

  const frame = (payload: Buffer, declared = payload.length) => {
    const out = Buffer.alloc(5 + payload.length);
    out.writeUInt32BE(declared, 1);
    payload.copy(out, 5);
    return out;
  };

  test("gRPC: truncated prefixes, short messages, lying lengths, garbage protobuf", async () => {
    const session = http2.connect(node.grpcUrl);
    session.on("error", () => undefined);
    for (const method of ["Publish", "Query", "BatchQuery", "Subscribe", "SubscribeAll"]) {
      for (let n = 1; n <= 4; n++) expect(await grpcCall(session, method, Buffer.alloc(n, 0xff))).toBe("3");
      // A message shorter than its prefix says, then the end of the request.
      expect(await grpcCall(session, method, frame(Buffer.alloc(10), 100))).toBe("3");
      // Bytes that are not a protobuf message; a compressed flag without an encoding.
      expect(await grpcCall(session, method, frame(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f])))).toBe("3");
      const flagged = frame(Buffer.from([1, 2, 3]));
      flagged[0] = 1;
      expect(await grpcCall(session, method, flagged)).toBe("3");
      // A prefix claiming more than the cap.
      expect(await grpcCall(session, method, frame(Buffer.alloc(0), 0xffffffff))).toBe("8");
    }
    session.close();
  });

  test("gRPC: 200 calls each announcing a 50 MB message that never comes", async () => {
    const session = http2.connect(node.grpcUrl, { settings: { initialWindowSize: 1 << 20 } });
    session.on("error", () => undefined);
    const pending = Array.from({ length: 200 }, () =>
      grpcCall(session, "Publish", frame(Buffer.alloc(0), 50 * 1024 * 1024), false),
    );
    // The node keeps answering while they hang.
    const client = createClient(MessageApi, createGrpcTransport({ baseUrl: node.grpcUrl, httpVersion: "2" }));
    expect((await client.query({ contentTopics: [GOOD] })).envelopes).toEqual([]);
    console.log(
      `abuse: RSS ${Math.round(memKb(pid, "VmRSS") / 1024)} MB with 200 announced 50 MB messages pending`,
    );
    expect(memKb(pid, "VmRSS")).toBeLessThan(1024 * 1024);
    session.destroy();
    await Promise.all(pending);
  });

  const post = (path: string, body: string | Buffer, headers: Record<string, string> = {}) => {
    inputs++;
    return fetch(`${node.url}${path}`, { method: "POST", body, headers });
  };

  /**
   * Posts `body` as fetch would (text/plain) and gives the answer's status. A body over the 1 MiB
   * request cap may instead meet a node that answers 413 and closes before the body is written
   * (EPIPE / ECONNRESET on this side): that is a refusal too, given as "closed".
   */
  const refusal = (path: string, body: string) =>
    new Promise<number | "closed">((resolve, reject) => {
      inputs++;
      const length = Buffer.byteLength(body);
      const req = http.request(
        `${node.url}${path}`,
        {
          method: "POST",
          headers: { "content-type": "text/plain;charset=UTF-8", "content-length": length },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", (e: NodeJS.ErrnoException) => {
        const early = e.code === "EPIPE" || e.code === "ECONNRESET";
        if (early && length > 1024 * 1024) resolve("closed");
        else reject(e);
      });
      req.end(body);
    });

  test("HTTP: hostile JSON is refused with a 4xx and stores nothing", async () => {
    const deep = `{"contentTopics":${"[".repeat(100_000)}${"]".repeat(100_000)}}`;
    const bodies: Array<[string, string]> = [
      ["/message/v1/query", deep],
      ["/message/v1/subscribe", deep],
      ["/message/v1/batch-query", `{"requests":${"[".repeat(50_000)}${"]".repeat(50_000)}}`],
      ["/message/v1/publish", `{"envelopes":${"[".repeat(100_000)}${"]".repeat(100_000)}}`],
      [
        "/message/v1/publish",
        `{"envelopes":[{"contentTopic":"${BAD}/1","timestampNs":1e400,"message":"AA=="}]}`,
      ],
      [
        "/message/v1/publish",
        `{"envelopes":[{"contentTopic":"${BAD}/2","timestampNs":"${"9".repeat(400)}"}]}`,
      ],
      ["/message/v1/publish", `{"envelopes":[{"contentTopic":"${BAD}/3","timestampNs":-1}]}`],
      ["/message/v1/publish", `{"envelopes":[{"contentTopic":"${BAD}/4","message":"!!!not base64"}]}`],
      ["/message/v1/publish", `{"envelopes":[{"contentTopic":"${BAD}/5","message":"QQ=Q"}]}`],
      ["/message/v1/publish", `{"envelopes":[{"contentTopic":"${BAD}/6\\ud800","message":"AA=="}]}`],
      [
        "/message/v1/publish",
        `{"envelopes":[{"contentTopic":"${BAD}/7${"x".repeat(400)}","message":"AA=="}]}`,
      ],
      ["/message/v1/publish", `{"envelopes":[{"contentTopic":{"a":1}}]}`],
      ["/message/v1/publish", `{"envelopes":[null]}`],
      ["/message/v1/publish", `{"envelopes":[{"contentTopic":"${BAD}/8","message":"AA=="},7]}`],
      ["/message/v1/query", `{"contentTopics":["${GOOD}"],"pagingInfo":{"limit":1e309}}`],
      ["/message/v1/query", `{"contentTopics":["${GOOD}"],"pagingInfo":{"limit":"99999999999999999999"}}`],
      [
        "/message/v1/query",
        `{"contentTopics":["${GOOD}"],"pagingInfo":{"cursor":{"index":{"digest":"%%%"}}}}`,
      ],
      ["/message/v1/query", `{"contentTopics":["${GOOD}"],"startTimeNs":"-1"}`],
      ["/message/v1/query", `{"contentTopics":["${GOOD}"],"pagingInfo":{"direction":"SIDEWAYS"}}`],
      ["/message/v1/query", "\u0000\u0001\u0002"],
      ["/message/v1/query", '{"contentTopics":"not a list"}'],
      ["/message/v1/query", '{"__proto__":{"polluted":true},"contentTopics":[]}'],
      ["/message/v1/batch-query", `{"requests":[{"contentTopics":["${GOOD}"]},{"contentTopics":[]}]}`],
      [
        "/message/v1/batch-query",
        `{"requests":${JSON.stringify(Array(51).fill({ contentTopics: [GOOD] }))}}`,
      ],
      ["/message/v1/subscribe", `{"contentTopics":["\\udc00"]}`],
      [
        "/message/v1/subscribe",
        JSON.stringify({ contentTopics: Array.from({ length: 10_001 }, (_, i) => `t${i}`) }),
      ],
      ["/message/v1/subscribe", JSON.stringify({ contentTopics: ["x".repeat(2 * 1024 * 1024)] })],
      ["/message/v1/subscribe-all", "[]"],
    ];
    for (const [path, body] of bodies) {
      const status = await refusal(path, body);
      if (status === "closed") continue;
      expect(status, `${path} ${body.slice(0, 80)}`).toBeGreaterThanOrEqual(400);
      expect(status, `${path} ${body.slice(0, 80)}`).toBeLessThan(500);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test("HTTP: 100 bodies that never finish, then the node still answers", async () => {
    const u = new URL(node.url);
    const sockets = await Promise.all(
      Array.from({ length: 100 }, (_, i) => {
        inputs++;
        return new Promise<import("node:net").Socket>((resolve) => {
          const s = tcpConnect(Number(u.port), u.hostname, () => {
            s.write(
              i % 2 === 0
                ? 'POST /message/v1/publish HTTP/1.1\r\nHost: x\r\nContent-Length: 52428800\r\n\r\n{"envelopes":['
                : 'POST /message/v1/publish HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{"envelopes":[  \r\n',
            );
            resolve(s);
          });
          s.on("error", () => undefined);
        });
      }),
    );
    expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
    const r = await post("/message/v1/query", JSON.stringify({ contentTopics: [GOOD] }));
    expect(r.status).toBe(200);
    for (const s of sockets) s.destroy();
  });

  test("1,000 HTTP and 300 gRPC streams that never read, three 1 MB envelopes: /healthz answers during the fan-out, memory stays bounded and returns", {
    timeout: 180_000,
  }, async () => {
    const t0 = Date.now();
    const topic = "/xmtp/0/m-abuse-slow/proto";
    const agent = new http.Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
    /**
     * A stream that reads: `started` resolves with its first body bytes (the node began writing an
     * envelope to it), `lines(n)` once n NDJSON lines arrived.
     */
    const reader = async () => {
      let seen = 0;
      const waiting: { n: number; resolve: () => void }[] = [];
      let start = () => {};
      const started = new Promise<void>((resolve) => (start = resolve));
      const req = await new Promise<http.ClientRequest>((resolve, reject) => {
        const r = http.request(`${node.url}/message/v1/subscribe`, { method: "POST", agent }, (res) => {
          res.on("data", (chunk: Buffer) => {
            start();
            for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) seen++;
            for (const w of waiting.filter((x) => seen >= x.n)) w.resolve();
          });
          resolve(r);
        });
        r.on("error", reject);
        r.end(JSON.stringify({ contentTopics: [topic] }));
      });
      const lines = (n: number) =>
        new Promise<void>((resolve) => (seen >= n ? resolve() : waiting.push({ n, resolve })));
      return { req, started, lines };
    };
    // The node hands an envelope to subscribers in the order they subscribed: `head` gets it
    // first and `tail` last, with the 1,300 that never read in between.
    const head = await reader();
    const httpStreams = await Promise.all(
      Array.from({ length: 1000 }, () => {
        inputs++;
        return new Promise<http.ClientRequest>((resolve, reject) => {
          const req = http.request(`${node.url}/message/v1/subscribe`, { method: "POST", agent }, (res) => {
            res.pause();
            resolve(req);
          });
          req.on("error", reject);
          req.end(JSON.stringify({ contentTopics: [topic] }));
        });
      }),
    );
    const session = http2.connect(node.grpcUrl);
    session.on("error", () => undefined);
    const body = frame(
      Buffer.from(
        toBinary(SubscribeRequestSchema, create(SubscribeRequestSchema, { contentTopics: [topic] })),
      ),
    );
    const grpcStreams = await Promise.all(
      Array.from({ length: 300 }, async () => {
        inputs++;
        const req = session.request({
          ":method": "POST",
          ":path": "/xmtp.message_api.v1.MessageApi/Subscribe",
          "content-type": "application/grpc",
          te: "trailers",
        });
        req.on("error", () => undefined);
        req.end(body);
        req.pause();
        await new Promise((resolve) => req.once("response", resolve));
        return req;
      }),
    );
    const tail = await reader();
    const before = memKb(pid, "VmRSS");
    console.log(`abuse: streams open ${Date.now() - t0} ms`);
    const message = Buffer.alloc(1_000_000, 7).toString("base64");
    // One request, three envelopes: 3,900 deliveries of 1 MB. As soon as the first subscriber
    // receives bytes, /healthz is asked; it must answer before the last subscriber receives any,
    // i.e. while the node is still handing out the first envelope. (A fan-out that held the event
    // loop would write to every subscriber before it even read the /healthz request.)
    const order: string[] = [];
    const health = head.started.then(async () => {
      const r = await fetch(`${node.url}/healthz`);
      order.push(`healthz ${r.status}`);
    });
    const reached = tail.started.then(() => order.push("last subscriber reached"));
    const r = await post(
      "/message/v1/publish",
      JSON.stringify({
        envelopes: [1, 2, 3].map((i) => ({ contentTopic: topic, timestampNs: String(i), message })),
      }),
    );
    expect(r.status).toBe(200);
    await Promise.all([health, reached]);
    expect(order).toEqual(["healthz 200", "last subscriber reached"]);
    // The subscribers that read get all three.
    await Promise.all([head.lines(3), tail.lines(3)]);
    // The envelopes were stored once and the node still serves queries of them.
    const q = await post("/message/v1/query", JSON.stringify({ contentTopics: [topic] }));
    expect((await q.json()).envelopes).toHaveLength(3);
    const loaded = memKb(pid, "VmRSS");
    console.log(`abuse: published ${Date.now() - t0} ms`);
    console.log(
      `abuse: RSS ${Math.round(before / 1024)} MB with 1,300 idle streams, ${Math.round(loaded / 1024)} MB after fan-out`,
    );
    // 1,300 copies of 1.3 MB would be 1.7 GB; a budgeted node holds a few hundred MB.
    expect(loaded).toBeLessThan(1024 * 1024);
    for (const req of [head.req, tail.req, ...httpStreams]) req.destroy();
    for (const req of grpcStreams) req.close();
    session.destroy();
    agent.destroy();
    // Every subscription ends once its client is gone.
    const metric = async () => {
      const text = await (await fetch(`${node.url}/metrics`)).text();
      return Number(/^xmtp_subscriptions (\d+)$/m.exec(text)?.[1] ?? Number.NaN);
    };
    for (let i = 0; i < 400 && (await metric()) !== 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await metric()).toBe(0);
  });

  test("queries over 1 MB envelopes: pages stay bounded, five batches of 50 sub-queries at once are answered", async () => {
    const big = "/xmtp/0/userpreferences-abuse-big/proto";
    const base = BigInt(Date.now()) * 1_000_000n;
    for (let i = 0; i < 6; i++) {
      const message = Buffer.alloc(1_000_000, i).toString("base64");
      const r = await post(
        "/message/v1/publish",
        JSON.stringify({
          envelopes: [{ contentTopic: big, timestampNs: String(base + BigInt(i)), message }],
        }),
      );
      expect(r.status).toBe(200);
    }
    const before = memKb(pid, "VmRSS");
    // A user-preferences topic allows 500 per page: without a byte bound, 500 MB of envelopes.
    inputs++;
    const page = await post(
      "/message/v1/query",
      JSON.stringify({ contentTopics: [big], pagingInfo: { limit: 500 } }),
    );
    expect(page.status).toBe(200);
    const body = (await page.json()) as { envelopes: unknown[]; pagingInfo: { cursor: unknown } };
    expect(body.envelopes).toHaveLength(5);
    expect(body.pagingInfo.cursor).not.toBeNull();
    const batches = await Promise.all(
      Array.from({ length: 5 }, () => {
        inputs++;
        return post(
          "/message/v1/batch-query",
          JSON.stringify({
            requests: Array.from({ length: 50 }, () => ({
              contentTopics: [big],
              pagingInfo: { limit: 500 },
            })),
          }),
        );
      }),
    );
    for (const b of batches) {
      expect(b.status).toBe(200);
      const { responses } = (await b.json()) as { responses: { envelopes: unknown[] }[] };
      // 16 MiB shared by 50: one 1 MB envelope each.
      expect(responses.map((r) => r.envelopes.length)).toEqual(Array(50).fill(1));
    }
    // Five 50 MB answers at once: well under a gigabyte more than before (before the byte bound,
    // one such batch took the node past 10 GB).
    expect(memKb(pid, "VmHWM") - before).toBeLessThan(1024 * 1024);
  });

  test("nothing from a refused request was stored", async () => {
    const client = createClient(MessageApi, createGrpcTransport({ baseUrl: node.grpcUrl, httpVersion: "2" }));
    // (Topics 6 and 7 were not valid topics at all: no query can name them.)
    const topics = [1, 2, 3, 4, 5, 8].map((i) => `${BAD}/${i}`);
    expect((await client.query({ contentTopics: topics })).envelopes).toEqual([]);
  });
});
