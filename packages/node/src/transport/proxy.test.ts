import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { MessageApi } from "@xmtp-ts/proto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type Harness, startHarness } from "./test-harness.js";

/** Rate limits behind a reverse proxy: the node is reached from 127.0.0.1, a trusted proxy. */
describe("rate limits behind a trusted proxy", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      // One token a minute: no refill between the calls of a test, however slow the machine.
      rateLimits: { def: { perMinute: 1, max: 2 }, janitorIntervalMs: 0 },
      trustedProxies: ["127.0.0.1"],
    });
  });
  afterAll(() => h.close());

  const query = (forwardedFor?: string) =>
    fetch(`${h.url}/message/v1/query`, {
      method: "POST",
      headers: forwardedFor === undefined ? {} : { "x-forwarded-for": forwardedFor },
      body: JSON.stringify({ contentTopics: ["/xmtp/0/m-proxy/proto"] }),
    });

  test("each forwarded client has its own bucket; a refusal carries Retry-After", async () => {
    expect((await query("203.0.113.1")).status).toBe(200);
    expect((await query("203.0.113.1")).status).toBe(200);
    const refused = await query("203.0.113.1");
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({ code: 8, message: "1 exceeds rate limit R203.0.113.1DEF" });
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    // Another client behind the same proxy is unaffected; a spoofed first hop does not help.
    expect((await query("203.0.113.2")).status).toBe(200);
    const spoofed = await query("198.51.100.9, 203.0.113.1");
    expect(spoofed.status).toBe(429);
  });

  test("gRPC calls are keyed the same way", async () => {
    const client = createClient(MessageApi, createGrpcTransport({ baseUrl: h.grpcUrl, httpVersion: "2" }));
    const call = () =>
      client.query(
        { contentTopics: ["/xmtp/0/m-proxy/proto"] },
        { headers: { "x-forwarded-for": "203.0.113.3" } },
      );
    await call();
    await call();
    await expect(call()).rejects.toThrow("1 exceeds rate limit R203.0.113.3DEF");
  });
});
