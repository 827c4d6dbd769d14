import type { ContentCodec, EncodedContent } from "./codec.js";
import { ContentTypeTransactionReference } from "./content-type.js";
import { ContentError } from "./errors.js";
import { parseJsonObject } from "./json.js";

/** A reference to an on-chain transaction. */
export interface TransactionReference {
  /** Namespace of `networkId`, e.g. "eip155". */
  namespace?: string;
  /** Chain id, decimal or hex. */
  networkId: number | string;
  /** The transaction hash. */
  reference: string;
  metadata?: {
    transactionType: string;
    currency: string;
    amount: number;
    decimals: number;
    fromAddress: string;
    toAddress: string;
  };
}

/** `xmtp.org/transactionReference:1.0`: the object as UTF-8 JSON, empty parameters. */
export class TransactionReferenceCodec implements ContentCodec<TransactionReference> {
  readonly contentType = ContentTypeTransactionReference;

  encode(content: TransactionReference): EncodedContent {
    validate(content as unknown as Record<string, unknown>);
    return {
      type: ContentTypeTransactionReference,
      parameters: {},
      content: new TextEncoder().encode(JSON.stringify(content)),
    };
  }

  decode(encoded: EncodedContent): TransactionReference {
    const o = parseJsonObject(encoded.content, "transaction reference");
    validate(o);
    return o as unknown as TransactionReference;
  }

  fallback(content: TransactionReference): string | undefined {
    if (content.reference) {
      return `[Crypto transaction] Use a blockchain explorer to learn more using the transaction hash: ${content.reference}`;
    }
    return "Crypto transaction";
  }

  shouldPush(): boolean {
    return true;
  }
}

function validate(o: Record<string, unknown>): void {
  if (typeof o.reference !== "string")
    throw new ContentError("invalid", 'transaction reference: "reference" must be a string');
  if (typeof o.networkId !== "string" && typeof o.networkId !== "number") {
    throw new ContentError("invalid", 'transaction reference: "networkId" must be a number or string');
  }
  if (o.namespace !== undefined && typeof o.namespace !== "string") {
    throw new ContentError("invalid", 'transaction reference: "namespace" must be a string');
  }
  if (o.metadata !== undefined && (typeof o.metadata !== "object" || o.metadata === null)) {
    throw new ContentError("invalid", 'transaction reference: "metadata" must be an object');
  }
}
