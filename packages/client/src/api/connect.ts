/**
 * Connect and gRPC-Web on `fetch` (browsers and Node), on the node's HTTP port, where the node
 * serves both beside the JSON gateway. gRPC (Node only) is in `../grpc.ts`.
 */
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { boundedFetch, rpcTransport } from "./rpc.js";
import type { ApiTransport, TransportSettings } from "./types.js";

/** Connect (binary) on the node's HTTP port, over `fetch`. */
export function connectTransport(settings: TransportSettings): ApiTransport {
  return rpcTransport(
    "connect",
    createConnectTransport({
      baseUrl: settings.apiUrl,
      useBinaryFormat: true,
      fetch: boundedFetch(settings),
    }),
  );
}

/** gRPC-Web (binary) on the node's HTTP port, over `fetch`. */
export function grpcWebTransport(settings: TransportSettings): ApiTransport {
  return rpcTransport(
    "grpc-web",
    createGrpcWebTransport({
      baseUrl: settings.apiUrl,
      useBinaryFormat: true,
      fetch: boundedFetch(settings),
    }),
  );
}
