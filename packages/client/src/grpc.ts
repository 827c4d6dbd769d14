/**
 * `@xmtp-ts/client/grpc` (Node only): the gRPC transport, on the node's gRPC port (default 5556,
 * HTTP/2), with Subscribe2 so `streamAllMessages` widens one call's topics as conversations start.
 * It lives apart from the root entry because it needs Node's `http2`; browsers use `"connect"` or
 * `"grpc-web"`.
 *
 * ```ts
 * import { Client } from "@xmtp-ts/client";
 * import { grpcTransport } from "@xmtp-ts/client/grpc";
 * const client = await Client.create(wallet, { env: "local", apiTransport: grpcTransport });
 * ```
 */
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { rpcTransport } from "./api/rpc.js";
import type { ApiTransport, ApiTransportFactory, TransportSettings } from "./api/types.js";

/** What a gRPC client waits for an unanswered HTTP/2 PING before dropping the connection. */
const PING_TIMEOUT_MS = 15_000;

/**
 * gRPC over HTTP/2 (cleartext for `http://`, TLS for `https://`). Streams are watched with HTTP/2
 * PINGs every `streamHeartbeatMs` (an unanswered one drops the connection: the stream reconnects
 * and backfills).
 */
export const grpcTransport: ApiTransportFactory = Object.assign(
  (settings: TransportSettings): ApiTransport => {
    const beat = settings.streamHeartbeatMs;
    const ping = beat > 0 ? { pingIntervalMs: beat, pingTimeoutMs: Math.min(PING_TIMEOUT_MS, beat) } : {};
    // One HTTP/2 connection per client, closed by the client's close().
    const sessionManager = new Http2SessionManager(settings.apiUrl, ping);
    // Two read bounds on the one connection: unary responses, and each message of a stream.
    const unary = createGrpcTransport({
      baseUrl: settings.apiUrl,
      readMaxBytes: settings.maxResponseBytes,
      sessionManager,
    });
    const streams = createGrpcTransport({
      baseUrl: settings.apiUrl,
      readMaxBytes: settings.maxStreamMessageBytes,
      sessionManager,
    });
    return { ...rpcTransport("grpc", unary, { bidi: true, streams }), close: () => sessionManager.abort() };
  },
  {
    /** The gRPC port of each `env` (`local`: `xmtp node`'s default 5556). */
    apiUrls: Object.freeze({
      local: "http://localhost:5556",
      dev: "https://grpc.dev.xmtp.network:443",
      production: "https://grpc.production.xmtp.network:443",
    }),
  },
);
