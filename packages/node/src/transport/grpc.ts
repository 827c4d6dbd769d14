/**
 * The gRPC listener: connect-node on a cleartext HTTP/2 server (h2c, prior knowledge), serving
 * `xmtp.message_api.v1.MessageApi` (all six RPCs) and `grpc.health.v1.Health` (protocol.md §2.1,
 * §2.8), plus server reflection for tools like grpcurl. HTTP/2 keepalive pings keep idle
 * connections alive through middleboxes (§18 row 4).
 */
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { compressionGzip } from "@connectrpc/connect-node";
import { Health, MessageApi as MessageApiService } from "@xmtp-ts/proto";
import type { MessageApi } from "../api/types.js";
import type { Logger } from "../logger.js";
import type { NodeMetrics } from "../metrics.js";
import type { ClientIpResolver } from "./client-ip.js";
import { messageApiRoutes, requestSizeLimit } from "./connect.js";
import { createConnectServer } from "./connect-adapter.js";
import { reflectionRoutes } from "./reflection.js";
import { type EdgeTimeouts, edgeTimeouts } from "./timeouts.js";

export interface GrpcTransportOptions {
  api: MessageApi;
  metrics: NodeMetrics;
  logger: Logger;
  healthy: () => Promise<boolean>;
  /** Largest accepted request message in bytes (default 50 MiB). */
  maxMessageBytes?: number | undefined;
  /** Ping an HTTP/2 connection this often (ms); a ping unanswered for `keepaliveTimeoutMs` drops it. */
  keepaliveMs?: number | undefined;
  keepaliveTimeoutMs?: number | undefined;
  /** The client address for rate limits (default: the socket's peer address). */
  clientIp?: ClientIpResolver | undefined;
  timeouts?: Partial<EdgeTimeouts> | undefined;
  /** Response bytes that calls not being read may hold together (default 256 MiB). */
  unreadBytes?: number | undefined;
}

export interface GrpcTransport {
  listen(host: string, port: number): Promise<number>;
  /** Ends calls, closes connections (GOAWAY, then destroy after a grace period); idempotent. */
  close(): Promise<void>;
  readonly server: http2.Http2Server;
}

/**
 * Concurrent calls on one connection. xmtp clients open one call per subscription; more calls go
 * on another connection.
 */
export const MAX_STREAMS_PER_CONNECTION = 1000;

/** Creates the gRPC listener; call listen() to bind. */
export function createGrpcTransport(opts: GrpcTransportOptions): GrpcTransport {
  const log = opts.logger.child({ component: "grpc" });
  const keepaliveMs = opts.keepaliveMs ?? 5 * 60_000;
  const keepaliveTimeoutMs = opts.keepaliveTimeoutMs ?? 20_000;
  const maxMessageBytes = opts.maxMessageBytes ?? 50 * 1024 * 1024;
  const timeouts = edgeTimeouts(opts.timeouts);
  const shutdown = new AbortController();
  const apiRoutes = messageApiRoutes({
    api: opts.api,
    metrics: opts.metrics,
    transport: "grpc",
    healthy: opts.healthy,
    clientIp: opts.clientIp,
  });
  const reflection = reflectionRoutes(
    [MessageApiService.file, Health.file],
    [MessageApiService.typeName, Health.typeName],
  );
  const connect = createConnectServer({
    routes: (router) => {
      apiRoutes(router);
      reflection(router);
    },
    readMaxBytes: requestSizeLimit(maxMessageBytes),
    acceptCompression: [compressionGzip],
    shutdownSignal: shutdown.signal,
    logger: log,
    unreadBytes: opts.unreadBytes,
  });
  const server = http2.createServer(
    { settings: { maxConcurrentStreams: MAX_STREAMS_PER_CONNECTION } },
    (req, res) => {
      const handler = connect.handlerFor(req.url);
      if (handler === undefined) {
        // gRPC clients read a 404 as UNIMPLEMENTED.
        res.writeHead(404).end();
        return;
      }
      // A request that sends one message must finish sending it in time; Subscribe2 and reflection
      // keep their request side open by design.
      const kind = handler.method.methodKind;
      if (kind === "unary" || kind === "server_streaming") {
        const deadline = setTimeout(() => {
          if (!req.complete) res.stream.close(http2.constants.NGHTTP2_CANCEL);
        }, timeouts.requestMs);
        deadline.unref();
        req.once("end", () => clearTimeout(deadline));
        res.once("close", () => clearTimeout(deadline));
      }
      void connect.serve(handler, req, res);
    },
  );

  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    // A connection with no open call for a while is closed (GOAWAY); one that never says
    // anything, not even the HTTP/2 preface, likewise.
    let calls = 0;
    session.setTimeout(timeouts.idleMs, () => {
      if (calls === 0) session.close();
    });
    session.on("stream", (stream) => {
      calls++;
      stream.once("close", () => {
        // The idle clock starts again from the last call's end.
        if (--calls === 0 && !session.destroyed) session.setTimeout(timeouts.idleMs);
      });
    });
    let waiting: NodeJS.Timeout | undefined;
    const timer = setInterval(() => {
      if (session.destroyed || session.closed || waiting !== undefined) return;
      waiting = setTimeout(() => session.destroy(), keepaliveTimeoutMs);
      waiting.unref();
      const sent = session.ping((err) => {
        clearTimeout(waiting);
        waiting = undefined;
        if (err !== null && !session.destroyed) session.destroy();
      });
      if (!sent) {
        clearTimeout(waiting);
        waiting = undefined;
      }
    }, keepaliveMs);
    timer.unref();
    session.on("error", (err) => log.debug({ err }, "session error"));
    session.once("close", () => {
      clearInterval(timer);
      clearTimeout(waiting);
      sessions.delete(session);
    });
  });
  server.on("sessionError", (err) => log.debug({ err }, "session error"));

  let closing: Promise<void> | undefined;
  return {
    server,
    listen(host, port) {
      return new Promise((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        server.once("error", onError);
        server.listen(port, host, () => {
          server.off("error", onError);
          resolve((server.address() as AddressInfo).port);
        });
      });
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        shutdown.abort();
        if (!server.listening) {
          resolve();
          return;
        }
        server.close(() => resolve());
        for (const s of sessions) s.close();
        const force = setTimeout(() => {
          for (const s of sessions) s.destroy();
        }, 2000);
        force.unref();
      });
      return closing;
    },
  };
}
