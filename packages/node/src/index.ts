/**
 * The XMTP V2 network node: message API v1 over HTTP/JSON and gRPC, SQLite or PostgreSQL store,
 * Waku relay between nodes.
 */

export * from "./api/auth.js";
export * from "./api/digest.js";
export * from "./api/limits.js";
export * from "./api/rate-limit.js";
export * from "./api/service.js";
export type * from "./api/types.js";
export * from "./config.js";
export { DataDirLockedError, LOCK_FILE } from "./data-dir-lock.js";
export * from "./dispatch/dispatcher.js";
export type * from "./dispatch/types.js";
export * from "./logger.js";
export * from "./metrics.js";
export * from "./node.js";
export { loadOrCreateNodeKey, parseNodeKey } from "./relay/node-key.js";
export { type RelayPart, type RelayPartOptions, relayPart } from "./relay/part.js";
export { createRelay, type NodeKey, type Relay, type RelayOptions } from "./relay/relay.js";
export { WAKU_STORE_PROTOCOL } from "./relay/store-protocol.js";
export { WAKU_PUBSUB_TOPIC, WAKU_RELAY_PROTOCOL } from "./relay/waku-message.js";
export { type Cleaner, type CleanerOptions, startCleaner } from "./store/cleaner.js";
export { createPostgresStore, type PostgresStoreOptions } from "./store/postgres.js";
export { createSqliteStore, type SqliteStoreOptions } from "./store/sqlite.js";
export type * from "./store/types.js";
export { createGrpcTransport, type GrpcTransport, type GrpcTransportOptions } from "./transport/grpc.js";
export {
  createHttpTransport,
  GATEWAY_ROUTES,
  type HttpTransport,
  type HttpTransportOptions,
} from "./transport/http.js";
export { type BlobStore, type BlobWriter, createBlobStore } from "./web/blob-store.js";
export { DEFAULT_MAX_BLOB_BYTES } from "./web/blobs.js";
export { type WebPartOptions, webPart } from "./web/part.js";
