/**
 * Envelopes from the gateway's JSON. The form nodes write is read by hand
 * (`canonicalEnvelopeFromJson` in @xmtp-ts/protocol, with the platform's base64 decoder);
 * anything else, valid or not, goes to protobuf-es `fromJson`, so what is accepted and how a
 * refusal reads stay exactly `fromJson`'s (tested against it). Listing and reading history
 * decode every envelope of every page, and protobuf-es's generic reader with its JavaScript
 * base64 decoder was a visible share of that work.
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
import { canonicalEnvelopeFromJson, canonicalEnvelopesFromJson } from "@xmtp-ts/protocol";

const JSON_READ = { ignoreUnknownFields: true } as const;

/** An envelope from JSON: the nodes' form read by hand, else `fromJson` (which throws on bad input). */
export function envelopeFromJson(json: JsonValue): Envelope {
  return canonicalEnvelopeFromJson(json) ?? fromJson(EnvelopeSchema, json, JSON_READ);
}

/**
 * A QueryResponse in the nodes' form (envelopes and paging info, either may be absent or null);
 * undefined for anything else, including a paging info `fromJson` refuses (so the whole response
 * is then refused by `fromJson`, in its words).
 */
function canonicalQueryResponse(json: JsonValue | undefined): QueryResponse | undefined {
  if (json === null || typeof json !== "object" || Array.isArray(json)) return undefined;
  let envelopes: Envelope[] | undefined = [];
  let pagingInfo: QueryResponse["pagingInfo"];
  for (const key in json) {
    const v = json[key];
    if (key === "envelopes") {
      if (v !== null) envelopes = canonicalEnvelopesFromJson(v);
    } else if (key === "pagingInfo") {
      // Small and full of enums and optional fields: the generic reader's job.
      if (v !== null && v !== undefined) {
        try {
          pagingInfo = fromJson(PagingInfoSchema, v, JSON_READ);
        } catch {
          return undefined;
        }
      }
    } else return undefined;
    if (envelopes === undefined) return undefined;
  }
  return create(QueryResponseSchema, { envelopes, ...(pagingInfo ? { pagingInfo } : {}) });
}

/** A QueryResponse from the gateway's JSON (same result as `fromJson`, or the same throw). */
export function queryResponseFromJson(json: JsonValue): QueryResponse {
  return canonicalQueryResponse(json) ?? fromJson(QueryResponseSchema, json, JSON_READ);
}

/** A BatchQueryResponse from the gateway's JSON (same result as `fromJson`, or the same throw). */
export function batchQueryResponseFromJson(json: JsonValue): BatchQueryResponse {
  if (json !== null && typeof json === "object" && !Array.isArray(json)) {
    let keys = 0;
    for (const _ in json) keys++;
    const list = json.responses;
    if (keys === 1 && Array.isArray(list)) {
      const responses: QueryResponse[] = [];
      for (const item of list) {
        const r = canonicalQueryResponse(item);
        if (r === undefined) break;
        responses.push(r);
      }
      if (responses.length === list.length) return create(BatchQueryResponseSchema, { responses });
    }
  }
  return fromJson(BatchQueryResponseSchema, json, JSON_READ);
}
