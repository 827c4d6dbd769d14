/**
 * Property tests of every decoder of untrusted input at the request edge: the gateway's JSON
 * bodies, and gRPC and Connect framing as the listeners see them. Whatever arrives, the answer is
 * a clean refusal (InvalidArgument, or the size code) or a success, the node keeps serving, and a
 * refused publish stores nothing.
 */
import * as http2 from "node:http2";
import {
  BatchQueryRequestSchema,
  PublishRequestSchema,
  QueryRequestSchema,
  SubscribeRequestSchema,
} from "@xmtp-ts/proto";
import { Code, XmtpError } from "@xmtp-ts/protocol";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { decodeJsonRequest, decodePublishRequest } from "./json.js";
import { grpcFrame, type Harness, rawGrpcCall, startHarness } from "./test-harness.js";

/** Runs `decode` and returns "ok" or the refusal's code; anything else thrown fails the property. */
function outcome(decode: () => unknown): "ok" | Code {
  try {
    decode();
    return "ok";
  } catch (err) {
    if (!(err instanceof XmtpError)) throw err;
    return err.code;
  }
}

/** JSON-ish text: real JSON values, their mutations and plain noise. */
const jsonText = fc.oneof(
  fc.json({ depthSize: "small" }),
  fc
    .record({
      envelopes: fc.array(
        fc.record(
          {
            contentTopic: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
            timestampNs: fc.oneof(fc.bigInt().map(String), fc.double(), fc.string(), fc.constant(null)),
            message: fc.oneof(fc.base64String(), fc.string(), fc.constant(null), fc.array(fc.integer())),
          },
          { requiredKeys: [] },
        ),
        { maxLength: 4 },
      ),
      contentTopics: fc.array(fc.oneof(fc.string(), fc.integer(), fc.constant(null)), { maxLength: 4 }),
      pagingInfo: fc.record(
        {
          limit: fc.oneof(fc.integer(), fc.double(), fc.string()),
          direction: fc.oneof(fc.integer(), fc.string()),
        },
        { requiredKeys: [] },
      ),
      requests: fc.array(fc.record({ contentTopics: fc.array(fc.string(), { maxLength: 2 }) }), {
        maxLength: 3,
      }),
    })
    .map((v) => JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? String(x) : x))),
  fc.string(),
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString("latin1")),
);

describe("JSON request decoders", () => {
  test("every body decodes or is refused as InvalidArgument", () => {
    fc.assert(
      fc.property(jsonText, (text) => {
        for (const decode of [
          () => decodePublishRequest(text),
          () => decodeJsonRequest(QueryRequestSchema, text),
          () => decodeJsonRequest(BatchQueryRequestSchema, text),
          () => decodeJsonRequest(SubscribeRequestSchema, text),
          () => decodeJsonRequest(PublishRequestSchema, text),
        ]) {
          const r = outcome(decode);
          expect(r === "ok" || r === Code.InvalidArgument).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  test("what a client encodes is what the node decodes", () => {
    const envelope = fc.record({
      contentTopic: fc.string({ unit: "grapheme", maxLength: 40 }),
      timestampNs: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      message: fc.uint8Array({ maxLength: 200 }),
    });
    fc.assert(
      fc.property(fc.array(envelope, { maxLength: 5 }), fc.boolean(), (envelopes, numbers) => {
        const body = JSON.stringify({
          envelopes: envelopes.map((e) => ({
            contentTopic: e.contentTopic,
            // Clients send uint64 as a string; some send small ones as numbers.
            timestampNs: numbers && e.timestampNs < 2n ** 53n ? Number(e.timestampNs) : String(e.timestampNs),
            message: Buffer.from(e.message).toString("base64"),
          })),
        });
        const got = decodePublishRequest(body).envelopes;
        expect(
          got.map((e) => [e.contentTopic, e.timestampNs, Buffer.from(e.message).toString("hex")]),
        ).toEqual(
          envelopes.map((e) => [e.contentTopic, e.timestampNs, Buffer.from(e.message).toString("hex")]),
        );
      }),
      { numRuns: 300 },
    );
  });
});

describe("gRPC and Connect framing on the listeners", () => {
  let h: Harness;
  let session: http2.ClientHttp2Session;
  beforeAll(async () => {
    h = await startHarness({ maxBodyBytes: 64 * 1024 });
    session = http2.connect(h.grpcUrl);
  });
  afterAll(async () => {
    session.close();
    await h.close();
  });

  /** One gRPC call with a raw body; resolves with grpc-status (undefined if the stream was reset). */
  const grpc = (method: string, body: Uint8Array) =>
    new Promise<string | undefined>((resolve) => {
      const req = rawGrpcCall(session, method);
      const said = (h: http2.IncomingHttpHeaders) =>
        resolve(`${h["grpc-status"]} ${decodeURIComponent(String(h["grpc-message"] ?? ""))}`);
      req.once("response", (hd) => {
        if (hd["grpc-status"] !== undefined) said(hd);
      });
      req.once("trailers", said);
      req.once("close", () => resolve(undefined));
      req.resume();
      req.end(body);
    });

  /** A body that is mostly framed (flags, length, payload), sometimes lying about its length. */
  const framed = fc.oneof(
    fc.uint8Array({ maxLength: 40 }),
    fc
      .record({
        flags: fc.constantFrom(0, 0, 0, 1, 0x80),
        payload: fc.uint8Array({ maxLength: 60 }),
        lie: fc.option(fc.integer({ min: 0, max: 0xffffffff }), { freq: 3 }),
        trailing: fc.uint8Array({ maxLength: 8 }),
      })
      .map(({ flags, payload, lie, trailing }) => {
        const out = grpcFrame(payload, lie ?? payload.length);
        out[0] = flags;
        return Buffer.concat([out, trailing]);
      }),
  );

  test("gRPC: any body gets a status and stores nothing it refused", async () => {
    const before = await h.store.count();
    let stored = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("Publish", "Query", "BatchQuery"), framed, async (method, body) => {
        const status = await grpc(method, body);
        expect(status).toBeDefined();
        // 13 only for what connect classifies as internal: an unparseable or wrongly flagged message.
        expect(status).toMatch(/^(0|3|8|12) |^13 (parse binary: |received compressed envelope)/);
        if (method === "Publish" && status?.startsWith("0 ")) stored = await h.store.count();
      }),
      { numRuns: 300 },
    );
    // Only accepted publishes (random bytes that happen to be a valid request) stored anything.
    if (stored === 0) expect(await h.store.count()).toBe(before);
    expect((await fetch(`${h.url}/healthz`)).status).toBe(200);
  });

  test("Connect: any unary body gets a 2xx or 4xx answer (or connect's parse error)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("Publish", "Query", "BatchQuery"),
        fc.constantFrom("application/proto", "application/json"),
        fc.oneof(
          fc.uint8Array({ maxLength: 80 }),
          jsonText.map((t) => Buffer.from(t)),
        ),
        async (method, type, body) => {
          const r = await fetch(`${h.url}/xmtp.message_api.v1.MessageApi/${method}`, {
            method: "POST",
            headers: { "content-type": type },
            body,
          });
          const text = await r.text();
          // connect classifies a request message it cannot parse as `internal` (500); it is still
          // the caller's bytes, said clearly, and nothing else may be a 5xx.
          const parseError = r.status === 500 && /"parse (binary|json): /.test(text);
          expect(
            r.status < 300 || (r.status >= 400 && r.status < 500) || parseError,
            `${r.status} ${text}`,
          ).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });
});
