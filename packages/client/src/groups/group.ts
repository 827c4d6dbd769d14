/**
 * A group conversation (docs/groups.md): the epochs this client holds keys for, the current one's
 * topic for sending, every message checked against its epoch's member list, and the creator's
 * membership changes (add in place; remove by starting the next epoch).
 */
import type { Envelope, SignedPublicKeyBundle } from "@xmtp-ts/proto";
import { SortDirection } from "@xmtp-ts/proto";
import { buildTopic } from "@xmtp-ts/protocol";
import { queryAll } from "../api/query.js";
import type { CodecLookup } from "../content/codec.js";
import { sameContentType } from "../content/content-type.js";
import { decodeContent } from "../content/encode.js";
import {
  type Conversation,
  type ConversationsContext,
  ConversationV2,
  DecodedMessage,
  type ListMessagesOptions,
  type ListMessagesPaginatedOptions,
  PeerConsent,
  rangeOf,
  type SendOptions,
  type StreamOptionsOrCallback,
  streamDecoded,
} from "../conversations/conversation.js";
import type { ConversationContext } from "../conversations/invitation.js";
import { type DecodedV2, decodeMessageV2, MessageDecodeError } from "../conversations/v2.js";
import { type GroupErrorReason, XmtpError } from "../errors.js";
import {
  ContentTypeGroupMembership,
  GroupMembershipCodec,
  type MembershipChange,
} from "./membership-content.js";
import { groupContext, MAX_GROUP_MEMBERS, normalizeMembers } from "./metadata.js";
import { type EpochState, type GroupRejectionReason, judgeMembership, judgeMessage } from "./rules.js";

/** A group change or message this client may not make, or cannot make now (code `group-refused`). */
export class GroupError extends XmtpError<"group-refused"> {
  override readonly name: string = "GroupError";
  constructor(
    readonly reason: GroupErrorReason,
    message: string,
  ) {
    super("group-refused", message, { reason });
  }
}

/** Rejections kept by `conversations.groups` (and message ids remembered per group to report once). */
export const MAX_KEPT_REJECTIONS = 1000;

/** A rejected invitation or message, as reported by `conversations.groups`. */
export interface GroupRejection {
  reason: GroupRejectionReason;
  /** The topic the rejected invitation named, or the message's topic. */
  topic: string;
  groupId?: string;
  /** The inviter or sender, when known. */
  from?: string;
  detail: string;
}

/** A member an invitation is sealed to. */
export interface GroupRecipient {
  address: string;
  bundle: SignedPublicKeyBundle;
}

/** What a group needs from the registry that holds it. */
export interface GroupHost {
  readonly ctx: ConversationsContext;
  report(r: GroupRejection): void;
  /** The contact bundles of `addresses`; throws {@link GroupError} `not-on-network`. */
  contactsOf(addresses: readonly string[]): Promise<GroupRecipient[]>;
  /** Seals the epoch's invitation to each recipient (and one own copy) and publishes them together. */
  invite(epoch: EpochState, recipients: readonly GroupRecipient[]): Promise<void>;
  /** Allows the addresses (consent), as starting a conversation allows its peer. */
  allow(addresses: readonly string[]): Promise<void>;
  /** A new epoch's random topic and key. */
  newEpochSecrets(): { topic: string; keyMaterial: Uint8Array };
  /** Called when the group learns a new epoch topic (for lookups by topic). */
  indexTopic(group: Group, topic: string): void;
}

const membershipCodec = new GroupMembershipCodec();

/** The app's codecs plus the membership codec (encoding only: membership content never nests). */
function withMembershipCodec(codecs: CodecLookup): CodecLookup {
  return {
    codecFor: (t) => (sameContentType(t, ContentTypeGroupMembership) ? membershipCodec : codecs.codecFor(t)),
  };
}

/** A decoded envelope before its membership judgement. */
interface Opened {
  epoch: number;
  d: DecodedV2;
  message: DecodedMessage;
  change: MembershipChange | undefined;
}

export class Group implements Conversation {
  readonly conversationVersion = "v2" as const;
  readonly isGroup = true as const;
  /** Known epochs, oldest first. */
  private readonly epochs: EpochState[] = [];
  /** Ids of messages already reported as rejected. */
  private readonly reported = new Set<string>();
  /** The membership change under way (this client is the creator), if any. */
  private changing: Promise<void> | undefined;
  /** `epoch:revision:sender` of unknown senders the list was re-read for. */
  private readonly resynced = new Set<string>();

  constructor(
    private readonly host: GroupHost,
    first: EpochState,
  ) {
    this.putEpoch(first);
  }

  private get ctx() {
    return this.host.ctx;
  }
  private get current(): EpochState {
    return this.epochs[this.epochs.length - 1]!;
  }
  /** The group id (32 hex characters), the same in every epoch. */
  get id(): string {
    return this.current.groupId;
  }
  get creator(): string {
    return this.current.creator;
  }
  /** The inviter, as xmtp-js members see it: the creator. Consent for the group is theirs. */
  get peerAddress(): string {
    return this.current.creator;
  }
  get clientAddress(): string {
    return this.ctx.keys.address;
  }
  get name(): string | undefined {
    return this.current.name;
  }
  get description(): string | undefined {
    return this.current.description;
  }
  get epoch(): number {
    return this.current.epoch;
  }
  /** The current epoch's topic: where messages are sent. */
  get topic(): string {
    return this.current.topic;
  }
  get ephemeralTopic(): string {
    return buildTopic.ephemeral(this.current.topic);
  }
  get createdAt(): Date {
    return new Date(Number(this.epochs[0]!.createdNs / 1_000_000n));
  }
  get context(): ConversationContext {
    return groupContext(this.current);
  }
  /** Members (EIP-55, sorted), the creator included; after a close, the next epoch's list. */
  get members(): readonly string[] {
    const e = this.current;
    return e.closedAtNs !== undefined && e.nextMembers ? e.nextMembers : e.members;
  }
  /** False once this client was removed. */
  get isActive(): boolean {
    return this.members.includes(this.ctx.keys.address);
  }
  /** The epochs known to this client (for persistence and tests). */
  get knownEpochs(): readonly EpochState[] {
    return this.epochs;
  }

  /** @internal Adds an epoch or replaces the known state of one. */
  putEpoch(e: EpochState): void {
    const i = this.epochs.findIndex((x) => x.epoch === e.epoch);
    if (i >= 0) this.epochs[i] = e;
    else {
      this.epochs.push(e);
      this.epochs.sort((a, b) => a.epoch - b.epoch);
      this.host.indexTopic(this, e.topic);
    }
  }

  /** @internal The epoch at a topic (or its ephemeral twin). */
  epochAt(topic: string): EpochState | undefined {
    return this.epochs.find((e) => e.topic === topic || buildTopic.ephemeral(e.topic) === topic);
  }

  /** A two-party view of an epoch: the wire of sending is exactly a V2 conversation's. */
  private wire(e: EpochState): ConversationV2 {
    return new ConversationV2(
      { ...this.ctx, codecs: withMembershipCodec(this.ctx.codecs) },
      e.topic,
      e.creator,
      new Date(Number(e.createdNs / 1_000_000n)),
      groupContext(e),
      e.keyMaterial,
    );
  }

  async send<T = string>(content: T, options: SendOptions = {}): Promise<DecodedMessage<T>> {
    // A removal closes the epoch before the next one exists: what is sent meanwhile waits for it.
    if (this.changing) await this.changing.catch(() => undefined);
    if (!this.isActive) throw new GroupError("inactive", "this client is no longer a member of the group");
    if (this.current.closedAtNs !== undefined)
      throw new GroupError("inactive", "this epoch has closed: list conversations to receive the next one");
    const sent = await this.wire(this.current).send(content, options);
    return new DecodedMessage<T>({ ...sent, recipientAddress: undefined, conversation: this });
  }

  /** Decodes one envelope of any known epoch, applying membership messages; throws {@link MessageDecodeError}. */
  async decodeMessage(env: Envelope): Promise<DecodedMessage> {
    const o = await this.open(env);
    try {
      return this.admit(o, env, false);
    } catch (err) {
      if (!(err instanceof MessageDecodeError) || err.reason !== "sender-not-participant") throw err;
      // A relayed network may deliver a new member's message before the addition: read the
      // topic's membership messages once before rejecting it. Once per sender and list revision,
      // so a stranger's stream of messages costs no more than one re-read.
      const e = this.epochs.find((x) => x.epoch === o.epoch)!;
      const key = `${e.epoch}:${e.revision}:${o.d.senderAddress}`;
      if (!this.resynced.has(key)) {
        if (this.resynced.size >= MAX_KEPT_REJECTIONS) this.resynced.clear();
        this.resynced.add(key);
        await this.syncEpoch(o.epoch);
      }
      return this.admit(o, env, true);
    }
  }

  private async open(env: Envelope): Promise<Opened> {
    const e = this.epochAt(env.contentTopic);
    if (!e) throw new MessageDecodeError("topic-mismatch", "not a topic of this group", env);
    const d = await decodeMessageV2({
      envelope: env,
      topic: e.topic,
      keyMaterial: e.keyMaterial,
      participants: null, // judged below against the epoch's member list
      verified: this.ctx.verifiedSenders,
    });
    const opts =
      this.ctx.maxDecompressedBytes !== undefined
        ? { maxDecompressedBytes: this.ctx.maxDecompressedBytes }
        : {};
    const c = await decodeContent(d.payload, this.ctx.codecs, opts);
    let change: MembershipChange | undefined;
    let content = c.content;
    let error = c.error;
    if (c.contentType && sameContentType(c.contentType, ContentTypeGroupMembership) && c.encoded) {
      try {
        change = membershipCodec.decode(c.encoded);
      } catch (cause) {
        this.reject(e, d.id, "malformed", d.senderAddress, `membership content: ${(cause as Error).message}`);
        throw new MessageDecodeError("forged-membership", "undecodable membership message", env, { cause });
      }
      content = change;
      error = undefined;
    }
    const message = new DecodedMessage({
      id: d.id,
      messageVersion: "v2",
      senderAddress: d.senderAddress,
      recipientAddress: undefined,
      sent: new Date(Number(d.sentNs / 1_000_000n)),
      sentNs: d.sentNs,
      contentTopic: env.contentTopic,
      conversation: this,
      contentType: c.contentType,
      content,
      contentFallback: c.contentFallback,
      error,
      contentBytes: d.payload,
      shouldPush: d.shouldPush,
      senderHmac: d.senderHmac,
    });
    return { epoch: e.epoch, d, message, change };
  }

  /**
   * Judges an opened message against the epoch's current state; throws when it is rejected.
   * A sender who is not a member is reported only when `final` (no re-read of the list follows).
   */
  private admit(o: Opened, env: Envelope, final: boolean): DecodedMessage {
    const e = this.epochs.find((x) => x.epoch === o.epoch)!;
    const sender = o.d.senderAddress;
    if (o.change) {
      const v = judgeMembership(e, { change: o.change, sender, sentNs: o.d.sentNs });
      if (v.kind === "reject") {
        this.reject(e, o.d.id, v.reason, sender, v.detail);
        throw new MessageDecodeError("forged-membership", `membership message rejected: ${v.detail}`, env);
      }
      if (v.kind === "accept") this.putEpoch(v.value);
      return o.message;
    }
    const v = judgeMessage(e, sender, o.d.sentNs);
    if (v.kind === "reject") {
      if (v.reason === "epoch-closed") {
        this.reject(e, o.d.id, v.reason, sender, v.detail);
        throw new MessageDecodeError("epoch-closed", v.detail, env);
      }
      if (final) this.reject(e, o.d.id, v.reason, sender, v.detail);
      throw new MessageDecodeError("sender-not-participant", v.detail, env);
    }
    return o.message;
  }

  /** Reports a rejected message once, however often it is read again. */
  private reject(
    e: EpochState,
    id: string,
    reason: GroupRejectionReason,
    from: string,
    detail: string,
  ): void {
    if (this.reported.has(id)) return;
    if (this.reported.size >= MAX_KEPT_REJECTIONS) this.reported.clear();
    this.reported.add(id);
    this.host.report({ reason, topic: e.topic, groupId: e.groupId, from, detail });
  }

  /**
   * Reads one epoch's envelopes: membership messages are applied first, in topic order, then (unless
   * `membershipOnly`) every other message is judged against the resulting list. Rejections go to
   * `onError`.
   */
  private async readEpoch(
    envs: Envelope[],
    onError?: (e: MessageDecodeError) => void,
    membershipOnly = false,
  ): Promise<DecodedMessage[]> {
    const opened = await Promise.all(
      envs.map((env) =>
        this.open(env).then(
          (o) => ({ o, env }),
          (err: unknown) => {
            onError?.(
              err instanceof MessageDecodeError
                ? err
                : new MessageDecodeError("malformed", String(err), env, { cause: err }),
            );
            return undefined;
          },
        ),
      ),
    );
    const admitted = new Map<string, DecodedMessage>();
    const tryAdmit = (x: { o: Opened; env: Envelope }) => {
      try {
        admitted.set(x.o.d.id, this.admit(x.o, x.env, true));
      } catch (err) {
        if (!(err instanceof MessageDecodeError)) throw err;
        onError?.(err);
      }
    };
    for (const x of opened) if (x?.o.change) tryAdmit(x);
    if (!membershipOnly) for (const x of opened) if (x && !x.o.change) tryAdmit(x);
    const out: DecodedMessage[] = [];
    const seen = new Set<string>();
    for (const x of opened) {
      const m = x && admitted.get(x.o.d.id);
      if (m && !seen.has(m.id)) {
        seen.add(m.id);
        out.push(m);
      }
    }
    return out;
  }

  private async syncEpoch(epoch: number): Promise<void> {
    const e = this.epochs.find((x) => x.epoch === epoch);
    if (!e) return;
    const envs = await queryAll(this.ctx.transport, e.topic);
    await this.readEpoch(envs, undefined, true);
  }

  /** Reads the membership messages of every known epoch again (members, closes). */
  async sync(): Promise<void> {
    for (const e of [...this.epochs]) await this.syncEpoch(e.epoch);
  }

  /**
   * Messages of every known epoch, epoch by epoch, each in topic order. A message from a sender
   * who is not on its epoch's list, or sent after its epoch closed, is skipped and reported.
   */
  async messages(options: ListMessagesOptions = {}): Promise<DecodedMessage[]> {
    const range = rangeOf(options);
    const whole = range.startTime === undefined && range.endTime === undefined && range.limit === undefined;
    if (!whole) await this.sync();
    const out: DecodedMessage[] = [];
    const epochs = [...this.epochs];
    if (range.direction === SortDirection.DESCENDING) epochs.reverse();
    for (const e of epochs) {
      const { limit: _limit, ...unlimited } = range;
      out.push(
        ...(await this.readEpoch(await queryAll(this.ctx.transport, e.topic, unlimited), options.onError)),
      );
    }
    return range.limit !== undefined ? out.slice(0, range.limit) : out;
  }

  /** {@link messages} in pages of `pageSize` (the group's epochs are read first, then paged). */
  async *messagesPaginated(options: ListMessagesPaginatedOptions = {}): AsyncGenerator<DecodedMessage[]> {
    const all = await this.messages(options);
    const size = options.pageSize ?? 100;
    for (let i = 0; i < all.length; i += size) yield all.slice(i, i + size);
  }

  /** Consent for the group is its creator's (the inviter, as xmtp-js members see it). */
  private get peerConsent(): PeerConsent {
    return new PeerConsent(this.ctx, this.peerAddress);
  }
  get consentState() {
    return this.peerConsent.consentState;
  }
  get isAllowed() {
    return this.peerConsent.isAllowed;
  }
  get isDenied() {
    return this.peerConsent.isDenied;
  }
  allow() {
    return this.peerConsent.allow();
  }
  deny() {
    return this.peerConsent.deny();
  }

  /** New messages of the current epoch. */
  streamMessages(
    options?: StreamOptionsOrCallback<MessageDecodeError>,
  ): Promise<AsyncIterableIterator<DecodedMessage>> {
    return streamDecoded(this.ctx, [this.topic], (e) => this.decodeMessage(e), options);
  }

  streamEphemeral(
    options?: StreamOptionsOrCallback<MessageDecodeError>,
  ): Promise<AsyncIterableIterator<DecodedMessage>> {
    return streamDecoded(this.ctx, [this.ephemeralTopic], (e) => this.decodeMessage(e), options);
  }

  private requireCreator(): void {
    if (this.ctx.keys.address !== this.creator)
      throw new GroupError("not-creator", "only the group's creator changes its members");
    if (this.current.closedAtNs !== undefined)
      throw new GroupError("inactive", "the current epoch is closed; its successor is not known here");
  }

  private async sendChange(e: EpochState, change: Omit<MembershipChange, "groupId" | "epoch" | "creator">) {
    const full: MembershipChange = { groupId: e.groupId, epoch: e.epoch, creator: e.creator, ...change };
    const sent = await this.wire(e).send(full, { contentType: ContentTypeGroupMembership });
    const v = judgeMembership(e, { change: full, sender: this.ctx.keys.address, sentNs: sent.sentNs });
    if (v.kind === "accept") this.putEpoch(v.value);
  }

  /**
   * Adds members (creator only): a membership message in the current epoch topic first, then the
   * invitation with the new list to each new member. They read the current epoch from its start.
   * Naming a current member re-sends its invitation.
   */
  addMembers(addresses: readonly string[]): Promise<void> {
    return this.change(() => this.add(addresses));
  }

  /**
   * Runs a membership change after any under way; {@link send} waits for them, so nothing is sent
   * into an epoch that is closing.
   */
  private async change(body: () => Promise<void>): Promise<void> {
    const run = (this.changing ?? Promise.resolve()).catch(() => undefined).then(body);
    this.changing = run;
    try {
      await run;
    } finally {
      if (this.changing === run) this.changing = undefined;
    }
  }

  private async add(addresses: readonly string[]): Promise<void> {
    this.requireCreator();
    await this.sync();
    const e = this.current;
    const requested = checkedAddresses(addresses).filter((a) => a !== e.creator);
    const added = requested.filter((a) => !e.members.includes(a));
    // Members named again get the current invitation again (a round that failed half-way is
    // finished this way; receivers drop copies they already hold).
    const again = requested.filter((a) => e.members.includes(a));
    const members = normalizeMembers([...e.members, ...added]);
    if (members.length > MAX_GROUP_MEMBERS)
      throw new GroupError("too-many-members", `a group has at most ${MAX_GROUP_MEMBERS} members`);
    const contacts = (list: string[]) => (list.length > 0 ? this.host.contactsOf(list) : Promise.resolve([]));
    const [resend, recipients] = await Promise.all([contacts(again), contacts(added)]);
    if (resend.length > 0) await this.host.invite(e, resend);
    if (added.length === 0) return;
    await this.sendChange(e, { revision: e.revision + 1, action: "add", members, changed: added });
    await this.host.invite(this.current, recipients);
    await this.host.allow(added);
  }

  /**
   * Removes members (creator only): closes the current epoch with a membership message and starts
   * the next one (new topic and key) sealed to the remaining members only.
   */
  removeMembers(addresses: readonly string[]): Promise<void> {
    return this.change(() => this.remove(addresses));
  }

  private async remove(addresses: readonly string[]): Promise<void> {
    this.requireCreator();
    await this.sync();
    const e = this.current;
    const targets = checkedAddresses(addresses);
    if (targets.includes(e.creator)) throw new GroupError("invalid-address", "the creator cannot be removed");
    const removed = targets.filter((a) => e.members.includes(a));
    if (removed.length === 0) return;
    const members = e.members.filter((a) => !removed.includes(a));
    if (members.length < 2)
      throw new GroupError("too-few-members", "a group needs one member besides the creator");
    const { topic, keyMaterial } = this.host.newEpochSecrets();
    const next: EpochState = {
      ...epochFields(e),
      epoch: e.epoch + 1,
      topic,
      keyMaterial,
      members,
      revision: 0,
      previous: e.topic,
      createdNs: BigInt(Date.now()) * 1_000_000n,
    };
    const recipients = await this.host.contactsOf(members.filter((a) => a !== e.creator));
    await this.sendChange(e, {
      revision: e.revision,
      action: "close",
      members,
      changed: removed,
      nextEpoch: next.epoch,
    });
    // The next epoch is ours from here on: should the round fail, `addMembers` on the remaining
    // members re-sends it.
    this.putEpoch(next);
    await this.host.invite(next, recipients);
  }
}

/** The group-wide fields an epoch hands to its successor. */
function epochFields(e: EpochState) {
  return {
    groupId: e.groupId,
    creator: e.creator,
    ...(e.name !== undefined ? { name: e.name } : {}),
    ...(e.description !== undefined ? { description: e.description } : {}),
  };
}

function checkedAddresses(addresses: readonly string[]): string[] {
  try {
    return normalizeMembers(addresses);
  } catch (err) {
    throw new GroupError("invalid-address", (err as Error).message);
  }
}
