/**
 * `ApiClient`: the message API over a node's HTTP/JSON gateway (protocol.md §2), on global `fetch`
 * only, so it runs unchanged in browsers. JSON is protojson through protobuf-es; streams are NDJSON.
 */
import { create, fromJson, type JsonValue, toJson } from "@bufbuild/protobuf";
import {
  BatchQueryRequestSchema,
  BatchQueryResponseSchema,
  type Cursor,
  type Envelope,
  PublishRequestSchema,
  QueryRequestSchema,
  type QueryResponse,
  QueryResponseSchema,
  SortDirection,
} from "@xmtp-ts/proto";
import { Code, MAX_BATCH_QUERIES, MAX_MESSAGE_BYTES, MAX_QUERY_LIMIT } from "@xmtp-ts/protocol";
import { ApiError, apiErrorFromBody, isRetryable, retryAfterMs } from "./errors.js";
import { openSubscription } from "./stream.js";
import type {
  Authenticator,
  EnvelopeInit,
  NetworkApi,
  QueryPagesOptions,
  QueryRequestInit,
  SubscribeOptions,
  Subscription,
} from "./types.js";
import { CLIENT_VERSION } from "./version.js";

export interface ApiClientOptions {
  /** Gateway base URL, e.g. `http://localhost:5555`. */
  apiUrl: string;
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
  /** Largest envelope expected; NDJSON lines over twice this fail (default 1,048,214). */
  maxMessageBytes?: number;
  /** Largest unary response body read (default 256 MiB); larger ones fail with ResourceExhausted. */
  maxResponseBytes?: number;
  /** On reconnect, re-read this much before the newest envelope seen per topic (default 30 s). */
  backfillOverlapNs?: bigint;
  /**
   * Ask for a heartbeat line on subscriptions this often (0 = never). Where the node grants it
   * (ours does; the reference ignores the request), a connection silent for three intervals is
   * taken as dead: the stream reconnects and backfills. Default 30 s outside browsers, and off in
   * browsers, where the extra request header needs a CORS preflight the reference node refuses.
   */
  streamHeartbeatMs?: number;
  /** Clock (ms), for token ageing. */
  now?: () => number;
}

const JSON_READ = { ignoreUnknownFields: true } as const;
/** Browsers apply CORS to requests (a custom header means a preflight); Node, Deno and Bun do not. */
const IN_BROWSER =
  typeof (globalThis as { document?: unknown }).document !== "undefined" &&
  typeof (globalThis as { navigator?: unknown }).navigator !== "undefined";
/** Asks for (and, echoed by the node, grants) heartbeat lines on a subscription. */
export const HEARTBEAT_HEADER = "X-Xmtp-Heartbeat-Ms";

/** The message API client. */
export class ApiClient implements NetworkApi {
  readonly apiUrl: string;
  readonly #opts: Required<Omit<ApiClientOptions, "authenticator" | "appVersion">> & { appVersion?: string };
  #authenticator: Authenticator | undefined;
  #token: { value: string; at: number } | undefined;
  #tokenPending: Promise<string> | undefined;
  readonly #subscriptions = new Set<Subscription>();

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
  }

  setAuthenticator(authenticator: Authenticator | undefined): void {
    this.#authenticator = authenticator;
    this.#token = undefined;
    this.#tokenPending = undefined;
  }

  /** Publishes envelopes in one request (authenticated when an authenticator is set). */
  async publish(envelopes: EnvelopeInit[]): Promise<void> {
    const body = toJson(PublishRequestSchema, create(PublishRequestSchema, { envelopes }));
    await this.#call("/message/v1/publish", body, { auth: true });
  }

  /** One Query request. */
  async query(req: QueryRequestInit, signal?: AbortSignal): Promise<QueryResponse> {
    const body = toJson(QueryRequestSchema, create(QueryRequestSchema, req));
    const res = await this.#call("/message/v1/query", body, { auth: false, signal });
    return fromJson(QueryResponseSchema, res, JSON_READ);
  }

  /** Any number of queries: chunks of 50 sent in parallel; responses in request order. */
  async batchQuery(reqs: QueryRequestInit[], signal?: AbortSignal): Promise<QueryResponse[]> {
    const chunks: QueryRequestInit[][] = [];
    for (let i = 0; i < reqs.length; i += MAX_BATCH_QUERIES)
      chunks.push(reqs.slice(i, i + MAX_BATCH_QUERIES));
    const results = await Promise.all(
      chunks.map(async (chunk) => {
        const body = toJson(BatchQueryRequestSchema, create(BatchQueryRequestSchema, { requests: chunk }));
        const res = fromJson(
          BatchQueryResponseSchema,
          await this.#call("/message/v1/batch-query", body, { auth: false, signal }),
          JSON_READ,
        );
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
  async *queryIteratePages(
    topics: string | string[],
    opts: QueryPagesOptions = {},
  ): AsyncGenerator<Envelope[]> {
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
          ...(startTimeNs !== undefined ? { startTimeNs } : {}),
          ...(endTimeNs !== undefined ? { endTimeNs } : {}),
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

  /** Every envelope of a paged query, collected. */
  async queryAll(topics: string | string[], opts: QueryPagesOptions = {}): Promise<Envelope[]> {
    const out: Envelope[] = [];
    for await (const page of this.queryIteratePages(topics, opts)) out.push(...page);
    return out;
  }

  /**
   * Subscribes to `topics`. The stream reconnects with backoff when the connection drops, and
   * backfills what it missed from the newest envelope seen per topic, skipping envelopes already
   * delivered (by digest). It ends on `signal`, `close()` or the iterator's `return()`.
   */
  subscribe(topics: string[], opts: SubscribeOptions = {}): Subscription {
    const sub = openSubscription(this, topics, opts, {
      maxLineBytes: 2 * this.#opts.maxMessageBytes,
      overlapNs: this.#opts.backfillOverlapNs,
      retryDelayMs: this.#opts.retryDelayMs,
      maxRetryDelayMs: this.#opts.maxRetryDelayMs,
      onEnd: () => this.#subscriptions.delete(sub),
    });
    this.#subscriptions.add(sub);
    return sub;
  }

  /** Ends every open subscription. */
  close(): void {
    for (const s of this.#subscriptions) s.close();
    this.#subscriptions.clear();
  }

  /**
   * Opens the raw NDJSON subscribe response (used by the stream), with the heartbeat interval the
   * node granted, if any.
   */
  async openStream(
    topics: string[],
    signal: AbortSignal,
  ): Promise<{ body: ReadableStream<Uint8Array>; heartbeatMs: number | undefined }> {
    const beat = this.#opts.streamHeartbeatMs;
    let res: Response;
    try {
      res = await fetch(`${this.apiUrl}/message/v1/subscribe`, {
        method: "POST",
        headers: this.#headers(beat > 0 ? { [HEARTBEAT_HEADER]: String(beat) } : {}),
        body: JSON.stringify({ contentTopics: topics }),
        signal,
      });
    } catch (err) {
      throw networkError(err);
    }
    if (!res.ok || !res.body) {
      const text = await readBounded(res, 64 * 1024).catch(() => "");
      throw apiErrorFromBody(res.status, text);
    }
    const granted = Number(res.headers.get(HEARTBEAT_HEADER));
    return {
      body: res.body,
      heartbeatMs: Number.isSafeInteger(granted) && granted > 0 ? granted : undefined,
    };
  }

  #headers(extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = {
      "Content-Type": "application/json",
      "X-Client-Version": `xmtp-ts/${CLIENT_VERSION}`,
      ...extra,
    };
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
            {
              cause: err,
            },
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

  async #call(
    path: string,
    body: JsonValue,
    o: { auth: boolean; signal?: AbortSignal | undefined },
  ): Promise<JsonValue> {
    const text = JSON.stringify(body);
    let refreshed = false;
    for (let attempt = 0; ; attempt++) {
      let err: unknown;
      try {
        const token = o.auth ? await this.#token_() : undefined;
        const headers = this.#headers(token ? { Authorization: `Bearer ${token}` } : {});
        let res: Response;
        try {
          res = await fetch(`${this.apiUrl}${path}`, {
            method: "POST",
            headers,
            body: text,
            ...(o.signal ? { signal: o.signal } : {}),
          });
        } catch (e) {
          throw networkError(e);
        }
        const resText = await readBounded(res, this.#opts.maxResponseBytes);
        if (res.ok) {
          try {
            return resText ? (JSON.parse(resText) as JsonValue) : {};
          } catch (e) {
            throw new ApiError(Code.Internal, `response is not JSON: ${resText.slice(0, 100)}`, res.status, {
              cause: e,
            });
          }
        }
        throw apiErrorFromBody(res.status, resText, retryAfterMs(res.headers.get("retry-after")));
      } catch (e) {
        err = e;
      }
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
      await sleep(backoff(attempt, this.#opts.retryDelayMs, this.#opts.maxRetryDelayMs), o.signal);
    }
  }
}

/** The response body as text, failing (and cancelling the download) past `max` bytes. */
async function readBounded(res: Response, max: number): Promise<string> {
  const declared = Number(res.headers.get("content-length") ?? Number.NaN);
  const tooBig = () => new ApiError(Code.ResourceExhausted, `response body exceeds ${max} bytes`, res.status);
  if (declared > max) {
    await res.body?.cancel().catch(() => undefined);
    throw tooBig();
  }
  if (!res.body) return "";
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let total = 0;
  let text = "";
  for (;;) {
    let step: ReadableStreamReadResult<Uint8Array>;
    try {
      step = await reader.read();
    } catch (err) {
      throw networkError(err);
    }
    if (step.done) break;
    total += step.value.length;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      throw tooBig();
    }
    text += decoder.decode(step.value, { stream: true });
  }
  return text + decoder.decode();
}

function networkError(err: unknown): unknown {
  if (err instanceof Error && err.name === "AbortError") return err;
  return new ApiError(Code.Unavailable, `network error: ${(err as Error)?.message ?? err}`, undefined, {
    cause: err,
  });
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
