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
        // An unparseable or wrongly flagged message is the caller's error (3), never internal.
        expect(status).toMatch(/^(0|3|8|12) /);
        if (method === "Publish" && status?.startsWith("0 ")) stored = await h.store.count();
      }),
      { numRuns: 300 },
    );
    // Only accepted publishes (random bytes that happen to be a valid request) stored anything.
    if (stored === 0) expect(await h.store.count()).toBe(before);
    expect((await fetch(`${h.url}/healthz`)).status).toBe(200);
  });

  test("Connect: any unary body gets a 2xx or 4xx answer", async () => {
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
          expect(r.status < 300 || (r.status >= 400 && r.status < 500), `${r.status} ${text}`).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  /** Request messages that are not protobuf, each one way a decoder can be driven off the rails. */
  const MALFORMED: Record<string, Uint8Array> = {
    "truncated varint": Uint8Array.from([0x50, 0xff]),
    "a wire type that does not exist": Uint8Array.from([0x0f, 0x00]),
    "an end-group tag with no group": Uint8Array.from([0x0c]),
    "length past the end": Uint8Array.from([0x0a, 0x10, 0x01]),
    "deeply nested groups": new Uint8Array(10_000).fill(0x7b),
  };
  const METHODS = ["Publish", "Query", "BatchQuery", "Subscribe", "SubscribeAll", "Subscribe2"];
  const UNARY = ["Publish", "Query", "BatchQuery"];

  test("gRPC: a malformed request message is InvalidArgument on every method", async () => {
    for (const method of METHODS) {
      for (const [name, bytes] of Object.entries(MALFORMED)) {
        expect(await grpc(method, grpcFrame(bytes)), `${method}, ${name}`).toMatch(
          /^3 malformed request message: /,
        );
      }
    }
  });

  test("gRPC-Web and Connect: a malformed request message is invalid_argument on every method", async () => {
    const call = async (method: string, type: string, body: Uint8Array) => {
      const r = await fetch(`${h.url}/xmtp.message_api.v1.MessageApi/${method}`, {
        method: "POST",
        headers: { "content-type": type, "connect-protocol-version": "1" },
        body,
        signal: AbortSignal.timeout(30_000),
      });
      return { status: r.status, text: Buffer.from(await r.arrayBuffer()).toString("latin1") };
    };
    for (const [name, bytes] of Object.entries(MALFORMED)) {
      for (const method of METHODS.filter((m) => m !== "Subscribe2")) {
        // gRPC-Web: the status travels in the trailer frame at the end of the body.
        const web = await call(method, "application/grpc-web+proto", grpcFrame(bytes));
        expect(web.text, `${method}, ${name}`).toMatch(/grpc-status: ?3\r\n/);
        expect(web.text, `${method}, ${name}`).toMatch(/grpc-message: ?malformed%20request%20message/);
      }
      for (const method of UNARY) {
        const unary = await call(method, "application/proto", bytes);
        expect(unary.status, `${method}, ${name}`).toBe(400);
        expect(JSON.parse(unary.text)).toMatchObject({
          code: "invalid_argument",
          message: expect.stringMatching(/^malformed request message: /),
        });
      }
      for (const method of ["Subscribe", "SubscribeAll"]) {
        // Connect streaming: the end-of-stream message carries the error.
        const stream = await call(method, "application/connect+proto", grpcFrame(bytes));
        expect(stream.text, `${method}, ${name}`).toMatch(
          /"code":"invalid_argument","message":"malformed request message: /,
        );
      }
    }
    expect((await fetch(`${h.url}/healthz`)).status).toBe(200);
  });
});
