/**
 * What a group invitation says about its group (docs/groups.md §2): the `xmtp-ts/group/…` entries
 * of `InvitationV1.Context.metadata`, written and parsed with every limit checked.
 */
import { isAddress, toChecksumAddress } from "@xmtp-ts/protocol";
import type { ConversationContext } from "../conversations/invitation.js";

/** Most members of a group, the creator included (docs/groups.md §10). */
export const MAX_GROUP_MEMBERS = 100;
/** Longest group name, in characters. */
export const MAX_GROUP_NAME_CHARS = 100;
/** Longest group description, in characters. */
export const MAX_GROUP_DESCRIPTION_CHARS = 1000;

const PREFIX = "xmtp-ts/group/";
/** The metadata keys of a group invitation. */
export const GROUP_KEYS = {
  version: `${PREFIX}v`,
  id: `${PREFIX}id`,
  creator: `${PREFIX}creator`,
  members: `${PREFIX}members`,
  epoch: `${PREFIX}epoch`,
  revision: `${PREFIX}revision`,
  previous: `${PREFIX}previous`,
  name: `${PREFIX}name`,
  description: `${PREFIX}description`,
} as const;
const FORMAT_VERSION = "1";
/** The conversation id of every epoch of a group. */
export const groupConversationId = (groupId: string) => `${PREFIX}${groupId}`;

/** One epoch of a group as its invitation describes it. */
export interface GroupInfo {
  /** 32 lowercase hex characters. */
  groupId: string;
  creator: string;
  /** EIP-55, sorted, unique, creator included. */
  members: readonly string[];
  epoch: number;
  revision: number;
  /** Topic of the previous epoch (epoch > 0). */
  previous?: string;
  name?: string;
  description?: string;
}

/** Group data that breaks a rule; the message says which. */
export class GroupFormatError extends Error {
  override readonly name = "GroupFormatError";
}

const GROUP_ID = /^[0-9a-f]{32}$/;
const DECIMAL = /^(0|[1-9][0-9]{0,8})$/;

/** Whether an invitation context is a group's (it has the format-version entry). */
export function isGroupContext(ctx: ConversationContext | undefined): boolean {
  return ctx?.metadata[GROUP_KEYS.version] !== undefined;
}

/** EIP-55 addresses, unique and sorted; throws on anything that is not an address. */
export function normalizeMembers(addresses: readonly string[]): string[] {
  const out = new Set<string>();
  for (const a of addresses) {
    if (typeof a !== "string" || !isAddress(a)) throw new GroupFormatError(`not an address: ${String(a)}`);
    out.add(toChecksumAddress(a));
  }
  return [...out].sort();
}

/** Checks the rules every member list obeys (sorted, unique EIP-55, creator in, within the cap). */
export function checkMembers(members: readonly string[], creator: string): void {
  if (members.length > MAX_GROUP_MEMBERS)
    throw new GroupFormatError(`${members.length} members, limit ${MAX_GROUP_MEMBERS}`);
  const normal = normalizeMembers(members);
  if (normal.length !== members.length || normal.some((a, i) => a !== members[i]))
    throw new GroupFormatError("member list is not sorted, unique EIP-55 addresses");
  if (!members.includes(creator)) throw new GroupFormatError("member list does not contain the creator");
}

function checkText(value: string | undefined, max: number, what: string): void {
  if (value !== undefined && [...value].length > max)
    throw new GroupFormatError(`${what} is longer than ${max} characters`);
}

/** Checks every rule of {@link GroupInfo}; throws {@link GroupFormatError}. */
export function checkGroupInfo(g: GroupInfo): void {
  if (!GROUP_ID.test(g.groupId)) throw new GroupFormatError("group id is not 32 hex characters");
  if (!isAddress(g.creator) || toChecksumAddress(g.creator) !== g.creator)
    throw new GroupFormatError("creator is not an EIP-55 address");
  checkMembers(g.members, g.creator);
  for (const [n, what] of [
    [g.epoch, "epoch"],
    [g.revision, "revision"],
  ] as const)
    if (!Number.isSafeInteger(n) || n < 0 || n > 999_999_999)
      throw new GroupFormatError(`${what} is not a small non-negative integer`);
  if (g.epoch > 0 !== (g.previous !== undefined))
    throw new GroupFormatError("a previous-epoch topic is required exactly when epoch > 0");
  if (g.previous !== undefined && !g.previous.startsWith("/xmtp/0/m-"))
    throw new GroupFormatError("previous-epoch topic is not a V2 conversation topic");
  checkText(g.name, MAX_GROUP_NAME_CHARS, "name");
  checkText(g.description, MAX_GROUP_DESCRIPTION_CHARS, "description");
}

/** The invitation context of a group epoch. */
export function groupContext(g: GroupInfo): ConversationContext {
  checkGroupInfo(g);
  const metadata: Record<string, string> = {
    [GROUP_KEYS.version]: FORMAT_VERSION,
    [GROUP_KEYS.id]: g.groupId,
    [GROUP_KEYS.creator]: g.creator,
    [GROUP_KEYS.members]: g.members.join(","),
    [GROUP_KEYS.epoch]: String(g.epoch),
    [GROUP_KEYS.revision]: String(g.revision),
  };
  if (g.previous !== undefined) metadata[GROUP_KEYS.previous] = g.previous;
  if (g.name !== undefined) metadata[GROUP_KEYS.name] = g.name;
  if (g.description !== undefined) metadata[GROUP_KEYS.description] = g.description;
  return { conversationId: groupConversationId(g.groupId), metadata };
}

/** Parses a group context; throws {@link GroupFormatError} when any entry breaks a rule. */
export function parseGroupContext(ctx: ConversationContext): GroupInfo {
  const m = ctx.metadata;
  if (m[GROUP_KEYS.version] !== FORMAT_VERSION)
    throw new GroupFormatError(`unknown group format ${JSON.stringify(m[GROUP_KEYS.version])}`);
  const need = (k: string) => {
    const v = m[k];
    if (v === undefined) throw new GroupFormatError(`missing ${k}`);
    return v;
  };
  const int = (k: string) => {
    const v = need(k);
    if (!DECIMAL.test(v)) throw new GroupFormatError(`${k} is not a decimal number`);
    return Number(v);
  };
  const membersText = need(GROUP_KEYS.members);
  // Bounded before splitting: 42 characters and a comma per member.
  if (membersText.length > MAX_GROUP_MEMBERS * 43)
    throw new GroupFormatError(`member list longer than ${MAX_GROUP_MEMBERS} members`);
  const g: GroupInfo = {
    groupId: need(GROUP_KEYS.id),
    creator: need(GROUP_KEYS.creator),
    members: membersText.split(","),
    epoch: int(GROUP_KEYS.epoch),
    revision: int(GROUP_KEYS.revision),
  };
  for (const [k, field] of [
    [GROUP_KEYS.previous, "previous"],
    [GROUP_KEYS.name, "name"],
    [GROUP_KEYS.description, "description"],
  ] as const) {
    const v = m[k];
    if (v !== undefined) g[field] = v;
  }
  checkGroupInfo(g);
  if (ctx.conversationId !== groupConversationId(g.groupId))
    throw new GroupFormatError("conversation id does not name the group");
  return g;
}
