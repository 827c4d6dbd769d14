import { randomBytes } from "@noble/hashes/utils.js";
import { fromHex, open, seal, sha256Hex, toHex } from "./cipher.js";
import {
  type CodecLookup,
  type ContentCodec,
  type EncodedContent,
  encodedContentFromBytes,
  encodedContentToBytes,
} from "./codec.js";
import { ContentTypeRemoteAttachment, contentTypeToString } from "./content-type.js";
import { ContentError } from "./errors.js";

/** A pointer to an encrypted `EncodedContent` blob stored at an https URL (XIP-17). */
export interface RemoteAttachment {
  url: string;
  /** sha256 hex of the encrypted blob. */
  contentDigest: string;
  salt: Uint8Array;
  nonce: Uint8Array;
  secret: Uint8Array;
  scheme: string;
  contentLength: number;
  filename: string;
}

/** The output of {@link RemoteAttachmentCodec.encodeEncrypted}: upload `payload`, then send a RemoteAttachment. */
export interface EncryptedEncodedContent {
  digest: string;
  secret: Uint8Array;
  salt: Uint8Array;
  nonce: Uint8Array;
  payload: Uint8Array;
}

/** Fetches a URL's bytes. Injectable so apps choose their transport (and tests need no network). */
export type Fetcher = (url: string, maxBytes: number) => Promise<Uint8Array>;

/** Default bound on a downloaded blob. */
export const DEFAULT_MAX_REMOTE_ATTACHMENT_BYTES = 64 * 1024 * 1024;

function checkUrl(url: unknown): string {
  if (typeof url !== "string") throw new ContentError("invalid", "remote attachment: url must be a string");
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ContentError("invalid", `remote attachment: "${url}" is not a URL`);
  }
  // Plain http only on loopback (a node on this machine; browsers count it as a secure origin).
  const loopback = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/.test(parsed.hostname);
  if (parsed.protocol !== "https:" && !(parsed.protocol === "http:" && loopback))
    throw new ContentError("invalid", "remote attachment: scheme must be https (http only on localhost)");
  return url;
}

/** Global `fetch`, reading at most `maxBytes`. */
export const defaultFetcher: Fetcher = async (url, maxBytes) => {
  const res = await fetch(url);
  if (!res.ok) throw new ContentError("invalid", `remote attachment: GET ${url} answered ${res.status}`);
  if (!res.body) return new Uint8Array(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > maxBytes) {
      await reader.cancel();
      throw new ContentError("too-large", `remote attachment exceeds ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
};

/**
 * `xmtp.org/remoteStaticAttachment:1.0`: content = the URL; parameters `{contentDigest, salt, nonce,
 * secret, scheme, contentLength, filename}` with hex byte values.
 */
export class RemoteAttachmentCodec implements ContentCodec<RemoteAttachment> {
  readonly contentType = ContentTypeRemoteAttachment;

  /** Encodes `content` with `codec` and encrypts it under a fresh random secret. */
  static async encodeEncrypted<T>(
    content: T,
    codec: ContentCodec<T>,
    registry: CodecLookup = { codecFor: () => undefined },
  ): Promise<EncryptedEncodedContent> {
    const secret = randomBytes(32);
    const plain = encodedContentToBytes(codec.encode(content, registry));
    const { salt, nonce, payload } = await seal(plain, secret);
    return { digest: await sha256Hex(payload), secret, salt, nonce, payload };
  }

  /** Decrypts an uploaded blob (checking its digest first) and decodes it with the registry. */
  static async decryptBlob<T = unknown>(
    remote: RemoteAttachment,
    payload: Uint8Array,
    registry: CodecLookup,
  ): Promise<T> {
    if (payload.length === 0)
      throw new ContentError("malformed", `remote attachment at ${remote.url} is empty`);
    if ((await sha256Hex(payload)) !== remote.contentDigest.toLowerCase()) {
      throw new ContentError("invalid", "remote attachment: content digest does not match");
    }
    const encoded = encodedContentFromBytes(await open(payload, remote.secret, remote.salt, remote.nonce));
    if (encoded.compression !== undefined) {
      throw new ContentError("unsupported", "remote attachment: compressed blobs are not supported");
    }
    const codec = registry.codecFor(encoded.type);
    if (!codec) {
      throw new ContentError(
        "unknown-type",
        `remote attachment: no codec for ${contentTypeToString(encoded.type)}`,
      );
    }
    return codec.decode(encoded, registry) as T;
  }

  /** Downloads (https only, bounded), verifies, decrypts and decodes the attachment. */
  static async load<T = unknown>(
    remote: RemoteAttachment,
    registry: CodecLookup,
    options: { fetcher?: Fetcher; maxBytes?: number } = {},
  ): Promise<T> {
    checkUrl(remote.url);
    const maxBytes = options.maxBytes ?? DEFAULT_MAX_REMOTE_ATTACHMENT_BYTES;
    const payload = await (options.fetcher ?? defaultFetcher)(remote.url, maxBytes);
    if (payload.length > maxBytes)
      throw new ContentError("too-large", `remote attachment exceeds ${maxBytes} bytes`);
    return RemoteAttachmentCodec.decryptBlob<T>(remote, payload, registry);
  }

  encode(r: RemoteAttachment): EncodedContent {
    checkUrl(r.url);
    if (!/^[0-9a-f]{64}$/.test(r.contentDigest)) {
      throw new ContentError("invalid", '"contentDigest" expected 32 bytes of lowercase hex');
    }
    const lengths: [string, Uint8Array, number][] = [
      ["salt", r.salt, 32],
      ["nonce", r.nonce, 12],
      ["secret", r.secret, 32],
    ];
    for (const [name, bytes, len] of lengths) {
      if (!(bytes instanceof Uint8Array) || bytes.length !== len) {
        throw new ContentError("invalid", `"${name}" expected ${len} bytes, got ${bytes?.length}`);
      }
    }
    if (!Number.isSafeInteger(r.contentLength) || r.contentLength < 0) {
      throw new ContentError("invalid", '"contentLength" must be a non-negative integer');
    }
    return {
      type: ContentTypeRemoteAttachment,
      parameters: {
        contentDigest: r.contentDigest,
        salt: toHex(r.salt),
        nonce: toHex(r.nonce),
        secret: toHex(r.secret),
        scheme: r.scheme,
        contentLength: String(r.contentLength),
        filename: r.filename,
      },
      content: new TextEncoder().encode(r.url),
    };
  }

  decode(encoded: EncodedContent): RemoteAttachment {
    const p = encoded.parameters;
    const url = checkUrl(new TextDecoder().decode(encoded.content));
    const contentDigest = p.contentDigest;
    if (typeof contentDigest !== "string" || !/^[0-9a-fA-F]{64}$/.test(contentDigest)) {
      throw new ContentError("invalid", '"contentDigest" expected 32 bytes of hex');
    }
    const contentLength = p.contentLength === undefined ? Number.NaN : Number.parseInt(p.contentLength, 10);
    return {
      url,
      contentDigest: contentDigest.toLowerCase(),
      salt: fromHex("salt", p.salt, 32),
      nonce: fromHex("nonce", p.nonce, 12),
      secret: fromHex("secret", p.secret, 32),
      scheme: p.scheme ?? "https://",
      contentLength,
      filename: p.filename ?? "",
    };
  }

  fallback(r: RemoteAttachment): string | undefined {
    return `Can’t display "${r.filename}". This app doesn’t support attachments.`;
  }

  shouldPush(): boolean {
    return true;
  }
}
