import * as http2 from "node:http2";
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type Harness, rawGrpcCall, startHarness } from "./test-harness.js";

/** A raw TCP connection to the harness's HTTP port; resolves `closed` when the server hangs up. */
function rawHttp(h: Harness): Promise<{ socket: Socket; closed: Promise<string> }> {
  const u = new URL(h.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(u.port), u.hostname, () => {
      let got = "";
      socket.on("data", (d: Buffer) => {
        got += d.toString("latin1");
      });
      const closed = new Promise<string>((r) => socket.once("close", () => r(got)));
      resolve({ socket, closed });
    });
    socket.once("error", reject);
  });
}

describe("connections that stall are cut; working ones are not", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      timeouts: { headersMs: 1000, requestMs: 2000, idleMs: 2000, checkIntervalMs: 200 },
    });
  });
  afterAll(() => h.close());

  test("HTTP: headers that never end, a body short of its Content-Length, an idle keep-alive", async () => {
    const headers = await rawHttp(h);
    headers.socket.write("POST /message/v1/query HTTP/1.1\r\nHost: x\r\n");
    const body = await rawHttp(h);
    body.socket.write("POST /message/v1/publish HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{");
    const chunked = await rawHttp(h);
    chunked.socket.write(
      "POST /message/v1/query HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n",
    );
    const idle = await rawHttp(h);
    idle.socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    // Meanwhile the node answers.
    expect((await fetch(`${h.url}/healthz`)).status).toBe(200);
    expect(await headers.closed).toMatch(/^(HTTP\/1\.1 408|)/);
    expect(await body.closed).toMatch(/^HTTP\/1\.1 408/);
    expect(await chunked.closed).toMatch(/^HTTP\/1\.1 408/);
    expect(await idle.closed).toMatch(/^HTTP\/1\.1 200/);
    expect(await h.store.count()).toBe(0);
  });

  test("HTTP: a subscription outlives every timeout", async () => {
    const topic = "/xmtp/0/m-long-lived/proto";
    const ac = new AbortController();
    const res = await fetch(`${h.url}/message/v1/subscribe`, {
      method: "POST",
      body: JSON.stringify({ contentTopics: [topic] }),
      signal: ac.signal,
    });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    // A stalled connection opened now is cut at its deadline; the subscription is still live then.
    const stalled = await rawHttp(h);
    stalled.socket.write("POST /message/v1/publish HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n");
    await stalled.closed;
    const idle = await rawHttp(h);
    idle.socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    await idle.closed;
    await fetch(`${h.url}/message/v1/publish`, {
      method: "POST",
      body: JSON.stringify({ envelopes: [{ contentTopic: topic, timestampNs: "1", message: "AQ==" }] }),
    });
    const { value } = await reader.read();
    expect(new TextDecoder().decode(value)).toContain(topic);
    ac.abort();
  });

  test("gRPC: a unary call whose message never finishes is cancelled; an idle connection is closed", async () => {
    const session = http2.connect(h.grpcUrl);
    const req = rawGrpcCall(session, "Publish");
    req.write(Buffer.from([0, 0, 0, 0, 100, 1, 2]));
    req.resume();
    const code = await new Promise<number>((resolve) => req.once("close", () => resolve(req.rstCode)));
    expect(code).toBe(http2.constants.NGHTTP2_CANCEL);
    // With no call left the connection is closed by the server.
    await new Promise<void>((resolve) => session.once("close", () => resolve()));
    expect((await fetch(`${h.url}/healthz`)).status).toBe(200);
  });
});
