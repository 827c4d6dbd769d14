/**
 * The XMTP V2 network node: message API v1 over HTTP/JSON and gRPC, SQLite or PostgreSQL store,
 * Waku relay between nodes.
 */

export type * from "./api/types.js";
export type * from "./dispatch/types.js";
export type * from "./store/types.js";
