import type { ContentCodec, EncodedContent } from "./codec.js";
import { ContentTypeReaction } from "./content-type.js";
import { ContentError } from "./errors.js";
import { optionalString, parseJsonObject, requireString } from "./json.js";

/** A reaction to an earlier message (XIP-20). */
export interface Reaction {
  /** Id of the message reacted to. */
  reference: string;
  /** Inbox id of the reacted-to message's sender (group messages only). */
  referenceInboxId?: string;
  action: "added" | "removed";
  /** The emoji, shortcode or custom value. */
  content: string;
  schema: "unicode" | "shortcode" | "custom";
}

const ACTIONS = new Set(["added", "removed"]);
const SCHEMAS = new Set(["unicode", "shortcode", "custom"]);

function checked(r: {
  reference: string;
  referenceInboxId?: string | undefined;
  action: string;
  content: string;
  schema: string;
}): Reaction {
  if (!ACTIONS.has(r.action))
    throw new ContentError("invalid", `reaction action "${r.action}" is not added/removed`);
  if (!SCHEMAS.has(r.schema)) {
    throw new ContentError("invalid", `reaction schema "${r.schema}" is not unicode/shortcode/custom`);
  }
  const out: Reaction = {
    reference: r.reference,
    action: r.action as Reaction["action"],
    content: r.content,
    schema: r.schema as Reaction["schema"],
  };
  if (r.referenceInboxId !== undefined) out.referenceInboxId = r.referenceInboxId;
  return out;
}

/**
 * `xmtp.org/reaction:1.0`. Writes the JSON form `{action, reference, referenceInboxId?, schema, content}`
 * with empty parameters; also reads the legacy form (fields in parameters, the emoji as the content).
 */
export class ReactionCodec implements ContentCodec<Reaction> {
  readonly contentType = ContentTypeReaction;

  encode(reaction: Reaction): EncodedContent {
    const r = checked(reaction);
    // Key order matches xmtp-js's JSON.stringify so the bytes are identical.
    const json: Record<string, string> = { action: r.action, reference: r.reference };
    if (r.referenceInboxId !== undefined) json.referenceInboxId = r.referenceInboxId;
    json.schema = r.schema;
    json.content = r.content;
    return {
      type: ContentTypeReaction,
      parameters: {},
      content: new TextEncoder().encode(JSON.stringify(json)),
    };
  }

  decode(encoded: EncodedContent): Reaction {
    const p = encoded.parameters;
    if (p.action !== undefined && p.reference !== undefined) {
      // Legacy form: the content is the bare reaction text.
      let text: string;
      try {
        text = new TextDecoder("utf-8", { fatal: true }).decode(encoded.content);
      } catch (err) {
        throw new ContentError("malformed", "legacy reaction content is not UTF-8", { cause: err });
      }
      return checked({
        action: p.action,
        reference: p.reference,
        schema: p.schema ?? "unicode",
        content: text,
      });
    }
    const o = parseJsonObject(encoded.content, "reaction");
    const what = "reaction";
    return checked({
      action: requireString(o, "action", what),
      reference: requireString(o, "reference", what),
      referenceInboxId: optionalString(o, "referenceInboxId", what),
      schema: requireString(o, "schema", what),
      content: requireString(o, "content", what),
    });
  }

  fallback(content: Reaction): string | undefined {
    if (content.action === "added") return `Reacted “${content.content}” to an earlier message`;
    if (content.action === "removed") return `Removed “${content.content}” from an earlier message`;
    return undefined;
  }

  shouldPush(content: Reaction): boolean {
    return content.action === "added";
  }
}
