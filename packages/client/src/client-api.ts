/**
 * A compact HTTP-gateway implementation of {@link ClientApi} (JSON for publish/query/batch-query,
 * NDJSON for subscribe, a cached auth token for publish, bounded retries on 5xx/429 and network
 * errors). The client uses it unless another factory is registered or an `api` is passed.
 */
import { create, fromJson, type JsonValue, toJson } from "@bufbuild/protobuf";
import {
  BatchQueryRequestSchema,
  BatchQueryResponseSchema,
  type Cursor,
  type Envelope,
  EnvelopeSchema,
  type PrivateKeyBundleV1,
  PublishRequestSchema,
  QueryRequestSchema,
  QueryResponseSchema,
  SortDirection,
} from "@xmtp-ts/proto";
import { createAuthToken } from "@xmtp-ts/protocol";
import type { ClientApi } from "./client.js";
import type { QueryRange } from "./conversations/transport.js";
import { identityKeyOf, walletAddressOf } from "./keys/private.js";
import type { EnvelopeQueryOptions } from "./keystore/api.js";

/** Tokens are renewed this long before the node's 1-hour expiry (xmtp-js uses 3590 s). */
const TOKEN_MAX_AGE_MS = 3_590_000;
const RETRIES = 5;
const RETRY_DELAY_MS = 100;
/** Longest NDJSON line accepted on a subscription (a max-size envelope in base64 JSON). */
const MAX_LINE_BYTES = 2 * 1024 * 1024;

export class HttpApiError extends Error {
  override readonly name = "HttpApiError";
  constructor(
    readonly status: number,
    readonly code: number | undefined,
    message: string,
  ) {
    super(message);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function httpClientApi(apiUrl: string): ClientApi {
  const base = apiUrl.replace(/\/+$/, "");
  let bundle: PrivateKeyBundleV1 | undefined;
  let token: { value: string; at: number } | undefined;

  const authHeader = (): Record<string, string> => {
    if (!bundle) return {};
    if (!token || Date.now() - token.at > TOKEN_MAX_AGE_MS) {
      const id = identityKeyOf(bundle);
      if (id.union.case !== "secp256k1" || !id.publicKey) throw new Error("identity key is not secp256k1");
      const at = Date.now();
      token = {
        at,
        value: createAuthToken({
          identityKey: id.publicKey,
          identityPrivateKey: id.union.value.bytes,
          walletAddress: walletAddressOf(bundle),
          createdNs: BigInt(at) * 1_000_000n,
        }),
      };
    }
    return { authorization: `Bearer ${token.value}` };
  };

  async function post(path: string, body: JsonValue, auth: boolean): Promise<JsonValue> {
    let lastErr: unknown;
    for (let attempt = 0; attempt <= RETRIES; attempt++) {
      let res: Response;
      try {
        res = await fetch(`${base}${path}`, {
          method: "POST",
          headers: { "content-type": "application/json", ...(auth ? authHeader() : {}) },
          body: JSON.stringify(body),
        });
      } catch (err) {
        lastErr = err;
        await sleep(RETRY_DELAY_MS);
        continue;
      }
      const text = await res.text();
      if (res.ok) return text ? (JSON.parse(text) as JsonValue) : {};
      let code: number | undefined;
      let message = text;
      try {
        const j = JSON.parse(text) as { code?: number; message?: string };
        code = j.code;
        message = j.message ?? text;
      } catch {}
      lastErr = new HttpApiError(res.status, code, message);
      if (res.status === 401 && auth && attempt === 0) {
        token = undefined;
        continue;
      }
      if (res.status < 500 && res.status !== 429) break;
      await sleep(RETRY_DELAY_MS);
    }
    throw lastErr;
  }

  const queryRequest = (
    topic: string,
    o: { limit?: number; direction: SortDirection; cursor?: Cursor; startNs?: bigint; endNs?: bigint },
  ) =>
    create(QueryRequestSchema, {
      contentTopics: [topic],
      ...(o.startNs ? { startTimeNs: o.startNs } : {}),
      ...(o.endNs ? { endTimeNs: o.endNs } : {}),
      pagingInfo: {
        limit: o.limit ?? 100,
        direction: o.direction,
        ...(o.cursor ? { cursor: o.cursor } : {}),
      },
    });

  const api: ClientApi = {
    setIdentity(b) {
      bundle = b;
      token = undefined;
    },

    async publish(envelopes: Envelope[]) {
      await post(
        "/message/v1/publish",
        toJson(PublishRequestSchema, create(PublishRequestSchema, { envelopes })),
        true,
      );
    },

    async query(topic: string, opts: EnvelopeQueryOptions) {
      const res = await post(
        "/message/v1/query",
        toJson(QueryRequestSchema, queryRequest(topic, opts)),
        false,
      );
      return fromJson(QueryResponseSchema, res, { ignoreUnknownFields: true }).envelopes;
    },

    async batchQuery(requests) {
      const res = await post(
        "/message/v1/batch-query",
        toJson(
          BatchQueryRequestSchema,
          create(BatchQueryRequestSchema, { requests: requests.map((r) => queryRequest(r.topic, r.opts)) }),
        ),
        false,
      );
      return fromJson(BatchQueryResponseSchema, res, { ignoreUnknownFields: true }).responses.map(
        (r) => r.envelopes,
      );
    },

    async *queryPages(topic: string, range: QueryRange) {
      const direction = range.direction === "descending" ? SortDirection.DESCENDING : SortDirection.ASCENDING;
      let cursor: Cursor | undefined;
      let remaining = range.limit ?? Number.POSITIVE_INFINITY;
      while (remaining > 0) {
        const res = fromJson(
          QueryResponseSchema,
          await post(
            "/message/v1/query",
            toJson(
              QueryRequestSchema,
              queryRequest(topic, {
                limit: Math.min(100, remaining),
                direction,
                ...(cursor ? { cursor } : {}),
                ...(range.startNs ? { startNs: range.startNs } : {}),
                ...(range.endNs ? { endNs: range.endNs } : {}),
              }),
            ),
            false,
          ),
          { ignoreUnknownFields: true },
        );
        if (res.envelopes.length === 0) return;
        const page = res.envelopes.slice(0, remaining);
        remaining -= page.length;
        yield page;
        cursor = res.pagingInfo?.cursor;
        if (!cursor || cursor.cursor.case === undefined) return;
      }
    },

    async subscribe(topics: string[], signal: AbortSignal) {
      const res = await fetch(`${base}/message/v1/subscribe`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ contentTopics: topics }),
        signal,
      });
      if (!res.ok || !res.body) throw new HttpApiError(res.status, undefined, await res.text());
      const body = res.body;
      return (async function* () {
        const reader = body.getReader();
        const decoder = new TextDecoder();
        let buf = "";
        try {
          while (!signal.aborted) {
            const { value, done } = await reader.read();
            if (done) return;
            buf += decoder.decode(value, { stream: true });
            if (buf.length > MAX_LINE_BYTES)
              throw new Error(`subscription line exceeds ${MAX_LINE_BYTES} bytes`);
            let nl = buf.indexOf("\n");
            while (nl >= 0) {
              const line = buf.slice(0, nl).trim();
              buf = buf.slice(nl + 1);
              nl = buf.indexOf("\n");
              if (!line) continue;
              const j = JSON.parse(line) as { result?: JsonValue; error?: { message?: string } };
              if (j.result) yield fromJson(EnvelopeSchema, j.result, { ignoreUnknownFields: true });
              else if (j.error) throw new Error(j.error.message ?? "subscription error");
            }
          }
        } catch (err) {
          if (!signal.aborted) throw err;
        } finally {
          reader.cancel().catch(() => undefined);
        }
      })();
    },
  };
  return api;
}
