/**
 * Unmodified @xmtp/xmtp-js 12.1.0 against the real node process, auth on (the default): keys
 * created and stored on the network, a conversation, messages both ways, a stream, paging,
 * canMessage, and keys reloaded from the network.
 */
import { Client } from "@xmtp/xmtp-js";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type NodeProcess, openSubscriptions, spawnNode, untilSubscriptions } from "./node-process.js";

/** An ethers-style signer over a viem account, as xmtp-js 12 expects. */
function wallet(key = generatePrivateKey()) {
  const account = privateKeyToAccount(key);
  return {
    key,
    address: account.address,
    getAddress: async () => account.address,
    signMessage: (message: ArrayLike<number> | string) =>
      account.signMessage({
        message: typeof message === "string" ? message : { raw: Uint8Array.from(message) },
      }),
  };
}

const within = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([
    p,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)),
  ]);

describe("xmtp-js 12.1.0 against `xmtp node`", () => {
  let node: NodeProcess;
  const clients: Client[] = [];
  const create = async (w: ReturnType<typeof wallet>) => {
    const c = await Client.create(w, { apiUrl: node.url, env: "local" });
    clients.push(c);
    return c;
  };
  beforeAll(async () => {
    node = await spawnNode();
  });
  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    expect(await node.stop()).toBe(0);
  });

  test("two clients talk: keys on the network, conversation, messages both ways, stream, paging, canMessage, reload", async () => {
    const aliceWallet = wallet();
    const bobWallet = wallet();
    const alice = await create(aliceWallet);
    expect(await alice.canMessage(bobWallet.address)).toBe(false);
    const bob = await create(bobWallet);
    expect(await alice.canMessage(bobWallet.address)).toBe(true);
    expect(await Client.canMessage(aliceWallet.address, { apiUrl: node.url, env: "local" })).toBe(true);
    expect(await Client.canMessage(wallet().address, { apiUrl: node.url, env: "local" })).toBe(false);

    const convA = await alice.conversations.newConversation(bobWallet.address);
    await convA.send("hello bob");
    const bobConvs = await bob.conversations.list();
    const convB = bobConvs.find((c) => c.peerAddress === aliceWallet.address);
    expect(convB?.topic).toBe(convA.topic);
    if (convB === undefined) throw new Error("bob has no conversation with alice");
    expect((await convB.messages()).map((m) => m.content)).toEqual(["hello bob"]);
    await convB.send("hello alice");
    expect((await convA.messages()).map((m) => m.content)).toEqual(["hello bob", "hello alice"]);

    // A live stream receives what the peer sends after it opened.
    const before = await openSubscriptions(node);
    const stream = await convA.streamMessages();
    try {
      await untilSubscriptions(node, before + 1);
      await convB.send("streamed");
      const it = stream[Symbol.asyncIterator]();
      const got = await within(it.next(), 10_000, "streamed message");
      expect(got.value?.content).toBe("streamed");
      expect(got.value?.senderAddress).toBe(bobWallet.address);
    } finally {
      await stream.return();
    }

    // Paging: 7 more messages, read 3 at a time, newest first.
    for (let i = 0; i < 7; i++) await convA.send(`m${i}`);
    const pages: string[][] = [];
    for await (const page of convB.messagesPaginated({ pageSize: 3 })) {
      pages.push(page.map((m) => String(m.content)));
    }
    expect(pages.map((p) => p.length)).toEqual([3, 3, 3, 1]);
    expect(pages.flat()).toEqual([
      "m6",
      "m5",
      "m4",
      "m3",
      "m2",
      "m1",
      "m0",
      "streamed",
      "hello alice",
      "hello bob",
    ]);
    expect((await convB.messages({ limit: 2 })).map((m) => m.content)).toEqual(["hello bob", "hello alice"]);

    // The same wallet again: keys come back from the network (privatestore topic), so the
    // conversation and its history are there.
    const alice2 = await create(aliceWallet);
    expect(alice2.publicKeyBundle.identityKey.secp256k1Uncompressed.bytes).toEqual(
      alice.publicKeyBundle.identityKey.secp256k1Uncompressed.bytes,
    );
    const convs2 = await alice2.conversations.list();
    const conv2 = convs2.find((c) => c.peerAddress === bobWallet.address);
    expect(conv2?.topic).toBe(convA.topic);
    const all = await conv2?.messages();
    expect(all?.length).toBe(10);
    expect(all?.[all.length - 1]?.content).toBe("m6");
  });

  test("large envelopes: pages stop at 4 MiB with a cursor, and xmtp-js still reads every envelope", async () => {
    const c = await create(wallet());
    const topic = `/xmtp/0/m-large-${Date.now()}/proto`;
    const start = Date.now() - 60_000;
    // Nine envelopes of 900,000 bytes: 8.1 MB, more than one 4 MiB page.
    for (let i = 0; i < 9; i++)
      await c.apiClient.publish([
        { contentTopic: topic, message: new Uint8Array(900_000).fill(i), timestamp: new Date(start + i) },
      ]);
    const pages: number[] = [];
    for await (const page of c.apiClient.queryIteratePages(
      { contentTopic: topic },
      { pageSize: 100, direction: 1 /* ascending */ },
    ))
      pages.push(page.length);
    // 4 × 900,000 < 4 MiB ≤ 5 × 900,000: five, then the four left.
    expect(pages).toEqual([5, 4]);
    const all = await c.apiClient.query({ contentTopic: topic }, { limit: 100 });
    expect(all.length).toBe(9);
    expect(new Set(all.map((e) => e.message?.[0])).size).toBe(9);
  });

  test("publishing to another wallet's contact topic is refused as the reference does", async () => {
    const eve = await create(wallet());
    const victim = wallet();
    const err = await eve.apiClient
      .publish([
        {
          contentTopic: `/xmtp/0/contact-${victim.address}/proto`,
          message: new Uint8Array([1]),
          timestamp: new Date(),
        },
      ])
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 7, message: "publishing to restricted topic" });
  });
});
