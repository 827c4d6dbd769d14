/**
 * What the app shows for each kind of content, and how it builds what it sends. Pure functions
 * over the SDK's decoded messages, so they are tested without a browser.
 */
import {
  type Attachment,
  ContentTypeAttachment,
  ContentTypeGroupMembership,
  type ContentTypeId,
  ContentTypeReaction,
  ContentTypeReadReceipt,
  ContentTypeRemoteAttachment,
  ContentTypeReply,
  ContentTypeText,
  MAX_GROUP_MEMBERS,
  type MembershipChange,
  type Reaction,
  type RemoteAttachment,
  type Reply,
} from "@xmtp-ts/client";

/** Whether a message's content type is `type` (any minor version). */
export function isType(t: ContentTypeId | undefined, type: ContentTypeId): boolean {
  return t !== undefined && t.authorityId === type.authorityId && t.typeId === type.typeId;
}

/** The part of a decoded message the app looks at. */
export interface MessageLike {
  contentType: ContentTypeId | undefined;
  content: unknown;
  contentFallback: string | undefined;
}

/** Messages that are not shown in the list but change other messages (reactions, receipts). */
export function isMeta(m: MessageLike): boolean {
  return isType(m.contentType, ContentTypeReaction) || isType(m.contentType, ContentTypeReadReceipt);
}

/** One line of text for a message: what the list's preview and the message's accessible name say. */
export function describe(m: MessageLike): string {
  const t = m.contentType;
  if (m.content !== undefined) {
    if (isType(t, ContentTypeText)) return String(m.content);
    if (isType(t, ContentTypeReply)) {
      const r = m.content as Reply;
      return describe({
        contentType: toTypeId(r.contentType),
        content: r.content,
        contentFallback: undefined,
      });
    }
    if (isType(t, ContentTypeAttachment)) return `📎 ${(m.content as Attachment).filename}`;
    if (isType(t, ContentTypeRemoteAttachment)) return `📎 ${(m.content as RemoteAttachment).filename}`;
    if (isType(t, ContentTypeGroupMembership)) return describeMembership(m.content as MembershipChange);
    if (isType(t, ContentTypeReaction)) {
      const r = m.content as Reaction;
      return r.action === "added" ? `Reacted ${r.content}` : `Removed ${r.content}`;
    }
  }
  if (m.contentFallback) return m.contentFallback;
  const name = t ? `${t.authorityId}/${t.typeId}:${t.versionMajor}.${t.versionMinor}` : "unknown";
  return `A message of a type this app cannot show (${name})`;
}

/** `0x1234…abcd`: enough to tell members apart on screen (full addresses are in accessible names). */
export const shortAddress = (a: string) => `${a.slice(0, 6)}…${a.slice(-4)}`;

/** A group's membership change as one line (docs/groups.md §6). */
export function describeMembership(c: MembershipChange): string {
  const who = c.changed.map(shortAddress).join(", ");
  return c.action === "add"
    ? `${shortAddress(c.creator)} added ${who} to the group`
    : `${shortAddress(c.creator)} removed ${who}; the group goes on with a new key they do not have`;
}

/** Whether a message is a group's membership change (shown as a line about the group, not a bubble). */
export const isMembership = (m: MessageLike) => isType(m.contentType, ContentTypeGroupMembership);

/** Why a list of member addresses cannot make (or join) a group, before asking the network. */
export function membersProblem(
  input: string,
  ownAddress: string,
  room: number,
): { addresses: string[]; problem?: string } {
  const parts = input
    .split(/[\s,;]+/)
    .map((a) => a.trim())
    .filter(Boolean);
  if (parts.length === 0) return { addresses: [], problem: "Enter at least one member’s address." };
  const bad = parts.filter((a) => !isAddress(a));
  if (bad.length > 0)
    return {
      addresses: [],
      problem: `Not a valid Ethereum address: ${bad.join(", ")} (0x followed by 40 hexadecimal characters).`,
    };
  const seen = new Set<string>();
  const addresses = parts.filter((a) => {
    const k = a.toLowerCase();
    if (seen.has(k) || k === ownAddress.toLowerCase()) return false;
    seen.add(k);
    return true;
  });
  if (addresses.length === 0)
    return { addresses, problem: "That is your own address: add the addresses of others." };
  if (addresses.length > room)
    return {
      addresses,
      problem: `Too many members: ${addresses.length} given, room for ${room} more (a group has at most ${MAX_GROUP_MEMBERS}, you included).`,
    };
  return { addresses };
}

function toTypeId(t: unknown): ContentTypeId | undefined {
  if (t && typeof t === "object" && "authorityId" in t && "typeId" in t) return t as ContentTypeId;
  return undefined;
}

/** Reactions on each message: reference → emoji → the senders whose last action was "added". */
export type ReactionIndex = Map<string, Map<string, Set<string>>>;

/** Applies one reaction in arrival order (the last action of a sender for an emoji wins). */
export function applyReaction(index: ReactionIndex, sender: string, r: Reaction): void {
  let byEmoji = index.get(r.reference);
  if (!byEmoji) {
    byEmoji = new Map();
    index.set(r.reference, byEmoji);
  }
  let senders = byEmoji.get(r.content);
  if (!senders) {
    senders = new Set();
    byEmoji.set(r.content, senders);
  }
  const who = sender.toLowerCase();
  if (r.action === "added") senders.add(who);
  else senders.delete(who);
  if (senders.size === 0) byEmoji.delete(r.content);
  if (byEmoji.size === 0) index.delete(r.reference);
}

/** A reaction that toggles `emoji` on `reference` for `sender`. */
export function toggleReaction(
  index: ReactionIndex,
  sender: string,
  reference: string,
  emoji: string,
): Reaction {
  const has = index.get(reference)?.get(emoji)?.has(sender.toLowerCase()) ?? false;
  return { reference, action: has ? "removed" : "added", content: emoji, schema: "unicode" };
}

/** Largest file sent inline in one envelope; bigger files go as encrypted remote attachments. */
export const MAX_INLINE_ATTACHMENT_BYTES = 950_000;

/** Whether a file is shown inline as an image. */
export function isImage(mimeType: string): boolean {
  return /^image\/(png|jpeg|gif|webp|avif|bmp)$/i.test(mimeType);
}

/** `0x` + 40 hex digits. */
export function isAddress(s: string): boolean {
  return /^0x[0-9a-fA-F]{40}$/.test(s);
}

/** Why an address cannot start a conversation (before asking the network), or undefined. */
export function addressProblem(input: string, ownAddress: string): string | undefined {
  const a = input.trim();
  if (a === "") return "Enter the Ethereum address of the person you want to write to.";
  if (!isAddress(a))
    return `"${a}" is not a valid Ethereum address: it should be 0x followed by 40 hexadecimal characters.`;
  if (a.toLowerCase() === ownAddress.toLowerCase())
    return "That is your own address: enter the address of someone else.";
  return undefined;
}

/** The message for an address with no XMTP identity. */
export function noIdentityMessage(address: string): string {
  return `${address} has no XMTP identity yet: ask them to sign in to an XMTP app once, then try again.`;
}

/** A short clock time for today, else the date. */
export function formatTime(ms: number, now = Date.now()): string {
  if (ms <= 0) return "";
  const d = new Date(ms);
  const today = new Date(now);
  if (d.toDateString() === today.toDateString())
    return d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  return d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
}

export {
  ContentTypeGroupMembership,
  ContentTypeReaction,
  ContentTypeReadReceipt,
  ContentTypeReply,
  ContentTypeText,
  MAX_GROUP_MEMBERS,
};
