/**
 * Groups (docs/groups.md) through real nodes: five members, three on our SDK and two on
 * unmodified xmtp-js 12.1.0, on one node and across two relayed nodes; a member added later; a
 * removal that starts a new epoch; forged membership messages and invitations rejected.
 * Run `npx tsc -b packages/cli packages/client` first.
 */
import { create } from "@bufbuild/protobuf";
import type { Client as XmtpJsClient } from "@xmtp/xmtp-js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  ContentTypeGroupMembership,
  type Conversation,
  type DecodedMessage,
  decodeMessageV2,
  encodeMessageV2,
  Group,
  type GroupRejection,
  memoryConversationStore,
  sealInvitation,
  v2Envelope,
} from "../packages/client/src/advanced.js";
import { groupContext } from "../packages/client/src/groups/metadata.js";
import { Client } from "../packages/client/src/index.js";
import {
  EnvelopeSchema,
  InvitationV1Schema,
  type SignedPublicKeyBundle,
} from "../packages/proto/src/index.js";
import { buildTopic } from "../packages/protocol/src/index.js";
import { Clients, nextOf, type TestWallet, wallet, within } from "./client-helpers.js";
import { type NetNode, removeTempDirs, startNetNode, waitFor, waitMesh } from "./network-support.js";
import { type NodeProcess, spawnNode } from "./node-process.js";

type JsConversation = Awaited<ReturnType<XmtpJsClient["conversations"]["list"]>>[number];

const texts = (ms: { content: unknown; contentType?: { typeId: string } | undefined }[]) =>
  ms.filter((m) => m.contentType?.typeId === "text").map((m) => m.content);

/** Our members' view of the group, found by listing. */
async function findGroup(c: Client, id: string): Promise<Group> {
  const found = (await c.conversations.list()).filter((x): x is Group => x instanceof Group && x.id === id);
  expect(found).toHaveLength(1);
  return found[0]!;
}

/** The xmtp-js member's conversation on a topic, found by listing (polled: relays take a moment). */
async function jsConversation(js: XmtpJsClient, topic: string): Promise<JsConversation> {
  let found: JsConversation | undefined;
  await waitFor("xmtp-js lists the group", async () => {
    found = (await js.conversations.list()).find((c) => c.topic === topic);
    return found !== undefined;
  });
  return found!;
}

interface Five {
  wallets: TestWallet[];
  ours: Client[];
  js: XmtpJsClient[];
}

/** Five members: ours[0] creates; ours[1..2] and js[0..1] are invited. `url(i)` is member i's node. */
async function startFive(clients: Clients[], at: (i: number) => number): Promise<Five> {
  const wallets = Array.from({ length: 5 }, () => wallet());
  const ours = await Promise.all([0, 1, 2].map((i) => clients[at(i)]!.ourClient(wallets[i]!)));
  const js = await Promise.all([3, 4].map((i) => clients[at(i)]!.jsClient(wallets[i]!)));
  return { wallets, ours, js };
}

/** Sends one text per member, in turn, and checks every member reads all five in order. */
async function fiveTalk(f: Five) {
  const [a, b, c] = f.ours as [Client, Client, Client];
  const creator = await a.conversations.newGroup(
    f.wallets.slice(1).map((w) => w.address),
    { name: "five", description: "three of ours, two xmtp-js" },
  );
  expect(creator.members).toEqual(f.wallets.map((w) => w.address).sort());
  let bGroup: Group | undefined;
  await waitFor("B lists the group", async () => {
    bGroup = (await b.conversations.list()).find((x): x is Group => x instanceof Group);
    return bGroup !== undefined;
  });
  const cGroup = await (async () => {
    await waitFor("C lists the group", async () =>
      (await c.conversations.list()).some((x) => x instanceof Group),
    );
    return findGroup(c, creator.id);
  })();
  expect([bGroup!.name, bGroup!.description, bGroup!.creator, bGroup!.peerAddress]).toEqual([
    "five",
    "three of ours, two xmtp-js",
    a.address,
    a.address,
  ]);
  expect(bGroup!.members).toEqual(creator.members);
  const [j1, j2] = await Promise.all(f.js.map((js) => jsConversation(js, creator.topic)));
  // xmtp-js members see a two-party conversation with the creator, carrying our context.
  expect(j1!.peerAddress).toBe(a.address);
  expect(j1!.context?.conversationId).toBe(`xmtp-ts/group/${creator.id}`);

  const sentBy: [string, () => Promise<unknown>][] = [
    ["from A", () => creator.send("from A")],
    ["from J1", () => j1!.send("from J1")],
    ["from B", () => bGroup!.send("from B")],
    ["from J2", () => j2!.send("from J2")],
    ["from C", () => cGroup.send("from C")],
  ];
  const order = sentBy.map(([t]) => t);
  const senders = [0, 3, 1, 4, 2].map((i) => f.wallets[i]!.address);
  const bStream = await b.conversations.streamAllMessages();
  const cStream = await cGroup.streamMessages();
  const bLive: DecodedMessage[] = [];
  const cLive: DecodedMessage[] = [];
  // Members take turns: each speaks once the previous message reached B's and C's streams.
  for (const [text, send] of sentBy) {
    await send();
    bLive.push(await nextOf(bStream, `B streams "${text}"`, 30_000));
    cLive.push(await nextOf(cStream, `C streams "${text}"`, 30_000));
  }
  for (const live of [bLive, cLive]) {
    expect(live.map((m) => m.content)).toEqual(order);
    expect(live.map((m) => m.senderAddress)).toEqual(senders);
  }
  await bStream.return?.();
  await cStream.return?.();
  for (const g of [creator, bGroup!, cGroup]) {
    let msgs: DecodedMessage[] = [];
    await waitFor("our member reads all five", async () => {
      msgs = await g.messages();
      return msgs.length === 5;
    });
    expect(msgs.map((m) => m.content)).toEqual(order);
    expect(msgs.map((m) => m.senderAddress)).toEqual(senders);
  }
  for (const jc of [j1!, j2!]) {
    let msgs: Awaited<ReturnType<JsConversation["messages"]>> = [];
    await waitFor("xmtp-js member reads all five", async () => {
      msgs = await jc.messages();
      return msgs.length === 5;
    });
    expect(msgs.map((m) => m.content)).toEqual(order);
    expect(msgs.map((m) => m.senderAddress)).toEqual(senders);
  }
  return { creator, bGroup: bGroup!, cGroup, j1: j1!, j2: j2! };
}

describe("a group of five on one node", () => {
  let node: NodeProcess;
  const clients = new Clients(() => node.url);
  let f: Five;
  let g: Awaited<ReturnType<typeof fiveTalk>>;
  /** The creator's conversation stream, open from before the group until the last test. */
  let aConversations: AsyncIterableIterator<Conversation>;

  beforeAll(async () => {
    node = await spawnNode();
    f = await startFive([clients], () => 0);
  }, 60_000);
  afterAll(async () => {
    await clients.closeAll();
    expect(await node.stop()).toBe(0);
  });

  test("three of ours and two xmtp-js members read every message in order", async () => {
    const [a, b] = f.ours as [Client, Client];
    aConversations = await a.conversations.stream();
    const bConversations = await b.conversations.stream();
    g = await fiveTalk(f);
    expect(await nextOf(bConversations, "the group on B's conversation stream")).toBe(g.bGroup);
    expect(await nextOf(aConversations, "the group on A's conversation stream")).toBe(g.creator);
    // Consent: creating the group allowed its members; a member's consent for it is the creator's.
    expect(f.wallets.slice(1).map((w) => a.consent.consentState(w.address))).toEqual(
      Array(4).fill("allowed"),
    );
    expect(g.bGroup.peerAddress).toBe(a.address);
    await bConversations.return?.();
  }, 120_000);

  test("a member added later reads the current epoch from its start and is read by all", async () => {
    const dWallet = wallet();
    const d = await clients.ourClient(dWallet);
    const eWallet = wallet(); // added at the same time, on xmtp-js
    const e = await clients.jsClient(eWallet);
    await g.creator.addMembers([dWallet.address, eWallet.address]);
    const dGroup = await findGroup(d, g.creator.id);
    expect(dGroup.members).toContain(dWallet.address);
    const history = await dGroup.messages();
    expect(texts(history)).toEqual(["from A", "from J1", "from B", "from J2", "from C"]);
    expect(texts(await dGroup.messages({ limit: 2 }))).toEqual(["from A", "from J1"]);
    expect(texts(await dGroup.messages({ direction: "descending", limit: 1 }))).toEqual([]); // the addition is newest
    expect(texts(await dGroup.messages({ startTime: history[2]!.sent }))).toEqual([
      "from B",
      "from J2",
      "from C",
    ]);
    // The addition is a membership message from the creator, in the topic.
    const change = history.find((m) => m.contentType?.typeId === ContentTypeGroupMembership.typeId);
    expect(change?.content).toMatchObject({
      action: "add",
      changed: [dWallet.address, eWallet.address].sort(),
    });
    // The xmtp-js member added later reads the same history.
    const eConvo = await jsConversation(e, g.creator.topic);
    expect(texts(await eConvo.messages())).toEqual(texts(history));
    await dGroup.send("from D");
    expect((await eConvo.messages()).at(-1)?.content).toBe("from D");
    for (const grp of [g.creator, g.bGroup, g.cGroup]) {
      const msgs = await grp.messages();
      expect(texts(msgs).at(-1)).toBe("from D");
      expect(grp.members).toContain(dWallet.address);
    }
    // xmtp-js members read D, and see the membership change as an unknown type with a fallback.
    const jsMsgs = await g.j1.messages();
    expect(jsMsgs.at(-1)?.content).toBe("from D");
    const jsChange = jsMsgs.find((m) => m.contentType?.typeId === "groupMembership");
    expect(jsChange?.contentFallback).toMatch(/added .* to the group/);
    // xmtp-js members' own messages still reach everyone.
    await g.j2.send("J2 after D");
    expect(texts(await dGroup.messages()).at(-1)).toBe("J2 after D");
  }, 120_000);

  test("forged membership messages and invitations are ignored and reported", async () => {
    const [a, b, c] = f.ours as [Client, Client, Client];
    const seenByC: GroupRejection[] = [];
    c.conversations.groups.onRejection((r) => seenByC.push(r));
    const stranger = wallet().address;
    const before = [...g.cGroup.members];
    // B, a member, writes a membership message adding a stranger: only the creator's count.
    await g.bGroup.send(
      {
        groupId: g.creator.id,
        epoch: g.creator.epoch,
        revision: 99,
        action: "add",
        creator: a.address,
        members: [...before, stranger].sort(),
        changed: [stranger],
      },
      { contentType: ContentTypeGroupMembership },
    );
    const cMsgs = await g.cGroup.messages();
    expect(
      cMsgs.some((m) => m.senderAddress === b.address && m.contentType?.typeId === "groupMembership"),
    ).toBe(false);
    expect(g.cGroup.members).toEqual(before);
    expect(seenByC.map((r) => [r.reason, r.from])).toContainEqual(["membership-not-creator", b.address]);

    // B seals an invitation for the group's topic with another member list to C (claiming A as creator).
    const forged = (members: string[], topic = g.creator.topic) =>
      create(InvitationV1Schema, {
        topic,
        context: groupContext({
          groupId: g.creator.id,
          creator: a.address,
          members,
          epoch: g.creator.epoch,
          revision: g.creator.knownEpochs.at(-1)!.revision,
        }),
        encryption: {
          case: "aes256GcmHkdfSha256",
          value: { keyMaterial: g.creator.knownEpochs.at(-1)!.keyMaterial },
        },
      });
    const sendSealed = async (from: Client, to: Client, inv: ReturnType<typeof forged>) => {
      const t = BigInt(Date.now()) * 1_000_000n;
      const bundle = (await from.getUserContact(to.address)) as SignedPublicKeyBundle;
      const sealed = await sealInvitation(from.keys, bundle, inv, t);
      await from.publishEnvelopes([
        create(EnvelopeSchema, {
          contentTopic: buildTopic.invite(to.address),
          timestampNs: t,
          message: sealed,
        }),
      ]);
    };
    const withStranger = [...before, stranger].sort();
    await sendSealed(b, c, forged(withStranger));
    // The creator itself claiming another list for the same topic and revision.
    const dropped = before.filter((x) => x !== b.address);
    await sendSealed(a, c, forged(dropped));
    // And a brand-new "group" named as A's, sealed by B.
    await sendSealed(b, c, forged(withStranger, buildTopic.conversationV2("ab".repeat(32))));
    // And a two-party invitation (no group context) for the group's topic, sealed by B.
    await sendSealed(b, c, create(InvitationV1Schema, { ...forged(withStranger), context: undefined }));
    await waitFor("C reports four forged invitations", async () => {
      await c.conversations.list();
      return seenByC.filter((r) => r.reason !== "membership-not-creator").length >= 4;
    });
    expect(
      seenByC
        .filter((r) => r.reason !== "membership-not-creator")
        .map((r) => r.reason)
        .sort(),
    ).toEqual(["member-list-conflict", "not-creator", "not-creator", "topic-taken"]);
    expect((await c.conversations.list()).filter((x) => x.topic === g.creator.topic)).toEqual([g.cGroup]);
    expect(c.conversations.groups.rejections.length).toBeGreaterThanOrEqual(4);
    expect(g.cGroup.members).toEqual(before);
    expect((await c.conversations.list()).filter((x) => x instanceof Group)).toHaveLength(1);
  }, 120_000);

  test("a removed member cannot read the new epoch; the others move to it", async () => {
    const [a, b, c] = f.ours as [Client, Client, Client];
    const oldTopic = g.creator.topic;
    await g.creator.removeMembers([c.address]);
    expect(g.creator.epoch).toBe(1);
    expect(g.creator.topic).not.toBe(oldTopic);
    expect(g.creator.members).not.toContain(c.address);
    const bGroup = await findGroup(b, g.creator.id);
    expect(bGroup).toBe(g.bGroup); // the same group object, now in its next epoch
    expect([bGroup.epoch, bGroup.topic]).toEqual([1, g.creator.topic]);
    await g.creator.send("epoch 1 from A");
    expect(texts(await bGroup.messages()).at(-1)).toBe("epoch 1 from A");
    // C holds only the old epoch: the close tells it it was removed, and the new topic is out of reach.
    const cGroup = await findGroup(c, g.creator.id);
    await cGroup.sync();
    expect(cGroup.isActive).toBe(false);
    expect(cGroup.epoch).toBe(0);
    expect(texts(await cGroup.messages())).not.toContain("epoch 1 from A");
    const newEnvs = await within(
      (async () => {
        const out = [];
        for await (const page of c.api.queryPages(g.creator.topic)) out.push(...page);
        return out;
      })(),
      10_000,
      "query the new epoch",
    );
    expect(newEnvs.length).toBeGreaterThan(0);
    for (const env of newEnvs)
      await expect(
        decodeMessageV2({
          envelope: env,
          topic: g.creator.topic,
          keyMaterial: cGroup.knownEpochs[0]!.keyMaterial,
          participants: null,
        }),
      ).rejects.toMatchObject({ reason: "decrypt-failed" });
    await expect(cGroup.send("still here?")).rejects.toMatchObject({ reason: "inactive" });
    // Writing into the old topic after the close by hand: the others neither show nor count it.
    const late = BigInt(Date.now()) * 1_000_000n;
    const payload = (await c.encodeContent("late, into the old epoch")).payload;
    const msg = await encodeMessageV2({
      own: c.keys,
      topic: oldTopic,
      keyMaterial: cGroup.knownEpochs[0]!.keyMaterial,
      payload,
      createdNs: late,
    });
    await c.publishEnvelopes([v2Envelope(oldTopic, late, msg.bytes)]);
    const bRejections: GroupRejection[] = [];
    const stop = b.conversations.groups.onRejection((r) => bRejections.push(r));
    expect(texts(await bGroup.messages())).not.toContain("late, into the old epoch");
    stop();
    expect(bRejections.map((r) => [r.reason, r.from, r.topic])).toContainEqual([
      "epoch-closed",
      c.address,
      oldTopic,
    ]);
    // xmtp-js members that remain list a second conversation with the creator and write there.
    const j1Next = await jsConversation(f.js[0]!, g.creator.topic);
    expect(j1Next.peerAddress).toBe(a.address);
    await j1Next.send("J1 in epoch 1");
    expect(texts(await bGroup.messages()).at(-1)).toBe("J1 in epoch 1");
    // The creator restarted without any stored state finds the group once, in its newest epoch.
    const again = await Client.create(null, { apiUrl: node.url, privateKeyOverride: a.exportKeys() });
    try {
      const groups = (await again.conversations.list()).filter((x): x is Group => x instanceof Group);
      expect(groups.map((x) => [x.id, x.epoch])).toEqual([[g.creator.id, 1]]);
      await groups[0]!.sync();
      expect(groups[0]!.members).toEqual(g.creator.members);
    } finally {
      await again.close();
    }
    // A member restarted with a conversation store has the group at once, in its newest epoch.
    const store = memoryConversationStore();
    const bAgain = () =>
      Client.create(null, { apiUrl: node.url, privateKeyOverride: b.exportKeys(), conversationStore: store });
    const first = await bAgain();
    await first.conversations.list();
    await first.close();
    const restored = await bAgain();
    try {
      const kept = restored.conversations.listFromCache().filter((x): x is Group => x instanceof Group);
      expect(kept.map((x) => [x.id, x.epoch, x.members])).toEqual([[g.creator.id, 1, g.creator.members]]);
      expect(texts(await kept[0]!.messages()).at(-1)).toBe("J1 in epoch 1");
    } finally {
      await restored.close();
    }
    // However many copies of the group's invitations its own invite topic holds (three rounds),
    // the creator's conversation stream reported the group once: next comes a new conversation.
    const dm = await c.conversations.newConversation(a.address);
    expect(((await nextOf(aConversations, "the DM on A's stream")) as Conversation).topic).toBe(dm.topic);
    await aConversations.return?.();
  }, 120_000);
});

describe("a group of five across two relayed nodes", () => {
  let n1: NetNode;
  let n2: NetNode;
  const clients = [new Clients(() => n1.url), new Clients(() => n2.url)];

  beforeAll(async () => {
    n1 = await startNetNode({ name: "one" });
    n2 = await startNetNode({ name: "two", peers: [n1] });
    await waitMesh([
      [n1, 1],
      [n2, 1],
    ]);
  }, 60_000);
  afterAll(async () => {
    for (const c of clients) await c.closeAll();
    await Promise.all([n1?.stop(), n2?.stop()]);
    removeTempDirs();
  });

  test("members on both nodes read every message in order", async () => {
    // The creator and one xmtp-js member on node one; the rest on node two.
    const f = await startFive(clients, (i) => (i === 0 || i === 3 ? 0 : 1));
    await fiveTalk(f);
  }, 180_000);
});
