/**
 * The HTTP listener (fastify 5): the grpc-gateway compatible `/message/v1/*` JSON API with NDJSON
 * streams, `/healthz`, `/metrics`, and the same MessageApi over Connect/gRPC-Web
 * (`/xmtp.message_api.v1.MessageApi/*`). protocol.md §2.4–2.9 and §18 rows 3, 4, 9.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Readable } from "node:stream";
import { promisify } from "node:util";
import { gzip as gzipCb } from "node:zlib";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";
import fastifyCors, { type FastifyCorsOptions } from "@fastify/cors";
import {
  BatchQueryRequestSchema,
  type Envelope,
  QueryRequestSchema,
  SubscribeAllRequestSchema,
  SubscribeRequestSchema,
} from "@xmtp-ts/proto";
import { Code, httpStatusFromCode, XmtpError } from "@xmtp-ts/protocol";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from "fastify";
import { detailHeaders } from "../api/errors.js";
import { MAX_QUERY_REQUEST_BYTES } from "../api/limits.js";
import type { MessageApi, RequestContext, Subscription } from "../api/types.js";
import type { Logger } from "../logger.js";
import type { NodeMetrics } from "../metrics.js";
import { type ClientIpResolver, clientIpResolver } from "./client-ip.js";
import { messageApiRoutes, requestSizeLimit } from "./connect.js";
import { createConnectServer } from "./connect-adapter.js";
import { isTooLarge, tooLargeError, toXmtpError } from "./errors.js";
import {
  batchQueryResponseBody,
  decodeJsonRequest,
  decodePublishRequest,
  queryResponseJson,
  statusJson,
  streamErrorLine,
  streamResultLine,
} from "./json.js";
import { type EdgeTimeouts, edgeTimeouts } from "./timeouts.js";

const gzip = promisify(gzipCb);
/** Publish's answer, shared by every response (never written to). */
const EMPTY_JSON = Buffer.from("{}");

export interface HttpTransportOptions {
  api: MessageApi;
  metrics: NodeMetrics;
  logger: Logger;
  /** Answers /healthz: true when the node is ready and its store healthy. */
  healthy: () => Promise<boolean>;
  /** Extra fields of a healthy `/healthz` answer (store and relay status). */
  healthDetails?: (() => Promise<Record<string, unknown>>) | undefined;
  /** Largest accepted request body in bytes; larger ones are refused before being read whole. */
  maxBodyBytes: number;
  /** Serve the MessageApi over Connect/gRPC-Web too (default true). */
  connect?: boolean | undefined;
  /** The client address for rate limits (default: the socket's peer address). */
  clientIp?: ClientIpResolver | undefined;
  timeouts?: Partial<EdgeTimeouts> | undefined;
  /** Response bytes that calls not being read may hold together (default 256 MiB). */
  unreadBytes?: number | undefined;
  /**
   * Answer POST /message/v1/publish before fastify routes it (default true): the same answers,
   * for a fraction of the work. Off, or with debug logging, fastify's route serves it.
   */
  directPublish?: boolean | undefined;
}

export interface HttpTransport {
  /** Binds; resolves with the bound port. */
  listen(host: string, port: number): Promise<number>;
  /** Stops accepting, ends open connections; idempotent. */
  close(): Promise<void>;
  /** The fastify instance (for tests and extra routes before listen). */
  readonly app: FastifyInstance;
}

/** Routes of the JSON gateway and the RPC names they map to. */
export const GATEWAY_ROUTES = {
  "/message/v1/publish": "Publish",
  "/message/v1/query": "Query",
  "/message/v1/batch-query": "BatchQuery",
  "/message/v1/subscribe": "Subscribe",
  "/message/v1/subscribe-all": "SubscribeAll",
} as const;

/**
 * CORS (protocol.md §2.4), by @fastify/cors: any origin; preflights answered at once with the
 * reference's header list plus a harmless superset; the headers browsers may read on answers.
 */
const CORS: FastifyCorsOptions = {
  origin: "*",
  methods: "GET,HEAD,POST,PUT,PATCH,DELETE",
  allowedHeaders:
    "Content-Type, Accept, Authorization, X-Client-Version, X-App-Version, X-Libxmtp-Version, X-Xmtp-Heartbeat-Ms, Baggage, DNT, Sec-CH-UA, Sec-CH-UA-Mobile, Sec-CH-UA-Platform, Sentry-Trace, User-Agent, Connect-Protocol-Version, Connect-Timeout-Ms, Grpc-Timeout, X-Grpc-Web, X-User-Agent",
  exposedHeaders: "Grpc-Status, Grpc-Message, Grpc-Status-Details-Bin, Subscribed, Retry-After, Xmtp-Limit",
  optionsSuccessStatus: 200,
};

/** The CORS headers every gateway answer carries (what @fastify/cors adds with {@link CORS}). */
const CORS_ANSWER = [
  "access-control-allow-origin",
  "*",
  "access-control-expose-headers",
  CORS.exposedHeaders as string,
];
/** A publish's whole answer head, built once. */
const PUBLISHED_HEADERS = [
  ...CORS_ANSWER,
  "content-type",
  "application/json",
  "content-length",
  String(EMPTY_JSON.length),
];
const PUBLISH_PATH = "/message/v1/publish";

/** Creates the HTTP listener; call listen() to bind. */
export function createHttpTransport(opts: HttpTransportOptions): HttpTransport {
  const { api, metrics, logger } = opts;
  const cap = opts.maxBodyBytes;
  const clientIp = opts.clientIp ?? clientIpResolver([]);
  const openStreams = new Set<Subscription>();
  const timeouts = edgeTimeouts(opts.timeouts);
  let closing: Promise<void> | undefined;
  // Per-request logs come from fastify: with debug logging every request goes through it.
  const direct = opts.directPublish !== false && !logger.isLevelEnabled("debug");
  const app = Fastify({
    // POST /message/v1/publish, the one hot route, is answered before fastify sees the request
    // (`publishDirect`); every other request, and publish during shutdown, is fastify's.
    serverFactory: (handler) => {
      const server = createServer(
        { headersTimeout: timeouts.headersMs, connectionsCheckingInterval: timeouts.checkIntervalMs },
        (req, res) => {
          if (req.method === "POST" && req.url === PUBLISH_PATH && closing === undefined && direct)
            publishDirect(req, res);
          else handler(req, res);
        },
      );
      // What fastify does to a server it creates itself (connectionTimeout: its default, none).
      server.keepAliveTimeout = timeouts.idleMs;
      server.requestTimeout = timeouts.requestMs;
      server.setTimeout(0);
      return server;
    },
    // Per-request logs (fastify logs them at info) only when debugging.
    loggerInstance: logger.child(
      { component: "http" },
      { level: logger.isLevelEnabled("debug") ? logger.level : "warn" },
    ) as FastifyBaseLogger,
    forceCloseConnections: true,
    // Shutdown refusals are answered below, in the gateway's JSON error shape.
    return503OnClosing: false,
    // Requests that never finish are cut; responses (streams) live as long as the client wants.
    requestTimeout: timeouts.requestMs,
    keepAliveTimeout: timeouts.idleMs,
  });

  /**
   * Publish without fastify: the same body cap, decoding, metrics and answers (headers, CORS,
   * error bodies) as the fastify route below, which serves publish while the node shuts down or
   * logs at debug level; tests check both give the same answers.
   */
  const publishDirect = (req: IncomingMessage, res: ServerResponse): void => {
    readCapped(req.headers, req, cap, (readErr, body) => {
      // As through fastify: a body that could not be read is answered, not counted as a call.
      if (readErr !== null) {
        writeError(res, toXmtpError(readErr));
        return;
      }
      const started = process.hrtime.bigint();
      let ctx: RequestContext;
      let decoded: ReturnType<typeof decodePublishRequest>;
      try {
        ctx = contextOf(req.headers, req.socket.remoteAddress, clientIp);
        decoded = decodePublishRequest(body);
      } catch (err) {
        failed(res, err, started);
        return;
      }
      api.publish(decoded, ctx).then(
        () => {
          metrics.request("http", "Publish", 0, seconds(started));
          res.writeHead(200, PUBLISHED_HEADERS);
          res.end(EMPTY_JSON);
        },
        (err: unknown) => failed(res, err, started),
      );
    });
  };
  const failed = (res: ServerResponse, err: unknown, started: bigint): void => {
    const e = toXmtpError(err);
    metrics.request("http", "Publish", e.code, seconds(started));
    if (e.code === Code.Internal) logger.error({ err: e }, "request failed");
    writeError(res, e);
  };

  app.setErrorHandler((err, _req, reply) => {
    const e = toXmtpError(err);
    if (e.code === Code.Internal) logger.error({ err }, "request failed");
    // The rest of an oversized body is never read: the connection closes after the answer.
    if (isTooLarge(e)) reply.header("connection", "close");
    sendError(reply, e);
  });
  app.setNotFoundHandler((_req, reply) => {
    sendError(reply, new XmtpError(Code.NotFound, "Not Found"));
  });

  app.register(fastifyCors, CORS);
  app.addHook("onRequest", (_req, reply, done) => {
    if (closing !== undefined) {
      reply.header("connection", "close");
      sendError(reply, new XmtpError(Code.Unavailable, "node is shutting down"));
      return;
    }
    done();
  });

  app.get("/healthz", async (_req, reply) => {
    let ok = false;
    // `healthy` may reject with an XmtpError saying why the node is not serving (e.g. disk full).
    let reason: XmtpError | undefined;
    try {
      ok = await opts.healthy();
    } catch (err) {
      if (err instanceof XmtpError) reason = err;
    }
    if (ok) {
      const details = opts.healthDetails === undefined ? {} : await opts.healthDetails().catch(() => ({}));
      return sendJson(reply, 200, JSON.stringify({ status: "SERVING", ...details }));
    }
    return sendError(reply, reason ?? new XmtpError(Code.Unavailable, "not serving: store unavailable"));
  });
  app.get("/metrics", async (_req, reply) => {
    const text = await metrics.render();
    return reply.code(200).type(metrics.contentType).send(text);
  });

  // The gateway lives in its own scope so its catch-all body parser does not leak into Connect's.
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    // The request Content-Type is not checked (xmtp-js sends text/plain): every body is JSON.
    const queryCap = Math.min(cap, MAX_QUERY_REQUEST_BYTES);
    scope.addContentTypeParser("*", (req, payload, done) =>
      readCapped(req.headers, payload, req.routeOptions.url === PUBLISH_PATH ? cap : queryCap, done),
    );

    const unary = (
      path: keyof typeof GATEWAY_ROUTES,
      run: (body: Buffer | undefined, ctx: RequestContext) => Promise<string | Buffer>,
      compress: boolean,
    ) => {
      const method = GATEWAY_ROUTES[path];
      scope.post(path, async (req, reply) => {
        const started = process.hrtime.bigint();
        let code: number = Code.Canceled;
        try {
          const body = await run(req.body as Buffer | undefined, requestContext(req, clientIp));
          code = 0;
          if (compress && acceptsGzip(req)) {
            reply.header("content-encoding", "gzip").header("vary", "Accept-Encoding");
            return sendJson(reply, 200, await gzip(body));
          }
          return sendJson(reply, 200, body);
        } catch (err) {
          const e = toXmtpError(err);
          code = e.code;
          throw e;
        } finally {
          metrics.request("http", method, code, seconds(started));
        }
      });
    };

    unary(
      "/message/v1/publish",
      async (body, ctx) => {
        await api.publish(decodePublishRequest(body), ctx);
        return EMPTY_JSON;
      },
      false,
    );
    unary(
      "/message/v1/query",
      async (body, ctx) =>
        queryResponseJson(await api.query(decodeJsonRequest(QueryRequestSchema, body), ctx)),
      true,
    );
    unary(
      "/message/v1/batch-query",
      async (body, ctx) =>
        batchQueryResponseBody(await api.batchQuery(decodeJsonRequest(BatchQueryRequestSchema, body), ctx)),
      true,
    );
    scope.post("/message/v1/subscribe", (req, reply) =>
      stream(
        req,
        reply,
        "Subscribe",
        () => decodeJsonRequest(SubscribeRequestSchema, req.body as Buffer).contentTopics,
      ),
    );
    scope.post("/message/v1/subscribe-all", (req, reply) =>
      stream(req, reply, "SubscribeAll", () => {
        decodeJsonRequest(SubscribeAllRequestSchema, req.body as Buffer);
        return "all";
      }),
    );
    // grpc-gateway answers a wrong method on a known route with its routing error.
    for (const path of Object.keys(GATEWAY_ROUTES)) {
      scope.route({
        method: ["GET", "PUT", "DELETE", "PATCH"],
        url: path,
        handler: (_req, reply) => sendError(reply, new XmtpError(Code.Unimplemented, "Method Not Allowed")),
      });
    }
  });

  if (opts.connect !== false) {
    const connect = createConnectServer({
      routes: messageApiRoutes({ api, metrics, transport: "connect", clientIp }),
      readMaxBytes: requestSizeLimit(cap),
      acceptCompression: [compressionGzip, compressionBrotli],
      logger: logger.child({ component: "connect" }),
      unreadBytes: opts.unreadBytes,
    });
    app.register(async (scope) => {
      // connect reads the body itself.
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser("*", (_req, _payload, done) => done(null, undefined));
      for (const path of connect.paths) {
        const handler = connect.handlerFor(path);
        if (handler === undefined) continue;
        scope.all(path, (req, reply) => {
          handOver(reply);
          return connect.serve(handler, req.raw, reply.raw);
        });
      }
    });
  }

  /** Opens an NDJSON stream (protocol.md §2.7): subscribe first, then send the headers at once. */
  async function stream(
    req: FastifyRequest,
    reply: FastifyReply,
    method: "Subscribe" | "SubscribeAll",
    topicsOf: () => string[] | "all",
  ): Promise<void> {
    const started = process.hrtime.bigint();
    const abort = new AbortController();
    let sub: Subscription;
    let heartbeatMs: number | undefined;
    try {
      heartbeatMs = heartbeatOf(req);
      sub = api.subscribe(topicsOf(), { ...requestContext(req, clientIp), signal: abort.signal });
    } catch (err) {
      const e = toXmtpError(err);
      metrics.request("http", method, e.code, seconds(started));
      // Nothing written yet: the status comes from the code, the body is the stream error line.
      reply.headers(detailHeaders(e));
      sendJson(reply, httpStatusFromCode(e.code), streamErrorLine(e));
      return;
    }
    metrics.request("http", method, 0, seconds(started));
    openStreams.add(sub);
    handOver(reply);
    const res = reply.raw;
    const onClose = () => {
      abort.abort();
      sub.close();
    };
    res.on("close", onClose);
    // The client may have gone before the listener was in place.
    if (res.destroyed || req.raw.socket.destroyed) onClose();
    req.raw.socket.setKeepAlive(true, 60_000);
    res.writeHead(200, {
      "content-type": "application/json",
      "grpc-metadata-subscribed": "true",
      ...(heartbeatMs === undefined
        ? {}
        : { [HEARTBEAT_HEADER]: String(heartbeatMs), "access-control-expose-headers": HEARTBEAT_HEADER }),
    });
    res.flushHeaders();
    // Opt-in heartbeat lines (§18 row 4): only clients that asked get them; xmtp-js never asks.
    const beat =
      heartbeatMs === undefined
        ? undefined
        : setInterval(() => {
            if (!res.destroyed && res.writableLength === 0) res.write(HEARTBEAT_LINE);
          }, heartbeatMs);
    beat?.unref();
    try {
      for await (const env of sub) {
        if (!res.write(streamResultLine(env as Envelope))) await drained(res);
        if (res.destroyed) break;
      }
    } catch (err) {
      const e = toXmtpError(err);
      if (!res.destroyed) res.write(streamErrorLine(e));
    } finally {
      clearInterval(beat);
      openStreams.delete(sub);
      res.off("close", onClose);
      sub.close();
      if (!res.destroyed) res.end();
    }
  }

  return {
    app,
    async listen(host, port) {
      await app.listen({ host, port });
      return (app.server.address() as AddressInfo).port;
    },
    close() {
      closing ??= (async () => {
        for (const sub of openStreams) sub.close();
        await app.close();
      })();
      return closing;
    },
  };
}

/** Request header asking for heartbeat lines every N ms on a subscription; echoed when granted. */
export const HEARTBEAT_HEADER = "x-xmtp-heartbeat-ms";
export const HEARTBEAT_MIN_MS = 1000;
export const HEARTBEAT_MAX_MS = 600_000;
const HEARTBEAT_LINE = '{"heartbeat":{}}\n';

function heartbeatOf(req: FastifyRequest): number | undefined {
  const v = header(req.headers[HEARTBEAT_HEADER]);
  if (v === undefined) return undefined;
  const n = /^\d{1,7}$/.test(v.trim()) ? Number(v) : Number.NaN;
  if (!(n >= HEARTBEAT_MIN_MS && n <= HEARTBEAT_MAX_MS))
    throw new XmtpError(
      Code.InvalidArgument,
      `${HEARTBEAT_HEADER} must be an integer in ${HEARTBEAT_MIN_MS}..${HEARTBEAT_MAX_MS}, got ${JSON.stringify(v.slice(0, 20))}`,
    );
  return n;
}

/** Takes a reply out of fastify's hands to write it raw, keeping the headers set so far (CORS). */
function handOver(reply: FastifyReply): void {
  for (const [key, value] of Object.entries(reply.getHeaders())) {
    if (value !== undefined) reply.raw.setHeader(key, value);
  }
  reply.hijack();
}

function sendError(reply: FastifyReply, err: XmtpError): FastifyReply {
  reply.headers(detailHeaders(err));
  return sendJson(reply, httpStatusFromCode(err.code), statusJson(err));
}

/** Sends JSON as bytes: fastify would append `; charset=utf-8` to a string body's type. */
function sendJson(reply: FastifyReply, status: number, body: string | Buffer): FastifyReply {
  return reply
    .code(status)
    .header("content-type", "application/json")
    .send(typeof body === "string" ? Buffer.from(body) : body);
}

/** An error answer written without fastify: what {@link sendError} and the error handler write. */
function writeError(res: ServerResponse, err: XmtpError): void {
  const body = Buffer.from(statusJson(err));
  const headers = [...CORS_ANSWER];
  if (isTooLarge(err)) headers.push("connection", "close");
  for (const [k, v] of Object.entries(detailHeaders(err))) headers.push(k, v);
  headers.push("content-type", "application/json", "content-length", String(body.length));
  res.writeHead(httpStatusFromCode(err.code), headers);
  res.end(body);
}

/** The API's view of an HTTP request: its token, client address (trusted proxies) and versions. */
export function requestContext(req: FastifyRequest, clientIp: ClientIpResolver): RequestContext {
  return contextOf(req.headers, req.socket.remoteAddress, clientIp);
}

function contextOf(
  h: IncomingHttpHeaders,
  remoteAddress: string | undefined,
  clientIp: ClientIpResolver,
): RequestContext {
  return {
    authorization: header(h.authorization),
    clientIp: clientIp(remoteAddress, h["x-forwarded-for"]),
    clientVersion: header(h["x-client-version"]),
    appVersion: header(h["x-app-version"]),
  };
}

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function acceptsGzip(req: FastifyRequest): boolean {
  const ae = req.headers["accept-encoding"];
  return typeof ae === "string" && /\bgzip\b/i.test(ae);
}

const seconds = (started: bigint) => Number(process.hrtime.bigint() - started) / 1e9;

function drained(res: ServerResponse): Promise<void> {
  if (res.destroyed || !res.writableNeedDrain) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

/**
 * Reads a body up to `cap` bytes. A declared Content-Length over the cap is refused before any
 * byte is read; a chunked body is refused as soon as it passes the cap. Either way the connection
 * is closed after the answer (see the error handler) so the rest is never read.
 */
function readCapped(
  headers: IncomingHttpHeaders,
  payload: IncomingMessage | Readable,
  cap: number,
  done: (err: Error | null, body?: Buffer) => void,
): void {
  const declared = Number(headers["content-length"]);
  if (Number.isFinite(declared) && declared > cap) {
    done(tooLargeError(declared, cap));
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  const finish = (err: Error | null, body?: Buffer) => {
    if (finished) return;
    finished = true;
    payload.off("data", onData);
    payload.off("end", onEnd);
    payload.off("error", onError);
    done(err, body);
  };
  const onData = (chunk: Buffer) => {
    size += chunk.length;
    if (size > cap) {
      payload.pause();
      finish(tooLargeError(size, cap));
      return;
    }
    chunks.push(chunk);
  };
  const onEnd = () => finish(null, size === 0 ? undefined : Buffer.concat(chunks, size));
  const onError = (err: Error) => finish(new XmtpError(Code.InvalidArgument, `reading body: ${err.message}`));
  payload.on("data", onData);
  payload.on("end", onEnd);
  payload.on("error", onError);
}
