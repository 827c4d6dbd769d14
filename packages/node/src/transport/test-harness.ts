/** Test helper: a real in-process node (SQLite in memory, real dispatcher and API) for transport tests. */
import type * as http2 from "node:http2";
import type { RateLimiterOptions } from "../api/rate-limit.js";
import { createMessageApi, type MessageApiService } from "../api/service.js";
import { createDispatcher } from "../dispatch/dispatcher.js";
import type { Dispatcher } from "../dispatch/types.js";
import { createLogger } from "../logger.js";
import { createMetrics, type NodeMetrics } from "../metrics.js";
import { createSqliteStore } from "../store/sqlite.js";
import type { Store } from "../store/types.js";
import { clientIpResolver } from "./client-ip.js";
import { createGrpcTransport, type GrpcTransport } from "./grpc.js";
import { createHttpTransport, type HttpTransport } from "./http.js";
import type { EdgeTimeouts } from "./timeouts.js";

export interface Harness {
  url: string;
  grpcUrl: string;
  store: Store;
  dispatcher: Dispatcher;
  api: MessageApiService;
  metrics: NodeMetrics;
  http: HttpTransport;
  grpc: GrpcTransport;
  close(): Promise<void>;
}

export async function startHarness(
  opts: {
    maxBodyBytes?: number;
    bufferSize?: number;
    auth?: boolean;
    rateLimits?: RateLimiterOptions;
    trustedProxies?: string[];
    timeouts?: Partial<EdgeTimeouts>;
    unreadBytes?: number;
    directPublish?: boolean;
  } = {},
): Promise<Harness> {
  const store = createSqliteStore({ path: ":memory:" });
  await store.start();
  const dispatcher = createDispatcher({ bufferSize: opts.bufferSize ?? 1024, allBufferSize: 4096 });
  const metrics = createMetrics();
  metrics.observeDispatcher(dispatcher);
  const api = createMessageApi({
    store,
    dispatcher,
    auth: { required: opts.auth ?? false },
    metrics: metrics.api,
    rateLimits: opts.rateLimits,
  });
  const clientIp = clientIpResolver(opts.trustedProxies ?? []);
  const logger = createLogger("silent");
  const healthy = () => store.healthy();
  const http = createHttpTransport({
    api,
    metrics,
    logger,
    healthy,
    maxBodyBytes: opts.maxBodyBytes ?? 50 * 1024 * 1024,
    clientIp,
    timeouts: opts.timeouts,
    unreadBytes: opts.unreadBytes,
    directPublish: opts.directPublish,
  });
  const grpc = createGrpcTransport({
    api,
    metrics,
    logger,
    healthy,
    maxMessageBytes: opts.maxBodyBytes,
    clientIp,
    timeouts: opts.timeouts,
    unreadBytes: opts.unreadBytes,
  });
  const port = await http.listen("127.0.0.1", 0);
  const grpcPort = await grpc.listen("127.0.0.1", 0);
  return {
    url: `http://127.0.0.1:${port}`,
    grpcUrl: `http://127.0.0.1:${grpcPort}`,
    store,
    dispatcher,
    api,
    metrics,
    http,
    grpc,
    async close() {
      dispatcher.closeAll();
      await http.close();
      await grpc.close();
      api.stop();
      await store.stop();
    },
  };
}

/** A request stream the test feeds by hand. */
export function requestQueue<T>() {
  const items: T[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  return {
    push(item: T) {
      items.push(item);
      wake?.();
    },
    end() {
      ended = true;
      wake?.();
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        const item = items.shift();
        if (item !== undefined) {
          yield item;
          continue;
        }
        if (ended) return;
        await new Promise<void>((r) => {
          wake = r;
        });
        wake = undefined;
      }
    },
  };
}

/** A gRPC message: flags byte, big-endian length (the real one unless `declared`), payload. */
export function grpcFrame(payload: Uint8Array, declared = payload.length): Buffer {
  const out = Buffer.alloc(5 + payload.length);
  out.writeUInt32BE(declared, 1);
  out.set(payload, 5);
  return out;
}

/** A raw gRPC call to a MessageApi method on an HTTP/2 session, for what clients would not send. */
export function rawGrpcCall(session: http2.ClientHttp2Session, method: string): http2.ClientHttp2Stream {
  const req = session.request({
    ":method": "POST",
    ":path": `/xmtp.message_api.v1.MessageApi/${method}`,
    "content-type": "application/grpc",
    te: "trailers",
  });
  req.on("error", () => undefined);
  return req;
}
