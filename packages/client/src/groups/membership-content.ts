/**
 * The membership message's content type, `xmtp-ts/groupMembership:1.0` (docs/groups.md §6):
 * UTF-8 JSON naming the group, epoch, revision, action and the full resulting member list, with a
 * plain-text fallback that xmtp-js members see.
 */
import type { ContentCodec, EncodedContent } from "../content/codec.js";
import { ContentTypeId } from "../content/content-type.js";
import { ContentError } from "../content/errors.js";
import { parseJsonObject } from "../content/json.js";
import { checkMembers, GroupFormatError, MAX_GROUP_MEMBERS, normalizeMembers } from "./metadata.js";

export const ContentTypeGroupMembership = new ContentTypeId({
  authorityId: "xmtp-ts",
  typeId: "groupMembership",
  versionMajor: 1,
  versionMinor: 0,
});

/** Largest membership content accepted (a full list of 100 is ~5 KB). */
export const MAX_MEMBERSHIP_CONTENT_BYTES = 64 * 1024;

export interface MembershipChange {
  groupId: string;
  epoch: number;
  revision: number;
  /** `add`: members joined this epoch; `close`: the epoch ends, `changed` were removed. */
  action: "add" | "close";
  /** The full list after the change (for `close`: the next epoch's list). */
  members: readonly string[];
  changed: readonly string[];
  /** For `close`: the epoch that follows. */
  nextEpoch?: number;
  /** Who made the change (the creator); used for the fallback text only. */
  creator: string;
}

const short = (a: string) => `${a.slice(0, 6)}…${a.slice(-4)}`;

export class GroupMembershipCodec implements ContentCodec<MembershipChange> {
  readonly contentType = ContentTypeGroupMembership;

  encode(c: MembershipChange): EncodedContent {
    const json = {
      groupId: c.groupId,
      epoch: c.epoch,
      revision: c.revision,
      action: c.action,
      creator: c.creator,
      members: c.members,
      changed: c.changed,
      ...(c.nextEpoch !== undefined ? { nextEpoch: c.nextEpoch } : {}),
    };
    return {
      type: this.contentType,
      parameters: {},
      content: new TextEncoder().encode(JSON.stringify(json)),
    };
  }

  decode(encoded: EncodedContent): MembershipChange {
    if (encoded.content.length > MAX_MEMBERSHIP_CONTENT_BYTES)
      throw new ContentError(
        "invalid",
        `membership content is ${encoded.content.length} bytes, limit ${MAX_MEMBERSHIP_CONTENT_BYTES}`,
      );
    const o = parseJsonObject(encoded.content, "membership change");
    const int = (k: string) => {
      const v = o[k];
      if (!Number.isSafeInteger(v) || (v as number) < 0)
        throw new ContentError("invalid", `membership change: "${k}" must be a non-negative integer`);
      return v as number;
    };
    const list = (k: string) => {
      const v = o[k];
      if (!Array.isArray(v) || v.length > MAX_GROUP_MEMBERS)
        throw new ContentError(
          "invalid",
          `membership change: "${k}" must be a list of at most ${MAX_GROUP_MEMBERS}`,
        );
      return v as string[];
    };
    const action = o.action;
    if (action !== "add" && action !== "close")
      throw new ContentError("invalid", `membership change: unknown action ${JSON.stringify(action)}`);
    if (typeof o.groupId !== "string" || typeof o.creator !== "string")
      throw new ContentError("invalid", "membership change: groupId and creator must be strings");
    const c: MembershipChange = {
      groupId: o.groupId,
      epoch: int("epoch"),
      revision: int("revision"),
      action,
      creator: o.creator,
      members: list("members"),
      changed: list("changed"),
    };
    if (action === "close") c.nextEpoch = int("nextEpoch");
    try {
      checkMembers(c.members, c.creator);
      if (normalizeMembers(c.changed).length !== c.changed.length)
        throw new GroupFormatError("changed list has duplicates");
    } catch (err) {
      throw new ContentError("invalid", `membership change: ${(err as Error).message}`, { cause: err });
    }
    return c;
  }

  fallback(c: MembershipChange): string {
    const who = c.changed.map(short).join(", ");
    return c.action === "add"
      ? `${short(c.creator)} added ${who} to the group`
      : `${short(c.creator)} removed ${who}; this group continues in a new conversation from ${short(c.creator)}`;
  }

  shouldPush(): boolean {
    return false;
  }
}
