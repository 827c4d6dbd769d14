/**
 * The envelope digest on the node's hot path. Same value as `envelopeDigest` from
 * `@xmtp-ts/protocol` (sha256(utf8(topic) ‖ message)), computed with node:crypto, which is an
 * order of magnitude faster than the portable implementation for large messages.
 */
import { createHash } from "node:crypto";

/** sha256(utf8(contentTopic) ‖ message) as a Uint8Array (a Buffer). */
export function nodeEnvelopeDigest(contentTopic: string, message: Uint8Array): Uint8Array {
  return createHash("sha256").update(contentTopic, "utf8").update(message).digest();
}
