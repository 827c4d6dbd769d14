/**
 * createNode(config) wires the parts: store → message API (with dispatcher) → transports.
 * Every part is a factory with start/stop; the node owns their order.
 *
 * ```ts
 * const node = createNode(resolveConfig({ httpPort: 0, grpcPort: 0, dataDir: "/tmp/x" }));
 * await node.start();
 * console.log(node.urls.http); // http://localhost:54321
 * await node.stop();
 * ```
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Envelope } from "@xmtp-ts/proto";
import { Code, XmtpError } from "@xmtp-ts/protocol";
import type { FastifyInstance } from "fastify";
import { createMessageApi, type MessageApiService } from "./api/service.js";
import type { NodeConfig } from "./config.js";
import { lockDataDir } from "./data-dir-lock.js";
import { createDispatcher } from "./dispatch/dispatcher.js";
import type { Dispatcher } from "./dispatch/types.js";
import { createLogger, type Logger } from "./logger.js";
import { createMetrics, type NodeMetrics } from "./metrics.js";
import { startCleaner } from "./store/cleaner.js";
import { createPostgresStore } from "./store/postgres.js";
import { createSqliteStore } from "./store/sqlite.js";
import type { Store } from "./store/types.js";
import { clientIpResolver } from "./transport/client-ip.js";
import { createGrpcTransport, type GrpcTransport } from "./transport/grpc.js";
import { createHttpTransport, type HttpTransport } from "./transport/http.js";

/** What an optional node part (e.g. the Waku relay) gets to work with. */
export interface NodeContext {
  config: NodeConfig;
  logger: Logger;
  metrics: NodeMetrics;
  store: Store;
  dispatcher: Dispatcher;
  api: MessageApiService;
}

/**
 * An optional part of the node with its own lifecycle, started after the store and the API and
 * before the listeners, and stopped after the listeners. The relay plugs in here.
 */
export interface NodePart {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Sends locally published envelopes to peers (called after commit). */
  broadcast?(envelopes: Envelope[]): void;
  /** Extra addresses to print on start, e.g. `{ libp2p: "/ip4/…" }`. */
  urls?(): Record<string, string>;
  /** Status shown under the part's name in `/healthz` (e.g. the relay's peers). */
  health?(): Record<string, unknown>;
  /** Adds routes to the HTTP listener (before it listens), e.g. the web app and its blobs. */
  routes?(app: FastifyInstance): void;
}

export interface CreateNodeOptions {
  /** Defaults to a pino logger at `config.logLevel` on stderr. */
  logger?: Logger | undefined;
  /** Use this store instead of the one `config` describes (tests, benchmarks). */
  store?: Store | undefined;
  /** Optional parts built once the API exists (the relay). */
  parts?: ReadonlyArray<(ctx: NodeContext) => NodePart> | undefined;
}

export interface NodeUrls {
  /** HTTP/JSON gateway, Connect/gRPC-Web, /healthz, /metrics. */
  http: string;
  /** gRPC (h2c). */
  grpc: string;
  [name: string]: string;
}

export interface XmtpNode {
  start(): Promise<void>;
  /** Closes streams, stops the listeners and parts, flushes and closes the store. Idempotent. */
  stop(): Promise<void>;
  /** Bound addresses; valid after start(). */
  readonly urls: NodeUrls;
  readonly api: MessageApiService;
  readonly store: Store;
  readonly metrics: NodeMetrics;
  readonly logger: Logger;
}

/** A listener could not bind because its port is taken. */
export class PortInUseError extends Error {
  override readonly name = "PortInUseError";
  constructor(
    readonly listener: "HTTP" | "gRPC" | "p2p",
    readonly port: number,
    options?: { cause?: unknown },
  ) {
    super(`${listener} port ${port} is already in use`, options);
  }
}

/** Builds the store `config` describes: SQLite in `dataDir` unless a database URL is given. */
export function createConfiguredStore(config: NodeConfig): Store {
  if (config.dbUrl !== undefined) return createPostgresStore({ url: config.dbUrl, schema: config.dbSchema });
  mkdirSync(config.dataDir, { recursive: true });
  return createSqliteStore({ path: join(config.dataDir, "xmtp.sqlite3") });
}

/** Creates a node; nothing listens until start(). */
export function createNode(config: NodeConfig, options: CreateNodeOptions = {}): XmtpNode {
  const logger = options.logger ?? createLogger(config.logLevel);
  const metrics = createMetrics();
  const store = options.store ?? createConfiguredStore(config);
  const dispatcher = createDispatcher({
    bufferSize: config.subscriptionBuffer,
    allBufferSize: config.subscribeAllBuffer,
  });
  metrics.observeDispatcher(dispatcher);
  const parts: NodePart[] = [];
  const api = createMessageApi({
    store,
    dispatcher,
    auth: { required: config.auth },
    rateLimits: config.rateLimits ? {} : undefined,
    metrics: metrics.api,
    relay: {
      broadcast(envelopes) {
        // Each part on its own: one that throws must not keep the envelopes from the others.
        for (const p of parts) {
          isolated(p, "broadcast", () => p.broadcast?.(envelopes));
        }
      },
    },
  });
  const ctx: NodeContext = { config, logger, metrics, store, dispatcher, api };
  /** Runs a call into a part; a throw is logged and counted, never passed on. */
  function isolated<T>(part: NodePart, action: string, call: () => T): T | { error: string } {
    try {
      return call();
    } catch (err) {
      logger.error({ err, part: part.name, action }, "a node part failed");
      metrics.partFailed(part.name, action);
      return { error: (err as Error).message };
    }
  }
  for (const make of options.parts ?? []) parts.push(make(ctx));

  let ready = false;
  /** Ready and the store healthy; otherwise rejects with why, which `/healthz` shows. */
  const healthy = async () => {
    if (!ready) return false;
    const h = await store.health();
    if (!h.ok) throw new XmtpError(Code.Unavailable, `not serving: ${h.error}`);
    return true;
  };
  const healthDetails = async () => {
    const details: Record<string, unknown> = { store: "ok" };
    for (const p of parts)
      if (p.health !== undefined) details[p.name] = isolated(p, "health", () => p.health?.());
    return details;
  };
  const clientIp = clientIpResolver(config.trustedProxies);
  const http: HttpTransport = createHttpTransport({
    api,
    metrics,
    logger,
    healthy,
    healthDetails,
    maxBodyBytes: config.maxMessageSize,
    clientIp,
  });
  for (const p of parts) p.routes?.(http.app);
  const grpc: GrpcTransport = createGrpcTransport({
    api,
    metrics,
    logger,
    healthy,
    clientIp,
    maxMessageBytes: config.maxMessageSize,
    keepaliveMs: config.grpcKeepaliveMs,
  });

  const urls: NodeUrls = { http: "", grpc: "" };
  const started: Array<() => Promise<void>> = [];
  let starting: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;

  const stopAll = async () => {
    ready = false;
    dispatcher.closeAll();
    // Reverse start order: listeners, parts, API timers, then the store (flushes pending writes).
    for (const stop of started.reverse()) {
      try {
        await stop();
      } catch (err) {
        logger.error({ err }, "error while stopping");
      }
    }
    started.length = 0;
  };

  const display = (port: number) => {
    const host = config.host === "0.0.0.0" || config.host === "::" ? "localhost" : config.host;
    return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  };

  const node: XmtpNode = {
    urls,
    api,
    store,
    metrics,
    logger,
    start() {
      if (stopping !== undefined) return Promise.reject(new Error("node was stopped"));
      starting ??= (async () => {
        try {
          // Released last (pushed first, stopped last): the data dir stays ours until all is flushed.
          const lock = lockDataDir(config.dataDir);
          started.push(async () => lock.release());
          await store.start();
          started.push(() => store.stop());
          if (config.retentionMs !== undefined) {
            const cleaner = startCleaner({
              store,
              retentionMs: config.retentionMs,
              logger,
              registry: metrics.registry,
            });
            started.push(() => cleaner.stop());
          }
          started.push(async () => api.stop());
          for (const p of parts) {
            await p.start();
            started.push(() => p.stop());
          }
          const httpPort = await listen("HTTP", config.httpPort, () =>
            http.listen(config.host, config.httpPort),
          );
          started.push(() => http.close());
          const grpcPort = await listen("gRPC", config.grpcPort, () =>
            grpc.listen(config.host, config.grpcPort),
          );
          started.push(() => grpc.close());
          urls.http = display(httpPort);
          urls.grpc = display(grpcPort);
          for (const p of parts) Object.assign(urls, p.urls?.() ?? {});
          ready = true;
          logger.info({ urls }, "node started");
        } catch (err) {
          await stopAll();
          throw err;
        }
      })();
      return starting;
    },
    stop() {
      stopping ??= (async () => {
        const wasReady = ready;
        await starting?.catch(() => undefined);
        await stopAll();
        if (wasReady) logger.info("node stopped");
      })();
      return stopping;
    },
  };
  return node;
}

async function listen(listener: "HTTP" | "gRPC", port: number, bind: () => Promise<number>): Promise<number> {
  try {
    return await bind();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EADDRINUSE")
      throw new PortInUseError(listener, port, { cause: err });
    throw err;
  }
}
