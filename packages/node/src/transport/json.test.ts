import { create, toJson } from "@bufbuild/protobuf";
import {
  BatchQueryResponseSchema,
  EnvelopeSchema,
  PublishRequestSchema,
  QueryRequestSchema,
  QueryResponseSchema,
  SortDirection,
} from "@xmtp-ts/proto";
import { Code, XmtpError } from "@xmtp-ts/protocol";
import fc from "fast-check";
import { describe, expect, test, vi } from "vitest";
import {
  batchQueryResponseBody,
  batchQueryResponseJson,
  decodeCanonicalPublish,
  decodeJsonRequest,
  decodePublishRequest,
  envelopeJson,
  queryResponseJson,
  quoteLongIntegers,
  statusJson,
  streamErrorLine,
  streamResultLine,
} from "./json.js";

const invalid = (f: () => unknown, text: RegExp) => {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(XmtpError);
  expect((err as XmtpError).code).toBe(Code.InvalidArgument);
  expect((err as XmtpError).message).toMatch(text);
};

describe("request decoding", () => {
  test("camelCase and snake_case names, unknown fields ignored, uint64 as string or number", () => {
    const a = decodeJsonRequest(
      QueryRequestSchema,
      '{"content_topics":["t"],"startTimeNs":"5","end_time_ns":7,"paging_info":{"limit":"3","direction":1},"zzz":{}}',
    );
    expect(a.contentTopics).toEqual(["t"]);
    expect(a.startTimeNs).toBe(5n);
    expect(a.endTimeNs).toBe(7n);
    expect(a.pagingInfo?.limit).toBe(3);
    expect(a.pagingInfo?.direction).toBe(SortDirection.ASCENDING);
  });

  test("uint64 numbers keep every digit", () => {
    const r = decodeJsonRequest(PublishRequestSchema, '{"envelopes":[{"timestampNs":18446744073709551615}]}');
    expect(r.envelopes[0]?.timestampNs).toBe(18446744073709551615n);
  });

  test("std and URL-safe base64, padded or not", () => {
    for (const m of ["+/8=", "-_8=", "+/8", "-_8"]) {
      const r = decodeJsonRequest(PublishRequestSchema, JSON.stringify({ envelopes: [{ message: m }] }));
      expect([...(r.envelopes[0]?.message ?? [])]).toEqual([251, 255]);
    }
  });

  test("empty body is the empty request", () => {
    expect(decodeJsonRequest(PublishRequestSchema, undefined).envelopes).toEqual([]);
    expect(decodeJsonRequest(PublishRequestSchema, "  ").envelopes).toEqual([]);
  });

  test("bad input is InvalidArgument", () => {
    invalid(() => decodeJsonRequest(QueryRequestSchema, "{"), /invalid JSON/);
    invalid(() => decodeJsonRequest(QueryRequestSchema, "[]"), /expected a JSON object/);
    invalid(() => decodeJsonRequest(QueryRequestSchema, "null"), /expected a JSON object/);
    invalid(() => decodeJsonRequest(PublishRequestSchema, '{"envelopes":[{"message":"a!b"}]}'), /base64/);
    invalid(
      () => decodeJsonRequest(PublishRequestSchema, '{"envelopes":[{"timestampNs":"-1"}]}'),
      /out of range|uint64/,
    );
    invalid(
      () => decodeJsonRequest(PublishRequestSchema, '{"envelopes":[{"timestampNs":"18446744073709551616"}]}'),
      /out of range/,
    );
    invalid(
      () => decodeJsonRequest(QueryRequestSchema, '{"pagingInfo":{"limit":4294967296}}'),
      /out of range/,
    );
    invalid(() => decodeJsonRequest(QueryRequestSchema, '{"pagingInfo":{"limit":1.5}}'), /limit/);
    invalid(
      () => decodeJsonRequest(QueryRequestSchema, '{"pagingInfo":{"direction":"SORT_DIRECTION_SIDEWAYS"}}'),
      /invalid value for enum field direction/,
    );
    invalid(
      () => decodeJsonRequest(PublishRequestSchema, '{"envelopes":[{"contentTopic":5}]}'),
      /content_topic/,
    );
    invalid(() => decodeJsonRequest(PublishRequestSchema, '{"envelopes":[null]}'), /null/);
  });
});

describe("decodePublishRequest (the hand-written hot path)", () => {
  const reference = (text: string) => decodeJsonRequest(PublishRequestSchema, text);
  const b64url = (b: Uint8Array) => Buffer.from(b).toString("base64url");
  const envelopeJson = fc.record(
    {
      name: fc.constantFrom("camel", "snake"),
      contentTopic: fc.option(fc.string(), { nil: null }),
      timestampNs: fc.option(
        fc.oneof(
          fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String),
          fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        ),
        { nil: null },
      ),
      message: fc.option(
        fc
          .tuple(fc.uint8Array({ maxLength: 40 }), fc.constantFrom("std", "url", "std-nopad"))
          .map(([b, kind]) =>
            kind === "url"
              ? b64url(b)
              : kind === "std"
                ? Buffer.from(b).toString("base64")
                : Buffer.from(b).toString("base64").replace(/=+$/, ""),
          ),
        { nil: null },
      ),
      extra: fc.boolean(),
    },
    { requiredKeys: ["name"] },
  );

  test("agrees with fromJson on valid requests", () => {
    fc.assert(
      fc.property(fc.array(envelopeJson, { maxLength: 5 }), (items) => {
        const envelopes = items.map((e) => {
          const o: Record<string, unknown> = {};
          if (e.contentTopic !== undefined)
            o[e.name === "camel" ? "contentTopic" : "content_topic"] = e.contentTopic;
          if (e.timestampNs !== undefined)
            o[e.name === "camel" ? "timestampNs" : "timestamp_ns"] = e.timestampNs;
          if (e.message !== undefined) o.message = e.message;
          if (e.extra === true) o.somethingElse = { x: 1 };
          return o;
        });
        const text = JSON.stringify({ envelopes });
        const ours = decodePublishRequest(text);
        const ref = reference(text);
        expect(ours.envelopes.length).toBe(ref.envelopes.length);
        ours.envelopes.forEach((e, i) => {
          const r = ref.envelopes[i];
          expect(e.contentTopic).toBe(r?.contentTopic);
          expect(e.timestampNs).toBe(r?.timestampNs);
          expect([...e.message]).toEqual([...(r?.message ?? [])]);
        });
      }),
    );
  });

  test("refuses what fromJson refuses, as InvalidArgument", () => {
    const bad = [
      '{"envelopes":{}}',
      '{"envelopes":[null]}',
      '{"envelopes":[1]}',
      '{"envelopes":[{"contentTopic":5}]}',
      '{"envelopes":[{"timestampNs":"-1"}]}',
      '{"envelopes":[{"timestampNs":"18446744073709551616"}]}',
      '{"envelopes":[{"timestampNs":1.5}]}',
      '{"envelopes":[{"timestampNs":"abc"}]}',
      '{"envelopes":[{"message":"a!b"}]}',
      '{"envelopes":[{"message":"abcde"}]}',
      '{"envelopes":[{"message":"ab=c"}]}',
      '{"envelopes":[{"message":5}]}',
      "[]",
      "{",
    ];
    for (const text of bad) {
      invalid(() => reference(text), /./);
      invalid(() => decodePublishRequest(text), /./);
    }
  });

  /** What a decoder gives for a body: the request, or the refusal's code and words. */
  const outcomeOf = (decode: () => unknown): unknown => {
    try {
      return { ok: decode() };
    } catch (err) {
      if (!(err instanceof XmtpError)) throw err;
      return { code: err.code, message: err.message };
    }
  };

  test("the body clients send is read by hand, to exactly what fromJson gives", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            contentTopic: fc.string({ unit: "grapheme-ascii", maxLength: 60 }),
            timestampNs: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
            message: fc.uint8Array({ maxLength: 300 }),
          }),
          { maxLength: 4 },
        ),
        (items) => {
          const text = JSON.stringify({
            envelopes: items.map((e) => ({
              contentTopic: e.contentTopic,
              timestampNs: String(e.timestampNs),
              message: Buffer.from(e.message).toString("base64"),
            })),
          });
          const fast = decodeCanonicalPublish(text);
          expect(fast).toBeDefined();
          expect(fast).toStrictEqual(reference(text));
          expect(decodeCanonicalPublish(Buffer.from(text))).toStrictEqual(fast);
        },
      ),
    );
  });

  test("any other body is left to fromJson (same result, same refusal)", () => {
    const others = [
      "",
      "  ",
      "{",
      "[]",
      "null",
      '{"envelopes":null}',
      '{"envelopes":[],"x":1}',
      '{"envelopes":[{"content_topic":"t"}]}',
      '{"envelopes":[{"timestamp_ns":"1"}]}',
      '{"envelopes":[{"timestampNs":1}]}',
      '{"envelopes":[{"timestampNs":12345678901234567890}]}',
      '{"envelopes":[{"timestampNs":"01"}]}',
      '{"envelopes":[{"timestampNs":"18446744073709551616"}]}',
      '{"envelopes":[{"timestampNs":"-1"}]}',
      '{"envelopes":[{"contentTopic":null}]}',
      '{"envelopes":[{"message":"AAEC_-8"}]}',
      '{"envelopes":[{"message":"AAE"}]}',
      '{"envelopes":[{"message":"A==="}]}',
      '{"envelopes":[{"message":"ab=c"}]}',
      '{"envelopes":[{"contentTopic":"/xmtp/0/m-\\ud800/proto"}]}',
      '{"envelopes":[{"contentTopic":"/xmtp/0/m-\\ud83d\\ude00/proto"}]}',
      '{"envelopes":[{"contentTopic":"t","extra":"x"}]}',
      '{"envelopes":[null]}',
      '{"envelopes":[[]]}',
      '{"envelopes":{}}',
    ];
    for (const text of others) {
      expect(decodeCanonicalPublish(text), text).toBeUndefined();
      expect(
        outcomeOf(() => decodePublishRequest(text)),
        text,
      ).toStrictEqual(outcomeOf(() => reference(text)));
    }
  });

  test("random bodies: the same result or the same refusal as fromJson", () => {
    const value = fc.oneof(
      fc.string({ unit: "binary", maxLength: 12 }),
      fc.stringMatching(/^[A-Za-z0-9+/=_-]{0,12}$/),
      fc.bigInt({ min: -1n, max: 2n ** 64n }).map(String),
      fc.integer(),
      fc.constant(null),
    );
    const key = fc.constantFrom("contentTopic", "timestampNs", "message", "content_topic", "x");
    fc.assert(
      fc.property(fc.array(fc.dictionary(key, value, { maxKeys: 4 }), { maxLength: 3 }), (items) => {
        const text = JSON.stringify({ envelopes: items });
        expect(outcomeOf(() => decodePublishRequest(text))).toStrictEqual(outcomeOf(() => reference(text)));
      }),
    );
  });

  test("long integer literals: the same result as fromJson, without losing precision", () => {
    for (const ts of ["18446744073709551615", "12345678901234567", "-1234567890123456789"]) {
      const text = `{"envelopes":[{"contentTopic":"/xmtp/0/m-a/proto","timestampNs":${ts},"message":"AAE="}]}`;
      expect(
        outcomeOf(() => decodePublishRequest(text)),
        ts,
      ).toStrictEqual(outcomeOf(() => reference(text)));
    }
    const exact = decodePublishRequest('{"envelopes":[{"timestampNs":12345678901234567}]}');
    expect(exact.envelopes[0]?.timestampNs).toBe(12345678901234567n);
  });

  test("a body outside the common form is parsed once, not once per reader", () => {
    const parse = vi.spyOn(JSON, "parse");
    try {
      decodePublishRequest('{"envelopes":[{"content_topic":"t","timestamp_ns":"1","message":"AA=="}]}');
      expect(parse).toHaveBeenCalledTimes(1);
    } finally {
      parse.mockRestore();
    }
  });

  test("empty and envelope-less requests", () => {
    expect(decodePublishRequest(undefined).envelopes).toEqual([]);
    expect(decodePublishRequest('{"envelopes":null,"x":1}').envelopes).toEqual([]);
    const e = decodePublishRequest('{"envelopes":[{}]}').envelopes[0];
    expect([e?.contentTopic, e?.timestampNs, e?.message.length]).toEqual(["", 0n, 0]);
  });
});

describe("quoteLongIntegers", () => {
  test("quotes only long integer literals outside strings", () => {
    expect(
      quoteLongIntegers('{"a":12345678901234567,"b":"12345678901234567","c":[1,2e30,-98765432109876543]}'),
    ).toBe('{"a":"12345678901234567","b":"12345678901234567","c":[1,2e30,"-98765432109876543"]}');
    expect(quoteLongIntegers('{"s":"x\\"1234567890123456789\\"","n":1}')).toBe(
      '{"s":"x\\"1234567890123456789\\"","n":1}',
    );
  });

  test("parses to the same value as JSON.parse apart from long integers", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const text = JSON.stringify(v);
        // Integers printed with 16+ digits (1e15 ≤ |n| < 1e21) come back as their digit strings.
        const strip = (x: unknown) =>
          JSON.stringify(x, (_k, val) =>
            typeof val === "number" && Number.isInteger(val) && Math.abs(val) >= 1e15 && Math.abs(val) < 1e21
              ? String(val)
              : val,
          );
        expect(strip(JSON.parse(quoteLongIntegers(text)))).toBe(strip(JSON.parse(text)));
      }),
    );
  });
});

describe("response encoding", () => {
  const envelope = fc.record({
    contentTopic: fc.string(),
    timestampNs: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    message: fc.uint8Array({ maxLength: 64 }),
  });
  const pagingInfo = fc.option(
    fc.record({
      limit: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      direction: fc.constantFrom(0, 1, 2),
      cursor: fc.option(
        fc.record({
          digest: fc.uint8Array({ maxLength: 32 }),
          senderTimeNs: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        }),
        { nil: undefined },
      ),
    }),
    { nil: undefined },
  );

  // The oracle is protobuf-es protojson, with unset message fields printed as null (Go EmitUnpopulated).
  test("matches protobuf-es protojson field for field, with unset messages as null", () => {
    fc.assert(
      fc.property(fc.array(envelope, { maxLength: 4 }), pagingInfo, (envelopes, p) => {
        const res = create(QueryResponseSchema, {
          envelopes,
          ...(p === undefined
            ? {}
            : {
                pagingInfo: {
                  limit: p.limit,
                  direction: p.direction,
                  ...(p.cursor === undefined
                    ? {}
                    : { cursor: { cursor: { case: "index", value: p.cursor } } }),
                },
              }),
        });
        const ours = queryResponseJson(res);
        const ref = toJson(QueryResponseSchema, res, { alwaysEmitImplicit: true }) as Record<string, unknown>;
        const expected = {
          envelopes: ref.envelopes,
          pagingInfo:
            ref.pagingInfo === undefined
              ? null
              : {
                  limit: (ref.pagingInfo as Record<string, unknown>).limit,
                  cursor: (ref.pagingInfo as Record<string, unknown>).cursor ?? null,
                  direction: (ref.pagingInfo as Record<string, unknown>).direction,
                },
        };
        expect(ours).toBe(JSON.stringify(expected));
      }),
    );
  });

  test("protocol.md §2.6 shapes, byte for byte", async () => {
    const env = create(EnvelopeSchema, {
      contentTopic: "/xmtp/0/m-x/proto",
      timestampNs: 1700000000000000000n,
      message: new Uint8Array([0xde, 0xad, 0xbe, 0xef]),
    });
    expect(envelopeJson(env)).toBe(
      '{"contentTopic":"/xmtp/0/m-x/proto","timestampNs":"1700000000000000000","message":"3q2+7w=="}',
    );
    const full = create(QueryResponseSchema, {
      envelopes: [env],
      pagingInfo: {
        limit: 5,
        direction: SortDirection.DESCENDING,
        cursor: {
          cursor: {
            case: "index",
            value: { digest: new Uint8Array([0xde, 0xad, 0xbe, 0xef]), senderTimeNs: 1699990000000000000n },
          },
        },
      },
    });
    expect(queryResponseJson(full)).toBe(
      `{"envelopes":[${envelopeJson(env)}],"pagingInfo":{"limit":5,"cursor":{"index":{"digest":"3q2+7w==","senderTimeNs":"1699990000000000000"}},"direction":"SORT_DIRECTION_DESCENDING"}}`,
    );
    const last = create(QueryResponseSchema, {
      pagingInfo: { limit: 0, direction: SortDirection.DESCENDING },
    });
    expect(queryResponseJson(last)).toBe(
      '{"envelopes":[],"pagingInfo":{"limit":0,"cursor":null,"direction":"SORT_DIRECTION_DESCENDING"}}',
    );
    expect(queryResponseJson(create(QueryResponseSchema, {}))).toBe('{"envelopes":[],"pagingInfo":null}');
    expect(batchQueryResponseJson(create(BatchQueryResponseSchema, { responses: [last, last] }))).toBe(
      `{"responses":[${queryResponseJson(last)},${queryResponseJson(last)}]}`,
    );
    // The batch body built in steps is the same bytes, small or past several yields.
    const big = create(QueryResponseSchema, {
      envelopes: [
        create(EnvelopeSchema, { contentTopic: "/t", timestampNs: 1n, message: new Uint8Array(900_000) }),
      ],
    });
    for (const responses of [[], [last], [last, full, last], [big, full, big, big, last]]) {
      const res = create(BatchQueryResponseSchema, { responses });
      expect((await batchQueryResponseBody(res)).toString()).toBe(batchQueryResponseJson(res));
    }
    expect(statusJson(new XmtpError(Code.InvalidArgument, "content topics required"))).toBe(
      '{"code":3,"message":"content topics required","details":[]}',
    );
    expect(streamResultLine(env).toString()).toBe(`{"result":${envelopeJson(env)}}\n`);
    // Encoded once: every subscriber writes the same bytes.
    expect(streamResultLine(env)).toBe(streamResultLine(env));
    expect(streamErrorLine(new XmtpError(Code.Aborted, 'x"y'))).toBe(
      '{"error":{"code":10,"message":"x\\"y","details":[]}}\n',
    );
  });
});
