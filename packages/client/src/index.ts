/** The XMTP V2 client SDK. */

export * from "./client.js";
export * from "./content/index.js";
export * from "./conversations/index.js";
