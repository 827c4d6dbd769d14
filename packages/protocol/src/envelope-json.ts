/**
 * The envelope in the JSON form nodes write and clients send (`{"contentTopic":"…","timestampNs":
 * "…","message":"…"}`: camelCase, the timestamp as a decimal string, the message in padded
 * standard base64), read without protobuf-es's generic JSON reader and with the platform's own
 * base64 decoder. Hot paths (a node reading publishes, a client reading pages) try it first and
 * hand anything else, valid or not, to `fromJson`, so what is accepted and how a refusal reads stay
 * `fromJson`'s; both uses are tested against it.
 */
import { create } from "@bufbuild/protobuf";
import { type Envelope, EnvelopeSchema } from "@xmtp-ts/proto";

const UINT64_MAX = 0xffff_ffff_ffff_ffffn;
const DECIMAL_UINT64 = /^(?:0|[1-9][0-9]{0,19})$/;
/** 1 for the 64 characters of standard base64, by char code. */
const BASE64_CHAR = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
  BASE64_CHAR[c.charCodeAt(0)] = 1;

/**
 * The byte length of padded standard base64 (a multiple of 4 characters from the alphabet, `=`
 * only as the last one or two), or -1 for anything else. A loop, several times faster than the
 * equivalent regular expression on message-sized strings (it runs once per envelope of every
 * publish).
 */
function paddedStdBase64Length(s: string): number {
  let n = s.length;
  if (n % 4 !== 0) return -1;
  if (n > 0 && s.charCodeAt(n - 1) === 61) n -= n > 1 && s.charCodeAt(n - 2) === 61 ? 2 : 1;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 127 || BASE64_CHAR[c] === 0) return -1;
  }
  return (s.length / 4) * 3 - (s.length - n);
}
const SURROGATE = /[\uD800-\uDFFF]/;

type NativeFromBase64 = (s: string) => Uint8Array;
type NodeBuffer = { from(b: ArrayBuffer): { write(s: string, o: number, l: number, enc: "base64"): number } };
const nativeFromBase64 = (Uint8Array as unknown as { fromBase64?: NativeFromBase64 }).fromBase64;
const nodeBuffer = (globalThis as { Buffer?: NodeBuffer }).Buffer;

/**
 * Decoders of padded standard base64 (checked by the caller) into its `length` bytes: the
 * platform's own where it has one (`Uint8Array.fromBase64`, Node's Buffer), else `atob`.
 */
export const base64Decoders = {
  native: nativeFromBase64 && ((s: string, _length: number) => nativeFromBase64(s)),
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

/**
 * An envelope in the form above, or undefined for anything else (other field spellings, numbers,
 * nulls, URL-safe or unpadded base64, unknown fields, a lone surrogate, a timestamp past uint64).
 */
export function canonicalEnvelopeFromJson(item: unknown): Envelope | undefined {
  if (item === null || typeof item !== "object" || Array.isArray(item)) return undefined;
  let contentTopic = "";
  let timestampNs = 0n;
  let message: Uint8Array = new Uint8Array(0);
  for (const key in item) {
    const v = (item as Record<string, unknown>)[key];
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
      const length = paddedStdBase64Length(v);
      if (length < 0) return undefined;
      if (length > 0) message = decodeBase64(v, length);
    } else return undefined;
  }
  return create(EnvelopeSchema, { contentTopic, timestampNs, message });
}

/** A list of envelopes all in the form above, or undefined when it is not an array or one is not. */
export function canonicalEnvelopesFromJson(list: unknown): Envelope[] | undefined {
  if (!Array.isArray(list)) return undefined;
  const envelopes: Envelope[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const env = canonicalEnvelopeFromJson(list[i]);
    if (env === undefined) return undefined;
    envelopes[i] = env;
  }
  return envelopes;
}
