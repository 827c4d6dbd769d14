/**
 * Serves connect routes on node's HTTP/1.1 and HTTP/2 servers, built from the parts connect-node
 * publishes for adapters (`createConnectRouter`, universal handlers,
 * `universalRequestFromNodeRequest`, `universalResponseToNodeResponse`).
 *
 * It differs from connect-node's own adapter in one respect: a streaming handler may send its
 * response headers before its first message ({@link sendHeadersNow}). connect commits headers only
 * with the first message, which on a quiet topic may never come, and Tonic clients wait for them
 * (protocol.md §2.8). When the headers went out early, this adapter writes only the body and the
 * trailers connect produces.
 *
 * And in one more: a request message that is not valid protobuf is the caller's error. connect
 * reports it as `internal` (its binary parser has no other code), so the router here ({@link
 * createRouter}) is connect's own handler factories with an interceptor that refuses such a message
 * as `invalid_argument`. Interceptors see the request messages of streaming calls only, so over
 * gRPC and gRPC-Web (where a unary call is on the wire a server-streaming call with one answer) the
 * unary methods are served as server-streaming ones; a Connect unary call is parsed before any
 * interceptor, so its parse error is re-rendered with connect's own error JSON helpers.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import * as http2 from "node:http2";
import type { JsonValue } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  type ConnectRouterOptions,
  createContextKey,
  createContextValues,
  createMethodImplSpec,
  createServiceImplSpec,
  type HandlerContext,
  type Interceptor,
  type MethodImplSpec,
} from "@connectrpc/connect";
import {
  createUniversalMethodHandler,
  createUniversalServiceHandlers,
  type ProtocolHandlerFactory,
  type UniversalHandler,
  type UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import {
  codeToHttpStatus,
  createHandlerFactory as connectHandlers,
  contentTypeUnaryJson,
  errorFromJsonBytes,
  errorToJsonBytes,
} from "@connectrpc/connect/protocol-connect";
import { createHandlerFactory as grpcHandlers } from "@connectrpc/connect/protocol-grpc";
import { createHandlerFactory as grpcWebHandlers } from "@connectrpc/connect/protocol-grpc-web";
import { universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import type { Logger } from "../logger.js";

export type RawRequest = IncomingMessage | Http2ServerRequest;
export type RawResponse = ServerResponse | Http2ServerResponse;

interface RawCall {
  req: RawRequest;
  res: RawResponse;
  unread: Unread;
  /** Bytes this call reserved for its next message ({@link reserveUnread}), until it is written. */
  reserved: number;
}

/** Response bytes held for clients that have not read them yet, node-wide. */
interface Unread {
  held: number;
  max: number;
  /** Calls whose last write waits for the client to read, oldest first. */
  waiting: Set<RawCall>;
}

const kRawCall = createContextKey<RawCall | undefined>(undefined, { description: "raw node call" });

/** The node request a handler is serving (for the peer address). */
export function rawRequestOf(ctx: HandlerContext): RawRequest | undefined {
  return ctx.values.get(kRawCall)?.req;
}

/** The node response a handler is writing, for transport-level checks (buffered bytes). */
export function rawResponseOf(ctx: HandlerContext): RawResponse | undefined {
  return ctx.values.get(kRawCall)?.res;
}

/**
 * Reserves room in the node-wide unread budget for a message about to be yielded, before connect
 * serialises it (so a thousand calls do not each make a copy first). The reservation is returned
 * once the message is written and drained. False when the budget is spent: the caller should end
 * the call.
 */
export function reserveUnread(ctx: HandlerContext, bytes: number): boolean {
  const call = ctx.values.get(kRawCall);
  if (call === undefined) return true;
  const { unread } = call;
  // Make room by cutting the calls that have waited longest for their client to read.
  for (const other of unread.waiting) {
    if (unread.held + bytes <= unread.max) break;
    if (other === call) continue;
    cut(other.res);
    release(other);
  }
  if (unread.held + bytes > unread.max) {
    // A call still holding unread bytes would not see an error either: cut it, freeing them.
    if (call.res.writableNeedDrain) cut(call.res);
    return false;
  }
  call.unread.held += bytes;
  call.reserved += bytes;
  return true;
}

/**
 * Sends the response status and the headers set on `ctx.responseHeader` so far, now. Later
 * header changes are not sent. Only for streaming methods: their status is always 200 and their
 * errors travel in the body or trailers.
 */
export function sendHeadersNow(ctx: HandlerContext): void {
  const res = rawResponseOf(ctx);
  if (res === undefined || res.headersSent || res.destroyed) return;
  res.writeHead(200, nodeHeaders(ctx.responseHeader));
  if ("flushHeaders" in res) res.flushHeaders();
}

export interface ConnectServer {
  /** The handler for a request path, if any. */
  handlerFor(path: string | undefined): UniversalHandler | undefined;
  /** Every request path served. */
  readonly paths: readonly string[];
  /** Serves one call; never rejects (failures are logged). */
  serve(
    handler: UniversalHandler,
    req: RawRequest,
    res: RawResponse,
    parsedJsonBody?: JsonValue,
  ): Promise<void>;
}

export interface ConnectServerOptions extends Omit<ConnectRouterOptions, "readMaxBytes"> {
  routes: (router: ConnectRouter) => void;
  logger: Logger;
  /** Largest request message, by request path. */
  readMaxBytes: (requestPath: string) => number;
  /**
   * Bytes all calls together may hold in response buffers their clients are not reading (default
   * {@link DEFAULT_UNREAD_BYTES}). connect serialises each call's messages itself, so a thousand
   * slow readers of one 1 MB envelope hold a thousand copies. Past this, the calls that have
   * waited longest for their clients to read are cut (RST_STREAM on HTTP/2, connection closed on
   * HTTP/1.1) to make room; when none is waiting, a stream is refused its next message
   * ({@link reserveUnread}) and ends with an error.
   */
  unreadBytes?: number | undefined;
}

export const DEFAULT_UNREAD_BYTES = 256 * 1024 * 1024;

/** Builds the universal handlers for `routes`, one router per distinct message size limit. */
export function createConnectServer(options: ConnectServerOptions): ConnectServer {
  const { routes, logger, readMaxBytes, unreadBytes, ...routerOptions } = options;
  const unread: Unread = { held: 0, max: unreadBytes ?? DEFAULT_UNREAD_BYTES, waiting: new Set() };
  const routers = new Map<number, Map<string, UniversalHandler>>();
  const routerFor = (max: number) => {
    let handlers = routers.get(max);
    if (handlers === undefined) {
      const router = createRouter({ ...routerOptions, readMaxBytes: max });
      routes(router);
      handlers = new Map(router.handlers.map((h) => [h.requestPath, h]));
      routers.set(max, handlers);
    }
    return handlers;
  };
  const byPath = new Map<string, UniversalHandler>();
  for (const path of routerFor(readMaxBytes("")).keys()) {
    const handler = routerFor(readMaxBytes(path)).get(path);
    if (handler !== undefined) byPath.set(path, handler);
  }
  return {
    paths: [...byPath.keys()],
    handlerFor: (path) => byPath.get(path?.split("?", 1)[0] ?? ""),
    async serve(handler, req, res, parsedJsonBody) {
      const call: RawCall = { req, res, unread, reserved: 0 };
      const values = createContextValues().set(kRawCall, call);
      try {
        const uRes = await callerErrorIsNotInternal(
          await handler(universalRequestFromNodeRequest(req, res, parsedJsonBody, values)),
        );
        if (!res.headersSent) {
          await universalResponseToNodeResponse(uRes, res);
          return;
        }
        if (uRes.body !== undefined) {
          for await (const chunk of uRes.body) await write(call, chunk);
        }
        if (uRes.trailer !== undefined) res.addTrailers(nodeHeaders(uRes.trailer));
        res.end();
      } catch (err) {
        // A client that went away (or was cut for not reading) is not a failure of the node.
        if (ConnectError.from(err).code === Code.Aborted || res.destroyed) return;
        logger.error({ err, rpc: handler.requestPath }, "rpc failed");
        if (!res.headersSent) res.writeHead(500);
        res.end();
      } finally {
        release(call);
      }
    },
  };
}

/** What a refused request message is told. */
export const MALFORMED_MESSAGE = "malformed request message";

/**
 * connect's router (all three protocols, the same options), except that a request message that is
 * not valid protobuf, or is flagged compressed without an encoding, is refused as InvalidArgument.
 */
function createRouter(options: Omit<ConnectRouterOptions, "grpc" | "grpcWeb" | "connect">): ConnectRouter {
  const opt = { ...options, interceptors: [refuseMalformed, ...(options.interceptors ?? [])] };
  const protocols = [
    unaryAsServerStream(grpcHandlers(opt)),
    unaryAsServerStream(grpcWebHandlers(opt)),
    connectHandlers(opt),
  ];
  const handlers: UniversalHandler[] = [];
  const router = {
    handlers,
    service(
      service: Parameters<typeof createServiceImplSpec>[0],
      impl: Parameters<typeof createServiceImplSpec>[1],
    ) {
      handlers.push(...createUniversalServiceHandlers(createServiceImplSpec(service, impl), protocols));
      return router;
    },
    rpc(
      method: Parameters<typeof createMethodImplSpec>[0],
      impl: Parameters<typeof createMethodImplSpec>[1],
    ) {
      handlers.push(createUniversalMethodHandler(createMethodImplSpec(method, impl), protocols));
      return router;
    },
  };
  return router as unknown as ConnectRouter;
}

/**
 * Serves unary methods as server-streaming ones yielding their one answer (the same bytes on the
 * wire for gRPC and gRPC-Web), so that the request message is read inside the interceptors.
 */
function unaryAsServerStream(factory: ProtocolHandlerFactory): ProtocolHandlerFactory {
  const wrapped = (spec: MethodImplSpec) => {
    if (spec.kind !== "unary") return factory(spec);
    const unary = spec.impl;
    return factory({
      kind: "server_streaming",
      method: spec.method as unknown as Extract<MethodImplSpec, { kind: "server_streaming" }>["method"],
      impl: async function* (req, ctx) {
        yield await unary(req, ctx);
      },
    });
  };
  return Object.assign(wrapped, { protocolName: factory.protocolName });
}

/** The caller's bytes, not the node, are at fault when connect could not read a request message. */
function malformed(err: unknown): ConnectError | undefined {
  if (!(err instanceof ConnectError) || err.code !== Code.Internal) return undefined;
  const m = /^(?:parse binary: (.*)|(received compressed envelope.*))$/s.exec(err.rawMessage);
  if (m === null) return undefined;
  return new ConnectError(`${MALFORMED_MESSAGE}: ${m[1] ?? m[2]}`, Code.InvalidArgument);
}

const refuseMalformed: Interceptor = (next) => (req) => {
  if (!req.stream) return next(req);
  const messages = req.message;
  return next({
    ...req,
    message: (async function* () {
      try {
        yield* messages;
      } catch (err) {
        throw malformed(err) ?? err;
      }
    })(),
  });
};

/**
 * A Connect unary request is parsed before any interceptor: its parse error arrives here as a
 * finished JSON error body (connect's `internal`), and is rendered again as `invalid_argument`.
 */
async function callerErrorIsNotInternal(uRes: UniversalServerResponse): Promise<UniversalServerResponse> {
  if (uRes.status !== 500 || uRes.body === undefined) return uRes;
  if (!uRes.header?.get("content-type")?.startsWith(contentTypeUnaryJson)) return uRes;
  const chunks: Uint8Array[] = [];
  for await (const chunk of uRes.body as AsyncIterable<Uint8Array>) chunks.push(chunk);
  const bytes = Buffer.concat(chunks);
  let refused: ConnectError | undefined;
  try {
    refused = malformed(errorFromJsonBytes(bytes, undefined, new ConnectError("", Code.Internal)));
  } catch {
    refused = undefined;
  }
  const body = refused === undefined ? bytes : errorToJsonBytes(refused, {});
  uRes.header.set("content-length", String(body.byteLength));
  return {
    ...uRes,
    status: refused === undefined ? uRes.status : codeToHttpStatus(refused.code),
    body: (async function* () {
      yield body;
    })(),
  };
}

function nodeHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, key) => {
    out[key] = value;
  });
  return out;
}

/**
 * Writes a chunk, waiting for the buffer to drain. Until it drains, the chunk counts against the
 * unread budget (as the call's reservation, or by its own size when there is none); past the
 * budget the call is cut. Rejects (Aborted) when the response is gone.
 */
function write(call: RawCall, chunk: Uint8Array): Promise<void> {
  const { res, unread } = call;
  return new Promise((resolve, reject) => {
    const gone = () => {
      release(call);
      reject(new ConnectError("client went away", Code.Aborted));
    };
    if (res.destroyed) {
      gone();
      return;
    }
    if ((res as ServerResponse).write(chunk)) {
      release(call);
      resolve();
      return;
    }
    if (call.reserved === 0) {
      if (unread.held + chunk.length > unread.max) {
        cut(res);
        gone();
        return;
      }
      unread.held += chunk.length;
      call.reserved = chunk.length;
    }
    unread.waiting.add(call);
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      if (res.destroyed && res.writableNeedDrain) gone();
      else {
        release(call);
        resolve();
      }
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

/** Gives the call's reservation back to the unread budget. */
function release(call: RawCall): void {
  call.unread.held -= call.reserved;
  call.reserved = 0;
  call.unread.waiting.delete(call);
}

/** Ends a call whose client does not read, dropping what it buffered. */
function cut(res: RawResponse): void {
  if ("stream" in res) res.stream.close(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  else res.destroy();
}
