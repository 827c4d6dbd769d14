/**
 * Envelopes from the gateway's JSON. The form nodes write is read by hand
 * (`canonicalEnvelopeFromJson` in @xmtp-ts/protocol, with the platform's base64 decoder);
 * anything else, valid or not, goes to protobuf-es `fromJson`, so what is accepted and how a
 * refusal reads stay exactly `fromJson`'s (tested against it). Listing and reading history decode every envelope
 * of every page, and protobuf-es's generic reader with its JavaScript base64 decoder was a
 * visible share of that work.
 */
import { create, fromJson, type JsonValue } from "@bufbuild/protobuf";
import {
  type BatchQueryResponse,
  BatchQueryResponseSchema,
  type Envelope,
  EnvelopeSchema,
  PagingInfoSchema,
  type QueryResponse,
  QueryResponseSchema,
} from "@xmtp-ts/proto";
import { canonicalEnvelopeFromJson } from "@xmtp-ts/protocol";

const JSON_READ = { ignoreUnknownFields: true } as const;
const canonicalEnvelope = (item: JsonValue | undefined) => canonicalEnvelopeFromJson(item);

/** An envelope from JSON: {@link canonicalEnvelope}, else `fromJson` (which throws on bad input). */
export function envelopeFromJson(json: JsonValue): Envelope {
  return canonicalEnvelope(json) ?? fromJson(EnvelopeSchema, json, JSON_READ);
}

/** A QueryResponse in the nodes' form (envelopes and paging info, either may be absent or null). */
function canonicalQueryResponse(json: JsonValue): QueryResponse | undefined {
  if (json === null || typeof json !== "object" || Array.isArray(json)) return undefined;
  let envelopes: Envelope[] = [];
  let pagingInfo: QueryResponse["pagingInfo"];
  for (const key in json) {
    const v = json[key];
    if (key === "envelopes") {
      if (v === null) continue;
      if (!Array.isArray(v)) return undefined;
      envelopes = new Array(v.length);
      for (let i = 0; i < v.length; i++) {
        const env = canonicalEnvelope(v[i]);
        if (env === undefined) return undefined;
        envelopes[i] = env;
      }
    } else if (key === "pagingInfo") {
      // Small and full of enums and optional fields: the generic reader's job.
      if (v !== null && v !== undefined) pagingInfo = fromJson(PagingInfoSchema, v, JSON_READ);
    } else return undefined;
  }
  return create(QueryResponseSchema, { envelopes, ...(pagingInfo ? { pagingInfo } : {}) });
}

/** A QueryResponse from the gateway's JSON (same result as `fromJson`, or the same throw). */
export function queryResponseFromJson(json: JsonValue): QueryResponse {
  let fast: QueryResponse | undefined;
  try {
    fast = canonicalQueryResponse(json);
  } catch {
    fast = undefined; // a paging info fromJson refuses: let the whole response be refused the same way
  }
  return fast ?? fromJson(QueryResponseSchema, json, JSON_READ);
}

/** A BatchQueryResponse from the gateway's JSON (same result as `fromJson`, or the same throw). */
export function batchQueryResponseFromJson(json: JsonValue): BatchQueryResponse {
  if (json !== null && typeof json === "object" && !Array.isArray(json)) {
    let keys = 0;
    for (const _ in json) keys++;
    const list = json.responses;
    if (keys === 1 && Array.isArray(list)) {
      const responses: QueryResponse[] = new Array(list.length);
      let ok = true;
      for (let i = 0; i < list.length && ok; i++) {
        try {
          const r = canonicalQueryResponse(list[i]!);
          if (r) responses[i] = r;
          else ok = false;
        } catch {
          ok = false;
        }
      }
      if (ok) return create(BatchQueryResponseSchema, { responses });
    }
  }
  return fromJson(BatchQueryResponseSchema, json, JSON_READ);
}
