/**
 * Generated protobuf-es code for every wire format the project speaks: the XMTP message API v1,
 * its auth token, the message_contents family, gRPC health and server reflection. Waku relay/store messages live
 * in the `@xmtp-ts/proto/waku` entry because their `PagingInfo` differs from the API's.
 *
 * ```ts
 * import { EnvelopeSchema } from "@xmtp-ts/proto";
 * import { toBinary, create } from "@bufbuild/protobuf";
 * const bytes = toBinary(EnvelopeSchema, create(EnvelopeSchema, { contentTopic: "/xmtp/0/x/proto" }));
 * ```
 */

export * from "./gen/grpc/health/v1/health_pb.js";
/** Server reflection; both versions use the same message names, hence the namespaces. */
export * as reflectionV1 from "./gen/grpc/reflection/v1/reflection_pb.js";
export * as reflectionV1alpha from "./gen/grpc/reflection/v1alpha/reflection_pb.js";
export * from "./gen/xmtp/message_api/v1/authn_pb.js";
export * from "./gen/xmtp/message_api/v1/message_api_pb.js";
export * from "./gen/xmtp/message_contents/ciphertext_pb.js";
export * from "./gen/xmtp/message_contents/contact_pb.js";
export * from "./gen/xmtp/message_contents/content_pb.js";
export * from "./gen/xmtp/message_contents/invitation_pb.js";
export * from "./gen/xmtp/message_contents/message_pb.js";
export * from "./gen/xmtp/message_contents/private_key_pb.js";
export * from "./gen/xmtp/message_contents/private_preferences_pb.js";
export * from "./gen/xmtp/message_contents/public_key_pb.js";
export * from "./gen/xmtp/message_contents/signature_pb.js";
