import { create, toBinary } from "@bufbuild/protobuf";
import { EnvelopeSchema } from "@xmtp-ts/proto";
import { WakuMessageSchema } from "@xmtp-ts/proto/waku";
import { MAX_MESSAGE_BYTES, MAX_TOPIC_BYTES } from "@xmtp-ts/protocol";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import {
  decodeRelayMessage,
  encodeEnvelopeForRelay,
  envelopeToWakuMessage,
  MAX_WAKU_MESSAGE_BYTES,
} from "./waku-message.js";

const waku = (init: Parameters<typeof create<typeof WakuMessageSchema>>[1]) =>
  toBinary(WakuMessageSchema, create(WakuMessageSchema, init));

describe("envelope ↔ WakuMessage", () => {
  test("maps payload, content topic and timestamp; leaves version, meta and ephemeral unset", () => {
    const m = envelopeToWakuMessage(
      create(EnvelopeSchema, {
        contentTopic: "/xmtp/0/mE-abc/proto",
        timestampNs: 7n,
        message: new Uint8Array([1, 2]),
      }),
    );
    expect(m.contentTopic).toBe("/xmtp/0/mE-abc/proto");
    expect(m.timestamp).toBe(7n);
    expect(m.payload).toEqual(new Uint8Array([1, 2]));
    expect(m.version).toBeUndefined();
    expect(m.meta).toBeUndefined();
    expect(m.ephemeral).toBeUndefined();
  });

  test("round-trips every envelope within the limits (timestamps ≤ int64 max)", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 100 }),
        fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }),
        fc.uint8Array({ maxLength: 2000 }),
        (contentTopic, timestampNs, message) => {
          const r = decodeRelayMessage(
            encodeEnvelopeForRelay(create(EnvelopeSchema, { contentTopic, timestampNs, message })),
          );
          expect(r.ok).toBe(true);
          if (!r.ok) return;
          expect(r.envelope.contentTopic).toBe(contentTopic);
          expect(r.envelope.timestampNs).toBe(timestampNs);
          expect(Buffer.from(r.envelope.message).equals(Buffer.from(message))).toBe(true);
        },
      ),
    );
  });

  test("timestamps above int64 wrap like Go's int64() and come back as 0", () => {
    const bytes = encodeEnvelopeForRelay(
      create(EnvelopeSchema, { contentTopic: "t", timestampNs: 2n ** 64n - 1n, message: new Uint8Array() }),
    );
    const r = decodeRelayMessage(bytes);
    expect(r.ok && r.envelope.timestampNs).toBe(0n);
  });

  test("an absent timestamp is 0", () => {
    const r = decodeRelayMessage(waku({ contentTopic: "t", payload: new Uint8Array([1]) }));
    expect(r.ok && r.envelope.timestampNs).toBe(0n);
  });
});

describe("relay decoder limits", () => {
  test("whole message: 1 MiB accepted by size, one byte more refused", () => {
    const over = new Uint8Array(MAX_WAKU_MESSAGE_BYTES + 1);
    expect(decodeRelayMessage(over)).toMatchObject({ ok: false, reason: "oversized" });
  });

  test("payload: exactly the API limit is accepted, one more byte is refused", () => {
    const ok = decodeRelayMessage(waku({ contentTopic: "t", payload: new Uint8Array(MAX_MESSAGE_BYTES) }));
    expect(ok.ok).toBe(true);
    const bad = decodeRelayMessage(
      waku({ contentTopic: "t", payload: new Uint8Array(MAX_MESSAGE_BYTES + 1) }),
    );
    expect(bad).toMatchObject({ ok: false, reason: "payload-too-large" });
  });

  test("content topic: 1…300 bytes accepted, empty and 301 bytes refused", () => {
    expect(decodeRelayMessage(waku({ contentTopic: "x".repeat(MAX_TOPIC_BYTES) })).ok).toBe(true);
    expect(decodeRelayMessage(waku({ contentTopic: "x".repeat(MAX_TOPIC_BYTES + 1) }))).toMatchObject({
      ok: false,
      reason: "bad-topic",
    });
    expect(decodeRelayMessage(waku({ contentTopic: "" }))).toMatchObject({ ok: false, reason: "bad-topic" });
    // Multi-byte characters count in bytes.
    expect(decodeRelayMessage(waku({ contentTopic: "é".repeat(151) }))).toMatchObject({
      ok: false,
      reason: "bad-topic",
    });
  });

  test("malformed protobuf is refused, never thrown", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const r = decodeRelayMessage(bytes);
        expect(typeof r.ok).toBe("boolean");
      }),
    );
    expect(decodeRelayMessage(new Uint8Array([0x0a, 0x05, 1]))).toMatchObject({
      ok: false,
      reason: "malformed",
    });
  });
});
