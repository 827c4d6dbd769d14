import { type DescMessage, fromJson, type JsonValue, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { BatchQueryResponseSchema, EnvelopeSchema, QueryResponseSchema } from "@xmtp-ts/proto";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { batchQueryResponseFromJson, envelopeFromJson, queryResponseFromJson } from "./json-envelopes.js";

const READ = { ignoreUnknownFields: true } as const;
const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");

/** The encoded result, or the refusal (message included). */
function outcome<T>(f: () => T, encode: (v: T) => Uint8Array): string {
  try {
    return `ok ${Buffer.from(encode(f())).toString("hex")}`;
  } catch (e) {
    return `error ${(e as Error).message}`;
  }
}
/** `read` gives the same bytes as fromJson for `json`, or the same refusal. */
function expectSameAsFromJson<Desc extends DescMessage>(
  schema: Desc,
  read: (json: JsonValue) => MessageShape<Desc>,
  json: JsonValue,
) {
  const encode = (m: MessageShape<Desc>) => toBinary(schema, m);
  expect(outcome(() => read(json), encode)).toBe(outcome(() => fromJson(schema, json, READ), encode));
}
const sameAsFromJson = (json: JsonValue) =>
  expectSameAsFromJson(QueryResponseSchema, queryResponseFromJson, json);

const canonicalEnvelope = fc.record({
  contentTopic: fc.string({ maxLength: 40 }),
  timestampNs: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String),
  message: fc.uint8Array({ maxLength: 300 }).map(b64),
});

// Values nodes do not write, or fromJson refuses: each must end up where fromJson puts it.
const oddValue = fc.oneof(
  fc.constant(null),
  fc.integer(),
  fc.constant("-1"),
  fc.constant("18446744073709551616"),
  fc.constant("01"),
  fc.constant("1e3"),
  fc.constant("AQID"),
  fc.constant("AQ"),
  fc.constant("A-_w"),
  fc.constant("A==="),
  fc.constant("AQ=D"),
  fc.constant("\uD800"),
  fc.constant("not base64!"),
  fc.string({ maxLength: 8 }),
);
const oddEnvelope = fc
  .tuple(
    canonicalEnvelope,
    fc.constantFrom("contentTopic", "timestampNs", "message", "content_topic", "timestamp_ns", "extra"),
    oddValue,
  )
  .map(([env, key, v]) => ({ ...env, [key]: v }) as Record<string, JsonValue>);

const pagingInfo = fc.oneof(
  fc.constant(null),
  fc.constant({ limit: 100, cursor: null, direction: "SORT_DIRECTION_ASCENDING" }),
  fc.constant({
    limit: 0,
    cursor: { index: { digest: "AAEC", senderTimeNs: "5" } },
    direction: "SORT_DIRECTION_DESCENDING",
  }),
  fc.constant({ direction: "SIDEWAYS" }),
  fc.constant({ limit: "x" }),
);

describe("query responses from JSON", () => {
  test("the nodes' form is read by hand to exactly what fromJson gives", () => {
    fc.assert(
      fc.property(fc.array(canonicalEnvelope, { maxLength: 5 }), pagingInfo, (envelopes, paging) => {
        sameAsFromJson({ envelopes, pagingInfo: paging });
        sameAsFromJson({ envelopes });
      }),
      { numRuns: 300 },
    );
  });

  test("anything else: the same result or the same refusal as fromJson", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(canonicalEnvelope, oddEnvelope), { maxLength: 4 }),
        pagingInfo,
        fc.constantFrom("envelopes", "paging_info", "extra"),
        fc.oneof(fc.constant(undefined), oddValue),
        (envelopes, paging, key, extra) => {
          const json: Record<string, JsonValue> = { envelopes, pagingInfo: paging };
          if (extra !== undefined) json[key] = extra;
          sameAsFromJson(json);
        },
      ),
      { numRuns: 500 },
    );
  });

  test("edge shapes", () => {
    for (const json of [
      {},
      { envelopes: null },
      { envelopes: [] },
      { envelopes: {} },
      { envelopes: [null] },
      { envelopes: [{}] },
      { envelopes: [{ message: "" }] },
      { envelopes: [{ message: "AQ==" }] },
      { envelopes: [{ message: "AQI=" }] },
      { envelopes: [{ timestampNs: "18446744073709551615" }] },
      { envelopes: [{ timestampNs: "18446744073709551616" }] },
      [],
      null,
      "x",
    ] as JsonValue[])
      sameAsFromJson(json);
  });

  test("batch responses and single envelopes agree with fromJson", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            envelopes: fc.array(fc.oneof(canonicalEnvelope, canonicalEnvelope, oddEnvelope), {
              maxLength: 3,
            }),
            pagingInfo,
          }),
          { maxLength: 3 },
        ),
        (responses) => {
          expectSameAsFromJson(BatchQueryResponseSchema, batchQueryResponseFromJson, {
            responses,
          } as JsonValue);
          for (const r of responses)
            for (const env of r.envelopes)
              expectSameAsFromJson(EnvelopeSchema, envelopeFromJson, env as JsonValue);
        },
      ),
      { numRuns: 200 },
    );
  });
});
