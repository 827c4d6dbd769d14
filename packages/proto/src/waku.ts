/** Waku relay (RFC 14 WakuMessage) and Waku store v2.0.0-beta4 messages. */
export * from "./gen/waku/message_pb.js";
export * from "./gen/waku/store_v2beta4_pb.js";
