/**
 * `ApiClient`: the one {@link NetworkApi} implementation, over any {@link ApiTransport}: the HTTP
 * gateway (default), Connect, gRPC-Web, or gRPC (`@xmtp-ts/client/grpc`, Node). Retries, auth
 * tokens, paging and self-healing subscriptions are done here once, so every transport behaves
 * the same.
 */
import { create } from "@bufbuild/protobuf";
import {
  BatchQueryRequestSchema,
  type Cursor,
  type Envelope,
  PublishRequestSchema,
  QueryRequestSchema,
  type QueryResponse,
  SortDirection,
} from "@xmtp-ts/proto";
import { Code, MAX_BATCH_QUERIES, MAX_MESSAGE_BYTES, MAX_QUERY_LIMIT } from "@xmtp-ts/protocol";
import { clientClosed } from "../errors.js";
import { connectTransport, grpcWebTransport } from "./connect.js";
import { ApiError, isRetryable } from "./errors.js";
import { httpTransport } from "./http.js";
import { openSubscription } from "./stream.js";
import type {
  ApiHeaders,
  ApiTransport,
  ApiTransportFactory,
  Authenticator,
  EnvelopeInit,
  NetworkApi,
  QueryPagesOptions,
  QueryRequestInit,
  SubscribeOptions,
  Subscription,
  TransportStream,
} from "./types.js";
import { CLIENT_VERSION } from "./version.js";

/**
 * How the client talks to a node: `"http"` the HTTP/JSON gateway (default, everywhere),
 * `"connect"` the Connect protocol and `"grpc-web"` gRPC-Web (both on the node's HTTP port, over
 * `fetch`, in browsers and Node), or a factory such as `grpcTransport` from `@xmtp-ts/client/grpc`
 * (gRPC over HTTP/2 in Node, on the node's gRPC port, with Subscribe2).
 */
export type ApiTransportChoice = "http" | "connect" | "grpc-web" | ApiTransportFactory;

export interface ApiClientOptions {
  /** Base URL of the node, e.g. `http://localhost:5555` (gRPC: `http://localhost:5556`). */
  apiUrl: string;
  /** The transport (default `"http"`). */
  transport?: ApiTransportChoice;
  /** Token source for Publish; without one, publishes go unauthenticated. */
  authenticator?: Authenticator;
  /** Sent as `X-App-Version` (e.g. `my-app/1.2.3`). */
  appVersion?: string;
  /** Retries after the first attempt for network errors, 5xx and 429 (default 5). */
  maxRetries?: number;
  /** First retry delay; doubles per retry (default 100 ms). */
  retryDelayMs?: number;
  /** Cap on one retry or reconnect delay (default 5 s). */
  maxRetryDelayMs?: number;
  /** Tokens are reused this long (default 3590 s: the node rejects them after 3600 s). */
  tokenMaxAgeMs?: number;
  /** Largest envelope expected; stream messages over twice this fail (default 1,048,214). */
  maxMessageBytes?: number;
  /** Largest unary response body read (default 256 MiB); larger ones fail with ResourceExhausted. */
  maxResponseBytes?: number;
  /** On reconnect, re-read this much before the newest envelope seen per topic (default 30 s). */
  backfillOverlapNs?: bigint;
  /**
   * Liveness checks on subscriptions this often (0 = never). Over HTTP the client asks for a
   * heartbeat line (where the node grants it — ours does, the reference ignores it) and a
   * connection silent for three intervals is taken as dead: the stream reconnects and backfills.
   * Over gRPC it is the HTTP/2 PING interval (an unanswered ping drops the connection, with the
   * same effect). Connect and gRPC-Web have no heartbeat. Default 30 s outside browsers, and off
   * in browsers, where the extra request header needs a CORS preflight the reference node refuses.
   */
  streamHeartbeatMs?: number;
  /** Clock (ms), for token ageing. */
  now?: () => number;
}

/** Browsers apply CORS to requests (a custom header means a preflight); Node, Deno and Bun do not. */
const IN_BROWSER =
  typeof (globalThis as { document?: unknown }).document !== "undefined" &&
  typeof (globalThis as { navigator?: unknown }).navigator !== "undefined";

const BUILT_IN: Record<string, ApiTransportFactory> = {
  http: httpTransport,
  connect: connectTransport,
  "grpc-web": grpcWebTransport,
};

function transportOf(choice: ApiTransportChoice | undefined): ApiTransportFactory {
  if (typeof choice === "function") return choice;
  const f = BUILT_IN[choice ?? "http"];
  if (!f) {
    throw new ApiError(
      Code.InvalidArgument,
      `unknown transport ${String(choice)}: use "http", "connect", "grpc-web" or a factory (gRPC: grpcTransport from @xmtp-ts/client/grpc)`,
    );
  }
  return f;
}

/** The message API client. */
export class ApiClient implements NetworkApi {
  readonly apiUrl: string;
  /** The transport's name (`"http"`, `"connect"`, `"grpc-web"`, `"grpc"`). */
  readonly transportName: string;
  readonly #opts: Required<Omit<ApiClientOptions, "authenticator" | "appVersion" | "transport">> & {
    appVersion?: string;
  };
  readonly #transport: ApiTransport;
  #authenticator: Authenticator | undefined;
  #token: { value: string; at: number } | undefined;
  #tokenPending: Promise<string> | undefined;
  readonly #subscriptions = new Set<Subscription>();
  readonly #closer = new AbortController();
  readonly closed: AbortSignal = this.#closer.signal;

  constructor(options: ApiClientOptions) {
    this.apiUrl = options.apiUrl.replace(/\/+$/, "");
    this.#authenticator = options.authenticator;
    this.#opts = {
      apiUrl: this.apiUrl,
      maxRetries: options.maxRetries ?? 5,
      retryDelayMs: options.retryDelayMs ?? 100,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 5000,
      tokenMaxAgeMs: options.tokenMaxAgeMs ?? 3_590_000,
      maxMessageBytes: options.maxMessageBytes ?? MAX_MESSAGE_BYTES,
      backfillOverlapNs: options.backfillOverlapNs ?? 30_000_000_000n,
      streamHeartbeatMs: options.streamHeartbeatMs ?? (IN_BROWSER ? 0 : 30_000),
      maxResponseBytes: options.maxResponseBytes ?? 256 * 1024 * 1024,
      now: options.now ?? Date.now,
      ...(options.appVersion !== undefined ? { appVersion: options.appVersion } : {}),
    };
    this.#transport = transportOf(options.transport)({
      apiUrl: this.apiUrl,
      maxResponseBytes: this.#opts.maxResponseBytes,
      maxStreamMessageBytes: 2 * this.#opts.maxMessageBytes,
      streamHeartbeatMs: this.#opts.streamHeartbeatMs,
    });
    this.transportName = this.#transport.name;
  }

  setAuthenticator(authenticator: Authenticator | undefined): void {
    this.#authenticator = authenticator;
    this.#token = undefined;
    this.#tokenPending = undefined;
  }

  /** Publishes envelopes in one request (authenticated when an authenticator is set). */
  async publish(envelopes: EnvelopeInit[]): Promise<void> {
    const req = create(PublishRequestSchema, { envelopes });
    await this.#call((h, s) => this.#transport.publish(req, h, s), { auth: true });
  }

  /** One Query request. */
  async query(req: QueryRequestInit, signal?: AbortSignal): Promise<QueryResponse> {
    const msg = create(QueryRequestSchema, req);
    return this.#call((h, s) => this.#transport.query(msg, h, s), { auth: false, signal });
  }

  /** Any number of queries: chunks of 50 sent in parallel; responses in request order. */
  async batchQuery(reqs: QueryRequestInit[], signal?: AbortSignal): Promise<QueryResponse[]> {
    const chunks: QueryRequestInit[][] = [];
    for (let i = 0; i < reqs.length; i += MAX_BATCH_QUERIES)
      chunks.push(reqs.slice(i, i + MAX_BATCH_QUERIES));
    const results = await Promise.all(
      chunks.map(async (chunk) => {
        const msg = create(BatchQueryRequestSchema, { requests: chunk });
        const res = await this.#call((h, s) => this.#transport.batchQuery(msg, h, s), {
          auth: false,
          signal,
        });
        if (res.responses.length !== chunk.length) {
          throw new ApiError(
            Code.Internal,
            `batch query answered ${res.responses.length} responses for ${chunk.length} requests`,
          );
        }
        return res.responses;
      }),
    );
    return results.flat();
  }

  /** Pages of envelopes, following cursors; stops on an empty page, a missing cursor or `limit`. */
  async *queryPages(topics: string | string[], opts: QueryPagesOptions = {}): AsyncGenerator<Envelope[]> {
    const contentTopics = typeof topics === "string" ? [topics] : topics;
    const pageSize = Math.max(1, Math.min(opts.pageSize ?? MAX_QUERY_LIMIT, MAX_QUERY_LIMIT));
    const direction = opts.direction ?? SortDirection.ASCENDING;
    let remaining = opts.limit ?? Number.POSITIVE_INFINITY;
    let cursor: Cursor | undefined;
    const startTimeNs = toNs(opts.startTime);
    const endTimeNs = toNs(opts.endTime);
    while (remaining > 0) {
      const res = await this.query(
        {
          contentTopics,
          ...(startTimeNs ? { startTimeNs } : {}),
          ...(endTimeNs ? { endTimeNs } : {}),
          pagingInfo: { limit: Math.min(pageSize, remaining), direction, ...(cursor ? { cursor } : {}) },
        },
        opts.signal,
      );
      if (res.envelopes.length === 0) return;
      const page = res.envelopes.length > remaining ? res.envelopes.slice(0, remaining) : res.envelopes;
      remaining -= page.length;
      yield page;
      cursor = res.pagingInfo?.cursor;
      if (!cursor || cursor.cursor.case === undefined) return;
    }
  }

  /**
   * Subscribes to `topics`. The stream reconnects with backoff when the connection drops, and
   * backfills what it missed from the newest envelope seen per topic, skipping envelopes already
   * delivered (by digest). It ends on `signal`, `close()` or the iterator's `return()`.
   */
  subscribe(topics: string[], opts: SubscribeOptions = {}): Subscription {
    this.#check();
    const signal = opts.signal ? AbortSignal.any([opts.signal, this.closed]) : this.closed;
    const sub = openSubscription(
      this,
      topics,
      { ...opts, signal },
      {
        overlapNs: this.#opts.backfillOverlapNs,
        retryDelayMs: this.#opts.retryDelayMs,
        maxRetryDelayMs: this.#opts.maxRetryDelayMs,
        onEnd: () => this.#subscriptions.delete(sub),
      },
    );
    this.#subscriptions.add(sub);
    return sub;
  }

  /** Ends every open subscription and refuses further calls ("client-closed"). */
  close(): void {
    if (this.closed.aborted) return;
    this.#closer.abort();
    for (const s of this.#subscriptions) s.close();
    this.#subscriptions.clear();
    this.#transport.close?.();
  }

  /** Opens one subscription call (used by the stream). */
  openStream(topics: string[], signal: AbortSignal): Promise<TransportStream> {
    return this.#transport.subscribe(topics, this.#headers(), signal);
  }

  #check(): void {
    if (this.closed.aborted) throw clientClosed();
  }

  #headers(extra: ApiHeaders = {}): ApiHeaders {
    const h: ApiHeaders = { "X-Client-Version": `xmtp-ts/${CLIENT_VERSION}`, ...extra };
    if (this.#opts.appVersion) h["X-App-Version"] = this.#opts.appVersion;
    return h;
  }

  async #token_(): Promise<string | undefined> {
    const auth = this.#authenticator;
    if (!auth) return undefined;
    const now = this.#opts.now();
    if (this.#token && now - this.#token.at < this.#opts.tokenMaxAgeMs) return this.#token.value;
    if (!this.#tokenPending) {
      const pending = auth.createToken().then(
        (value) => {
          if (this.#tokenPending === pending) this.#token = { value, at: now };
          return value;
        },
        (err: unknown) => {
          throw new ApiError(
            Code.Unauthenticated,
            `creating auth token: ${(err as Error)?.message ?? err}`,
            undefined,
            { cause: err },
          );
        },
      );
      this.#tokenPending = pending;
      pending
        .finally(() => {
          if (this.#tokenPending === pending) this.#tokenPending = undefined;
        })
        .catch(() => undefined);
    }
    return this.#tokenPending;
  }

  async #call<T>(
    send: (headers: ApiHeaders, signal: AbortSignal) => Promise<T>,
    o: { auth: boolean; signal?: AbortSignal | undefined },
  ): Promise<T> {
    this.#check();
    const signal = o.signal ? AbortSignal.any([o.signal, this.closed]) : this.closed;
    let refreshed = false;
    for (let attempt = 0; ; attempt++) {
      let err: unknown;
      try {
        const token = o.auth ? await this.#token_() : undefined;
        return await send(this.#headers(token ? { Authorization: `Bearer ${token}` } : {}), signal);
      } catch (e) {
        err = e;
      }
      if (this.closed.aborted) throw clientClosed();
      if (o.signal?.aborted) throw o.signal.reason ?? err;
      if (
        err instanceof ApiError &&
        err.grpcCode === Code.Unauthenticated &&
        o.auth &&
        this.#authenticator &&
        !refreshed
      ) {
        // A stale or rejected token: make a fresh one and retry once.
        refreshed = true;
        this.#token = undefined;
        continue;
      }
      if (!isRetryable(err) || attempt >= this.#opts.maxRetries) throw err;
      const wait = err instanceof ApiError ? err.details.retryAfterMs : undefined;
      await sleep(
        wait !== undefined
          ? Math.min(wait, this.#opts.maxRetryDelayMs)
          : backoff(attempt, this.#opts.retryDelayMs, this.#opts.maxRetryDelayMs),
        signal,
      );
    }
  }
}

/** `base · 2^attempt`, capped, with up to 20 % jitter. */
export function backoff(attempt: number, base: number, max: number): number {
  const d = Math.min(max, base * 2 ** Math.min(attempt, 30));
  return d * (0.8 + Math.random() * 0.2);
}

/** Resolves after `ms`, or early (without rejecting) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

function toNs(t: bigint | Date | undefined): bigint | undefined {
  if (t === undefined) return undefined;
  return typeof t === "bigint" ? t : BigInt(t.getTime()) * 1_000_000n;
}
