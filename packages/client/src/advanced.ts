/**
 * `@xmtp-ts/client/advanced`: the building blocks under the client, for tools, tests and apps that
 * need the protocol itself — key bundles and their backup, contact bundles, invitation sealing and
 * opening, V1/V2 message encryption, consent payloads, the content encode/decode pipeline, the
 * crypto wrappers and the raw network API. The root entry has what an app needs; names here may
 * change between minor versions.
 */

export * from "./api/index.js";
export * from "./consent/index.js";
export * from "./contacts/index.js";
export * from "./content/index.js";
export * from "./conversations/index.js";
export * from "./crypto/index.js";
export * from "./errors.js";
export * from "./groups/index.js";
export * from "./keys/index.js";
export * from "./keystore/index.js";
export * from "./signer.js";
