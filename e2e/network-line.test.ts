/**
 * Three spawned nodes in a line A–B–C joined over the Waku relay: an xmtp-js 12.1.0 client on A
 * and one on C converse, including live streams; an envelope reaching a node by two paths is
 * stored and delivered once.
 */
import { Client, type DecodedMessage } from "@xmtp/xmtp-js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { alice } from "../packages/node/src/api/test-support.js";
import { wallet, within } from "./client-helpers.js";
import {
  bytes,
  type NetNode,
  nowNs,
  publish,
  queryAll,
  removeTempDirs,
  startNetNode,
  subscribe,
  text,
  topic,
  waitFor,
  waitMesh,
} from "./network-support.js";

describe("A–B–C line", () => {
  let a: NetNode;
  let b: NetNode;
  let c: NetNode;
  const clients: Client[] = [];

  beforeAll(async () => {
    b = await startNetNode({ name: "B" });
    [a, c] = await Promise.all([
      startNetNode({ name: "A", peers: [b] }),
      startNetNode({ name: "C", peers: [b] }),
    ]);
    await waitMesh([
      [a, 1],
      [b, 2],
      [c, 1],
    ]);
  }, 60_000);

  afterAll(async () => {
    for (const cl of clients) await cl.close().catch(() => undefined);
    await Promise.all([a?.stop(), b?.stop(), c?.stop()]);
    removeTempDirs();
  });

  test("each node prints its multiaddr at start", () => {
    for (const n of [a, b, c]) expect(n.stdout()).toContain(`libp2p     ${n.multiaddr}`);
  });

  test("xmtp-js clients on A and C converse, with live streams both ways", async () => {
    const aliceWallet = wallet();
    const bobWallet = wallet();
    const alice = await Client.create(aliceWallet.js, { env: "local", apiUrl: a.url });
    clients.push(alice);
    const bob = await Client.create(bobWallet.js, { env: "local", apiUrl: c.url });
    clients.push(bob);

    // Bob's contact bundle was published on C; it must reach A over the relay.
    await waitFor("bob visible from A", () => alice.canMessage(bob.address), 20_000);
    await waitFor("alice visible from C", () => bob.canMessage(alice.address), 20_000);

    const bobConversations = await bob.conversations.stream();
    // A conversation id makes it V2 (an invitation) whichever contact bundle is newest.
    const aliceConv = await alice.conversations.newConversation(bob.address, {
      conversationId: "xmtp-ts/network-test",
      metadata: {},
    });
    const bobConvIt = bobConversations[Symbol.asyncIterator]();
    const incoming = await within(bobConvIt.next(), 20_000, "conversation streamed to bob on C");
    const bobConv = incoming.value;
    expect(bobConv?.topic).toBe(aliceConv.topic);
    await bobConversations.return();
    if (bobConv === undefined) throw new Error("no conversation");

    const bobStream = await bobConv.streamMessages();
    const aliceStream = await aliceConv.streamMessages();
    const bobIt = bobStream[Symbol.asyncIterator]();
    const aliceIt = aliceStream[Symbol.asyncIterator]();

    await aliceConv.send("hello from A");
    const atBob = (await within(
      bobIt.next(),
      20_000,
      "alice's message live on C",
    )) as IteratorResult<DecodedMessage>;
    expect(atBob.value?.content).toBe("hello from A");
    expect(atBob.value?.senderAddress).toBe(alice.address);

    await bobConv.send("hello from C");
    // Alice's own stream sees her message first, then Bob's reply.
    const seen: string[] = [];
    while (!seen.includes("hello from C")) {
      const m = (await within(
        aliceIt.next(),
        20_000,
        "bob's reply live on A",
      )) as IteratorResult<DecodedMessage>;
      seen.push(String(m.value?.content));
    }
    expect(seen).toContain("hello from C");

    await bobStream.return();
    await aliceStream.return();

    // History is complete on both ends.
    const onA = (await aliceConv.messages()).map((m: DecodedMessage) => m.content);
    const onC = (await bobConv.messages()).map((m: DecodedMessage) => m.content);
    expect(onA).toEqual(["hello from A", "hello from C"]);
    expect(onC).toEqual(["hello from A", "hello from C"]);
  }, 90_000);

  test("an envelope published on A and on C reaches B's subscribers once and is stored once", async () => {
    const auth = alice.bearer(nowNs());
    const e = { contentTopic: topic(`dup-${Date.now()}`), timestampNs: nowNs(), message: bytes("twice") };
    const sub = await subscribe(b, [e.contentTopic]);
    // The same envelope enters the network at both ends of the line.
    await Promise.all([publish(a, [e], auth), publish(c, [e], auth)]);
    const marker = { ...e, timestampNs: e.timestampNs + 1n, message: bytes("marker") };
    await publish(a, [marker], auth);
    await waitFor("marker on B", () => sub.received.some((x) => text(x.message) === "marker"));
    expect(sub.received.map((x) => text(x.message))).toEqual(["twice", "marker"]);
    for (const n of [a, b, c]) {
      await waitFor(`both stored on ${n.name}`, async () => (await queryAll(n, e.contentTopic)).length === 2);
    }
    sub.close();
  }, 60_000);
});
