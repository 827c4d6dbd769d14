/** The XMTP V2 client SDK. */

export * from "./client.js";
export * from "./contacts/index.js";
export * from "./content/index.js";
export * from "./conversations/index.js";
export * from "./crypto/index.js";
export * from "./keys/index.js";
export * from "./keystore/index.js";
export * from "./signer.js";
