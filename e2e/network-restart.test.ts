/**
 * A node stopped while messages are published elsewhere, then restarted: it catches up over Waku
 * store with nothing lost, and an xmtp-js client on it sees the whole conversation.
 */
import { Client } from "@xmtp/xmtp-js";
import { afterAll, expect, test } from "vitest";
import { alice as aliceToken } from "../packages/node/src/api/test-support.js";
import { wallet } from "./client-helpers.js";
import {
  bytes,
  health,
  type NetNode,
  nowNs,
  publish,
  queryAll,
  removeTempDirs,
  restartNetNode,
  startNetNode,
  text,
  topic,
  waitFor,
  waitMesh,
} from "./network-support.js";

const nodes: NetNode[] = [];
const clients: Client[] = [];
afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await Promise.all(nodes.map((n) => n.stop()));
  removeTempDirs();
});

test("a restarted node catches up everything published while it was down; a client on it sees it all", async () => {
  const a = await startNetNode({ name: "A" });
  nodes.push(a);
  let b = await startNetNode({ name: "B", peers: [a] });
  nodes.push(b);
  await waitMesh([
    [a, 1],
    [b, 1],
  ]);

  // Both users exist before B goes down (their keys reach B over the relay).
  const aliceWallet = wallet();
  const bobWallet = wallet();
  const alice = await Client.create(aliceWallet.js, { env: "local", apiUrl: a.url });
  clients.push(alice);
  const bobOnA = await Client.create(bobWallet.js, { env: "local", apiUrl: a.url });
  clients.push(bobOnA);
  await waitFor(
    "bob's contact on B",
    async () => (await queryAll(b, `/xmtp/0/contact-${bobWallet.address}/proto`)).length > 0,
  );

  expect(await b.stop()).toBe(0);

  // While B is down: a conversation and raw traffic on A.
  const conv = await alice.conversations.newConversation(bobWallet.address, {
    conversationId: "xmtp-ts/restart-test",
    metadata: {},
  });
  const sent: string[] = [];
  for (let i = 0; i < 15; i++) {
    sent.push(`message ${i}`);
    await conv.send(`message ${i}`);
  }
  const auth = aliceToken.bearer(nowNs());
  const rawTopic = topic(`restart-${Date.now()}`);
  const base = nowNs();
  const raw = Array.from({ length: 450 }, (_, i) => ({
    contentTopic: rawTopic,
    timestampNs: base + BigInt(i),
    message: bytes(`raw ${i}`),
  }));
  for (let i = 0; i < raw.length; i += 50) await publish(a, raw.slice(i, i + 50), auth);

  // B comes back on the same ports and data dir, and syncs from A.
  b = await restartNetNode(b);
  nodes[1] = b;
  await waitFor(
    "sync from A done",
    async () => (await health(b)).relay.sync.some((s) => s.peer === a.peerId && s.state === "done"),
    30_000,
  );
  const got = await queryAll(b, rawTopic);
  expect(got.length).toBe(450);
  expect(got.map((e) => text(e.message))).toEqual(raw.map((e) => text(e.message)));

  // A client on B sees the whole conversation.
  const bob = await Client.create(bobWallet.js, { env: "local", apiUrl: b.url });
  clients.push(bob);
  const convs = await bob.conversations.list();
  const mine = convs.find((c) => c.topic === conv.topic);
  expect(mine).toBeDefined();
  const msgs = (await mine?.messages()) ?? [];
  expect(msgs.map((m) => m.content)).toEqual(sent);

  // And live traffic flows again both ways after the catch-up.
  const live = { contentTopic: rawTopic, timestampNs: nowNs(), message: bytes("after restart") };
  await publish(b, [live], auth);
  await waitFor("live envelope from B on A", async () => (await queryAll(a, rawTopic)).length === 451);
}, 120_000);
