/**
 * xmtp-js's names on our client (docs/sdk-parity.md), each checked against a real node, most with
 * an unmodified xmtp-js 12.1.0 client on the other side: contacts and consent, conversation
 * consent, paginated history, DecodedMessage bytes, wallets given as is, close(), and the
 * connection callbacks of a stream across a node restart. Run `npx tsc -b packages/cli
 * packages/client` first.
 */
import { mkdtempSync, readdirSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DecodedMessage as JsDecodedMessage } from "@xmtp/xmtp-js";
import { Wallet } from "ethers";
import { createWalletClient, http } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { mainnet } from "viem/chains";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  ApiUrls,
  Client,
  type ConversationV2,
  DecodedMessage,
  fileConversationStore,
  fromPrivateKey,
  XmtpError,
} from "../packages/client/src/index.js";
import { Clients, nextOf, TRANSPORTS, wallet, within } from "./client-helpers.js";
import { type NodeProcess, spawnNode } from "./node-process.js";

let node: NodeProcess;
const clients = new Clients(() => node.url);

beforeAll(async () => {
  node = await spawnNode();
});
afterAll(async () => {
  await clients.closeAll();
  expect(await node.stop()).toBe(0);
});

/** A promise and the callback that resolves it. */
function signal<T = void>() {
  let fire!: (v: T) => void;
  const fired = new Promise<T>((r) => {
    fire = r;
  });
  return { fired, fire };
}

describe("client.contacts and conversation consent, with xmtp-js", () => {
  test("allow / deny / consentState / isAllowed / isDenied / refreshConsentList, both ways", async () => {
    const me = wallet();
    const peer = wallet();
    const ours = await clients.ourClient(me);
    const js = await clients.jsClient(peer);
    expect(ours.contacts.consentState(peer.address)).toBe("unknown");
    await ours.contacts.allow([peer.address]);
    expect(ours.contacts.isAllowed(peer.address)).toBe(true);
    // The same wallet in xmtp-js reads our action.
    const jsMe = await clients.jsClient(me);
    await jsMe.contacts.refreshConsentList();
    expect(jsMe.contacts.consentState(peer.address)).toBe("allowed");
    // xmtp-js denies; ours reads it on refresh.
    await jsMe.contacts.deny([peer.address]);
    const entries = await ours.contacts.refreshConsentList();
    expect(entries).toContainEqual({ value: peer.address, entryType: "address", permissionType: "denied" });
    expect(ours.contacts.isDenied(peer.address)).toBe(true);
    expect(ours.contacts.isAllowed(peer.address)).toBe(false);
    // A new client of the wallet loads the whole list.
    const again = await clients.ourClient(me);
    await again.contacts.loadConsentList();
    expect(again.contacts.consentState(peer.address)).toBe("denied");
    expect(js.address).toBe(peer.address);
    // Bad input is refused before anything is published.
    await expect(ours.contacts.allow(["not an address"])).rejects.toMatchObject({ code: "invalid-address" });
  });

  test("streamConsentList delivers another client's action; conversation.allow / deny / consentState", async () => {
    const me = wallet();
    const peer = wallet();
    const ours = await clients.ourClient(me);
    await clients.jsClient(peer);
    const stream = await ours.contacts.streamConsentList({ signal: AbortSignal.timeout(30_000) });
    const jsMe = await clients.jsClient(me);
    await jsMe.contacts.deny([peer.address]);
    const action = await nextOf(stream, "a consent action");
    expect(action.messageType.case).toBe("denyAddress");
    expect(ours.contacts.consentState(peer.address)).toBe("denied");
    await stream.return?.();

    const convo = await ours.conversations.newConversation(peer.address);
    // Starting a conversation allows the peer, as in xmtp-js.
    expect(convo.consentState).toBe("allowed");
    await convo.deny();
    expect(convo.isDenied).toBe(true);
    expect(ours.contacts.consentState(peer.address)).toBe("denied");
    await convo.allow();
    expect(convo.isAllowed).toBe(true);
    await jsMe.contacts.refreshConsentList();
    expect(jsMe.contacts.consentState(peer.address)).toBe("allowed");
  });
});

describe("messages", () => {
  test("messagesPaginated pages xmtp-js's messages by pageSize, in either direction", async () => {
    const me = wallet();
    const peer = wallet();
    const ours = await clients.ourClient(me);
    const js = await clients.jsClient(peer);
    const jsConvo = await js.conversations.newConversation(me.address);
    for (let i = 0; i < 5; i++) await jsConvo.send(`m${i}`);
    const [convo] = await ours.conversations.list();
    const pages: string[][] = [];
    for await (const page of convo!.messagesPaginated({ pageSize: 2 }))
      pages.push(page.map((m) => m.content));
    expect(pages).toEqual([["m0", "m1"], ["m2", "m3"], ["m4"]]);
    const desc: string[][] = [];
    for await (const page of convo!.messagesPaginated({ pageSize: 3, direction: "descending" }))
      desc.push(page.map((m) => m.content));
    expect(desc).toEqual([
      ["m4", "m3", "m2"],
      ["m1", "m0"],
    ]);
    await expect(convo!.messagesPaginated({ pageSize: 0 }).next()).rejects.toMatchObject({
      code: "invalid-argument",
    });
  });

  test("DecodedMessage.toBytes / fromBytes round-trip, and cross over to and from xmtp-js", async () => {
    const me = wallet();
    const peer = wallet();
    const ours = await clients.ourClient(me);
    const js = await clients.jsClient(peer);
    const convo = await ours.conversations.newConversation(peer.address, {
      conversationId: "example.com/thread",
      metadata: { a: "b" },
    });
    const sent = await convo.send("keep me");
    const [got] = await convo.messages();
    expect(got).toBeInstanceOf(DecodedMessage);
    const back = await DecodedMessage.fromBytes(got!.toBytes(), ours);
    expect(back).toMatchObject({ id: sent.id, content: "keep me", senderAddress: me.address });
    expect(back.conversation).toBe(convo);
    expect(back.sentNs).toBe(got!.sentNs);
    // xmtp-js reads our bytes…
    const jsMsg = await JsDecodedMessage.fromBytes(got!.toBytes(), js);
    expect([jsMsg.id, jsMsg.content, jsMsg.conversation.topic]).toEqual([sent.id, "keep me", convo.topic]);
    expect(jsMsg.conversation.context?.conversationId).toBe("example.com/thread");
    // xmtp-js's second name for the consent proof.
    expect("consentProofPayload" in convo).toBe(true);
    expect((convo as ConversationV2).consentProofPayload).toBe(convo.consentProof);
    // …and we read xmtp-js's.
    const [jsConvo] = await js.conversations.list();
    const [jsSeen] = await jsConvo!.messages();
    const ourView = await DecodedMessage.fromBytes(jsSeen!.toBytes(), ours);
    expect([ourView.id, ourView.content, ourView.conversation.topic]).toEqual([
      sent.id,
      "keep me",
      convo.topic,
    ]);
    // Bytes that are not a stored message get a typed error.
    await expect(DecodedMessage.fromBytes(new Uint8Array([0xff, 0xff]), ours)).rejects.toMatchObject({
      code: "invalid-argument",
    });
  });
});

describe("client options and lifecycle", () => {
  test("a viem account, a viem wallet client and an ethers signer are accepted as the wallet", async () => {
    const key = generatePrivateKey();
    const account = privateKeyToAccount(key);
    const viaAccount = await Client.create(account, { apiUrl: node.url });
    expect(viaAccount.address).toBe(account.address);
    const walletClient = createWalletClient({
      account,
      chain: mainnet,
      transport: http("http://127.0.0.1:9"),
    });
    const viaWalletClient = await Client.create(walletClient, { apiUrl: node.url });
    expect(viaWalletClient.address).toBe(account.address);
    const viaEthers = await Client.create(new Wallet(key), { apiUrl: node.url });
    expect(viaEthers.address).toBe(account.address);
    // The same identity each time: the keys were loaded from the network backup.
    expect(viaEthers.exportKeys()).toEqual(viaAccount.exportKeys());
    for (const c of [viaAccount, viaWalletClient, viaEthers]) await c.close();
    await expect(Client.create({} as never, { apiUrl: node.url })).rejects.toMatchObject({
      code: "invalid-argument",
    });
  });

  test("env names the network beside apiUrl; appVersion reaches the node", async () => {
    expect(ApiUrls.local).toBe("http://localhost:5555");
    const keys = (await clients.ourClient(wallet())).exportKeys();
    const local = await Client.create(null, {
      env: "local",
      privateKeyOverride: keys,
      skipContactPublishing: true,
    });
    expect(local.apiUrl).toBe("http://localhost:5555");
    await local.close();
    await expect(
      Client.create(null, { env: "nope" as never, privateKeyOverride: keys }),
    ).rejects.toMatchObject({
      code: "invalid-argument",
    });
    // A gateway that records headers and answers an empty batch query.
    const seen: (string | undefined)[] = [];
    const srv = createServer((req, res) => {
      seen.push(req.headers["x-app-version"] as string | undefined);
      req.resume();
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ responses: [{ envelopes: [] }] }));
      });
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    try {
      const c = await Client.create(null, {
        apiUrl: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`,
        appVersion: "parity-test/1.0",
        privateKeyOverride: keys,
        skipContactPublishing: true,
      });
      expect(c.appVersion).toBe("parity-test/1.0");
      expect(await c.canMessage(wallet().address)).toBe(false);
      expect(seen).toContain("parity-test/1.0");
      await c.close();
    } finally {
      srv.closeAllConnections();
      await new Promise((r) => srv.close(r));
    }
  });

  test("after close(), sending, listing and streaming are refused with client-closed; streams end", async () => {
    const me = wallet();
    const peer = wallet();
    const ours = await Client.create(me.ours, { apiUrl: node.url });
    await clients.jsClient(peer);
    const convo = await ours.conversations.newConversation(peer.address);
    const stream = await convo.streamMessages();
    const ended = stream.next();
    await ours.close();
    expect(ours.isClosed).toBe(true);
    expect((await within(ended, 10_000, "stream end")).done).toBe(true);
    const refused = await convo.send("too late").catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(XmtpError);
    expect(refused).toMatchObject({ code: "client-closed", message: "the client is closed" });
    await expect(ours.conversations.list()).rejects.toMatchObject({ code: "client-closed" });
    await expect(convo.streamMessages()).rejects.toMatchObject({ code: "client-closed" });
  });

  test.each(TRANSPORTS)(
    "over $name a stream reports a lost connection and its return across a node restart, and goes on",
    async ({ options }) => {
      let own = await spawnNode();
      try {
        const a = await Client.create(fromPrivateKey(generatePrivateKey()), options(own));
        const b = await Client.create(fromPrivateKey(generatePrivateKey()), options(own));
        const convo = await a.conversations.newConversation(b.address);
        const [bConvo] = await b.conversations.list();
        const lost = signal<unknown>();
        const back = signal();
        const stream = await convo.streamMessages({ onConnectionLost: lost.fire, onReconnect: back.fire });
        await own.stop();
        await within(lost.fired, 30_000, "onConnectionLost");
        own = await spawnNode({ httpPort: own.httpPort, grpcPort: own.grpcPort, dataDir: own.dataDir });
        await within(back.fired, 30_000, "onReconnect");
        await bConvo!.send("after the restart");
        expect((await nextOf(stream, "a message after the restart", 30_000)).content).toBe(
          "after the restart",
        );
        await a.close();
        await b.close();
      } finally {
        await own.stop();
      }
    },
  );

  test("a file store keeps the keys and the conversations: a restarted client signs nothing and lists at once", async () => {
    const dir = join(mkdtempSync(join(tmpdir(), "xmtp-sdk-store-")), "data");
    const key = generatePrivateKey();
    let signatures = 0;
    const base = fromPrivateKey(key);
    const counting = {
      getAddress: () => base.getAddress(),
      signMessage: (t: string) => {
        signatures++;
        return base.signMessage(t);
      },
    };
    const peer = wallet();
    await clients.jsClient(peer);
    const store = () => fileConversationStore(dir);
    const first = await Client.create(counting, {
      apiUrl: node.url,
      conversationStore: store(),
      keyStore: store(),
    });
    const convo = await first.conversations.newConversation(peer.address);
    await first.close();
    expect(signatures).toBe(2);
    // Private keys on disk are readable by the owner only.
    for (const f of readdirSync(dir)) expect(statSync(join(dir, f)).mode & 0o077).toBe(0);
    const again = await Client.create(counting, {
      apiUrl: node.url,
      conversationStore: store(),
      keyStore: store(),
    });
    expect(signatures).toBe(2);
    expect(again.address).toBe(first.address);
    expect(again.conversations.listFromCache().map((c) => c.topic)).toEqual([convo.topic]);
    await again.close();
  });
});
