import { fromJson, type JsonValue, toBinary } from "@bufbuild/protobuf";
import { BatchQueryResponseSchema, EnvelopeSchema, QueryResponseSchema } from "@xmtp-ts/proto";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { batchQueryResponseFromJson, envelopeFromJson, queryResponseFromJson } from "./json-envelopes.js";

const READ = { ignoreUnknownFields: true } as const;
const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");

/** The same bytes as fromJson gives, or the same refusal (message included). */
function outcome<T>(f: () => T, encode: (v: T) => Uint8Array): string {
  try {
    return `ok ${Buffer.from(encode(f())).toString("hex")}`;
  } catch (e) {
    return `error ${(e as Error).message}`;
  }
}
const sameAsFromJson = (json: JsonValue) =>
  expect(
    outcome(
      () => queryResponseFromJson(json),
      (m) => toBinary(QueryResponseSchema, m),
    ),
  ).toBe(
    outcome(
      () => fromJson(QueryResponseSchema, json, READ),
      (m) => toBinary(QueryResponseSchema, m),
    ),
  );

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
          const json = { responses } as JsonValue;
          expect(
            outcome(
              () => batchQueryResponseFromJson(json),
              (m) => toBinary(BatchQueryResponseSchema, m),
            ),
          ).toBe(
            outcome(
              () => fromJson(BatchQueryResponseSchema, json, READ),
              (m) => toBinary(BatchQueryResponseSchema, m),
            ),
          );
          for (const r of responses)
            for (const env of r.envelopes)
              expect(
                outcome(
                  () => envelopeFromJson(env as JsonValue),
                  (m) => toBinary(EnvelopeSchema, m),
                ),
              ).toBe(
                outcome(
                  () => fromJson(EnvelopeSchema, env as JsonValue, READ),
                  (m) => toBinary(EnvelopeSchema, m),
                ),
              );
        },
      ),
      { numRuns: 200 },
    );
  });
});
