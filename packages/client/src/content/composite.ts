import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  type Composite_Part,
  Composite_PartSchema,
  type Composite as CompositeProto,
  CompositeSchema,
  EncodedContentSchema,
} from "@xmtp-ts/proto";
import {
  type CodecLookup,
  type ContentCodec,
  decodeNested,
  type EncodedContent,
  fromProto,
} from "./codec.js";
import {
  ContentTypeComposite,
  ContentTypeId,
  type ContentTypeIdLike,
  contentTypeToString,
} from "./content-type.js";
import { ContentError } from "./errors.js";

/** Composite content (deprecated XIP-9, xmtp-js 11): a leaf of any type, or a tree of parts. */
export type Composite = { type: ContentTypeIdLike; content: unknown } | { parts: Composite[] };

/** Most parts (leaves and inner nodes) decoded across one composite tree. */
export const MAX_COMPOSITE_PARTS = 1024;
/** Deepest composite-in-composite nesting decoded. */
export const MAX_COMPOSITE_DEPTH = 16;

/** `xmtp.org/composite:1.0`. A single leaf is wrapped as `{parts: [leaf]}` on the wire. */
export class CompositeCodec implements ContentCodec<Composite> {
  readonly contentType = ContentTypeComposite;

  encode(content: Composite, registry: CodecLookup): EncodedContent {
    const part = toPart(content, registry);
    const composite =
      part.element.case === "composite" ? part.element.value : create(CompositeSchema, { parts: [part] });
    return { type: ContentTypeComposite, parameters: {}, content: toBinary(CompositeSchema, composite) };
  }

  decode(encoded: EncodedContent, registry: CodecLookup): Composite {
    let proto: CompositeProto;
    try {
      proto = fromBinary(CompositeSchema, encoded.content);
    } catch (err) {
      // Includes stack exhaustion on absurdly deep input: still a typed error, never a crash.
      throw new ContentError("malformed", `composite does not parse: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return fromComposite(proto, registry, { parts: 0 }, 0);
  }

  fallback(): string | undefined {
    return undefined;
  }

  shouldPush(): boolean {
    return false;
  }
}

function toPart(content: Composite, registry: CodecLookup): Composite_Part {
  if ("type" in content) {
    const codec = registry.codecFor(content.type);
    if (!codec) {
      throw new ContentError(
        "unknown-type",
        `composite: no codec for part type ${contentTypeToString(content.type)}`,
      );
    }
    const e = codec.encode(content.content, registry);
    const part = create(EncodedContentSchema, {
      type: { ...e.type },
      parameters: { ...e.parameters },
      content: e.content,
    });
    if (e.fallback !== undefined) part.fallback = e.fallback;
    return create(Composite_PartSchema, { element: { case: "part", value: part } });
  }
  if (!Array.isArray(content.parts))
    throw new ContentError("invalid", "composite: expected {type, content} or {parts}");
  const parts = content.parts.map((p) => toPart(p, registry));
  return create(Composite_PartSchema, {
    element: { case: "composite", value: create(CompositeSchema, { parts }) },
  });
}

function fromComposite(
  c: CompositeProto,
  registry: CodecLookup,
  budget: { parts: number },
  depth: number,
): Composite {
  if (depth > MAX_COMPOSITE_DEPTH) {
    throw new ContentError("too-deep", `composite nested deeper than ${MAX_COMPOSITE_DEPTH} levels`);
  }
  const parts: Composite[] = [];
  for (const p of c.parts) {
    if (++budget.parts > MAX_COMPOSITE_PARTS) {
      throw new ContentError("too-large", `composite has more than ${MAX_COMPOSITE_PARTS} parts`);
    }
    if (p.element.case === "part") {
      const enc = fromProto(p.element.value);
      parts.push({ type: ContentTypeId.from(enc.type), content: decodeNested(registry, enc) });
    } else if (p.element.case === "composite") {
      parts.push(fromComposite(p.element.value, registry, budget, depth + 1));
    } else {
      throw new ContentError("malformed", "composite part has neither content nor a nested composite");
    }
  }
  return { parts };
}
