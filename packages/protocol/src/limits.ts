/** Protocol limits shared by the node and the client (protocol.md §2.10). */

/** Longest accepted content topic, in UTF-8 bytes. */
export const MAX_TOPIC_BYTES = 300;
/** Largest accepted `Envelope.message`: 1 MiB − 300 − 62 bytes. */
export const MAX_MESSAGE_BYTES = 1_048_214;
/** Query page size when the request asks for 0. */
export const DEFAULT_QUERY_LIMIT = 100;
/** Largest page size a query may ask for. */
export const MAX_QUERY_LIMIT = 100;
/** Largest page size for a query on a single `userpreferences` topic. */
export const MAX_USER_PREFERENCES_QUERY_LIMIT = 500;
/** Most sub-queries in one BatchQuery. */
export const MAX_BATCH_QUERIES = 50;
/** An auth token older than this is expired (1 hour). */
export const AUTH_TOKEN_MAX_AGE_NS = 3_600_000_000_000n;
