/**
 * The app's state over one signed-in client: conversations with their latest activity, the
 * messages of each thread, consent, outgoing messages and the connection to the node. React
 * reads it through {@link ChatStore.subscribe} / {@link ChatStore.version}; every change bumps
 * the version.
 */
import {
  AttachmentCodec,
  type Client,
  type ConsentState,
  ContentTypeAttachment,
  ContentTypeRemoteAttachment,
  type Conversation,
  type DecodedMessage,
  type Envelope,
  Group,
  type MembershipChange,
  type Reaction,
  RemoteAttachmentCodec,
} from "@xmtp-ts/client";
import { decodePrivateKeyBundle, localAuthenticator } from "@xmtp-ts/client/advanced";
import {
  applyReaction,
  ContentTypeGroupMembership,
  ContentTypeReaction,
  ContentTypeReadReceipt,
  ContentTypeReply,
  ContentTypeText,
  describe,
  isMeta,
  isType,
  MAX_INLINE_ATTACHMENT_BYTES,
  type ReactionIndex,
  toggleReaction,
} from "./content.js";
import type { KeyValueStore } from "./storage.js";

export type Outgoing =
  | { kind: "text"; text: string }
  | { kind: "reply"; text: string; reference: string; quoted: string }
  | { kind: "file"; file: File };

export interface MessageItem {
  /** The message id once sent, or a local id while pending/failed. */
  key: string;
  id: string | undefined;
  senderAddress: string;
  sentMs: number;
  state: "pending" | "sent" | "failed";
  /** The decoded message (sent and received ones). */
  message: DecodedMessage | undefined;
  /** What this app is sending (pending and failed ones). */
  outgoing: Outgoing | undefined;
  /** Why sending failed. */
  error: string | undefined;
  text: string;
}

export interface Thread {
  items: MessageItem[];
  reactions: ReactionIndex;
  /** Ids of every message applied to this thread (shown ones, reactions, receipts). */
  seen: Set<string>;
  /** Newest read receipt from the peer, and from this account (any of its devices). */
  peerReadMs: number;
  ownReadMs: number;
  /** Whether older pages may exist, and whether one is loading. */
  hasMore: boolean;
  loadingOlder: boolean;
  /** The first page has been read from the network. */
  loaded: boolean;
}

export interface ConversationSummary {
  /** The conversation's key in this app ({@link keyOf}). */
  key: string;
  /** The peer, or a group's creator (whose consent is the group's). */
  peerAddress: string;
  createdMs: number;
  lastMs: number;
  preview: string;
  /** Who wrote the preview's message. */
  previewSender?: string;
  /** Newest message from the peer, and from this account (receipts aside). */
  lastPeerMs: number;
  lastOwnMs: number;
  /** The peer's consent when last saved (shown until the network's list is read). */
  consent?: ConsentState;
}

export type ConnectionState = "online" | "reconnecting";

const PAGE = 30;
/** Messages read per conversation for the list (the preview, unread state, receipts). */
const PREVIEW_PAGE = 10;
/** Conversations per BatchQuery (the node's limit on sub-queries is 50). */
const BATCH = 50;
/** The wire value of SortDirection.DESCENDING (protocol.md §2.2) for `client.api.batchQuery`. */
const DESCENDING = 2 as NonNullable<
  NonNullable<Parameters<Client["api"]["batchQuery"]>[0][number]["pagingInfo"]>["direction"]
>;
const HEALTH_INTERVAL_MS = 3000;
const SUMMARIES_KEY = "summaries";
const OUTBOX_KEY = "outbox";
const DRAFTS_KEY = "drafts";

/** A message not sent yet, kept in IndexedDB so a reload or a closed tab loses nothing. */
interface OutboxEntry {
  key: string;
  /** The conversation's key (entries saved before groups existed have `topic` instead). */
  conversation: string;
  topic?: string;
  sentMs: number;
  outgoing: Outgoing;
}

export class ChatStore {
  version = 0;
  connection: ConnectionState = "online";
  /** A problem with the account as a whole (listing failed, …), with what to do. */
  problem: string | undefined;
  /** Conversations and their threads, by key. */
  readonly summaries = new Map<string, ConversationSummary>();
  readonly threads = new Map<string, Thread>();
  /** Whether the first listing has finished (before it, the cached list is shown). */
  listed = false;
  private readonly conversations = new Map<string, Conversation>();
  private readonly listeners = new Set<() => void>();
  private readonly abort = new AbortController();
  private healthTimer: ReturnType<typeof setTimeout> | undefined;
  private openKey: string | undefined;
  private saveTimer: ReturnType<typeof setTimeout> | undefined;
  private resubscribeTimer: ReturnType<typeof setTimeout> | undefined;
  /** Ends the current all-conversations subscription. */
  private messagesAbort: AbortController | undefined;
  /** Topics of the live subscription, and conversations it does not cover yet. */
  private subscribed = new Set<string>();
  private readonly unsubscribed = new Set<Conversation>();
  private resubscribing = false;
  private resubscribeAgain = false;
  private readonly drafts = new Map<string, string>();
  /** Whether the consent list has been read from the network this visit, and the last visit's view. */
  private consentLoaded = false;
  private readonly cachedConsent = new Map<string, ConsentState>();

  constructor(
    readonly client: Client,
    private readonly nodeUrl: string,
    private readonly kv: KeyValueStore,
  ) {}

  get address(): string {
    return this.client.address;
  }

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  getVersion = (): number => this.version;

  private changed(): void {
    this.version++;
    for (const fn of this.listeners) fn();
  }

  dismissProblem(): void {
    this.problem = undefined;
    this.changed();
  }

  /** Shows the cached list, then lists, loads consent, reads previews and starts the streams. */
  async start(): Promise<void> {
    const cached = await this.kv.get<ConversationSummary[]>(SUMMARIES_KEY).catch(() => undefined);
    for (const c of this.client.conversations.listFromCache()) this.conversations.set(keyOf(c), c);
    for (const s of cached ?? []) {
      s.key ??= (s as { topic?: string }).topic!; // saved before groups existed
      if (this.conversations.has(s.key)) {
        this.summaries.set(s.key, s);
        if (s.consent) this.cachedConsent.set(s.peerAddress.toLowerCase(), s.consent);
      }
    }
    for (const c of this.conversations.values()) this.ensureSummary(c);
    this.changed();
    for (const c of this.conversations.values()) this.unsubscribed.add(c);
    for (const [key, text] of (await this.kv.get<[string, string][]>(DRAFTS_KEY).catch(() => undefined)) ??
      [])
      this.drafts.set(key, text);
    const outbox = ((await this.kv.get<OutboxEntry[]>(OUTBOX_KEY).catch(() => undefined)) ?? []).map((o) => ({
      ...o,
      conversation: o.conversation ?? o.topic,
    }));
    for (const o of outbox) this.restoreUnsent(o);
    this.changed();
    this.watchHealth();
    // A group's next epoch (after a removal) is a new topic to follow.
    const off = this.client.conversations.groups.onEpoch((g) => this.addConversation(g));
    this.abort.signal.addEventListener("abort", off);
    await this.sync();
    // What was not sent before the page closed goes out now.
    if (this.connection === "online") for (const o of outbox) this.retry(o.conversation, o.key);
    void this.streamConversations();
    await this.resubscribe();
  }

  /** Lists conversations, loads consent and refreshes every preview. */
  private async sync(): Promise<void> {
    try {
      const [list] = await Promise.all([
        this.client.conversations.list(),
        this.client.consent.load().then(() => {
          this.consentLoaded = true;
          this.changed();
          this.scheduleSave();
        }),
      ]);
      let added = false;
      for (const c of list) {
        // New conversations, and groups that moved to a new epoch, join the subscription.
        if (topicsOf(c).some((t) => !this.subscribed.has(t))) {
          added = true;
          this.unsubscribed.add(c);
        }
        this.conversations.set(keyOf(c), c);
        this.ensureSummary(c);
      }
      if (added && this.messagesAbort) this.scheduleResubscribe();
      this.listed = true;
      this.problem = undefined;
      this.changed();
    } catch (err) {
      this.problem = `Could not read your conversations from ${this.nodeUrl} (${errorText(err)}). They will load when the node answers again.`;
      this.changed();
    }
  }

  /**
   * Reads the newest messages of each conversation into its thread, 50 conversations per
   * BatchQuery (one request instead of fifty: browsers allow six connections per host).
   */
  private async refreshLatest(list: Conversation[]): Promise<void> {
    const chunks: Conversation[][] = [];
    for (let i = 0; i < list.length; i += BATCH) chunks.push(list.slice(i, i + BATCH));
    let next = 0;
    const worker = async () => {
      while (next < chunks.length && !this.abort.signal.aborted) {
        const chunk = chunks[next++]!;
        try {
          const pages = (
            await this.client.api.batchQuery(
              chunk.map((c) => ({
                contentTopics: [c.topic],
                pagingInfo: { limit: PREVIEW_PAGE, direction: DESCENDING },
              })),
            )
          ).map((r) => r.envelopes);
          await Promise.all(
            chunk.map(async (c, i) => {
              const envs = pages[i] ?? [];
              const decoded = await Promise.all(envs.map((e) => c.decodeMessage(e).catch(() => undefined)));
              this.mergePage(
                keyOf(c),
                decoded.filter((m): m is DecodedMessage => m !== undefined).reverse(),
                envs.length === PREVIEW_PAGE,
              );
            }),
          );
        } catch {
          // left for the next sync
        }
      }
    };
    await Promise.all([worker(), worker()]);
    this.scheduleSave();
  }

  private ensureSummary(c: Conversation): ConversationSummary {
    let s = this.summaries.get(keyOf(c));
    if (!s) {
      s = {
        key: keyOf(c),
        peerAddress: c.peerAddress,
        createdMs: c.createdAt.getTime(),
        lastMs: c.createdAt.getTime(),
        preview: "",
        lastPeerMs: 0,
        lastOwnMs: 0,
      };
      this.summaries.set(keyOf(c), s);
    }
    return s;
  }

  thread(key: string): Thread {
    let t = this.threads.get(key);
    if (!t) {
      t = {
        items: [],
        reactions: new Map(),
        seen: new Set(),
        peerReadMs: 0,
        ownReadMs: 0,
        hasMore: true,
        loadingOlder: false,
        loaded: false,
      };
      this.threads.set(key, t);
    }
    return t;
  }

  private isOwn(address: string): boolean {
    return address.toLowerCase() === this.address.toLowerCase();
  }

  /** Adds decoded messages (any order) to a thread, once each. */
  private mergePage(key: string, messages: DecodedMessage[], hasMore?: boolean): void {
    const t = this.thread(key);
    let added = false;
    for (const m of messages) {
      if (t.seen.has(m.id)) continue;
      t.seen.add(m.id);
      added = true;
      this.absorb(key, t, m);
    }
    if (!t.loaded) {
      t.loaded = true;
      if (hasMore !== undefined) t.hasMore = hasMore;
    }
    if (added) t.items.sort((a, b) => a.sentMs - b.sentMs);
    this.changed();
  }

  /** Applies one message to a thread and the conversation's summary. */
  private absorb(key: string, t: Thread, m: DecodedMessage): void {
    const sentMs = m.sent.getTime();
    const own = this.isOwn(m.senderAddress);
    const s = this.summaries.get(key);
    if (isType(m.contentType, ContentTypeReadReceipt)) {
      if (own) t.ownReadMs = Math.max(t.ownReadMs, sentMs);
      else t.peerReadMs = Math.max(t.peerReadMs, sentMs);
      return;
    }
    if (isType(m.contentType, ContentTypeReaction) && m.content !== undefined) {
      applyReaction(t.reactions, m.senderAddress, m.content as Reaction);
    } else if (!isMeta(m)) {
      t.items.push({
        key: m.id,
        id: m.id,
        senderAddress: m.senderAddress,
        sentMs,
        state: "sent",
        message: m,
        outgoing: undefined,
        error: undefined,
        text: describe(m),
      });
    }
    if (s && sentMs >= s.lastMs) {
      s.lastMs = sentMs;
      s.preview = describe(m);
      s.previewSender = m.senderAddress;
    }
    if (s) {
      if (own) s.lastOwnMs = Math.max(s.lastOwnMs, sentMs);
      else s.lastPeerMs = Math.max(s.lastPeerMs, sentMs);
    }
  }

  /** Unread: the peer wrote after this account last read or wrote (on any device). */
  isUnread(key: string): boolean {
    const s = this.summaries.get(key);
    if (!s) return false;
    const t = this.threads.get(key);
    return s.lastPeerMs > Math.max(s.lastOwnMs, t?.ownReadMs ?? 0);
  }

  /**
   * A peer's consent: the network's once it has been read this visit; before that, what the last
   * visit saw (so a returning person sees their Messages at once, not everything under Requests).
   */
  consentOf(peerAddress: string): ConsentState {
    if (this.isOwn(peerAddress)) return "allowed"; // a group this account created
    const live = this.client.consent.consentState(peerAddress);
    if (this.consentLoaded || live !== "unknown") return live;
    return this.cachedConsent.get(peerAddress.toLowerCase()) ?? "unknown";
  }

  /** Conversations for a tab, newest activity first. */
  list(tab: "messages" | "requests"): ConversationSummary[] {
    return [...this.summaries.values()]
      .filter((s) => {
        const c = this.consentOf(s.peerAddress);
        return tab === "messages" ? c === "allowed" : c === "unknown";
      })
      .sort((a, b) => b.lastMs - a.lastMs);
  }

  private async streamConversations(): Promise<void> {
    while (!this.abort.signal.aborted) {
      try {
        for await (const c of await this.client.conversations.stream({ signal: this.abort.signal }))
          this.addConversation(c);
      } catch {
        await pause(1000, this.abort.signal);
      }
    }
  }

  /** Adds a conversation found after the first listing: its messages, and a place in the stream. */
  private addConversation(c: Conversation): void {
    if (this.conversations.has(keyOf(c))) {
      // A group seen again may have moved to a new epoch (a new topic to follow).
      if (topicsOf(c).some((t) => !this.subscribed.has(t))) {
        this.unsubscribed.add(c);
        this.changed();
        this.scheduleResubscribe();
      }
      return;
    }
    this.conversations.set(keyOf(c), c);
    this.unsubscribed.add(c);
    this.ensureSummary(c);
    this.changed();
    this.scheduleResubscribe();
  }

  private scheduleResubscribe(): void {
    clearTimeout(this.resubscribeTimer);
    this.resubscribeTimer = setTimeout(() => void this.resubscribe(), 200);
  }

  /**
   * One subscription for the topics of every conversation. Browsers open at most six connections
   * to a host, so there is never one stream per conversation: when conversations are added, a new
   * subscription for all of them starts, and the old one ends once the new one is live (messages
   * seen twice meanwhile are applied once). Conversations new to the subscription then have their
   * newest page read, so nothing sent before it was live is missed.
   */
  private async resubscribe(): Promise<void> {
    // One at a time: a request while one is under way runs once it is done (so a slow node never
    // has a new subscription abandoned for a newer one, over and over).
    if (this.resubscribing) {
      this.resubscribeAgain = true;
      return;
    }
    this.resubscribing = true;
    let live = true;
    try {
      live = await this.subscribeAll();
    } finally {
      this.resubscribing = false;
    }
    if (!live) await pause(1000, this.abort.signal);
    if (!live || this.resubscribeAgain) {
      this.resubscribeAgain = false;
      void this.resubscribe();
    }
  }

  /** Starts the subscription for every topic; false when the node refused it (tried again later). */
  private async subscribeAll(): Promise<boolean> {
    if (this.abort.signal.aborted || this.conversations.size === 0) return true;
    const previous = this.messagesAbort;
    const mine = new AbortController();
    this.messagesAbort = mine;
    const fresh = [...this.unsubscribed];
    this.unsubscribed.clear();
    const byTopic = new Map<string, Conversation>();
    for (const c of this.conversations.values()) for (const t of topicsOf(c)) byTopic.set(t, c);
    const topics = [...byTopic.keys()];
    let source: AsyncIterable<Envelope>;
    try {
      const sub = this.client.api.subscribe(topics, {
        signal: AbortSignal.any([mine.signal, this.abort.signal]),
      });
      await sub.ready;
      source = sub;
    } catch {
      for (const c of fresh) this.unsubscribed.add(c);
      this.messagesAbort = previous;
      return this.abort.signal.aborted;
    }
    previous?.abort();
    this.subscribed = new Set(topics);
    void this.pump(source, mine, byTopic);
    void this.refreshLatest(fresh);
    return true;
  }

  /** Applies a subscription's envelopes; `byTopic` is the conversation of each of its topics. */
  private async pump(
    source: AsyncIterable<Envelope>,
    mine: AbortController,
    byTopic: Map<string, Conversation>,
  ): Promise<void> {
    try {
      for await (const env of source) {
        const c = byTopic.get(env.contentTopic);
        if (!c) continue;
        try {
          const m = await c.decodeMessage(env);
          this.mergePage(keyOf(c), [m]);
          // A group's epoch closed: its next epoch comes as an invitation; list to follow it.
          if (
            isType(m.contentType, ContentTypeGroupMembership) &&
            (m.content as MembershipChange).action === "close"
          )
            void this.sync();
          this.markReadIfOpen(keyOf(c));
          this.scheduleSave();
        } catch {
          // not decodable: skipped, as in listings
        }
      }
    } catch {
      // ended by an error the SDK could not heal: start again below
    }
    if (this.messagesAbort === mine && !this.abort.signal.aborted) {
      await pause(1000, this.abort.signal);
      for (const c of this.conversations.values()) this.unsubscribed.add(c);
      void this.resubscribe();
    }
  }

  /** The conversation shown on screen (its new messages are marked read). */
  setOpen(key: string | undefined): void {
    this.openKey = key;
    if (key) {
      void this.loadFirstPage(key);
      this.markReadIfOpen(key);
    }
  }

  private async loadFirstPage(key: string): Promise<void> {
    const t = this.thread(key);
    const c = this.conversations.get(key);
    if (t.loaded || !c) return;
    try {
      const page = await c.messages({ limit: PAGE, direction: "descending" });
      this.mergePage(key, page.reverse(), page.length === PAGE);
      this.markReadIfOpen(key);
    } catch (err) {
      this.problem = `Could not load messages (${errorText(err)}). They will appear when the node answers again.`;
      this.changed();
    }
  }

  /** Reads the page before the oldest message shown. */
  async loadOlder(key: string): Promise<void> {
    const t = this.thread(key);
    const c = this.conversations.get(key);
    if (!c || !t.hasMore || t.loadingOlder || !t.loaded) return;
    t.loadingOlder = true;
    this.changed();
    try {
      const oldest = t.items.find((i) => i.state === "sent")?.sentMs;
      const page = await c.messages({
        limit: PAGE,
        direction: "descending",
        ...(oldest !== undefined ? { endTime: new Date(oldest) } : {}),
      });
      const before = t.seen.size;
      this.mergePage(key, page);
      t.hasMore = page.length === PAGE && t.seen.size > before;
    } catch (err) {
      this.problem = `Could not load older messages (${errorText(err)}). Scroll up again to retry.`;
    } finally {
      t.loadingOlder = false;
      this.changed();
    }
  }

  private markReadIfOpen(key: string): void {
    if (this.openKey !== key || typeof document === "undefined" || document.hidden) return;
    const s = this.summaries.get(key);
    const t = this.thread(key);
    if (!s || !t.loaded || !this.isUnread(key)) return;
    const g = this.group(key);
    if (g && !g.isActive) return; // removed from the group: nothing can be sent there
    t.ownReadMs = Date.now();
    this.changed();
    const c = this.conversations.get(key);
    c?.send({}, { contentType: ContentTypeReadReceipt }).catch(() => {
      t.ownReadMs = 0; // try again on the next look
    });
  }

  /** Sends what the person wrote; it shows as pending, then sent or failed (kept for Retry). */
  send(key: string, outgoing: Outgoing): void {
    const item = this.outgoingItem(
      { key: crypto.randomUUID(), conversation: key, sentMs: Date.now(), outgoing },
      "pending",
    );
    this.drafts.delete(key);
    this.changed();
    this.saveOutbox();
    void this.deliver(key, item);
  }

  private outgoingItem(o: OutboxEntry, state: "pending" | "failed"): MessageItem {
    const item: MessageItem = {
      key: o.key,
      id: undefined,
      senderAddress: this.address,
      sentMs: o.sentMs,
      state,
      message: undefined,
      outgoing: o.outgoing,
      error: state === "failed" ? "Not sent before the page was closed. Press Retry to send it." : undefined,
      text: o.outgoing.kind === "file" ? `📎 ${o.outgoing.file.name}` : o.outgoing.text,
    };
    this.thread(o.conversation).items.push(item);
    return item;
  }

  private restoreUnsent(o: OutboxEntry): void {
    if (this.conversations.has(o.conversation)) this.outgoingItem(o, "failed");
  }

  /** Keeps every message not sent yet (pending or failed) in IndexedDB. */
  private saveOutbox(): void {
    const entries: OutboxEntry[] = [];
    for (const [key, t] of this.threads)
      for (const i of t.items)
        if (i.state !== "sent" && i.outgoing)
          entries.push({ key: i.key, conversation: key, sentMs: i.sentMs, outgoing: i.outgoing });
    void this.kv.set(OUTBOX_KEY, entries).catch(() => undefined);
  }

  /** Text typed in a conversation's composer and not sent yet. */
  draft(key: string): string {
    return this.drafts.get(key) ?? "";
  }

  setDraft(key: string, text: string): void {
    if (text === "") this.drafts.delete(key);
    else this.drafts.set(key, text);
    this.scheduleSave();
  }

  retry(key: string, itemKey: string): void {
    const item = this.thread(key).items.find((i) => i.key === itemKey);
    if (item?.state !== "failed") return;
    item.state = "pending";
    item.error = undefined;
    this.changed();
    void this.deliver(key, item);
  }

  discard(key: string, itemKey: string): void {
    const t = this.thread(key);
    t.items = t.items.filter((i) => i.key !== itemKey || i.state !== "failed");
    this.changed();
    this.saveOutbox();
  }

  private async deliver(key: string, item: MessageItem): Promise<void> {
    const c = this.conversations.get(key);
    const out = item.outgoing!;
    try {
      if (!c) throw new Error("this conversation is not loaded yet");
      let sent: DecodedMessage;
      if (out.kind === "text") sent = await c.send(out.text);
      else if (out.kind === "reply")
        sent = await c.send(
          { reference: out.reference, content: out.text, contentType: ContentTypeText },
          { contentType: ContentTypeReply },
        );
      else sent = await this.sendFile(c, out.file);
      const t = this.thread(key);
      t.items = t.items.filter((i) => i !== item);
      this.mergePage(key, [sent]);
      this.scheduleSave();
      this.saveOutbox();
      // Answering a request accepts it (on every device), as the person clearly wants to talk.
      if (this.consentOf(c.peerAddress) === "unknown") void this.setConsent(c.peerAddress, "allowed");
    } catch (err) {
      item.state = "failed";
      item.error = `Not sent: ${errorText(err)}. Press Retry to send it again${this.connection === "online" ? "" : " once the node is back"}.`;
      this.changed();
      void this.checkHealth();
    }
  }

  private async sendFile(c: Conversation, file: File): Promise<DecodedMessage> {
    const attachment = {
      filename: file.name,
      mimeType: file.type || "application/octet-stream",
      data: new Uint8Array(await file.arrayBuffer()),
    };
    if (attachment.data.length <= MAX_INLINE_ATTACHMENT_BYTES)
      return c.send(attachment, { contentType: ContentTypeAttachment });
    const enc = await RemoteAttachmentCodec.encodeEncrypted(attachment, new AttachmentCodec());
    const url = await this.upload(enc.payload, enc.digest);
    return c.send(
      {
        url,
        contentDigest: enc.digest,
        salt: enc.salt,
        nonce: enc.nonce,
        secret: enc.secret,
        scheme: "https://",
        contentLength: enc.payload.length,
        filename: file.name,
      },
      { contentType: ContentTypeRemoteAttachment },
    );
  }

  /** Uploads an encrypted blob to the node (authenticated like Publish); returns its URL. */
  private async upload(payload: Uint8Array, digest: string): Promise<string> {
    const token = await localAuthenticator(
      decodePrivateKeyBundle(this.client.exportKeys()).bundle,
    ).createToken();
    const res = await fetch(`${this.nodeUrl}/blobs`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" },
      body: payload as BodyInit,
    });
    if (!res.ok) {
      const body = (await res.json().catch(() => undefined)) as { message?: string } | undefined;
      throw new Error(`the node refused the file (${res.status}${body?.message ? `: ${body.message}` : ""})`);
    }
    return `${this.nodeUrl}/blobs/${digest}`;
  }

  /** Adds or removes this account's `emoji` on a message. */
  async react(key: string, reference: string, emoji: string): Promise<void> {
    const t = this.thread(key);
    const c = this.conversations.get(key);
    if (!c) return;
    const reaction = toggleReaction(t.reactions, this.address, reference, emoji);
    applyReaction(t.reactions, this.address, reaction);
    this.changed();
    try {
      const sent = await c.send(reaction, { contentType: ContentTypeReaction });
      // The stream brings it back too: seen once, applied once.
      t.seen.add(sent.id);
    } catch (err) {
      applyReaction(t.reactions, this.address, {
        ...reaction,
        action: reaction.action === "added" ? "removed" : "added",
      });
      this.problem = `The reaction was not sent (${errorText(err)}). Try again.`;
      this.changed();
    }
  }

  /** Allows or blocks a conversation's peer on every device of this account. */
  async setConsent(peerAddress: string, state: "allowed" | "denied"): Promise<void> {
    try {
      if (state === "allowed") await this.client.consent.allow([peerAddress]);
      else await this.client.consent.deny([peerAddress]);
      this.changed();
      this.scheduleSave();
    } catch (err) {
      this.problem = `Could not ${state === "allowed" ? "allow" : "block"} ${peerAddress} (${errorText(err)}). Try again.`;
      this.changed();
    }
  }

  /** Starts a conversation (the address was checked by the caller). */
  async newConversation(peerAddress: string): Promise<string> {
    const c = await this.client.conversations.newConversation(peerAddress);
    this.addConversation(c);
    return keyOf(c);
  }

  canMessage(address: string): Promise<boolean> {
    return this.client.canMessage(address);
  }

  /** The addresses (checked by the caller) that have no XMTP identity on the network. */
  async unreachable(addresses: string[]): Promise<string[]> {
    const ok = await this.client.canMessage(addresses);
    return addresses.filter((_, i) => !ok[i]);
  }

  /** The group behind a conversation key, if it is one. */
  group(key: string): Group | undefined {
    const c = this.conversations.get(key);
    return c instanceof Group ? c : undefined;
  }

  /** Starts a group (addresses checked by the caller); throws the SDK's `GroupError`. */
  async newGroup(addresses: string[], name: string, description: string): Promise<string> {
    const g = await this.client.conversations.newGroup(addresses, {
      ...(name ? { name } : {}),
      ...(description ? { description } : {}),
    });
    this.addConversation(g);
    return keyOf(g);
  }

  /**
   * Adds or removes members of a group this account created (docs/groups.md §4, §5). A removal
   * moves the group to a new epoch: its new topic joins the subscription.
   */
  async changeMembers(key: string, action: "add" | "remove", addresses: string[]): Promise<void> {
    const g = this.group(key);
    if (!g) throw new Error("this group is not loaded yet");
    if (action === "add") await g.addMembers(addresses);
    else await g.removeMembers(addresses);
    this.unsubscribed.add(g);
    this.scheduleResubscribe();
    this.changed();
  }

  /** Loads an attachment sent by URL (downloaded, checked and decrypted here). */
  loadRemote(message: DecodedMessage) {
    return RemoteAttachmentCodec.load<{ filename: string; mimeType: string; data: Uint8Array }>(
      message.content as never,
      this.client.codecs,
    );
  }

  private watchHealth(): void {
    const tick = async () => {
      await this.checkHealth();
      if (!this.abort.signal.aborted)
        this.healthTimer = setTimeout(tick, this.connection === "online" ? HEALTH_INTERVAL_MS : 1000);
    };
    this.healthTimer = setTimeout(tick, HEALTH_INTERVAL_MS);
  }

  /** Asks the node's /healthz; a change of state shows or clears the "reconnecting" banner. */
  async checkHealth(): Promise<void> {
    let ok = false;
    try {
      const res = await fetch(`${this.nodeUrl}/healthz`, { signal: AbortSignal.timeout(2500) });
      ok = res.ok;
    } catch {
      ok = false;
    }
    if (ok && this.connection === "reconnecting") {
      this.connection = "online";
      this.changed();
      await this.sync();
      for (const [key, t] of this.threads)
        for (const i of t.items) if (i.state === "failed") this.retry(key, i.key);
    } else if (!ok && this.connection === "online") {
      this.connection = "reconnecting";
      this.changed();
    }
  }

  private scheduleSave(): void {
    if (this.saveTimer !== undefined) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      for (const s of this.summaries.values()) s.consent = this.consentOf(s.peerAddress);
      void this.kv.set(SUMMARIES_KEY, [...this.summaries.values()]).catch(() => undefined);
      void this.kv.set(DRAFTS_KEY, [...this.drafts]).catch(() => undefined);
    }, 500);
  }

  async close(): Promise<void> {
    this.abort.abort();
    clearTimeout(this.healthTimer);
    clearTimeout(this.saveTimer);
    clearTimeout(this.resubscribeTimer);
    await this.client.close();
  }
}

/** A conversation's key in this app: its topic, or `group:<id>` for a group (whose topic changes per epoch). */
export function keyOf(c: Conversation): string {
  return c instanceof Group ? `group:${c.id}` : c.topic;
}

/** Every topic a conversation's messages arrive on (each known epoch of a group). */
function topicsOf(c: Conversation): string[] {
  return c instanceof Group ? c.knownEpochs.map((e) => e.topic) : [c.topic];
}

function errorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/\.$/, "");
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    });
  });
}
