/**
 * Envelopes from the gateway's JSON. The form nodes write (`{"contentTopic":"…","timestampNs":
 * "…","message":"…"}`: camelCase, the timestamp as a decimal string, the message in padded
 * standard base64) is read by hand, its base64 by the platform's native decoder; anything else,
 * valid or not, goes to protobuf-es `fromJson`, so what is accepted and how a refusal reads stay
 * exactly `fromJson`'s (tested against it). Listing and reading history decode every envelope
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

const JSON_READ = { ignoreUnknownFields: true } as const;
const UINT64_MAX = 0xffff_ffff_ffff_ffffn;
const DECIMAL_UINT64 = /^(?:0|[1-9][0-9]{0,19})$/;
const STD_BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const SURROGATE = /[\uD800-\uDFFF]/;

type NativeFromBase64 = (s: string) => Uint8Array;
type NodeBuffer = { from(b: ArrayBuffer): { write(s: string, o: number, l: number, enc: "base64"): number } };
const nativeFromBase64 = (Uint8Array as unknown as { fromBase64?: NativeFromBase64 }).fromBase64;
const nodeBuffer = (globalThis as { Buffer?: NodeBuffer }).Buffer;

/**
 * Decoders of padded standard base64 (already checked by the caller) into `length` bytes: the
 * platform's own where it has one (`Uint8Array.fromBase64`, Node's Buffer), else `atob`.
 */
export const base64Decoders = {
  native: nativeFromBase64 && ((s: string) => nativeFromBase64(s)),
  node:
    nodeBuffer &&
    ((s: string, length: number) => {
      const out = new Uint8Array(length);
      nodeBuffer.from(out.buffer).write(s, 0, length, "base64");
      return out;
    }),
  atob(s: string, length: number): Uint8Array {
    const bin = atob(s);
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = bin.charCodeAt(i);
    return out;
  },
};
const decodeBase64 = base64Decoders.native ?? base64Decoders.node ?? base64Decoders.atob;

function base64Bytes(s: string): Uint8Array {
  const pad = s.endsWith("==") ? 2 : s.endsWith("=") ? 1 : 0;
  const length = (s.length / 4) * 3 - pad;
  return length === 0 ? new Uint8Array(0) : decodeBase64(s, length);
}

/** One envelope in the nodes' form, or undefined for anything else. */
function canonicalEnvelope(item: JsonValue | undefined): Envelope | undefined {
  if (item === null || typeof item !== "object" || Array.isArray(item)) return undefined;
  let contentTopic = "";
  let timestampNs = 0n;
  let message: Uint8Array = new Uint8Array(0);
  for (const key in item) {
    const v = item[key];
    if (typeof v !== "string") return undefined;
    if (key === "contentTopic") {
      // A lone surrogate is not UTF-8: fromJson refuses it in its own words.
      if (SURROGATE.test(v)) return undefined;
      contentTopic = v;
    } else if (key === "timestampNs") {
      if (!DECIMAL_UINT64.test(v)) return undefined;
      timestampNs = BigInt(v);
      if (timestampNs > UINT64_MAX) return undefined;
    } else if (key === "message") {
      if (v.length % 4 !== 0 || !STD_BASE64.test(v)) return undefined;
      message = base64Bytes(v);
    } else return undefined;
  }
  return create(EnvelopeSchema, { contentTopic, timestampNs, message });
}

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
