import { sha256 } from "@noble/hashes/sha2.js";
import { utf8ToBytes } from "@noble/hashes/utils.js";

/** The store id of an envelope: sha256(utf8(content_topic) ‖ message) (protocol.md §3.1). */
export function envelopeDigest(contentTopic: string, message: Uint8Array): Uint8Array {
  const h = sha256.create();
  h.update(utf8ToBytes(contentTopic));
  h.update(message);
  return h.digest();
}
