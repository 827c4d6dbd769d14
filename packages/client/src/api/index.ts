/** The network API client over each transport (HTTP gateway, Connect, gRPC-Web; gRPC in `../grpc`). */
export { ApiClient, type ApiClientOptions, type ApiTransportChoice } from "./api-client.js";
export { localAuthenticator } from "./authenticator.js";
export { connectTransport, grpcWebTransport } from "./connect.js";
export { ApiError } from "./errors.js";
export { httpTransport } from "./http.js";
export { queryAll, queryPage } from "./query.js";
export type {
  ApiHeaders,
  ApiTransport,
  ApiTransportFactory,
  Authenticator,
  ConnectionHooks,
  Envelope,
  EnvelopeInit,
  NetworkApi,
  QueryPagesOptions,
  QueryRequestInit,
  SubscribeOptions,
  Subscription,
  TransportSettings,
  TransportStream,
} from "./types.js";
export { CLIENT_VERSION } from "./version.js";
