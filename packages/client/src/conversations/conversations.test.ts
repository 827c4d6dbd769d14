import { create } from "@bufbuild/protobuf";
import { EnvelopeSchema } from "@xmtp-ts/proto";
import { describe, expect, test } from "vitest";
import { defaultCodecRegistry } from "../content/index.js";
import type { OwnKeys } from "../keys/own-keys.js";
import type { ConversationsContext, ConversationV2, DecodedMessage } from "./conversation.js";
import { Conversations, type ConversationsOptions, LIST_OVERLAP_NS } from "./conversations.js";
import {
  type ConversationStore,
  memoryConversationStore,
  sealSnapshot,
  snapshotKey,
  webStorageConversationStore,
} from "./persistence.js";
import { randomKeys, vectorKeys } from "./test-fixtures.js";
import { MemoryTransport } from "./test-transport.js";
import type { MessageDecodeError } from "./v2.js";

function setup() {
  const net = new MemoryTransport();
  const contacts = new Map<string, OwnKeys>();
  const mk = (keys: OwnKeys, legacyOnly = false, options: ConversationsOptions = {}) => {
    contacts.set(keys.address, keys);
    const ctx: ConversationsContext = {
      keys,
      transport: net,
      codecs: defaultCodecRegistry(),
      introduced: new Set(),
      verifiedSenders: new Map(),
      getContact: async (a) => {
        const k = contacts.get(a);
        if (!k) return undefined;
        return legacy.has(a) ? k.legacyBundle : k.signedBundle;
      },
    };
    if (legacyOnly) legacy.add(keys.address);
    return new Conversations(ctx, options);
  };
  const legacy = new Set<string>();
  /** A client that counts how many invite envelopes it opens (wraps its private openers). */
  const mkCounting = (keys: OwnKeys, onOpen: () => void, options: ConversationsOptions = {}) => {
    const c = mk(keys, false, options);
    const inner = c as unknown as {
      tryOpen: (e: unknown) => Promise<unknown>;
      openMany: (envs: unknown[], seen: number) => Promise<unknown>;
    };
    const tryOpen = inner.tryOpen.bind(c);
    inner.tryOpen = (e) => {
      onOpen();
      return tryOpen(e);
    };
    const openMany = inner.openMany.bind(c);
    inner.openMany = (envs, seen) => {
      for (const _ of envs) onOpen();
      return openMany(envs, seen);
    };
    return c;
  };
  return { net, mk, mkCounting };
}

async function take<T>(it: AsyncIterator<T>, n: number, ms = 5000): Promise<T[]> {
  const out: T[] = [];
  const deadline = Date.now() + ms;
  while (out.length < n) {
    const r = await Promise.race([
      it.next(),
      new Promise<never>((_, rej) => setTimeout(() => rej(new Error("timeout")), deadline - Date.now())),
    ]);
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

describe("Conversations", () => {
  test("V2: create, reuse, list from both sides, send and read", async () => {
    const { net, mk } = setup();
    const alice = mk(vectorKeys("alice"));
    const bob = mk(vectorKeys("bob"));
    const a2b = await alice.newConversation(vectorKeys("bob").address.toLowerCase());
    expect(a2b.conversationVersion).toBe("v2");
    expect(a2b.topic).toBe(
      "/xmtp/0/m-c36a8b9aeed75f336842de5f82e6fd98392562db9811ae7aeab1f7d6a6755314/proto",
    );
    expect(await alice.newConversation(vectorKeys("bob").address)).toBe(a2b);
    const withId = await alice.newConversation(vectorKeys("bob").address, {
      conversationId: "test",
      metadata: { x: "1" },
    });
    expect(withId.topic).toBe(
      "/xmtp/0/m-4b52be1e8567d72d0bc407debe2d3c7fca2ae93a47e58c3f9b5c5068aff80ec5/proto",
    );
    await a2b.send("hello");
    const bobList = await bob.list();
    expect(bobList.map((c) => c.topic).sort()).toEqual([a2b.topic, withId.topic].sort());
    const b2a = bobList.find((c) => c.topic === a2b.topic)!;
    expect(b2a.peerAddress).toBe(vectorKeys("alice").address);
    expect(bobList.find((c) => c.topic === withId.topic)!.context).toEqual({
      conversationId: "test",
      metadata: { x: "1" },
    });
    await b2a.send("hi back");
    const msgs = await a2b.messages();
    expect(msgs.map((m) => m.content)).toEqual(["hello", "hi back"]);
    expect(msgs.map((m) => m.senderAddress)).toEqual([
      vectorKeys("alice").address,
      vectorKeys("bob").address,
    ]);
    expect((await a2b.messages({ direction: "descending", limit: 1 })).map((m) => m.content)).toEqual([
      "hi back",
    ]);
    // Bob answering with newConversation reuses the invite Alice sent.
    expect((await bob.newConversation(vectorKeys("alice").address)).topic).toBe(a2b.topic);
    expect(net.rows.get(`/xmtp/0/invite-${vectorKeys("bob").address}/proto`)!.length).toBe(2);
  });

  test("second list reads only new invites; refuses self and unknown peers", async () => {
    const { mk, net, mkCounting } = setup();
    const me = vectorKeys("alice");
    const alice = mk(me);
    const peers = [randomKeys(), randomKeys(), randomKeys()];
    const peerClients = peers.map((p) => mk(p));
    await peerClients[0]!.newConversation(me.address);
    let opened = 0;
    const counting = mkCounting(me, () => opened++);
    expect((await counting.list()).length).toBe(1);
    expect(opened).toBe(1);
    expect((await alice.list()).length).toBe(1);
    // The second list asks only for invites since the last run (minus the overlap window) and
    // does not open the invite it already has.
    expect((await counting.list()).length).toBe(1);
    expect(opened).toBe(1);
    const inviteQueries = net.queries.filter((q) => q.topic === `/xmtp/0/invite-${me.address}/proto`);
    expect(inviteQueries.at(-1)!.range.startTime).toBeGreaterThan(0n);
    await peerClients[1]!.newConversation(me.address);
    await peerClients[2]!.newConversation(me.address);
    expect((await alice.list()).map((c) => c.peerAddress).sort()).toEqual(peers.map((p) => p.address).sort());
    await expect(alice.newConversation(me.address)).rejects.toThrow("self messaging");
    await expect(alice.newConversation(randomKeys().address)).rejects.toThrow("is not on the XMTP network");
  });

  test("V1 with a legacy-only peer, discovered from intros", async () => {
    const { net, mk } = setup();
    const aliceK = vectorKeys("alice");
    const bobK = vectorKeys("bob");
    const alice = mk(aliceK);
    const bob = mk(bobK, true);
    const c = await alice.newConversation(bobK.address);
    expect(c.conversationVersion).toBe("v1");
    await c.send("one");
    await c.send("two");
    expect(net.rows.get(`/xmtp/0/intro-${bobK.address}/proto`)!.length).toBe(1);
    const found = await bob.list();
    expect(found.map((x) => [x.conversationVersion, x.peerAddress])).toEqual([["v1", aliceK.address]]);
    expect((await found[0]!.messages()).map((m) => m.content)).toEqual(["one", "two"]);
    // With a V1 intro present and no conversationId, Alice reuses V1 even though Bob is legacy.
    expect((await alice.newConversation(bobK.address)).conversationVersion).toBe("v1");
    // A conversationId forces V2.
    expect((await alice.newConversation(bobK.address, { conversationId: "x" })).conversationVersion).toBe(
      "v2",
    );
  });

  test("streams: new conversations, messages, all messages; bad envelopes are skipped", async () => {
    const { net, mk } = setup();
    const aliceK = vectorKeys("alice");
    const alice = mk(aliceK);
    const bob = mk(vectorKeys("bob"));
    const convStream = await alice.stream();
    const all = await alice.streamAllMessages();
    const b2a = await bob.newConversation(aliceK.address);
    const [found] = await take(convStream, 1);
    expect(found!.topic).toBe(b2a.topic);
    const errors: MessageDecodeError[] = [];
    const ac = new AbortController();
    const msgs = await found!.streamMessages({ signal: ac.signal, onError: (e) => errors.push(e) });
    await b2a.send("x");
    await net.publish([
      create(EnvelopeSchema, {
        contentTopic: b2a.topic,
        timestampNs: 1n,
        message: new Uint8Array([1, 2, 3]),
      }),
    ]);
    await b2a.send("after garbage");
    const got = await take(msgs, 2);
    expect(got.map((m) => m.content)).toEqual(["x", "after garbage"]);
    expect(errors.map((e) => e.reason)).toEqual(["malformed"]);
    const allGot: DecodedMessage[] = await take(all, 2);
    expect(allGot.map((m) => m.content)).toEqual(["x", "after garbage"]);
    ac.abort();
    expect((await msgs.next()).done).toBe(true);
    await convStream.return!();
    await all.return!();
    expect(net.subscriptions).toBe(0);
  });

  test("a dropped message stream resubscribes and backfills without repeats", async () => {
    const { net, mk } = setup();
    const aliceK = vectorKeys("alice");
    const alice = mk(aliceK);
    const bob = mk(vectorKeys("bob"));
    const b2a = await bob.newConversation(aliceK.address);
    const a2b = (await alice.list())[0]!;
    const stream = await a2b.streamMessages();
    await b2a.send("one");
    expect((await take(stream, 1)).map((m) => m.content)).toEqual(["one"]);
    net.dropSubscriptions();
    await b2a.send("two (while dropped)");
    const next = await take(stream, 1);
    expect(next.map((m) => m.content)).toEqual(["two (while dropped)"]);
    await b2a.send("three");
    expect((await take(stream, 1)).map((m) => m.content)).toEqual(["three"]);
    await stream.return!();
    expect(net.subscriptions).toBe(0);
  });

  test("a conversation store carries conversations to the next run, encrypted, read incrementally", async () => {
    const { net, mk } = setup();
    const store = memoryConversationStore();
    const aliceKeys = vectorKeys("alice");
    const first = mk(aliceKeys, false, { conversationStore: store });
    const bob = mk(vectorKeys("bob"));
    const carolKeys = randomKeys();
    const carol = mk(carolKeys);
    const b2a = await bob.newConversation(aliceKeys.address, { conversationId: "c1", metadata: { k: "v" } });
    await carol.newConversation(aliceKeys.address);
    const listed = await first.list();
    expect(listed).toHaveLength(2);
    const saved = await store.get(snapshotKey(aliceKeys.address));
    expect(saved).toBeDefined();
    // Encrypted: no topic or address appears in the stored bytes.
    const text = new TextDecoder("latin1").decode(saved);
    expect(text).not.toContain(b2a.topic.slice(10, 40));
    expect(text.toLowerCase()).not.toContain(carolKeys.address.slice(2).toLowerCase());

    // The next run: everything is there before any query, and messages decrypt.
    const again = mk(aliceKeys, false, { conversationStore: store });
    const queriesBefore = net.queries.length;
    expect(await again.restore()).toBe(true);
    expect(net.queries.length).toBe(queriesBefore);
    const cached = again.listFromCache();
    expect(cached.map((c) => [c.topic, c.peerAddress, c.createdAt.getTime()])).toEqual(
      listed.map((c) => [c.topic, c.peerAddress, c.createdAt.getTime()]),
    );
    const restored = cached.find((c) => c.topic === b2a.topic) as ConversationV2;
    expect(restored.context).toEqual({ conversationId: "c1", metadata: { k: "v" } });
    await b2a.send("after a restart");
    expect((await restored.messages()).map((m) => m.content)).toEqual(["after a restart"]);
    // Listing reads invites only from the last listing on (minus the overlap window).
    await again.list();
    const inviteQuery = net.queries.slice(queriesBefore).find((q) => q.topic.includes("invite-"));
    expect(inviteQuery?.range.startTime).toBeGreaterThan(0n);
    expect(inviteQuery?.range.startTime).toBeLessThanOrEqual(
      BigInt(Date.now()) * 1_000_000n - LIST_OVERLAP_NS + 10n ** 12n,
    );
  });

  test("a restarted client does not open again the invitations it had seen in the overlap window", async () => {
    const { mk, mkCounting } = setup();
    const store = memoryConversationStore();
    const aliceKeys = vectorKeys("alice");
    mk(aliceKeys);
    // Invitations of the last minutes: inside the window the next listing reads again.
    for (let i = 0; i < 3; i++) await mk(randomKeys()).newConversation(aliceKeys.address);
    let opened = 0;
    const first = mkCounting(aliceKeys, () => opened++, { conversationStore: store });
    expect(await first.list()).toHaveLength(3);
    expect(opened).toBe(3);

    // A restart: the three are restored and skipped; one that arrived meanwhile is opened.
    const late = await mk(randomKeys()).newConversation(aliceKeys.address);
    opened = 0;
    const again = mkCounting(aliceKeys, () => opened++, { conversationStore: store });
    expect(await again.restore()).toBe(true);
    const listed = await again.list();
    expect(opened).toBe(1);
    expect(listed).toHaveLength(4);
    expect(listed.map((c) => c.topic)).toContain(late.topic);

    // And the next restart skips all four.
    opened = 0;
    const third = mkCounting(aliceKeys, () => opened++, { conversationStore: store });
    expect(await third.restore()).toBe(true);
    expect(await third.list()).toHaveLength(4);
    expect(opened).toBe(0);
  });

  test("a Web Storage store round-trips a snapshot as text", async () => {
    const { mk } = setup();
    const aliceKeys = vectorKeys("alice");
    const items = new Map<string, string>();
    const storage = {
      getItem: (k: string) => items.get(k) ?? null,
      setItem: (k: string, v: string) => void items.set(k, v),
    };
    const store = webStorageConversationStore(storage);
    const alice = mk(aliceKeys, false, { conversationStore: store });
    await mk(vectorKeys("bob")).newConversation(aliceKeys.address);
    const listed = await alice.list();
    expect([...items.values()][0]).toMatch(/^[A-Za-z0-9+/]+=*$/);
    const again = mk(aliceKeys, false, { conversationStore: store });
    expect(await again.restore()).toBe(true);
    expect(again.listFromCache().map((c) => c.topic)).toEqual(listed.map((c) => c.topic));
    items.set(snapshotKey(aliceKeys.address), "%%% not base64");
    expect(await mk(aliceKeys, false, { conversationStore: store }).restore()).toBe(false);
  });

  test("a damaged, foreign or invalid snapshot is ignored; a failing store never fails listing", async () => {
    const { mk } = setup();
    const aliceKeys = vectorKeys("alice");
    const bobKeys = vectorKeys("bob");
    mk(aliceKeys);
    const bob = mk(bobKeys);
    await bob.newConversation(aliceKeys.address);
    const key = snapshotKey(aliceKeys.address);
    const good = async () => {
      const store = memoryConversationStore();
      await mk(aliceKeys, false, { conversationStore: store }).list();
      return (await store.get(key))!;
    };
    const bytes = await good();
    const foreign = await sealSnapshot(bobKeys.identity.privateKey, aliceKeys.address, {
      inviteSyncNs: 1n,
      introSyncNs: undefined,
      v2: [],
      v1: [],
    });
    const invalid = await sealSnapshot(aliceKeys.identity.privateKey, aliceKeys.address, {
      inviteSyncNs: 1n,
      introSyncNs: undefined,
      v2: [
        {
          topic: "/xmtp/0/m-x/proto",
          peerAddress: bobKeys.address,
          createdMs: 1,
          keyMaterial: new Uint8Array(16),
          context: undefined,
          consentProof: undefined,
        },
      ],
      v1: [],
    });
    const badSeen = await sealSnapshot(aliceKeys.identity.privateKey, aliceKeys.address, {
      inviteSyncNs: 1n,
      introSyncNs: undefined,
      v2: [],
      v1: [],
      seenInvites: ["12:not-a-digest"],
    });
    const flipped = bytes.slice();
    flipped[flipped.length - 1]! ^= 1;
    for (const b of [new Uint8Array([1, 2, 3]), bytes.subarray(0, 20), flipped, foreign, invalid, badSeen]) {
      const store = memoryConversationStore();
      await store.set(key, b);
      const c = mk(aliceKeys, false, { conversationStore: store });
      expect(await c.restore()).toBe(false);
      expect(await c.list()).toHaveLength(1);
    }
    const broken: ConversationStore = {
      get: async () => {
        throw new Error("storage unavailable");
      },
      set: async () => {
        throw new Error("disk full");
      },
    };
    const c = mk(aliceKeys, false, { conversationStore: broken });
    expect(await c.restore()).toBe(false);
    expect(await c.list()).toHaveLength(1);
  });
});
