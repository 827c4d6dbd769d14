import { Compression } from "@xmtp-ts/proto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { vectors } from "../test-vectors.js";
import {
  type Attachment,
  CodecRegistry,
  type Composite,
  ContentError,
  ContentTypeAttachment,
  ContentTypeComposite,
  ContentTypeId,
  ContentTypeReaction,
  ContentTypeReadReceipt,
  ContentTypeRemoteAttachment,
  ContentTypeReply,
  ContentTypeText,
  ContentTypeTransactionReference,
  compress,
  DEFAULT_MAX_DECOMPRESSED_BYTES,
  decodeContent,
  decompress,
  defaultCodecRegistry,
  encodeContent,
  encodedContentFromBytes,
  encodedContentToBytes,
  type Reaction,
  RemoteAttachmentCodec,
  type Reply,
  TextCodec,
  type TransactionReference,
} from "./index.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

const registry = defaultCodecRegistry();

async function roundTrip<T>(content: T, contentType: ContentTypeId, compression?: Compression): Promise<T> {
  const opts = compression === undefined ? { contentType } : { contentType, compression };
  const { payload } = await encodeContent(content, opts, registry);
  const out = await decodeContent<T>(payload, registry);
  expect(out.error).toBeUndefined();
  expect(out.contentType?.toString()).toBe(contentType.toString());
  return out.content as T;
}

describe("content type ids", () => {
  it("formats, parses and compares", () => {
    expect(ContentTypeText.toString()).toBe("xmtp.org/text:1.0");
    expect(ContentTypeId.fromString("xmtp.org/reply:1.0").sameAs(ContentTypeReply)).toBe(true);
    expect(ContentTypeId.fromString("a.b/c:3.7")).toMatchObject({
      authorityId: "a.b",
      typeId: "c",
      versionMajor: 3,
      versionMinor: 7,
    });
    expect(ContentTypeText.sameAs(ContentTypeReply)).toBe(false);
    expect(() => ContentTypeId.fromString("xmtp.org/text")).toThrow(/authority\/type:major.minor/);
    expect(() => ContentTypeId.fromString("xmtp.org/text:1.x")).toThrow();
  });

  it("registry rejects a newer major version and ignores minor versions", () => {
    const r = new CodecRegistry([new TextCodec()]);
    expect(r.codecFor({ ...ContentTypeText, versionMinor: 9 })).toBeDefined();
    expect(r.codecFor({ ...ContentTypeText, versionMajor: 2 })).toBeUndefined();
    expect(r.codecFor({ ...ContentTypeText, versionMajor: 0 })).toBeDefined();
    expect(r.codecFor(ContentTypeReply)).toBeUndefined();
  });
});

describe("text", () => {
  it("matches the §19.4 vector byte for byte", async () => {
    const { payload } = await encodeContent("hi", {}, registry);
    expect(hex(payload)).toBe(vectors.text_codec.encoded_content_hex);
    const back = await decodeContent(Buffer.from(vectors.text_codec.encoded_content_hex, "hex"), registry);
    expect(back.content).toBe("hi");
  });

  it("round-trips any string", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: "grapheme" }), async (s) => {
        expect(await roundTrip(s, ContentTypeText)).toBe(s);
      }),
    );
  });

  it("rejects an encoding other than UTF-8 (and a missing one) with a typed error", async () => {
    for (const parameters of [{ encoding: "latin1" }, {}]) {
      const bytes = encodedContentToBytes({
        type: ContentTypeText,
        parameters,
        content: new Uint8Array([104, 105]),
      });
      const out = await decodeContent(bytes, registry);
      expect(out.content).toBeUndefined();
      expect(out.error).toBeInstanceOf(ContentError);
      expect(out.error?.kind).toBe("invalid");
      expect(out.error?.message).toMatch(/unrecognized text encoding/);
    }
  });
});

const arbReaction: fc.Arbitrary<Reaction> = fc.record(
  {
    reference: fc.string(),
    referenceInboxId: fc.string(),
    action: fc.constantFrom("added" as const, "removed" as const),
    content: fc.string(),
    schema: fc.constantFrom("unicode" as const, "shortcode" as const, "custom" as const),
  },
  { requiredKeys: ["reference", "action", "content", "schema"] },
);

describe("reaction", () => {
  it("round-trips", async () => {
    await fc.assert(
      fc.asyncProperty(arbReaction, async (r) => {
        expect(await roundTrip(r, ContentTypeReaction)).toEqual(r);
      }),
    );
  });

  it("writes the xmtp-js JSON form exactly, with empty parameters and a fallback", async () => {
    const r: Reaction = { reference: "abc", action: "added", content: "👍", schema: "unicode" };
    const { encoded } = await encodeContent(r, { contentType: ContentTypeReaction }, registry);
    expect(new TextDecoder().decode(encoded.content)).toBe(
      '{"action":"added","reference":"abc","schema":"unicode","content":"👍"}',
    );
    expect(encoded.parameters).toEqual({});
    expect(encoded.fallback).toBe("Reacted “👍” to an earlier message");
  });

  it("reads the legacy parameter form", async () => {
    const bytes = encodedContentToBytes({
      type: ContentTypeReaction,
      parameters: { action: "removed", reference: "m1", schema: "shortcode", encoding: "UTF-8" },
      content: new TextEncoder().encode(":smile:"),
    });
    expect((await decodeContent(bytes, registry)).content).toEqual({
      action: "removed",
      reference: "m1",
      schema: "shortcode",
      content: ":smile:",
    });
  });

  it("rejects a reaction with a bad action or missing fields", async () => {
    for (const json of [
      '{"action":"poked","reference":"a","schema":"unicode","content":"x"}',
      '{"action":"added"}',
      "[1]",
      "{",
    ]) {
      const bytes = encodedContentToBytes({
        type: ContentTypeReaction,
        parameters: {},
        content: new TextEncoder().encode(json),
      });
      const out = await decodeContent(bytes, registry);
      expect(out.content).toBeUndefined();
      expect(out.error).toBeInstanceOf(ContentError);
    }
  });
});

describe("reply", () => {
  it("round-trips text and reaction replies", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string(),
        fc.string(),
        fc.option(fc.string({ minLength: 1 }), { nil: undefined }),
        async (ref, text, inbox) => {
          const reply: Reply = { reference: ref, contentType: ContentTypeText, content: text };
          if (inbox !== undefined) reply.referenceInboxId = inbox;
          const back = (await roundTrip(reply, ContentTypeReply)) as Reply;
          expect(back.reference).toBe(ref);
          expect(back.content).toBe(text);
          expect(back.referenceInboxId).toBe(inbox);
          expect(ContentTypeText.sameAs(back.contentType)).toBe(true);
        },
      ),
    );
    await fc.assert(
      fc.asyncProperty(arbReaction, async (r) => {
        const back = (await roundTrip(
          { reference: "x", contentType: ContentTypeReaction, content: r },
          ContentTypeReply,
        )) as Reply;
        expect(back.content).toEqual(r);
      }),
    );
  });

  it("puts the content type string and reference in parameters and the inner EncodedContent in content", async () => {
    const { encoded } = await encodeContent(
      { reference: "m1", contentType: ContentTypeText, content: "hi" },
      { contentType: ContentTypeReply },
      registry,
    );
    expect(encoded.parameters).toEqual({ contentType: "xmtp.org/text:1.0", reference: "m1" });
    expect(hex(encoded.content)).toBe(vectors.text_codec.encoded_content_hex);
    expect(encoded.fallback).toBe("Replied with “hi” to an earlier message");
  });

  it("bounds reply nesting", async () => {
    let inner: Reply | string = "deep";
    let innerType = ContentTypeText;
    for (let i = 0; i < 40; i++) {
      inner = { reference: `r${i}`, contentType: innerType, content: inner };
      innerType = ContentTypeReply;
    }
    const { payload } = await encodeContent(inner, { contentType: ContentTypeReply }, registry);
    const out = await decodeContent(payload, registry);
    expect(out.content).toBeUndefined();
    expect(out.error?.kind).toBe("too-deep");
    // Within the bound it decodes.
    const shallow = new CodecRegistry([new TextCodec(), ...[registry.codecFor(ContentTypeReply)!]], {
      maxNestingDepth: 64,
    });
    expect((await decodeContent(payload, shallow)).error).toBeUndefined();
  });
});

const arbLeaf = fc.string().map((s) => ({ type: ContentTypeText, content: s }) as Composite);
const arbComposite: fc.Arbitrary<Composite> = fc.letrec<{ node: Composite }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    arbLeaf,
    fc.record({ parts: fc.array(tie("node"), { maxLength: 4 }) }),
  ),
})).node;

describe("composite", () => {
  it("round-trips trees (a single leaf comes back wrapped)", async () => {
    await fc.assert(
      fc.asyncProperty(arbComposite, async (c) => {
        const back = await roundTrip(c, ContentTypeComposite);
        const expected = "type" in c ? { parts: [c] } : c;
        expect(JSON.parse(JSON.stringify(back))).toEqual(JSON.parse(JSON.stringify(expected)));
      }),
    );
  });

  it("bounds the part count and the depth", async () => {
    const wide: Composite = {
      parts: Array.from({ length: 1025 }, () => ({ type: ContentTypeText, content: "" })),
    };
    const { payload } = await encodeContent(wide, { contentType: ContentTypeComposite }, registry);
    expect((await decodeContent(payload, registry)).error?.kind).toBe("too-large");

    let deep: Composite = { type: ContentTypeText, content: "x" };
    for (let i = 0; i < 18; i++) deep = { parts: [deep] };
    const d = await encodeContent(deep, { contentType: ContentTypeComposite }, registry);
    expect((await decodeContent(d.payload, registry)).error?.kind).toBe("too-deep");
  });

  it("turns absurdly deep input into a typed error, not a crash", async () => {
    // Thousands of nested empty composites: each level is `0a <len> 12 <len> …`; build bottom-up.
    let inner = new Uint8Array(0);
    for (let i = 0; i < 5_000; i++) {
      const comp = concat([0x12], varint(inner.length), inner); // Part{composite}
      inner = concat([0x0a], varint(comp.length), comp); // Composite{parts}
    }
    const bytes = encodedContentToBytes({ type: ContentTypeComposite, parameters: {}, content: inner });
    const out = await decodeContent(bytes, registry);
    expect(out.content).toBeUndefined();
    expect(out.error).toBeInstanceOf(ContentError);
  });
});

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}
function concat(...parts: (number[] | Uint8Array)[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

describe("read receipt, attachment, transaction reference", () => {
  it("read receipt: empty content, no push", async () => {
    const r = await encodeContent({}, { contentType: ContentTypeReadReceipt }, registry);
    expect(r.shouldPush).toBe(false);
    expect(r.encoded.content.length).toBe(0);
    expect(await roundTrip({}, ContentTypeReadReceipt)).toEqual({});
  });

  it("attachment round-trips", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({ filename: fc.string(), mimeType: fc.string(), data: fc.uint8Array({ maxLength: 2048 }) }),
        async (a: Attachment) => {
          const back = await roundTrip(a, ContentTypeAttachment, Compression.GZIP);
          expect(back.filename).toBe(a.filename);
          expect(back.mimeType).toBe(a.mimeType);
          expect(hex(back.data)).toBe(hex(a.data));
        },
      ),
    );
  });

  it("transaction reference round-trips and rejects bad JSON", async () => {
    const arb = fc.record(
      {
        namespace: fc.string(),
        networkId: fc.oneof(fc.integer(), fc.string()),
        reference: fc.string(),
        metadata: fc.record({
          transactionType: fc.string(),
          currency: fc.string(),
          amount: fc.double({ noNaN: true, noDefaultInfinity: true }),
          decimals: fc.integer({ min: 0, max: 30 }),
          fromAddress: fc.string(),
          toAddress: fc.string(),
        }),
      },
      { requiredKeys: ["networkId", "reference"] },
    );
    await fc.assert(
      fc.asyncProperty(arb, async (t: TransactionReference) => {
        expect(await roundTrip(t, ContentTypeTransactionReference)).toEqual(JSON.parse(JSON.stringify(t)));
      }),
    );
    const bad = encodedContentToBytes({
      type: ContentTypeTransactionReference,
      parameters: {},
      content: new TextEncoder().encode('{"networkId":1}'),
    });
    expect((await decodeContent(bad, registry)).error?.kind).toBe("invalid");
  });
});

describe("remote attachment", () => {
  const att: Attachment = {
    filename: "a.txt",
    mimeType: "text/plain",
    data: new TextEncoder().encode("hello remote"),
  };

  async function upload() {
    const enc = await RemoteAttachmentCodec.encodeEncrypted(
      att,
      registry.codecFor(ContentTypeAttachment) as never,
    );
    const remote = {
      url: "https://files.example/a",
      contentDigest: enc.digest,
      salt: enc.salt,
      nonce: enc.nonce,
      secret: enc.secret,
      scheme: "https://",
      contentLength: enc.payload.length,
      filename: "a.txt",
    };
    return { enc, remote };
  }

  it("encrypts, travels as a RemoteAttachment, loads through an injected fetcher", async () => {
    const { enc, remote } = await upload();
    expect(enc.salt.length).toBe(32);
    expect(enc.nonce.length).toBe(12);
    const back = await roundTrip(remote, ContentTypeRemoteAttachment);
    expect(hex(back.secret)).toBe(hex(enc.secret));
    const { encoded } = await encodeContent(remote, { contentType: ContentTypeRemoteAttachment }, registry);
    expect(encoded.parameters.salt).toBe(hex(enc.salt));
    expect(encoded.parameters.contentLength).toBe(String(enc.payload.length));
    const fetched: string[] = [];
    const loaded = await RemoteAttachmentCodec.load<Attachment>(back, registry, {
      fetcher: async (url) => {
        fetched.push(url);
        return enc.payload;
      },
    });
    expect(fetched).toEqual(["https://files.example/a"]);
    expect(new TextDecoder().decode(loaded.data)).toBe("hello remote");
  });

  it("rejects a digest mismatch, tampering, http URLs, bad lengths and oversize blobs", async () => {
    const { enc, remote } = await upload();
    const tampered = enc.payload.slice();
    tampered[0] = (tampered[0] as number) ^ 1;
    await expect(
      RemoteAttachmentCodec.load(remote, registry, { fetcher: async () => tampered }),
    ).rejects.toThrow(/digest does not match/);
    await expect(
      RemoteAttachmentCodec.decryptBlob(
        {
          ...remote,
          contentDigest: Buffer.from(await crypto.subtle.digest("SHA-256", tampered)).toString("hex"),
        },
        tampered,
        registry,
      ),
    ).rejects.toThrow(/does not decrypt/);
    await expect(
      RemoteAttachmentCodec.load({ ...remote, url: "http://files.example/a" }, registry, {
        fetcher: async () => enc.payload,
      }),
    ).rejects.toThrow(/https/);
    // A node on this machine may serve blobs over plain http; nothing else may.
    for (const url of ["http://localhost:5555/blobs/a", "http://127.0.0.1:5555/b", "http://[::1]:5555/c"])
      await expect(
        RemoteAttachmentCodec.load({ ...remote, url }, registry, { fetcher: async () => enc.payload }),
      ).resolves.toBeDefined();
    await expect(
      RemoteAttachmentCodec.load({ ...remote, url: "http://127.0.0.1.example/a" }, registry, {
        fetcher: async () => enc.payload,
      }),
    ).rejects.toThrow(/https/);
    await expect(
      RemoteAttachmentCodec.load(remote, registry, { fetcher: async () => enc.payload, maxBytes: 10 }),
    ).rejects.toThrow(/exceeds 10 bytes/);
    await expect(
      encodeContent(
        { ...remote, salt: new Uint8Array(16) },
        { contentType: ContentTypeRemoteAttachment },
        registry,
      ),
    ).rejects.toThrow('"salt" expected 32 bytes, got 16');
    await expect(
      encodeContent({ ...remote, url: "http://x" }, { contentType: ContentTypeRemoteAttachment }, registry),
    ).rejects.toThrow(/https/);
    const badNonce = encodedContentToBytes({
      type: ContentTypeRemoteAttachment,
      parameters: {
        ...(await encodeContent(remote, { contentType: ContentTypeRemoteAttachment }, registry)).encoded
          .parameters,
        nonce: "00",
      },
      content: new TextEncoder().encode(remote.url),
    });
    const out = await decodeContent(badNonce, registry);
    expect(out.error?.message).toBe('"nonce" expected 12 bytes of hex');
  });
});

describe("compression", () => {
  const body = "compress me please, ".repeat(20); // 400 bytes

  it("deflate is zlib (78 9c) and gzip is RFC 1952 (1f 8b); both round-trip", async () => {
    for (const [alg, magic] of [
      [Compression.DEFLATE, "789c"],
      [Compression.GZIP, "1f8b"],
    ] as const) {
      const { encoded, payload } = await encodeContent(body, { compression: alg }, registry);
      expect(encoded.compression).toBe(alg);
      expect(hex(encoded.content.subarray(0, 2))).toBe(magic);
      expect(encoded.content.length).toBeLessThan(400);
      expect((await decodeContent(payload, registry)).content).toBe(body);
    }
  });

  it("round-trips arbitrary bytes", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 5000 }),
        fc.constantFrom(Compression.DEFLATE, Compression.GZIP),
        async (data, alg) => {
          expect(hex(await decompress(await compress(data, alg), alg, DEFAULT_MAX_DECOMPRESSED_BYTES))).toBe(
            hex(data),
          );
        },
      ),
      { numRuns: 50 },
    );
  });

  it("does not compress content under 10 bytes, nor over 1000 unless forced", async () => {
    expect(
      (await encodeContent("123456789", { compression: Compression.DEFLATE }, registry)).encoded.compression,
    ).toBeUndefined();
    expect(
      (await encodeContent("1234567890", { compression: Compression.DEFLATE }, registry)).encoded.compression,
    ).toBe(Compression.DEFLATE);
    const exactly1000 = "x".repeat(1000);
    expect(
      (await encodeContent(exactly1000, { compression: Compression.GZIP }, registry)).encoded.compression,
    ).toBe(Compression.GZIP);
    const big = "x".repeat(1001);
    expect(
      (await encodeContent(big, { compression: Compression.GZIP }, registry)).encoded.compression,
    ).toBeUndefined();
    const forced = await encodeContent(
      big,
      { compression: Compression.GZIP, forceCompression: true },
      registry,
    );
    expect(forced.encoded.compression).toBe(Compression.GZIP);
    expect((await decodeContent(forced.payload, registry)).content).toBe(big);
  });

  it("bounds decompression: at the cap decodes, one byte over fails early with too-large", async () => {
    const n = 200_000;
    const { payload } = await encodeContent(
      "z".repeat(n),
      { compression: Compression.DEFLATE, forceCompression: true },
      registry,
    );
    expect((await decodeContent(payload, registry, { maxDecompressedBytes: n })).content).toHaveLength(n);
    const over = await decodeContent(payload, registry, { maxDecompressedBytes: n - 1 });
    expect(over.content).toBeUndefined();
    expect(over.error?.kind).toBe("too-large");
    // A bomb: 64 MiB of zeros compress to ~64 KiB; the default cap stops it.
    const bomb = await compress(new Uint8Array(64 * 1024 * 1024), Compression.GZIP);
    await expect(decompress(bomb, Compression.GZIP, DEFAULT_MAX_DECOMPRESSED_BYTES)).rejects.toMatchObject({
      kind: "too-large",
    });
    expect(DEFAULT_MAX_DECOMPRESSED_BYTES).toBeGreaterThanOrEqual(1_048_214);
  });

  it("corrupt compressed content is a typed error", async () => {
    const bytes = encodedContentToBytes({
      type: ContentTypeText,
      parameters: { encoding: "UTF-8" },
      content: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
      compression: Compression.DEFLATE,
    });
    const out = await decodeContent(bytes, registry);
    expect(out.content).toBeUndefined();
    expect(out.error?.kind).toBe("malformed");
  });
});

describe("bad input never throws", () => {
  it("unknown type keeps the fallback and reports an error", async () => {
    const bytes = encodedContentToBytes({
      type: { authorityId: "example.com", typeId: "poll", versionMajor: 1, versionMinor: 0 },
      parameters: {},
      fallback: "a poll you cannot see",
      content: new Uint8Array([1]),
    });
    const out = await decodeContent(bytes, registry);
    expect(out.content).toBeUndefined();
    expect(out.contentFallback).toBe("a poll you cannot see");
    expect(out.contentType?.toString()).toBe("example.com/poll:1.0");
    expect(out.error?.kind).toBe("unknown-type");
  });

  it("a newer major version counts as unknown", async () => {
    const bytes = encodedContentToBytes({
      type: { ...ContentTypeText, versionMajor: 2 },
      parameters: { encoding: "UTF-8" },
      fallback: "hi",
      content: new Uint8Array([104]),
    });
    const out = await decodeContent(bytes, registry);
    expect(out.error?.kind).toBe("unknown-type");
    expect(out.contentFallback).toBe("hi");
  });

  it("garbage bytes and a missing type are malformed", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), async (b) => {
        const out = await decodeContent(b, registry);
        if (out.error) expect(out.error).toBeInstanceOf(ContentError);
      }),
    );
    expect((await decodeContent(new Uint8Array([0x22, 0x01, 0x41]), registry)).error?.message).toMatch(
      /no content type/,
    );
    expect((await decodeContent(new Uint8Array([0xff, 0xff]), registry)).error?.kind).toBe("malformed");
    expect(
      encodedContentFromBytes(Buffer.from(vectors.text_codec.encoded_content_hex, "hex")).parameters,
    ).toEqual({ encoding: "UTF-8" });
  });
});
