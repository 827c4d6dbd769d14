/**
 * The HTTP/JSON gateway transport (protocol.md §2): POST of protojson bodies on global `fetch`
 * only, so it runs unchanged in browsers; subscriptions are NDJSON responses.
 */
import { type JsonValue, toJson } from "@bufbuild/protobuf";
import {
  BatchQueryRequestSchema,
  type Envelope,
  PublishRequestSchema,
  QueryRequestSchema,
} from "@xmtp-ts/proto";
import { Code } from "@xmtp-ts/protocol";
import { ApiError, apiErrorFromBody, limitOf, retryAfterMs } from "./errors.js";
import { batchQueryResponseFromJson, envelopeFromJson, queryResponseFromJson } from "./json-envelopes.js";
import { readLines } from "./ndjson.js";
import type { ApiHeaders, ApiTransport, TransportSettings, TransportStream } from "./types.js";

/** Asks for (and, echoed by the node, grants) heartbeat lines on a subscription. */
export const HEARTBEAT_HEADER = "X-Xmtp-Heartbeat-Ms";

/** The gateway at `settings.apiUrl`. */
export function httpTransport(settings: TransportSettings): ApiTransport {
  const base = settings.apiUrl.replace(/\/+$/, "");
  const call = async (path: string, body: JsonValue, headers: ApiHeaders, signal?: AbortSignal) => {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method: "POST",
        headers: { "Content-Type": "application/json", ...headers },
        body: JSON.stringify(body),
        ...(signal ? { signal } : {}),
      });
    } catch (e) {
      throw networkError(e);
    }
    const text = await readBounded(res, settings.maxResponseBytes);
    if (!res.ok)
      throw apiErrorFromBody(
        res.status,
        text,
        retryAfterMs(res.headers.get("retry-after")),
        limitOf(res.headers.get("xmtp-limit")),
      );
    try {
      return text ? (JSON.parse(text) as JsonValue) : {};
    } catch (e) {
      throw new ApiError(Code.Internal, `response is not JSON: ${text.slice(0, 100)}`, res.status, {
        cause: e,
      });
    }
  };
  return {
    name: "http",
    async publish(req, headers, signal) {
      await call("/message/v1/publish", toJson(PublishRequestSchema, req), headers, signal);
    },
    async query(req, headers, signal) {
      const res = await call("/message/v1/query", toJson(QueryRequestSchema, req), headers, signal);
      return queryResponseFromJson(res);
    },
    async batchQuery(req, headers, signal) {
      const res = await call(
        "/message/v1/batch-query",
        toJson(BatchQueryRequestSchema, req),
        headers,
        signal,
      );
      return batchQueryResponseFromJson(res);
    },
    async subscribe(topics, headers, signal): Promise<TransportStream> {
      const beat = settings.streamHeartbeatMs;
      let res: Response;
      try {
        res = await fetch(`${base}/message/v1/subscribe`, {
          method: "POST",
          headers: {
            "Content-Type": "application/json",
            ...headers,
            ...(beat > 0 ? { [HEARTBEAT_HEADER]: String(beat) } : {}),
          },
          body: JSON.stringify({ contentTopics: topics }),
          signal,
        });
      } catch (err) {
        throw networkError(err);
      }
      if (!res.ok || !res.body) {
        const text = await readBounded(res, 64 * 1024).catch(() => "");
        throw apiErrorFromBody(
          res.status,
          text,
          retryAfterMs(res.headers.get("retry-after")),
          limitOf(res.headers.get("xmtp-limit")),
        );
      }
      const granted = Number(res.headers.get(HEARTBEAT_HEADER));
      return {
        events: ndjsonEnvelopes(res.body, settings.maxStreamMessageBytes),
        heartbeatMs: Number.isSafeInteger(granted) && granted > 0 ? granted : undefined,
      };
    },
  };
}

/** The envelopes (and heartbeats, as undefined) of an NDJSON subscribe response. */
async function* ndjsonEnvelopes(
  body: ReadableStream<Uint8Array>,
  maxLineBytes: number,
): AsyncGenerator<Envelope | undefined> {
  for await (const line of readLines(body, maxLineBytes)) {
    if (line.trim() === "") {
      yield undefined; // keep-alive whitespace
      continue;
    }
    let msg: { result?: JsonValue; error?: { code?: number; message?: string } };
    try {
      msg = JSON.parse(line);
    } catch (err) {
      throw new ApiError(Code.DataLoss, `malformed subscription line: ${line.slice(0, 80)}`, undefined, {
        cause: err,
      });
    }
    if (msg && typeof msg === "object" && msg.result !== undefined) {
      try {
        yield envelopeFromJson(msg.result);
      } catch (err) {
        throw new ApiError(Code.DataLoss, "malformed envelope on subscription", undefined, { cause: err });
      }
    } else if (msg && typeof msg === "object" && msg.error) {
      const code = typeof msg.error.code === "number" ? msg.error.code : Code.Unavailable;
      // Stream errors (e.g. buffer overflow) mean "resubscribe and backfill".
      throw new ApiError(Code.Unavailable, `subscription error ${code}: ${msg.error.message ?? ""}`);
    } else {
      yield undefined; // any other object (a heartbeat) only shows the connection is alive
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

/** A failed fetch as Unavailable (aborts pass through). */
export function networkError(err: unknown): unknown {
  if (err instanceof Error && err.name === "AbortError") return err;
  return new ApiError(Code.Unavailable, `network error: ${(err as Error)?.message ?? err}`, undefined, {
    cause: err,
  });
}
