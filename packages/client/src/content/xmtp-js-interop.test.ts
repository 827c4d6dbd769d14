/**
 * In-process cross-checks against xmtp-js 12.1.0's own content pipeline (`Client.encodeContent` /
 * `decodeContent`, run on a codec-only client object: no network), its TextCodec and the
 * `@xmtp/proto` encoders: bytes we make decode there and vice versa.
 */

import { createHash } from "node:crypto";
import { TextCodec as JsTextCodec } from "@xmtp/content-type-text";
import { composite as jsComposite, content as jsContent } from "@xmtp/proto";
import {
  Client,
  Ciphertext as JsCiphertext,
  decrypt as jsDecrypt,
  encrypt as jsEncrypt,
} from "@xmtp/xmtp-js";
import { Compression } from "@xmtp-ts/proto";
import { describe, expect, it } from "vitest";
import {
  AttachmentCodec,
  CompositeCodec,
  type ContentCodec,
  ContentTypeAttachment,
  ContentTypeComposite,
  ContentTypeReaction,
  ContentTypeReadReceipt,
  ContentTypeRemoteAttachment,
  ContentTypeReply,
  ContentTypeText,
  ContentTypeTransactionReference,
  decodeContent,
  defaultCodecRegistry,
  encodeContent,
  ReactionCodec,
  ReadReceiptCodec,
  RemoteAttachmentCodec,
  ReplyCodec,
  TransactionReferenceCodec,
} from "./index.js";

type JsPipeline = {
  registerCodec(c: unknown): unknown;
  encodeContent(
    content: unknown,
    options?: { contentType?: unknown; compression?: number },
  ): Promise<{ payload: Uint8Array; shouldPush: boolean }>;
  decodeContent(
    bytes: Uint8Array,
  ): Promise<{ content: unknown; error?: Error; contentFallback?: string; contentType: unknown }>;
};

/** xmtp-js's real Client methods on an object holding only its codec map. */
function jsPipeline(codecs: unknown[] = []): JsPipeline {
  const c = Object.create(Client.prototype) as JsPipeline & { _codecs: Map<string, unknown> };
  c._codecs = new Map();
  c.registerCodec(new JsTextCodec());
  for (const codec of codecs) c.registerCodec(codec);
  return c;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const normalize = (v: unknown) =>
  JSON.stringify(v, function (this: Record<string, unknown>, key, value) {
    const raw = this[key];
    return raw instanceof Uint8Array ? hex(raw) : value;
  });
const registry = defaultCodecRegistry();
const texts = ["hi", "", "héllo wörld 👋", "0123456789", "long ".repeat(150), "x".repeat(1000)];

describe("text against xmtp-js 12.1.0", () => {
  it("identical bytes without compression, decodable both ways", async () => {
    const js = jsPipeline();
    for (const t of texts) {
      const ours = await encodeContent(t, {}, registry);
      const theirs = await js.encodeContent(t);
      expect(hex(ours.payload)).toBe(hex(theirs.payload));
      expect(ours.shouldPush).toBe(theirs.shouldPush);
      expect((await js.decodeContent(ours.payload)).content).toBe(t);
      expect((await decodeContent(theirs.payload, registry)).content).toBe(t);
    }
  });

  it("deflate and gzip: ours decode in xmtp-js and theirs decode in ours", async () => {
    const js = jsPipeline();
    for (const compression of [Compression.DEFLATE, Compression.GZIP]) {
      for (const t of texts) {
        const ours = await encodeContent(t, { compression }, registry);
        const theirs = await js.encodeContent(t, { compression });
        expect(hex(ours.payload)).toBe(hex(theirs.payload));
        expect((await js.decodeContent(ours.payload)).content).toBe(t);
        expect((await decodeContent(theirs.payload, registry)).content).toBe(t);
      }
    }
  });

  it("content over 1000 bytes: by default we send it uncompressed so xmtp-js can read it; forced, xmtp-js cannot", async () => {
    const js = jsPipeline();
    const big = "y".repeat(5000);
    const safe = await encodeContent(big, { compression: Compression.DEFLATE }, registry);
    expect((await js.decodeContent(safe.payload)).content).toBe(big);
    const forced = await encodeContent(
      big,
      { compression: Compression.DEFLATE, forceCompression: true },
      registry,
    );
    await expect(js.decodeContent(forced.payload)).rejects.toThrow(/maximum output size exceeded/);
    // xmtp-js compresses it anyway; we read it (no 1000-byte cap).
    const theirs = await js.encodeContent(big, { compression: Compression.DEFLATE });
    expect((await decodeContent(theirs.payload, registry)).content).toBe(big);
  });

  it("xmtp-js keeps the fallback of a type it does not know, and so do we", async () => {
    const js = jsPipeline();
    const ours = await encodeContent(
      { reference: "m", action: "added", content: "👍", schema: "unicode" },
      { contentType: ContentTypeReaction },
      registry,
    );
    const seen = await js.decodeContent(ours.payload);
    expect(seen.content).toBeUndefined();
    expect(seen.contentFallback).toBe("Reacted “👍” to an earlier message");
  });
});

describe("our codecs plug into xmtp-js's pipeline (same codec contract)", () => {
  const ours: ContentCodec<unknown>[] = [
    new ReactionCodec(),
    new ReplyCodec(),
    new ReadReceiptCodec(),
    new AttachmentCodec(),
    new RemoteAttachmentCodec(),
    new TransactionReferenceCodec(),
    new CompositeCodec(),
  ] as ContentCodec<unknown>[];
  const remote = {
    url: "https://files.example/x",
    contentDigest: "ab".repeat(32),
    salt: new Uint8Array(32).fill(1),
    nonce: new Uint8Array(12).fill(2),
    secret: new Uint8Array(32).fill(3),
    scheme: "https://",
    contentLength: 123,
    filename: "x.bin",
  };
  const samples: [unknown, typeof ContentTypeText][] = [
    [{ reference: "m1", action: "removed", content: ":+1:", schema: "shortcode" }, ContentTypeReaction],
    [{ reference: "m2", contentType: ContentTypeText, content: "a reply" }, ContentTypeReply],
    [{}, ContentTypeReadReceipt],
    [{ filename: "f.txt", mimeType: "text/plain", data: new Uint8Array([1, 2, 3]) }, ContentTypeAttachment],
    [remote, ContentTypeRemoteAttachment],
    [{ networkId: 1, reference: "0xabc", namespace: "eip155" }, ContentTypeTransactionReference],
    [
      {
        parts: [
          { type: ContentTypeText, content: "one" },
          { parts: [{ type: ContentTypeText, content: "two" }] },
        ],
      },
      ContentTypeComposite,
    ],
  ];

  it("same bytes from both pipelines, and each side decodes the other's", async () => {
    const js = jsPipeline(ours);
    for (const [content, contentType] of samples) {
      for (const compression of [undefined, Compression.GZIP]) {
        const opts = compression === undefined ? { contentType } : { contentType, compression };
        const a = await encodeContent(content, opts, registry);
        const b = await js.encodeContent(content, opts);
        expect(hex(a.payload), contentType.toString()).toBe(hex(b.payload));
        expect(a.shouldPush).toBe(b.shouldPush);
        const viaJs = await js.decodeContent(a.payload);
        expect(viaJs.error).toBeUndefined();
        const viaUs = await decodeContent(b.payload, registry);
        expect(viaUs.error).toBeUndefined();
        expect(normalize(viaUs.content)).toBe(normalize(viaJs.content));
      }
    }
  });

  it("reply and composite bodies are the @xmtp/proto encodings of xmtp-js's TextCodec output", async () => {
    const inner = jsContent.EncodedContent.encode(new JsTextCodec().encode("a reply")).finish();
    const reply = await encodeContent(
      { reference: "m2", contentType: ContentTypeText, content: "a reply" },
      { contentType: ContentTypeReply },
      registry,
    );
    expect(hex(reply.encoded.content)).toBe(hex(inner));
    const comp = await encodeContent(
      { parts: [{ type: ContentTypeText, content: "one" }] },
      { contentType: ContentTypeComposite },
      registry,
    );
    const theirs = jsComposite.Composite.encode({
      parts: [{ part: new JsTextCodec().encode("one"), composite: undefined }],
    }).finish();
    expect(hex(comp.encoded.content)).toBe(hex(theirs));
  });
});

describe("remote attachment encryption against xmtp-js's encrypt/decrypt", () => {
  const attachment = {
    filename: "a.bin",
    mimeType: "application/octet-stream",
    data: new Uint8Array([9, 8, 7, 6, 5]),
  };

  it("our encrypted blob decrypts with xmtp-js and holds the EncodedContent xmtp-js would write", async () => {
    const enc = await RemoteAttachmentCodec.encodeEncrypted(attachment, new AttachmentCodec());
    const ct = new JsCiphertext({
      aes256GcmHkdfSha256: { hkdfSalt: enc.salt, gcmNonce: enc.nonce, payload: enc.payload },
    });
    const plain = await jsDecrypt(ct, enc.secret);
    const decoded = jsContent.EncodedContent.decode(plain);
    expect(decoded.type?.typeId).toBe("attachment");
    expect(decoded.parameters).toEqual({ filename: "a.bin", mimeType: "application/octet-stream" });
    expect(hex(decoded.content)).toBe("0908070605");
    expect(enc.digest).toBe(createHash("sha256").update(enc.payload).digest("hex"));
  });

  it("a blob encrypted by xmtp-js loads in ours (digest checked, decoded by the registry)", async () => {
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const plain = jsContent.EncodedContent.encode(new AttachmentCodec().encode(attachment)).finish();
    const ct = await jsEncrypt(plain, secret);
    const parts = ct.aes256GcmHkdfSha256 as {
      hkdfSalt: Uint8Array;
      gcmNonce: Uint8Array;
      payload: Uint8Array;
    };
    const remote = {
      url: "https://files.example/b",
      contentDigest: createHash("sha256").update(parts.payload).digest("hex"),
      salt: parts.hkdfSalt,
      nonce: parts.gcmNonce,
      secret,
      scheme: "https://",
      contentLength: parts.payload.length,
      filename: "a.bin",
    };
    const loaded = await RemoteAttachmentCodec.load<typeof attachment>(remote, registry, {
      fetcher: async () => parts.payload,
    });
    expect(loaded.filename).toBe("a.bin");
    expect(hex(loaded.data)).toBe("0908070605");
  });
});
