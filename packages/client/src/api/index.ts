/** The network API client over a node's HTTP/JSON gateway. */
export { ApiClient, type ApiClientOptions } from "./api-client.js";
export { localAuthenticator } from "./authenticator.js";
export { networkClientApi } from "./client-api.js";
export { ApiError } from "./errors.js";
export type {
  Authenticator,
  Envelope,
  EnvelopeInit,
  NetworkApi,
  QueryPagesOptions,
  QueryRequestInit,
  SubscribeOptions,
  Subscription,
} from "./types.js";
export { CLIENT_VERSION } from "./version.js";
