/**
 * The MessageApi over a connect-es transport: the calls of the generated `MessageApi` service,
 * errors as `ApiError`s with the gRPC status and the node's `retry-after` / `xmtp-limit` metadata,
 * and response bodies bounded before connect-es reads them. Connect and gRPC-Web (`connect.ts`)
 * and gRPC (`../grpc.ts`) run on it.
 */
import { ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { type Envelope, MessageApi } from "@xmtp-ts/proto";
import { Code } from "@xmtp-ts/protocol";
import { ApiError, limitOf, retryAfterMs } from "./errors.js";
import type { ApiTransport, TransportSettings, TransportStream } from "./types.js";

/**
 * An {@link ApiTransport} over a connect-es transport. With `bidi`, subscriptions use Subscribe2
 * (gRPC over HTTP/2 only): topic updates go on the open call. `streams` (default: `transport`)
 * carries the subscriptions, for a transport whose read bound is the stream message's.
 */
export function rpcTransport(
  name: string,
  transport: Transport,
  opts: { bidi?: boolean; streams?: Transport } = {},
): ApiTransport {
  const client = createClient(MessageApi, transport);
  const streams = opts.streams ?? transport;
  return {
    name,
    async publish(req, headers, signal) {
      await rpc(() => client.publish(req, { headers, ...(signal ? { signal } : {}) }));
    },
    query: (req, headers, signal) => rpc(() => client.query(req, { headers, ...(signal ? { signal } : {}) })),
    batchQuery: (req, headers, signal) =>
      rpc(() => client.batchQuery(req, { headers, ...(signal ? { signal } : {}) })),
    async subscribe(topics, headers, signal): Promise<TransportStream> {
      if (!opts.bidi) {
        const res = await rpc(() =>
          streams.stream(
            MessageApi.method.subscribe,
            signal,
            undefined,
            headers,
            once({ contentTopics: topics }),
            undefined,
          ),
        );
        return { events: mapped(res.message) };
      }
      const requests = new RequestQueue<{ contentTopics: string[] }>(signal);
      requests.push({ contentTopics: topics });
      const res = await rpc(() =>
        streams.stream(MessageApi.method.subscribe2, signal, undefined, headers, requests, undefined),
      );
      return {
        events: mapped(res.message),
        setTopics(next) {
          requests.push({ contentTopics: next });
        },
      };
    },
  };
}

/** A connect error as an ApiError (aborts pass through unchanged). */
export function fromConnectError(err: unknown): unknown {
  if (err instanceof ApiError) return err;
  if (err instanceof Error && err.name === "AbortError") return err;
  if (!(err instanceof ConnectError)) {
    return new ApiError(Code.Unavailable, `network error: ${(err as Error)?.message ?? err}`, undefined, {
      cause: err,
    });
  }
  return new ApiError(err.code as number as Code, err.rawMessage, undefined, {
    cause: err,
    retryAfterMs: retryAfterMs(err.metadata.get("retry-after")),
    limit: limitOf(err.metadata.get("xmtp-limit")),
  });
}

async function rpc<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw fromConnectError(err);
  }
}

async function* mapped(messages: AsyncIterable<Envelope>): AsyncGenerator<Envelope> {
  try {
    yield* messages;
  } catch (err) {
    throw fromConnectError(err);
  }
}

async function* once<T>(value: T): AsyncGenerator<T> {
  yield value;
}

/** The request side of a Subscribe2 call: open until the call's signal aborts. */
class RequestQueue<T> implements AsyncIterable<T> {
  readonly #items: T[] = [];
  #wake: (() => void) | undefined;
  #ended = false;
  constructor(signal: AbortSignal) {
    const end = () => {
      this.#ended = true;
      this.#wake?.();
    };
    if (signal.aborted) end();
    else signal.addEventListener("abort", end, { once: true });
  }
  push(item: T): void {
    this.#items.push(item);
    this.#wake?.();
  }
  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      const item = this.#items.shift();
      if (item !== undefined) {
        yield item;
        continue;
      }
      if (this.#ended) return;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = undefined;
    }
  }
}

/** Stream calls: their messages are held to the stream bound, unary ones to the response bound. */
const STREAM_METHODS = new Set(["Subscribe", "Subscribe2", "SubscribeAll"]);

/**
 * `fetch` whose response bodies are bounded before connect-es reads them: each enveloped message
 * (5-byte frame header: flags, big-endian length) to its bound, and a unary body in total, so a
 * broken or hostile server cannot make the client buffer without bound.
 */
export function boundedFetch(settings: TransportSettings): typeof globalThis.fetch {
  return async (input, init) => {
    const res = await globalThis.fetch(input, init);
    if (!res.body) return res;
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const streaming = STREAM_METHODS.has(url.slice(url.lastIndexOf("/") + 1));
    const max = streaming ? settings.maxStreamMessageBytes : settings.maxResponseBytes;
    const type = res.headers.get("content-type") ?? "";
    const framed = /\+proto|grpc-web/.test(type);
    const body = res.body.pipeThrough(framed ? frameLimit(max) : totalLimit(max));
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}

function tooLarge(size: number, max: number): ConnectError {
  return new ConnectError(`message of ${size} bytes exceeds ${max} bytes`, Code.ResourceExhausted as number);
}

function totalLimit(max: number): TransformStream<Uint8Array, Uint8Array> {
  let total = 0;
  return new TransformStream({
    transform(chunk, ctl) {
      total += chunk.length;
      if (total > max) ctl.error(tooLarge(total, max));
      else ctl.enqueue(chunk);
    },
  });
}

/** Checks each frame's declared length as the bytes pass (frames may span chunks). */
export function frameLimit(max: number): TransformStream<Uint8Array, Uint8Array> {
  /** Bytes of the current frame's payload still to pass; -1 while reading a header. */
  let remaining = 0;
  const header = new Uint8Array(5);
  let headerBytes = 0;
  return new TransformStream({
    transform(chunk, ctl) {
      let i = 0;
      while (i < chunk.length) {
        if (remaining > 0) {
          const n = Math.min(remaining, chunk.length - i);
          remaining -= n;
          i += n;
          continue;
        }
        header[headerBytes++] = chunk[i++] as number;
        if (headerBytes === 5) {
          headerBytes = 0;
          const len = new DataView(header.buffer).getUint32(1);
          // Trailer frames (flag 0x80) carry metadata: bounded by the same limit.
          if (len > max) {
            ctl.error(tooLarge(len, max));
            return;
          }
          remaining = len;
        }
      }
      ctl.enqueue(chunk);
    },
  });
}
