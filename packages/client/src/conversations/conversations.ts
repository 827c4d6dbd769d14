/**
 * `client.conversations`: listing (V2 invites and V1 intros, incremental), `newConversation` in
 * the reference's order (protocol.md §8.6), and streams of new conversations and of all messages.
 */
import type { ConsentProofPayload, Envelope, PublicKeyBundle, SignedPublicKeyBundle } from "@xmtp-ts/proto";
import { buildTopic, initSecp256k1, isAddress, toChecksumAddress } from "@xmtp-ts/protocol";
import { liveSubscription, queryAll } from "../api/query.js";
import type { ConnectionHooks } from "../api/types.js";
import { checkedAddress, XmtpError } from "../errors.js";
import { Group } from "../groups/group.js";
import { isGroupContext } from "../groups/metadata.js";
import { GroupRegistry, type NewGroupOptions } from "../groups/registry.js";
import { memoEcdh } from "../keys/own-keys.js";
import { toSignedPublicKeyBundle } from "../keys/public.js";
import { abortableQueue } from "./async-queue.js";
import {
  type Conversation,
  type ConversationsContext,
  ConversationV1,
  ConversationV2,
  type DecodedMessage,
  decodeAll,
} from "./conversation.js";
import { curvePoolFor, runCurveJobs } from "./curve-pool.js";
import type { StoredConversationRef } from "./decoded-message.js";
import {
  type ConversationContext,
  createInvitation,
  InvitationError,
  invitationEnvelopes,
  type OpenCache,
  type OpenedInvitation,
  openInvitation,
  openInvitations,
  sealInvitation,
} from "./invitation.js";
import {
  type ConversationStore,
  openSnapshot,
  type Snapshot,
  sealSnapshot,
  snapshotKey,
} from "./persistence.js";
import { sha256, toHex } from "./primitives.js";
import { endSignal, type StreamOptionsOrCallback, streamOptions } from "./stream.js";
import { decodeMessageV1 } from "./v1.js";
import { MessageDecodeError } from "./v2.js";
import { cryptoPoolFor } from "./worker-pool.js";

/**
 * Incremental listing re-reads this far back from the previous run, so invites from senders with
 * skewed clocks are not missed (the reference uses 10 s; protocol.md §18 row 10). Already-seen
 * envelopes are skipped by digest, so the overlap costs one query, not re-decryption; the digests
 * inside the window are kept in the conversation store's snapshot too, so a restarted client
 * skips them as well.
 */
export const LIST_OVERLAP_NS = 60n * 60n * 1_000_000_000n;

/** Where the listing after one that started at `sinceNs` begins reading (undefined: from the start). */
const overlapStart = (sinceNs: bigint | undefined) =>
  sinceNs === undefined ? undefined : sinceNs > LIST_OVERLAP_NS ? sinceNs - LIST_OVERLAP_NS : 1n;

/** The seen-envelope keys that the next listing from `sinceNs` on will meet again. */
function seenInWindow(seen: Set<string>, sinceNs: bigint | undefined): string[] | undefined {
  const start = overlapStart(sinceNs);
  if (start === undefined) return undefined;
  const out: string[] = [];
  for (const k of seen) if (BigInt(k.slice(0, k.indexOf(":"))) >= start) out.push(k);
  return out;
}
/** Invites decrypted concurrently while listing. */
export const LIST_BATCH = 64;

export interface NewConversationOptions {
  conversationId?: string;
  metadata?: Record<string, string>;
  consentProof?: ConsentProofPayload;
}

export interface ConversationsOptions {
  /** Receives invites and intros that were skipped while listing or streaming. */
  onError?: (err: InvitationError | MessageDecodeError) => void;
  /**
   * Keeps the known conversations between runs (encrypted under the identity key): a client
   * started again lists them at once and reads only invitations and intros newer than its last
   * listing (minus the overlap window).
   */
  conversationStore?: ConversationStore;
}

/** A simple FIFO mutex. */
class Mutex {
  private tail: Promise<void> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

const nowNs = () => BigInt(Date.now()) * 1_000_000n;
const envKey = (e: Envelope) => `${e.timestampNs}:${toHex(sha256(e.message))}`;

// biome-ignore lint/suspicious/noExplicitAny: the content type defaults to anything, as in xmtp-js
export class Conversations<ContentTypes = any> {
  private readonly v2 = new Map<string, ConversationV2>();
  private readonly v1 = new Map<string, ConversationV1>();
  private readonly seenInvites = new Set<string>();
  private readonly seenIntros = new Set<string>();
  private lastInviteSyncNs: bigint | undefined;
  private lastIntroSyncNs: bigint | undefined;
  private readonly v2Mutex = new Mutex();
  private readonly v1Mutex = new Mutex();
  private readonly openCache: OpenCache = { verified: new Map() };
  private readonly persistMutex = new Mutex();
  /** A snapshot write queued but not started: later requests join it (it reads the state when it starts). */
  private persistQueued: Promise<void> | undefined;
  /** Group conversations (docs/groups.md), with the report of rejected group invitations and messages. */
  readonly groups: GroupRegistry;

  constructor(
    private readonly ctx: ConversationsContext,
    private readonly options: ConversationsOptions = {},
  ) {
    this.groups = new GroupRegistry(ctx, (topic) => this.v2.has(topic));
  }

  private get address() {
    return this.ctx.keys.address;
  }

  /** Every conversation (V1, V2, groups), oldest first. A second call reads only new invites and intros. */
  async list(): Promise<Conversation<ContentTypes>[]> {
    const [v1, v2] = await Promise.all([this.listV1(), this.listV2()]);
    return [...v1, ...v2, ...this.groups.list()].sort(
      (a, b) => a.createdAt.getTime() - b.createdAt.getTime(),
    );
  }

  /** Conversations already known to this client, without reading the network. */
  listFromCache(): Conversation<ContentTypes>[] {
    return [...this.v1.values(), ...this.v2.values(), ...this.groups.list()].sort(
      (a, b) => a.createdAt.getTime() - b.createdAt.getTime(),
    );
  }

  /** V2 conversations, syncing invites first. */
  listV2(): Promise<ConversationV2<ContentTypes>[]> {
    return this.v2Mutex.run(async () => {
      await this.syncInvites();
      await this.persist();
      return [...this.v2.values()].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
    });
  }

  /** V1 conversations, syncing intros first. */
  listV1(): Promise<ConversationV1<ContentTypes>[]> {
    return this.v1Mutex.run(async () => {
      await this.syncIntros();
      await this.persist();
      return [...this.v1.values()].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
    });
  }

  /**
   * Loads the snapshot kept in `conversationStore` (done by `Client.create`). Returns false when
   * there is none, or it is damaged or not this identity's: listing then reads everything.
   */
  async restore(): Promise<boolean> {
    const store = this.options.conversationStore;
    if (store === undefined) return false;
    let bytes: Uint8Array | undefined;
    try {
      bytes = await store.get(snapshotKey(this.address));
    } catch {
      return false; // unreadable storage: list from the network
    }
    if (bytes === undefined) return false;
    const snap = await openSnapshot(this.ctx.keys.identity.privateKey, this.address, bytes);
    if (snap === undefined) return false;
    for (const c of snap.v2) {
      if (isGroupContext(c.context)) this.groups.restore(c);
      if (this.v2.has(c.topic) || isGroupContext(c.context)) continue;
      this.v2.set(
        c.topic,
        new ConversationV2(
          this.ctx,
          c.topic,
          c.peerAddress,
          new Date(c.createdMs),
          c.context,
          c.keyMaterial,
          c.consentProof,
        ),
      );
    }
    for (const c of snap.v1)
      if (!this.v1.has(c.peerAddress))
        this.v1.set(c.peerAddress, new ConversationV1(this.ctx, c.peerAddress, new Date(c.createdMs)));
    this.lastInviteSyncNs ??= snap.inviteSyncNs;
    this.lastIntroSyncNs ??= snap.introSyncNs;
    for (const k of snap.seenInvites ?? []) this.seenInvites.add(k);
    for (const k of snap.seenIntros ?? []) this.seenIntros.add(k);
    return true;
  }

  /**
   * Writes the snapshot; a storage failure only costs the next start a full listing. Requests
   * made while a write waits share it, so parallel listings write once, not once each.
   */
  private persist(): Promise<void> {
    const store = this.options.conversationStore;
    if (store === undefined) return Promise.resolve();
    this.persistQueued ??= this.persistMutex.run(async () => {
      this.persistQueued = undefined;
      const snap: Snapshot = {
        inviteSyncNs: this.lastInviteSyncNs,
        introSyncNs: this.lastIntroSyncNs,
        v2: [
          ...[...this.v2.values()].map((c) => ({
            topic: c.topic,
            peerAddress: c.peerAddress,
            createdMs: c.createdAt.getTime(),
            keyMaterial: c.keyMaterial,
            context: c.context,
            consentProof: c.consentProof,
          })),
          ...this.groups.snapshotEntries(),
        ],
        v1: [...this.v1.values()].map((c) => ({
          peerAddress: c.peerAddress,
          createdMs: c.createdAt.getTime(),
        })),
        seenInvites: seenInWindow(this.seenInvites, this.lastInviteSyncNs),
        seenIntros: seenInWindow(this.seenIntros, this.lastIntroSyncNs),
      };
      try {
        await store.set(
          snapshotKey(this.address),
          await sealSnapshot(this.ctx.keys.identity.privateKey, this.address, snap),
        );
      } catch {
        // The next start lists from the network.
      }
    });
    return this.persistQueued;
  }

  private async syncInvites(): Promise<ConversationV2[]> {
    const started = nowNs();
    const startNs = overlapStart(this.lastInviteSyncNs);
    // Each page is opened (in worker threads when available) while the next one is fetched;
    // results are applied in network order so the first invite per topic wins.
    const jobs: Promise<(OpenedInvitation | undefined)[]>[] = [];
    let seen = 0;
    for await (const page of this.ctx.transport.queryPages(buildTopic.invite(this.address), {
      ...(startNs !== undefined ? { startTime: startNs } : {}),
    })) {
      const fresh = page.filter((env) => {
        const k = envKey(env);
        if (this.seenInvites.has(k)) return false;
        this.seenInvites.add(k);
        return true;
      });
      seen += fresh.length;
      if (fresh.length > 0) jobs.push(this.openMany(fresh, seen));
    }
    const added: ConversationV2[] = [];
    for (const job of jobs) {
      for (const o of await job) {
        const c = o && this.addInvite(o);
        if (c) added.push(c);
      }
    }
    this.lastInviteSyncNs = started;
    return added;
  }

  /**
   * Opens one page of invites: in the crypto pool's workers where there is one (machines with
   * 3+ cores, large listings); otherwise decoded here with the curve work shared between this
   * thread and the curve workers once the listing is large enough to start them.
   */
  private async openMany(envs: Envelope[], seen: number): Promise<(OpenedInvitation | undefined)[]> {
    // A cold client must not open a page on noble while libsecp256k1 is still loading.
    await initSecp256k1();
    const pool = cryptoPoolFor(envs.length, seen);
    const curve = pool ? undefined : curvePoolFor(seen);
    const results = pool
      ? await pool.openInvitations(this.ctx.keys, envs)
      : await openInvitations(this.ctx.keys, envs, this.openCache, (jobs, local) =>
          runCurveJobs(jobs, local, curve?.liveWorkers()),
        );
    return results.map((r) => {
      if (r instanceof InvitationError) {
        this.options.onError?.(r);
        return undefined;
      }
      return r;
    });
  }

  private async tryOpen(env: Envelope): Promise<OpenedInvitation | undefined> {
    try {
      return await openInvitation(this.ctx.keys, env, this.openCache);
    } catch (err) {
      this.options.onError?.(
        err instanceof InvitationError ? err : new InvitationError("malformed", String(err), { cause: err }),
      );
      return undefined;
    }
  }

  /** Keeps the first invite seen per topic (protocol.md §8.4 step 7); group invitations go to `groups`. */
  private addInvite(o: OpenedInvitation): ConversationV2 | undefined {
    if (isGroupContext(o.context)) {
      this.groups.fromInvitation(o);
      return undefined;
    }
    if (this.v2.has(o.topic) || this.groups.isGroupTopic(o)) return undefined;
    const c = new ConversationV2(
      this.ctx,
      o.topic,
      o.peerAddress,
      new Date(Number(o.createdNs / 1_000_000n)),
      o.context,
      o.keyMaterial,
      o.consentProof,
    );
    this.v2.set(o.topic, c);
    return c;
  }

  private async syncIntros(): Promise<ConversationV1[]> {
    const started = nowNs();
    const startNs = overlapStart(this.lastIntroSyncNs);
    const envs = await queryAll(this.ctx.transport, buildTopic.intro(this.address), {
      ...(startNs !== undefined ? { startTime: startNs } : {}),
    });
    const fresh = envs.filter((e) => {
      const k = envKey(e);
      if (this.seenIntros.has(k)) return false;
      this.seenIntros.add(k);
      return true;
    });
    const added: ConversationV1[] = [];
    const decoded = await Promise.all(
      fresh.map((e) =>
        decodeMessageV1(this.ctx.keys, e).catch((err) => {
          this.options.onError?.(
            err instanceof MessageDecodeError ? err : new MessageDecodeError("malformed", String(err), e),
          );
          return undefined;
        }),
      ),
    );
    for (const d of decoded) {
      if (!d || d.peerAddress === this.address) continue;
      const createdAt = new Date(Number(d.sentMs));
      const have = this.v1.get(d.peerAddress);
      if (!have || have.createdAt > createdAt) {
        const c = new ConversationV1(this.ctx, d.peerAddress, createdAt);
        this.v1.set(d.peerAddress, c);
        if (!have) added.push(c);
      }
    }
    this.lastIntroSyncNs = started;
    return added;
  }

  /**
   * Starts (or resumes) a conversation with `peerAddress` (protocol.md §8.6): reuse a V2
   * conversation with the same peer and conversationId; look up the contact; refuse self; V1 for a
   * legacy-only peer without conversationId, or when a V1 intro exists; otherwise, under a mutex,
   * refresh invites and reuse a match or create and publish a new invitation.
   */
  async newConversation(
    peerAddress: string,
    options: NewConversationOptions = {},
    consentProof?: ConsentProofPayload,
  ): Promise<Conversation<ContentTypes>> {
    if (consentProof !== undefined) options = { ...options, consentProof };
    if (!isAddress(peerAddress))
      throw new XmtpError("invalid-address", `invalid address: ${peerAddress}`, { address: peerAddress });
    const peer = toChecksumAddress(peerAddress);
    const conversationId = options.conversationId || undefined;
    const matches = (c: ConversationV2) =>
      c.peerAddress.toLowerCase() === peer.toLowerCase() &&
      (c.context?.conversationId || undefined) === conversationId;
    for (const c of this.v2.values()) if (matches(c)) return c;
    // The reference's decisions, in its order, over reads fetched together: the contact, the V1
    // intros (only needed without a conversationId) and new invites, all under the V2 mutex.
    return this.v2Mutex.run(async () => {
      const [contact, v1s, fresh] = await Promise.all([
        this.ctx.getContact(peer),
        conversationId ? Promise.resolve([]) : this.listV1(),
        this.syncInvites(),
      ]);
      if (!contact)
        throw new XmtpError("not-on-network", `Recipient ${peer} is not on the XMTP network`, {
          address: peer,
        });
      if (peer.toLowerCase() === this.address.toLowerCase())
        throw new XmtpError("self-messaging", "self messaging not supported", { address: peer });
      const legacy = contact.$typeName === "xmtp.message_contents.PublicKeyBundle";
      if (legacy && !conversationId) {
        const c = await this.v1Conversation(peer);
        await this.persist();
        return c;
      }
      if (!conversationId) {
        const v1 = v1s.find((c) => c.peerAddress.toLowerCase() === peer.toLowerCase());
        if (v1) return v1;
      }
      const match = fresh.find(matches) ?? [...this.v2.values()].find(matches);
      if (match) return match;
      const recipient: SignedPublicKeyBundle = legacy
        ? toSignedPublicKeyBundle(contact as PublicKeyBundle)
        : (contact as SignedPublicKeyBundle);
      const created = await this.createV2(recipient, peer, options);
      await this.persist();
      return created;
    });
  }

  /**
   * Starts a group of this client and `addresses` (docs/groups.md): one invitation sealed to each
   * member. Throws `GroupError` (too many members, someone not on the network, …).
   */
  async newGroup(addresses: readonly string[], options: NewGroupOptions = {}): Promise<Group> {
    const g = await this.groups.create(addresses, options);
    await this.persist();
    return g;
  }

  private v1Conversation(peer: string): ConversationV1 {
    let c = this.v1.get(peer);
    if (!c) {
      c = new ConversationV1(this.ctx, peer, new Date());
      this.v1.set(peer, c);
    }
    return c;
  }

  private async createV2(
    recipient: SignedPublicKeyBundle,
    peer: string,
    o: NewConversationOptions,
  ): Promise<ConversationV2> {
    const createdNs = nowNs();
    const context: Partial<ConversationContext> | undefined =
      o.conversationId !== undefined || o.metadata !== undefined
        ? { conversationId: o.conversationId ?? "", metadata: o.metadata ?? {} }
        : undefined;
    const ecdh = memoEcdh();
    const invitation = await createInvitation(this.ctx.keys, recipient, peer, context, o.consentProof, ecdh);
    const sealed = await sealInvitation(this.ctx.keys, recipient, invitation, createdNs, ecdh);
    await this.ctx.transport.publish(invitationEnvelopes(sealed, createdNs, peer, this.address));
    await this.ctx.allowPeer?.(peer);
    const enc = invitation.encryption;
    if (enc.case !== "aes256GcmHkdfSha256") throw new Error("unreachable");
    const c = new ConversationV2(
      this.ctx,
      invitation.topic,
      peer,
      new Date(Number(createdNs / 1_000_000n)),
      invitation.context
        ? { conversationId: invitation.context.conversationId, metadata: { ...invitation.context.metadata } }
        : undefined,
      enc.value.keyMaterial,
      o.consentProof,
    );
    // Our own invite copy would be skipped as a duplicate topic anyway; keep the object we return.
    if (!this.v2.has(c.topic)) this.v2.set(c.topic, c);
    return this.v2.get(c.topic)!;
  }

  /**
   * New conversations as they arrive on the own invite and intro topics. Each peer's V1
   * conversation is reported once per stream.
   */
  async stream(
    optionsOrCallback?: StreamOptionsOrCallback<InvitationError | MessageDecodeError>,
  ): Promise<AsyncIterableIterator<Conversation<ContentTypes>>> {
    const options = streamOptions(optionsOrCallback);
    const introTopic = buildTopic.intro(this.address);
    const inviteTopic = buildTopic.invite(this.address);
    const { queue, abort } = abortableQueue<Conversation<ContentTypes>>(
      endSignal(this.ctx.transport, options.signal),
    );
    if (queue.isClosed) return queue;
    const seenPeers = new Set<string>();
    const seenGroups = new Set<Group>();
    const source = await liveSubscription(this.ctx.transport, [introTopic, inviteTopic], {
      signal: abort,
      ...hooksOf(options),
    });
    (async () => {
      try {
        for await (const env of source) {
          if (queue.isClosed) break;
          const c = await this.conversationFromEnvelope(env, introTopic, inviteTopic, seenPeers);
          // A group is reported once, however many copies of its invitations arrive.
          if (c instanceof Group) {
            if (seenGroups.has(c)) continue;
            seenGroups.add(c);
          }
          if (c) queue.push(c);
        }
        queue.end();
      } catch (err) {
        queue.end(abort.aborted ? undefined : err);
      }
    })();
    return queue;
  }

  private async conversationFromEnvelope(
    env: Envelope,
    introTopic: string,
    inviteTopic: string,
    seenPeers: Set<string>,
  ): Promise<Conversation | undefined> {
    if (env.contentTopic === inviteTopic) {
      const o = await this.tryOpen(env);
      if (!o) return undefined;
      this.seenInvites.add(envKey(env));
      if (isGroupContext(o.context)) return this.groups.fromInvitation(o);
      return this.addInvite(o) ?? this.v2.get(o.topic);
    }
    if (env.contentTopic === introTopic) {
      try {
        const d = await decodeMessageV1(this.ctx.keys, env);
        if (seenPeers.has(d.peerAddress) || d.peerAddress === this.address) return undefined;
        seenPeers.add(d.peerAddress);
        const existing = this.v1.get(d.peerAddress);
        if (existing) return existing;
        const c = new ConversationV1(this.ctx, d.peerAddress, new Date(Number(d.sentMs)));
        this.v1.set(d.peerAddress, c);
        return c;
      } catch (err) {
        this.options.onError?.(
          err instanceof MessageDecodeError ? err : new MessageDecodeError("malformed", String(err), env),
        );
        return undefined;
      }
    }
    return undefined;
  }

  /**
   * Messages of every conversation as they arrive, including conversations that start while the
   * stream runs (their earlier messages are fetched once, de-duplicated by id). New conversations
   * join the one live subscription (its topics are updated, missed envelopes backfilled) rather
   * than opening a stream each.
   */
  async streamAllMessages(
    optionsOrCallback?: StreamOptionsOrCallback<MessageDecodeError>,
  ): Promise<AsyncIterableIterator<DecodedMessage<ContentTypes>>> {
    const options = streamOptions(optionsOrCallback);
    const introTopic = buildTopic.intro(this.address);
    const inviteTopic = buildTopic.invite(this.address);
    const { queue, abort } = abortableQueue<DecodedMessage<ContentTypes>>(
      endSignal(this.ctx.transport, options.signal),
    );
    if (queue.isClosed) return queue;
    const byTopic = new Map<string, Conversation<ContentTypes>>();
    for (const c of await this.list()) byTopic.set(c.topic, c);
    const seenIds = new Set<string>();
    const emit = (m: DecodedMessage<ContentTypes>) => {
      if (seenIds.has(m.id)) return;
      seenIds.add(m.id);
      queue.push(m);
    };
    const onError = (e: MessageDecodeError) => options.onError?.(e);
    const asError = (err: unknown, env: Envelope) =>
      err instanceof MessageDecodeError ? err : new MessageDecodeError("malformed", String(err), env);
    const pump = async (source: AsyncIterable<Envelope>) => {
      try {
        for await (const env of source) {
          if (queue.isClosed) break;
          await handle(env);
        }
      } catch (err) {
        if (!abort.aborted) queue.end(err);
      }
    };
    const topics = () => [introTopic, inviteTopic, ...byTopic.keys()];
    const follow = async (c: Conversation<ContentTypes>) => {
      byTopic.set(c.topic, c);
      main.updateTopics(topics());
      for (const m of await decodeAll<ContentTypes>(c, await queryAll(this.ctx.transport, c.topic), onError))
        emit(m);
    };
    const handle = async (env: Envelope) => {
      if (env.contentTopic === inviteTopic) {
        const c = await this.conversationFromEnvelope(env, introTopic, inviteTopic, new Set());
        if (c && !byTopic.has(c.topic)) await follow(c);
        return;
      }
      if (env.contentTopic === introTopic) {
        try {
          const d = await decodeMessageV1(this.ctx.keys, env);
          let c = this.v1.get(d.peerAddress);
          if (!c) {
            c = new ConversationV1(this.ctx, d.peerAddress, new Date(Number(d.sentMs)));
            this.v1.set(d.peerAddress, c);
          }
          const isNew = !byTopic.has(c.topic);
          emit(await c.decodeMessage(env));
          if (isNew) await follow(c);
        } catch (err) {
          onError(asError(err, env));
        }
        return;
      }
      const c = byTopic.get(env.contentTopic);
      if (!c) return;
      try {
        emit(await c.decodeMessage(env));
      } catch (err) {
        onError(asError(err, env));
      }
    };
    const main = await liveSubscription(this.ctx.transport, topics(), { signal: abort, ...hooksOf(options) });
    void pump(main);
    return queue;
  }

  /**
   * The conversation a stored message refers to (`DecodedMessage.fromBytes`): a V2 conversation
   * must be known to this client (listed or restored), since its keys come from the invitation.
   */
  async fromReference(ref: StoredConversationRef): Promise<Conversation<ContentTypes>> {
    if (ref.version === "v1") {
      const peer = checkedAddress(ref.peerAddress);
      return this.v1.get(peer) ?? new ConversationV1(this.ctx, peer, ref.createdAt);
    }
    const find = () => this.v2.get(ref.topic) ?? this.groups.list().find((g) => g.topic === ref.topic);
    let known = find();
    if (!known) {
      await this.listV2();
      known = find();
    }
    if (!known)
      throw new XmtpError("invalid-argument", `no conversation of this client has the topic ${ref.topic}`, {
        argument: "bytes",
      });
    return known;
  }
}

function hooksOf(o: ConnectionHooks): ConnectionHooks {
  return { onConnectionLost: o.onConnectionLost, onReconnect: o.onReconnect };
}
