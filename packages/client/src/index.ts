/** The XMTP V2 client SDK. */

import { networkClientApi } from "./api/index.js";
import { setDefaultApiFactory } from "./client.js";

export * from "./api/index.js";
export * from "./client.js";
export * from "./consent/index.js";
export * from "./contacts/index.js";
export * from "./content/index.js";
export * from "./conversations/index.js";
export * from "./crypto/index.js";
export * from "./groups/index.js";
export * from "./keys/index.js";
export * from "./keystore/index.js";
export * from "./signer.js";

// `Client.create({ apiUrl })` talks to the network through api/ApiClient (retries, token refresh,
// self-healing streams with backfill).
setDefaultApiFactory((apiUrl) => networkClientApi(apiUrl));
