/** Content type ids (XIP-5): `authority/type:major.minor`, looked up by `authority/type`. */
import { invalidArgument } from "../errors.js";

/** The plain shape of a content type id, as it appears in `EncodedContent.type`. */
export interface ContentTypeIdLike {
  authorityId: string;
  typeId: string;
  versionMajor: number;
  versionMinor: number;
}

/** A content type id with the helpers xmtp-js users know: `sameAs`, `toString`, `fromString`. */
export class ContentTypeId implements ContentTypeIdLike {
  readonly authorityId: string;
  readonly typeId: string;
  readonly versionMajor: number;
  readonly versionMinor: number;

  constructor(init: ContentTypeIdLike) {
    this.authorityId = init.authorityId;
    this.typeId = init.typeId;
    this.versionMajor = init.versionMajor;
    this.versionMinor = init.versionMinor;
  }

  /** `authority/type:major.minor`: for display and the reply codec's `contentType` parameter, never a wire id. */
  toString(): string {
    return contentTypeToString(this);
  }

  /** True when authority and type match; versions are not compared (as in xmtp-js). */
  sameAs(other: ContentTypeIdLike): boolean {
    return sameContentType(this, other);
  }

  /** Parses `authority/type:major.minor`; throws on anything else. */
  static fromString(text: string): ContentTypeId {
    const m = /^([^/:\s]+)\/([^/:\s]+):(\d{1,9})\.(\d{1,9})$/.exec(text);
    if (!m)
      throw invalidArgument(
        "contentType",
        `content type "${text}" is not of the form authority/type:major.minor`,
      );
    return new ContentTypeId({
      authorityId: m[1] as string,
      typeId: m[2] as string,
      versionMajor: Number(m[3]),
      versionMinor: Number(m[4]),
    });
  }

  /** Wraps a plain id (e.g. one decoded from the wire). */
  static from(id: ContentTypeIdLike): ContentTypeId {
    return id instanceof ContentTypeId ? id : new ContentTypeId(id);
  }
}

/** `authority/type:major.minor`. */
export function contentTypeToString(id: ContentTypeIdLike): string {
  return `${id.authorityId}/${id.typeId}:${id.versionMajor}.${id.versionMinor}`;
}

/** True when authority and type match (versions ignored). */
export function sameContentType(a: ContentTypeIdLike, b: ContentTypeIdLike): boolean {
  return a.authorityId === b.authorityId && a.typeId === b.typeId;
}

/** The registry key of a content type: `authority/type`. */
export function contentTypeKey(id: ContentTypeIdLike): string {
  return `${id.authorityId}/${id.typeId}`;
}

const xmtp = (typeId: string): ContentTypeId =>
  new ContentTypeId({ authorityId: "xmtp.org", typeId, versionMajor: 1, versionMinor: 0 });

export const ContentTypeText = xmtp("text");
export const ContentTypeComposite = xmtp("composite");
export const ContentTypeReaction = xmtp("reaction");
export const ContentTypeReply = xmtp("reply");
export const ContentTypeReadReceipt = xmtp("readReceipt");
export const ContentTypeAttachment = xmtp("attachment");
export const ContentTypeRemoteAttachment = xmtp("remoteStaticAttachment");
export const ContentTypeTransactionReference = xmtp("transactionReference");
