/**
 * Rules both the node and the client share: topics and their categories, the envelope digest,
 * limits, the error type and its code list, identity/signature verification and auth tokens, and
 * the fast read of an envelope in its common JSON form.
 *
 * ```ts
 * import { buildTopic, topicCategory, envelopeDigest } from "@xmtp-ts/protocol";
 * topicCategory(buildTopic.invite("0xF56d1F3b1290204441Cb3843C2Cac1C2f5AEd690")); // "v2-invite"
 * ```
 */

export * from "./auth.js";
export * from "./crypto.js";
export * from "./digest.js";
export { canonicalEnvelopeFromJson, canonicalEnvelopesFromJson } from "./envelope-json.js";
export * from "./errors.js";
export * from "./identity.js";
export * from "./limits.js";
export * from "./secp256k1.js";
export * from "./topics.js";
