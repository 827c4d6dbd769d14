/**
 * The gateway's JSON, byte-compatible with grpc-gateway v2's protojson marshaler (protocol.md
 * §2.5): requests are read with protobuf-es `fromJson` (unknown fields ignored, camelCase or
 * snake_case names, uint64 as string or number, std or URL-safe base64); responses are written
 * with every field present, unset messages as `null`, in field-number order.
 */
import { create, type DescMessage, fromJson, type JsonValue, type MessageShape } from "@bufbuild/protobuf";
import {
  type BatchQueryResponse,
  type Cursor,
  type Envelope,
  type PagingInfo,
  type PublishRequest,
  PublishRequestSchema,
  type QueryResponse,
  SortDirectionSchema,
} from "@xmtp-ts/proto";
import { Code, canonicalEnvelopesFromJson, XmtpError } from "@xmtp-ts/protocol";
import { checkTopicCount } from "../api/limits.js";

/** Integer literals this long lose precision as JS numbers; they are read as strings instead. */
const LONG_INTEGER = /[[:,]\s*-?\d{16,}/;

/** A request body as text (UTF-8); an absent body is empty. */
function bodyText(body: Uint8Array | string | undefined): string {
  return typeof body === "string"
    ? body
    : body === undefined
      ? ""
      : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8");
}

/**
 * Parses a request body as a JSON object. An empty body is `{}` (as grpc-gateway treats EOF).
 * Throws InvalidArgument on anything else that is not a JSON object.
 */
export function parseJsonObject(body: Uint8Array | string | undefined): Record<string, JsonValue> {
  return jsonObjectOf(parseJsonText(bodyText(body)));
}

/** JSON.parse with long integer literals read as strings; throws InvalidArgument. */
function parseJsonText(text: string): unknown {
  if (text.trim() === "") return {};
  try {
    return JSON.parse(LONG_INTEGER.test(text) ? quoteLongIntegers(text) : text);
  } catch (err) {
    throw new XmtpError(Code.InvalidArgument, `invalid JSON: ${(err as Error).message}`);
  }
}

function jsonObjectOf(value: unknown): Record<string, JsonValue> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new XmtpError(Code.InvalidArgument, "invalid request: expected a JSON object");
  }
  return value as Record<string, JsonValue>;
}

/** Decodes a JSON request body into a message; every failure is InvalidArgument with a clear message. */
export function decodeJsonRequest<Desc extends DescMessage>(
  schema: Desc,
  body: Uint8Array | string | undefined,
): MessageShape<Desc> {
  return messageFromJson(schema, parseJsonObject(body));
}

/** {@link decodeJsonRequest} after the parse. */
function messageFromJson<Desc extends DescMessage>(
  schema: Desc,
  json: Record<string, JsonValue>,
): MessageShape<Desc> {
  // Refuse an oversized topic list before fromJson spends time on it.
  checkTopicCount(topicsListed(json));
  checkEnumNames(schema, json);
  try {
    return fromJson(schema, json, { ignoreUnknownFields: true });
  } catch (err) {
    throw new XmtpError(Code.InvalidArgument, `invalid request: ${(err as Error).message}`);
  }
}

/** Topics listed by a Query or Subscribe body, or by all sub-queries of a BatchQuery body. */
function topicsListed(json: Record<string, JsonValue>): number {
  const count = (obj: JsonValue | undefined): number => {
    if (obj === null || typeof obj !== "object" || Array.isArray(obj)) return 0;
    const list = obj.contentTopics ?? obj.content_topics;
    return Array.isArray(list) ? list.length : 0;
  };
  const requests = json.requests;
  return count(json) + (Array.isArray(requests) ? requests.reduce<number>((n, r) => n + count(r), 0) : 0);
}

/**
 * PublishRequest from JSON, as {@link decodeJsonRequest} reads it. The body every client sends
 * (`{"envelopes":[{"contentTopic":"…","timestampNs":"…","message":"…"}]}`, camelCase, the
 * timestamp as a decimal string, the message in padded standard base64) is read by hand
 * ({@link decodeCanonicalPublish}); any other body, valid or not, goes through the generic
 * decoder, so what is accepted and every error message stay exactly those of `fromJson`.
 */
export function decodePublishRequest(body: Uint8Array | string | undefined): PublishRequest {
  // The body is parsed once: a value that is not the common form goes on to the generic reader.
  const value = parseJsonText(bodyText(body));
  return canonicalPublish(value) ?? messageFromJson(PublishRequestSchema, jsonObjectOf(value));
}

/**
 * The common publish body, decoded without the generic reader; `undefined` for anything else
 * (other field spellings, numbers, nulls, URL-safe or unpadded base64, unknown fields, invalid
 * JSON), which the caller hands to the generic decoder. The result equals what `fromJson` gives
 * for the same body (tested against it in json.test.ts).
 */
export function decodeCanonicalPublish(body: Uint8Array | string | undefined): PublishRequest | undefined {
  if (body === undefined) return undefined;
  const text = bodyText(body);
  if (LONG_INTEGER.test(text)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return canonicalPublish(value);
}

/** {@link decodeCanonicalPublish} after the parse. */
function canonicalPublish(value: unknown): PublishRequest | undefined {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  const obj = value as Record<string, unknown>;
  let keys = 0;
  for (const _ in obj) keys++;
  const envelopes = keys === 1 ? canonicalEnvelopesFromJson(obj.envelopes) : undefined;
  return envelopes && create(PublishRequestSchema, { envelopes });
}

/**
 * `ignoreUnknownFields` also drops unknown enum names silently; the gateway refuses them, so enum
 * values are checked against their names first (numbers stay open, as in proto3).
 */
function checkEnumNames(desc: DescMessage, json: JsonValue): void {
  if (json === null || typeof json !== "object" || Array.isArray(json)) return;
  for (const field of desc.fields) {
    const value = json[field.jsonName] ?? json[field.name];
    if (value === undefined || value === null) continue;
    const items = field.fieldKind === "list" && Array.isArray(value) ? value : [value];
    for (const item of items) {
      if (field.fieldKind === "enum" || (field.fieldKind === "list" && field.listKind === "enum")) {
        const e = field.enum;
        if (e !== undefined && typeof item === "string" && !e.values.some((v) => v.name === item)) {
          throw new XmtpError(
            Code.InvalidArgument,
            `invalid request: invalid value for enum field ${field.jsonName}: ${JSON.stringify(item)}`,
          );
        }
      } else if (
        field.fieldKind === "message" ||
        (field.fieldKind === "list" && field.listKind === "message")
      ) {
        const m = field.message;
        if (m !== undefined) checkEnumNames(m, item);
      }
    }
  }
}

/** Wraps bare integer literals of 16+ digits (outside strings) in quotes so they keep every digit. */
export function quoteLongIntegers(text: string): string {
  let out = "";
  let last = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // skip a string literal
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i += 2;
        else if (d === 0x22) break;
        else i++;
      }
      i++;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      const start = i;
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if ((d >= 0x30 && d <= 0x39) || d === 0x2e || d === 0x65 || d === 0x45 || d === 0x2b || d === 0x2d)
          i++;
        else break;
      }
      const token = text.slice(start, i);
      if (/^-?\d{16,}$/.test(token)) {
        out += `${text.slice(last, start)}"${token}"`;
        last = i;
      }
    } else {
      i++;
    }
  }
  return last === 0 ? text : out + text.slice(last);
}

// ---- responses -------------------------------------------------------------------------------

const b64 = (bytes: Uint8Array) =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");

const directionNames = new Map<number, string>(SortDirectionSchema.values.map((v) => [v.number, v.name]));

/** `{"contentTopic":…,"timestampNs":"…","message":"…"}` */
export function envelopeJson(env: Envelope): string {
  return `{"contentTopic":${JSON.stringify(env.contentTopic)},"timestampNs":"${env.timestampNs}","message":"${b64(env.message)}"}`;
}

function cursorJson(cursor: Cursor | undefined): string {
  if (cursor === undefined) return "null";
  if (cursor.cursor.case !== "index") return "{}";
  const index = cursor.cursor.value;
  return `{"index":{"digest":"${b64(index.digest)}","senderTimeNs":"${index.senderTimeNs}"}}`;
}

function pagingInfoJson(p: PagingInfo | undefined): string {
  if (p === undefined) return "null";
  const dir = directionNames.get(p.direction);
  return `{"limit":${p.limit},"cursor":${cursorJson(p.cursor)},"direction":${dir === undefined ? p.direction : `"${dir}"`}}`;
}

/** `{"envelopes":[…],"pagingInfo":{…}|null}` */
export function queryResponseJson(res: QueryResponse): string {
  return `{"envelopes":[${res.envelopes.map(envelopeJson).join(",")}],"pagingInfo":${pagingInfoJson(res.pagingInfo)}}`;
}

/** `{"responses":[…]}` */
export function batchQueryResponseJson(res: BatchQueryResponse): string {
  return `{"responses":[${res.responses.map(queryResponseJson).join(",")}]}`;
}

/** Encoded bytes after which {@link batchQueryResponseBody} lets the event loop run. */
const YIELD_EVERY_BYTES = 1024 * 1024;

/**
 * {@link batchQueryResponseJson} as UTF-8 bytes, one sub-response at a time, letting other
 * requests run after each megabyte or so: a batch may carry ~50 MB of envelopes (protocol.md §18
 * row 19), whose encoding in one go would hold the event loop for hundreds of milliseconds.
 */
export async function batchQueryResponseBody(res: BatchQueryResponse): Promise<Buffer> {
  const parts: Buffer[] = [Buffer.from('{"responses":[')];
  let sinceYield = 0;
  for (let i = 0; i < res.responses.length; i++) {
    const part = Buffer.from(`${i > 0 ? "," : ""}${queryResponseJson(res.responses[i] as QueryResponse)}`);
    parts.push(part);
    sinceYield += part.length;
    if (sinceYield >= YIELD_EVERY_BYTES) {
      sinceYield = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  parts.push(Buffer.from("]}"));
  return Buffer.concat(parts);
}

/** The unary error body, `google.rpc.Status` JSON. */
export function statusJson(err: XmtpError): string {
  return `{"code":${err.code},"message":${JSON.stringify(err.message)},"details":[]}`;
}

const lines = new WeakMap<Envelope, Buffer>();

/**
 * One NDJSON stream line carrying an envelope, as bytes. A fanned-out envelope is the same object
 * for every subscriber, so its line is encoded once and the same buffer is written to every
 * stream: a thousand slow readers of a 1 MB envelope hold one copy, not a thousand.
 */
export function streamResultLine(env: Envelope): Buffer {
  let line = lines.get(env);
  if (line === undefined) {
    line = Buffer.from(`{"result":${envelopeJson(env)}}\n`);
    lines.set(env, line);
  }
  return line;
}

/** The NDJSON line that ends a stream with an error. */
export function streamErrorLine(err: XmtpError): string {
  return `{"error":${statusJson(err)}}\n`;
}
