/**
 * The membership rules of docs/groups.md §4–§7 as pure functions over plain state: which
 * invitations, membership messages and group messages are accepted, which are duplicates, and
 * which are rejected (with the reason that gets reported). No I/O, so they are property-tested.
 */
import { bytesEqual } from "../conversations/primitives.js";
import type { MembershipChange } from "./membership-content.js";
import type { GroupInfo } from "./metadata.js";

/** What a client knows about one epoch of a group: its invitation's fields, and more. */
export interface EpochState extends GroupInfo {
  topic: string;
  keyMaterial: Uint8Array;
  createdNs: bigint;
  /** Set by the creator's close message: the epoch ended at this time. */
  closedAtNs?: bigint;
  /** Members of the next epoch, from the close message. */
  nextMembers?: readonly string[];
}

export type GroupRejectionReason =
  | "malformed"
  | "not-creator"
  | "not-member"
  | "member-list-conflict"
  | "epoch-conflict"
  | "topic-taken"
  | "membership-not-creator"
  | "membership-conflict"
  | "sender-not-member"
  | "epoch-closed";

/** The outcome of judging one input against the known state. */
export type Verdict<T> =
  | { kind: "accept"; value: T }
  | { kind: "duplicate" }
  | { kind: "reject"; reason: GroupRejectionReason; detail: string };

const reject = (reason: GroupRejectionReason, detail: string): Verdict<never> => ({
  kind: "reject",
  reason,
  detail,
});
const DUPLICATE: Verdict<never> = { kind: "duplicate" };

/** Whether every address of `small` is in `big`. */
export function isSubset(small: readonly string[], big: readonly string[]): boolean {
  const s = new Set(big);
  return small.every((a) => s.has(a));
}

const sameList = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** An opened group invitation: the parsed metadata and who sealed it to whom. */
export interface GroupInvitation {
  info: GroupInfo;
  topic: string;
  keyMaterial: Uint8Array;
  createdNs: bigint;
  /** Wallet of the header's sender. */
  inviter: string;
  /** Wallet of the header's recipient. */
  recipient: string;
}

/** What is known where an invitation lands: the group of its id, and the epoch at its topic. */
export interface InvitationContext {
  /** Epochs of the group named by the invitation, oldest first (empty when unknown). */
  epochs: readonly EpochState[];
  /** The epoch (of any group) already at the invitation's topic. */
  atTopic: EpochState | undefined;
  /** True when the topic is a known two-party conversation. */
  twoPartyTopic: boolean;
}

/** The epoch an invitation creates, or the updated epoch when it raises a known one's revision. */
export function judgeInvitation(inv: GroupInvitation, known: InvitationContext): Verdict<EpochState> {
  const { info } = inv;
  if (inv.inviter !== info.creator)
    return reject("not-creator", `sealed by ${inv.inviter}, the group's creator is ${info.creator}`);
  if (!info.members.includes(inv.recipient))
    return reject("not-member", `recipient ${inv.recipient} is not on the member list`);
  if (known.twoPartyTopic) return reject("topic-taken", "topic is a two-party conversation");
  const fresh: EpochState = {
    ...info,
    topic: inv.topic,
    keyMaterial: inv.keyMaterial,
    createdNs: inv.createdNs,
  };
  const e = known.atTopic;
  if (e) {
    if (
      e.groupId !== info.groupId ||
      e.creator !== info.creator ||
      e.epoch !== info.epoch ||
      !bytesEqual(e.keyMaterial, inv.keyMaterial)
    )
      return reject("member-list-conflict", "another group, creator, epoch or key for a known topic");
    if (info.revision === e.revision)
      return sameList(info.members, e.members)
        ? DUPLICATE
        : reject("member-list-conflict", `revision ${info.revision} with another member list`);
    if (info.revision < e.revision)
      return isSubset(info.members, e.members)
        ? DUPLICATE
        : reject("member-list-conflict", `older revision ${info.revision} names unknown members`);
    if (!isSubset(e.members, info.members))
      return reject("member-list-conflict", `revision ${info.revision} drops members`);
    return { kind: "accept", value: { ...e, members: info.members, revision: info.revision } };
  }
  const newest = known.epochs[known.epochs.length - 1];
  if (newest) {
    if (newest.creator !== info.creator)
      return reject("epoch-conflict", "a known group with another creator");
    if (info.epoch <= newest.epoch)
      return reject("epoch-conflict", `epoch ${info.epoch} at a new topic, newest known is ${newest.epoch}`);
  }
  return { kind: "accept", value: fresh };
}

/** A decoded membership message and its authenticated sender. */
export interface MembershipMessage {
  change: MembershipChange;
  sender: string;
  sentNs: bigint;
}

/** The epoch after a membership message in its topic. */
export function judgeMembership(e: EpochState, m: MembershipMessage): Verdict<EpochState> {
  if (m.sender !== e.creator)
    return reject("membership-not-creator", `membership message from ${m.sender}, not the creator`);
  const c = m.change;
  if (c.groupId !== e.groupId || c.epoch !== e.epoch || c.creator !== e.creator)
    return reject("membership-conflict", "membership message for another group, epoch or creator");
  if (c.action === "close") {
    if (e.closedAtNs !== undefined)
      return e.nextMembers && sameList(e.nextMembers, c.members)
        ? DUPLICATE
        : reject("membership-conflict", "a second close with another member list");
    if (!isSubset(c.members, e.members) || !c.members.includes(e.creator))
      return reject("membership-conflict", "the next epoch's list names non-members or lacks the creator");
    return { kind: "accept", value: { ...e, closedAtNs: m.sentNs, nextMembers: c.members } };
  }
  if (e.closedAtNs !== undefined && m.sentNs > e.closedAtNs)
    return reject("epoch-closed", "membership change after the epoch closed");
  if (c.revision <= e.revision)
    return isSubset(c.members, e.members)
      ? DUPLICATE
      : reject("membership-conflict", `revision ${c.revision} names unknown members`);
  if (!isSubset(e.members, c.members))
    return reject("membership-conflict", `revision ${c.revision} drops members`);
  return { kind: "accept", value: { ...e, members: c.members, revision: c.revision } };
}

/** Whether a message from `sender`, dated `sentNs`, belongs to the epoch. */
export function judgeMessage(e: EpochState, sender: string, sentNs: bigint): Verdict<true> {
  if (!e.members.includes(sender))
    return reject("sender-not-member", `sender ${sender} is not a member of epoch ${e.epoch}`);
  if (e.closedAtNs !== undefined && sentNs > e.closedAtNs)
    return reject("epoch-closed", `message sent after epoch ${e.epoch} closed`);
  return { kind: "accept", value: true };
}
