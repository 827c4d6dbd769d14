/**
 * `client.conversations.groups`: the groups this client knows, keyed by group id and by every
 * epoch topic; creating a group; sealing invitation rounds; judging received group invitations;
 * and the report of everything rejected (docs/groups.md §7).
 */
import { create } from "@bufbuild/protobuf";
import { bytesToHex, randomBytes } from "@noble/hashes/utils.js";
import {
  EnvelopeSchema,
  InvitationV1Schema,
  type PublicKeyBundle,
  type SignedPublicKeyBundle,
} from "@xmtp-ts/proto";
import { buildTopic } from "@xmtp-ts/protocol";
import type { ConversationsContext } from "../conversations/conversation.js";
import type { OpenedInvitation } from "../conversations/invitation.js";
import { sealInvitation } from "../conversations/invitation.js";
import type { SnapshotV2 } from "../conversations/persistence.js";
import { memoEcdh } from "../keys/own-keys.js";
import { toSignedPublicKeyBundle } from "../keys/public.js";
import {
  Group,
  GroupError,
  type GroupHost,
  type GroupRecipient,
  type GroupRejection,
  MAX_KEPT_REJECTIONS,
} from "./group.js";
import {
  GroupFormatError,
  groupContext,
  MAX_GROUP_DESCRIPTION_CHARS,
  MAX_GROUP_MEMBERS,
  MAX_GROUP_NAME_CHARS,
  normalizeMembers,
  parseGroupContext,
} from "./metadata.js";
import { type EpochState, judgeInvitation } from "./rules.js";

export interface NewGroupOptions {
  name?: string;
  description?: string;
}

const nowNs = () => BigInt(Date.now()) * 1_000_000n;

export class GroupRegistry {
  private readonly byId = new Map<string, Group>();
  private readonly byTopic = new Map<string, Group>();
  private readonly listeners = new Set<(r: GroupRejection) => void>();
  private readonly epochListeners = new Set<(g: Group) => void>();
  private readonly kept: GroupRejection[] = [];
  private readonly host: GroupHost;

  constructor(
    ctx: ConversationsContext,
    /** Whether a topic belongs to a known two-party conversation. */
    private readonly isTwoPartyTopic: (topic: string) => boolean,
  ) {
    this.host = {
      ctx,
      report: (r) => this.report(r),
      contactsOf: (a) => this.contactsOf(ctx, a),
      invite: (e, r) => this.invite(ctx, e, r),
      allow: async (addresses) => {
        if (ctx.allowPeers) await ctx.allowPeers([...addresses]);
        else if (ctx.allowPeer) await Promise.all(addresses.map((a) => ctx.allowPeer!(a)));
      },
      newEpochSecrets: () => ({
        topic: buildTopic.conversationV2(bytesToHex(randomBytes(32))),
        keyMaterial: randomBytes(32),
      }),
      indexTopic: (g, topic) => {
        this.byTopic.set(topic, g);
        // A known group learned another epoch (a new group is still being built here).
        if (this.byId.get(g.id) === g) for (const fn of this.epochListeners) fn(g);
      },
    };
  }

  /** The most recent rejections (at most {@link MAX_KEPT_REJECTIONS}), oldest first. */
  get rejections(): readonly GroupRejection[] {
    return this.kept;
  }

  /** Calls `fn` for each rejected group invitation or message; returns the unsubscribe function. */
  onRejection(fn: (r: GroupRejection) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Calls `fn` when a known group learns another epoch: its next epoch's invitation was read
   * (by any listing or stream), or this client removed members. An app that follows topics itself
   * subscribes to `group.topic` then. Returns the unsubscribe function.
   */
  onEpoch(fn: (g: Group) => void): () => void {
    this.epochListeners.add(fn);
    return () => this.epochListeners.delete(fn);
  }

  private report(r: GroupRejection): void {
    this.kept.push(r);
    if (this.kept.length > MAX_KEPT_REJECTIONS) this.kept.shift();
    for (const fn of this.listeners) fn(r);
  }

  /** Known groups, oldest first. */
  list(): Group[] {
    return [...this.byId.values()].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  }

  get(groupId: string): Group | undefined {
    return this.byId.get(groupId);
  }

  /** The group one of whose epochs uses `topic`. */
  byTopicOf(topic: string): Group | undefined {
    return this.byTopic.get(topic);
  }

  /**
   * Creates a group of this client and `addresses` (docs/groups.md §1–§3) and publishes its
   * invitation round. Throws {@link GroupError}.
   */
  async create(addresses: readonly string[], options: NewGroupOptions = {}): Promise<Group> {
    const ctx = this.host.ctx;
    const self = ctx.keys.address;
    let others: string[];
    try {
      others = normalizeMembers(addresses).filter((a) => a !== self);
    } catch (err) {
      throw new GroupError("invalid-address", (err as Error).message);
    }
    if (others.length === 0)
      throw new GroupError("too-few-members", "a group needs one member besides the creator");
    if (others.length + 1 > MAX_GROUP_MEMBERS)
      throw new GroupError("too-many-members", `a group has at most ${MAX_GROUP_MEMBERS} members`);
    if (options.name !== undefined && [...options.name].length > MAX_GROUP_NAME_CHARS)
      throw new GroupError("invalid-options", `a group name has at most ${MAX_GROUP_NAME_CHARS} characters`);
    if (options.description !== undefined && [...options.description].length > MAX_GROUP_DESCRIPTION_CHARS)
      throw new GroupError(
        "invalid-options",
        `a group description has at most ${MAX_GROUP_DESCRIPTION_CHARS} characters`,
      );
    const recipients = await this.host.contactsOf(others);
    const epoch: EpochState = {
      groupId: bytesToHex(randomBytes(16)),
      creator: self,
      epoch: 0,
      ...this.host.newEpochSecrets(),
      members: normalizeMembers([self, ...others]),
      revision: 0,
      createdNs: nowNs(),
      ...(options.name !== undefined ? { name: options.name } : {}),
      ...(options.description !== undefined ? { description: options.description } : {}),
    };
    // Known before its invitations go out: our own copy may come back (a stream of the invite
    // topic) while the publish is under way, and must find this group, not make a second one.
    const g = new Group(this.host, epoch);
    this.byId.set(epoch.groupId, g);
    try {
      await this.invite(ctx, epoch, recipients);
    } catch (err) {
      this.byId.delete(epoch.groupId);
      this.byTopic.delete(epoch.topic);
      throw err;
    }
    await this.host.allow(others);
    return g;
  }

  private async contactsOf(
    ctx: ConversationsContext,
    addresses: readonly string[],
  ): Promise<GroupRecipient[]> {
    // One batch lookup (first page per address); the rare miss is asked again page by page.
    const batch = ctx.getContacts ? await ctx.getContacts([...addresses]) : new Map();
    const found = await Promise.all(addresses.map(async (a) => batch.get(a) ?? (await ctx.getContact(a))));
    const missing = addresses.filter((_, i) => found[i] === undefined);
    if (missing.length > 0)
      throw new GroupError("not-on-network", `not on the XMTP network: ${missing.join(", ")}`);
    return addresses.map((address, i) => {
      const c = found[i]!;
      const bundle =
        c.$typeName === "xmtp.message_contents.PublicKeyBundle"
          ? toSignedPublicKeyBundle(c as PublicKeyBundle)
          : (c as SignedPublicKeyBundle);
      return { address, bundle };
    });
  }

  /**
   * One invitation round: the epoch's invitation sealed to each recipient (3DH with this client's
   * pre-key) to their invite topic, plus the first copy to our own, in one publish.
   */
  private async invite(ctx: ConversationsContext, e: EpochState, recipients: readonly GroupRecipient[]) {
    if (recipients.length === 0) return;
    const invitation = create(InvitationV1Schema, {
      topic: e.topic,
      context: groupContext(e),
      encryption: { case: "aes256GcmHkdfSha256", value: { keyMaterial: e.keyMaterial } },
    });
    const createdNs = nowNs();
    const sealed = await Promise.all(
      recipients.map((r) => sealInvitation(ctx.keys, r.bundle, invitation, createdNs, memoEcdh())),
    );
    const envelope = (address: string, message: Uint8Array) =>
      create(EnvelopeSchema, { contentTopic: buildTopic.invite(address), timestampNs: createdNs, message });
    await ctx.transport.publish([
      ...recipients.map((r, i) => envelope(r.address, sealed[i]!)),
      envelope(ctx.keys.address, sealed[0]!),
    ]);
  }

  /**
   * Judges an opened group invitation (docs/groups.md §7): the group it creates or updates, the
   * known group for a duplicate copy, or undefined when it is rejected (and reported).
   */
  fromInvitation(o: OpenedInvitation): Group | undefined {
    const self = this.host.ctx.keys.address;
    let info: ReturnType<typeof parseGroupContext>;
    try {
      info = parseGroupContext(o.context!);
    } catch (err) {
      if (!(err instanceof GroupFormatError)) throw err;
      this.report({ reason: "malformed", topic: o.topic, from: o.peerAddress, detail: err.message });
      return undefined;
    }
    const inviter = o.isSender ? self : o.peerAddress;
    const atTopic = this.byTopic.get(o.topic);
    const group = this.byId.get(info.groupId);
    const v = judgeInvitation(
      {
        info,
        topic: o.topic,
        keyMaterial: o.keyMaterial,
        createdNs: o.createdNs,
        inviter,
        recipient: o.isSender ? o.peerAddress : self,
      },
      {
        epochs: group?.knownEpochs ?? [],
        atTopic: atTopic?.knownEpochs.find((e) => e.topic === o.topic),
        twoPartyTopic: this.isTwoPartyTopic(o.topic),
      },
    );
    if (v.kind === "reject") {
      this.report({
        reason: v.reason,
        topic: o.topic,
        groupId: info.groupId,
        from: inviter,
        detail: v.detail,
      });
      return undefined;
    }
    if (v.kind === "duplicate") return atTopic;
    return this.put(v.value);
  }

  private put(e: EpochState): Group {
    const g = this.byId.get(e.groupId);
    if (g) {
      g.putEpoch(e);
      return g;
    }
    const created = new Group(this.host, e);
    this.byId.set(e.groupId, created);
    return created;
  }

  /**
   * Whether a two-party invitation names a group's topic; if so it is reported (`topic-taken`) and
   * must be dropped, so no member can pull a group topic into a conversation of two.
   */
  isGroupTopic(o: OpenedInvitation): boolean {
    const g = this.byTopic.get(o.topic);
    if (!g) return false;
    const from = o.isSender ? this.host.ctx.keys.address : o.peerAddress;
    this.report({
      reason: "topic-taken",
      topic: o.topic,
      groupId: g.id,
      from,
      detail: "a two-party invitation for a group topic",
    });
    return true;
  }

  /** Restores an epoch kept in the conversation snapshot (already authenticated when it was stored). */
  restore(s: SnapshotV2): void {
    if (this.byTopic.has(s.topic) || !s.context) return;
    try {
      const info = parseGroupContext(s.context);
      this.put({
        ...info,
        topic: s.topic,
        keyMaterial: s.keyMaterial,
        createdNs: BigInt(s.createdMs) * 1_000_000n,
      });
    } catch {
      // a damaged entry: the next listing reads the invitation again
    }
  }

  /** Every known epoch as a snapshot entry (its context carries the member list as known now). */
  snapshotEntries(): SnapshotV2[] {
    return [...this.byId.values()].flatMap((g) =>
      g.knownEpochs.map((e) => ({
        topic: e.topic,
        peerAddress: e.creator,
        createdMs: Number(e.createdNs / 1_000_000n),
        keyMaterial: e.keyMaterial,
        context: groupContext(e),
        consentProof: undefined,
      })),
    );
  }
}
