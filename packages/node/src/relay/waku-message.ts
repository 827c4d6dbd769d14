/**
 * Envelope ↔ WakuMessage mapping (protocol.md §15.3) and the bounded decoder for WakuMessages
 * received from peers. A peer cannot make this node accept an envelope the API would refuse.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { type Envelope, EnvelopeSchema } from "@xmtp-ts/proto";
import { type WakuMessage, WakuMessageSchema } from "@xmtp-ts/proto/waku";
import { MAX_MESSAGE_BYTES, MAX_TOPIC_BYTES } from "@xmtp-ts/protocol";

/** The single Waku pubsub topic every node relays on. */
export const WAKU_PUBSUB_TOPIC = "/waku/2/default-waku/proto";
/** Gossipsub protocol id of Waku relay, advertised first. */
export const WAKU_RELAY_PROTOCOL = "/vac/waku/relay/2.0.0";
/** Largest encoded WakuMessage accepted from the relay: the libp2p pubsub maximum of 1 MiB. */
export const MAX_WAKU_MESSAGE_BYTES = 1_048_576;

const utf8 = new TextEncoder();

/** Why a WakuMessage from a peer was refused. */
export type WakuRejectReason = "oversized" | "malformed" | "payload-too-large" | "bad-topic";

export type WakuDecodeResult =
  | { ok: true; envelope: Envelope }
  | { ok: false; reason: WakuRejectReason; detail: string };

/** The WakuMessage an envelope travels as: payload, content topic verbatim, timestamp as int64 ns. */
export function envelopeToWakuMessage(
  env: Pick<Envelope, "contentTopic" | "timestampNs" | "message">,
): WakuMessage {
  return create(WakuMessageSchema, {
    payload: env.message,
    contentTopic: env.contentTopic,
    // Go's int64(uint64) conversion wraps; the receiver maps negative values back to 0.
    timestamp: BigInt.asIntN(64, env.timestampNs),
  });
}

/** Encodes an envelope as WakuMessage bytes for gossipsub. */
export function encodeEnvelopeForRelay(env: Envelope): Uint8Array {
  return toBinary(WakuMessageSchema, envelopeToWakuMessage(env));
}

/**
 * Checks a decoded WakuMessage against the API limits and maps it to an envelope
 * (negative or absent timestamps become 0).
 */
export function wakuMessageToEnvelope(msg: WakuMessage): WakuDecodeResult {
  if (msg.payload.length > MAX_MESSAGE_BYTES) {
    return {
      ok: false,
      reason: "payload-too-large",
      detail: `payload of ${msg.payload.length} bytes exceeds ${MAX_MESSAGE_BYTES}`,
    };
  }
  const topicBytes = utf8.encode(msg.contentTopic).length;
  if (topicBytes === 0 || topicBytes > MAX_TOPIC_BYTES) {
    return {
      ok: false,
      reason: "bad-topic",
      detail: `content topic of ${topicBytes} bytes (want 1..${MAX_TOPIC_BYTES})`,
    };
  }
  const ts = msg.timestamp ?? 0n;
  return {
    ok: true,
    envelope: create(EnvelopeSchema, {
      contentTopic: msg.contentTopic,
      timestampNs: ts < 0n ? 0n : ts,
      message: msg.payload,
    }),
  };
}

/** Decodes untrusted WakuMessage bytes from the relay, enforcing the size limits. */
export function decodeRelayMessage(data: Uint8Array): WakuDecodeResult {
  if (data.length > MAX_WAKU_MESSAGE_BYTES) {
    return {
      ok: false,
      reason: "oversized",
      detail: `message of ${data.length} bytes exceeds ${MAX_WAKU_MESSAGE_BYTES}`,
    };
  }
  let msg: WakuMessage;
  try {
    msg = fromBinary(WakuMessageSchema, data, { readUnknownFields: false });
  } catch (err) {
    return { ok: false, reason: "malformed", detail: (err as Error).message };
  }
  return wakuMessageToEnvelope(msg);
}
