/**
 * The MessageApi (and gRPC health) as a connect-es router: served as gRPC on the gRPC port and as
 * Connect/gRPC-Web on the HTTP port. A thin adapter: decode is connect's, semantics are the api's.
 */

import {
  Code as ConnectCode,
  ConnectError,
  type ConnectRouter,
  type HandlerContext,
} from "@connectrpc/connect";
import {
  type Envelope,
  Health,
  HealthCheckResponse_ServingStatus,
  MessageApi,
  type SubscribeRequest,
} from "@xmtp-ts/proto";
import { Code, XmtpError } from "@xmtp-ts/protocol";
import { detailHeaders } from "../api/errors.js";
import { MAX_QUERY_REQUEST_BYTES } from "../api/limits.js";
import type { MessageApi as Api, RequestContext, Subscription } from "../api/types.js";
import type { NodeMetrics, Transport } from "../metrics.js";
import { type ClientIpResolver, clientIpResolver } from "./client-ip.js";
import { rawRequestOf, reserveUnread, sendHeadersNow } from "./connect-adapter.js";
import { toXmtpError } from "./errors.js";

export interface MessageApiRoutesOptions {
  api: Api;
  metrics: NodeMetrics;
  transport: Transport;
  /** For grpc.health.v1.Health; when absent Health is not served. */
  healthy?: (() => Promise<boolean>) | undefined;
  /** The client address for rate limits (default: the socket's peer address). */
  clientIp?: ClientIpResolver | undefined;
}

/** The request size limit by path: `max` for Publish, {@link MAX_QUERY_REQUEST_BYTES} (at most) for the rest. */
export function requestSizeLimit(max: number): (requestPath: string) => number {
  const publish = `/${MessageApi.typeName}/${MessageApi.method.publish.name}`;
  return (path) => (path === publish ? max : Math.min(max, MAX_QUERY_REQUEST_BYTES));
}

/** Services names grpc.health.v1.Health answers for. */
const HEALTH_SERVICES = new Set(["", MessageApi.typeName]);

/** Builds the connect routes for the MessageApi (and Health when `healthy` is given). */
export function messageApiRoutes(opts: MessageApiRoutesOptions): (router: ConnectRouter) => void {
  const { api, metrics, transport } = opts;
  const clientIp = opts.clientIp ?? clientIpResolver([]);
  const requestContext = (ctx: HandlerContext) => contextOf(ctx, clientIp);
  const timed = async <T>(method: string, run: () => Promise<T>): Promise<T> => {
    const started = process.hrtime.bigint();
    let code: number = Code.Canceled;
    try {
      const out = await run();
      code = 0;
      return out;
    } catch (err) {
      const e = toConnectError(err);
      code = e.code;
      throw e;
    } finally {
      metrics.request(transport, method, code, Number(process.hrtime.bigint() - started) / 1e9);
    }
  };
  const opened = (method: string, code: number) => metrics.request(transport, method, code, 0);

  return (router) => {
    router.service(MessageApi, {
      publish: (req, ctx) => timed("Publish", () => api.publish(req, requestContext(ctx))),
      query: (req, ctx) => timed("Query", () => api.query(req, requestContext(ctx))),
      batchQuery: (req, ctx) => timed("BatchQuery", () => api.batchQuery(req, requestContext(ctx))),
      async *subscribe(req, ctx) {
        const sub = open("Subscribe", () => api.subscribe(req.contentTopics, requestContext(ctx)));
        yield* pump(sub, ctx);
      },
      async *subscribeAll(_req, ctx) {
        const sub = open("SubscribeAll", () => api.subscribe("all", requestContext(ctx)));
        yield* pump(sub, ctx);
      },
      async *subscribe2(requests, ctx) {
        // The reference sends the header before reading the first request (Tonic clients wait for it).
        subscribedHeaders(ctx);
        const it = requests[Symbol.asyncIterator]();
        const first = await it.next();
        if (first.done === true) return;
        const sub = open("Subscribe2", () => api.subscribe(first.value.contentTopics, requestContext(ctx)));
        // Each further request replaces the topic set. On half-close the last set keeps streaming
        // until the call is cancelled (§18 row 2). A refused update ends the stream with its error.
        let refused: unknown;
        void readTopicUpdates(it, sub).catch((err: unknown) => {
          refused = err;
          sub.close();
        });
        yield* pump(sub, ctx);
        if (refused !== undefined) throw toConnectError(refused);
      },
    });
    if (opts.healthy !== undefined) {
      const healthy = opts.healthy;
      const status = async (service: string) => {
        if (!HEALTH_SERVICES.has(service))
          throw new ConnectError(`unknown service ${service}`, ConnectCode.NotFound);
        return (await healthy().catch(() => false))
          ? HealthCheckResponse_ServingStatus.SERVING
          : HealthCheckResponse_ServingStatus.NOT_SERVING;
      };
      router.service(Health, {
        check: async (req) => ({ status: await status(req.service) }),
        async *watch(req, ctx) {
          yield { status: await status(req.service) };
          // The status does not change while the node runs; hold the stream until cancelled.
          await new Promise<void>((resolve) => {
            if (ctx.signal.aborted) resolve();
            ctx.signal.addEventListener("abort", () => resolve(), { once: true });
          });
        },
      });
    }
  };

  function open(method: string, subscribe: () => Subscription): Subscription {
    try {
      const sub = subscribe();
      opened(method, 0);
      return sub;
    } catch (err) {
      const e = toConnectError(err);
      opened(method, e.code);
      throw e;
    }
  }
}

/** Why a stream ends when the node holds too much for streams that are not being read. */
export const UNREAD_BUDGET_SPENT = "too many unread stream bytes on this node, resubscribe and backfill";

/** Yields the subscription's envelopes until the call is cancelled or the subscription ends. */
async function* pump(sub: Subscription, ctx: HandlerContext): AsyncGenerator<Envelope> {
  const onAbort = () => sub.close();
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  if (ctx.signal.aborted) sub.close();
  subscribedHeaders(ctx);
  try {
    for await (const env of sub) {
      // A client that does not read holds a serialised copy; the node-wide budget decides first.
      if (!reserveUnread(ctx, env.message.length + env.contentTopic.length + 32)) {
        throw new ConnectError(UNREAD_BUDGET_SPENT, ConnectCode.ResourceExhausted);
      }
      yield env;
    }
  } catch (err) {
    throw toConnectError(err);
  } finally {
    ctx.signal.removeEventListener("abort", onAbort);
    sub.close();
  }
}

/** Applies topic updates until the request side ends; rejects when an update is refused. */
async function readTopicUpdates(it: AsyncIterator<SubscribeRequest>, sub: Subscription): Promise<void> {
  for (;;) {
    let r: IteratorResult<SubscribeRequest>;
    try {
      r = await it.next();
    } catch {
      // The request side failed or was cancelled; the response side ends through the call's signal.
      return;
    }
    if (r.done === true) return;
    sub.setTopics(r.value.contentTopics);
  }
}

/** `subscribed: true` (protocol.md §2.8), sent at once: the subscription is live. */
function subscribedHeaders(ctx: HandlerContext): void {
  ctx.responseHeader.set("subscribed", "true");
  sendHeadersNow(ctx);
}

function contextOf(ctx: HandlerContext, clientIp: ClientIpResolver): RequestContext {
  const h = ctx.requestHeader;
  const raw = rawRequestOf(ctx);
  return {
    authorization: h.get("authorization") ?? undefined,
    clientIp: clientIp(raw?.socket?.remoteAddress, h.get("x-forwarded-for")),
    clientVersion: h.get("x-client-version") ?? undefined,
    appVersion: h.get("x-app-version") ?? undefined,
    signal: ctx.signal,
  };
}

/** XmtpError codes are gRPC codes, as are connect's. */
function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  const e = toXmtpError(err);
  return new ConnectError(e.message, e.code as number as ConnectCode, detailHeaders(e), undefined, e);
}

export { XmtpError };
