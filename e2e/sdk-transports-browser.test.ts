/**
 * The SDK's Connect and gRPC-Web transports in Debian's Chromium: the root entry bundled for the
 * browser, a client in a page (another origin than the node's, so CORS applies) that publishes,
 * lists and streams over each transport, talking to a client in this process through a real node.
 * Run `npx tsc -b packages/cli packages/client` first.
 */
import { generatePrivateKey } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Client, fromPrivateKey } from "../packages/client/src/index.js";
import { nextOf } from "./client-helpers.js";
import { type NodeProcess, spawnNode } from "./node-process.js";
import { type BrowserUser, openBrowser, serveSdkPage } from "./web-browser.js";

let node: NodeProcess;
let site: { origin: string; close(): Promise<void> } | undefined;
let origin: string;
let browser: BrowserUser | undefined;

beforeAll(async () => {
  node = await spawnNode();
  site = await serveSdkPage("sdk transports");
  origin = site.origin;
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await site?.close();
  expect(await node.stop()).toBe(0);
});

describe.each(["connect", "grpc-web"] as const)("the %s transport in Chromium", (transport) => {
  test("a page client sends, lists and streams through the node", async () => {
    const peer = await Client.create(fromPrivateKey(generatePrivateKey()), { apiUrl: node.url });
    browser ??= await openBrowser(`${origin}/`);
    const page = browser.page;
    await page.waitForFunction(() => "sdk" in globalThis);
    // Start: a client over the transport, a conversation, a message, and a live stream of replies.
    const started = await page.evaluate(
      async ({ key, apiUrl, transport, peer }) => {
        // biome-ignore lint/suspicious/noExplicitAny: the bundle's exports, set by the page
        const g = globalThis as any;
        const client = await g.sdk.Client.create(g.sdk.fromPrivateKey(key), {
          apiUrl,
          apiTransport: transport,
        });
        const convo = await client.conversations.newConversation(peer);
        await convo.send(`hello over ${transport}`);
        g.stream = await client.conversations.streamAllMessages();
        g.client = client;
        return {
          address: client.address,
          topic: convo.topic,
          listed: (await client.conversations.list()).length,
        };
      },
      { key: generatePrivateKey(), apiUrl: node.url, transport, peer: peer.address },
    );
    expect(started.listed).toBe(1);
    const [seen] = await peer.conversations.list();
    expect(seen?.topic).toBe(started.topic);
    expect((await seen!.messages()).map((m) => m.content)).toEqual([`hello over ${transport}`]);
    const peerStream = await seen!.streamMessages();
    await seen!.send("reply from Node");
    // The page's stream (opened after its own message) delivers the reply.
    const got = await page.evaluate(async () => {
      // biome-ignore lint/suspicious/noExplicitAny: set by the page above
      const g = globalThis as any;
      const out: string[] = [];
      while (!out.includes("reply from Node")) {
        const r = await g.stream.next();
        if (r.done) break;
        out.push(String(r.value.content));
      }
      await g.client.close();
      return out;
    });
    expect(got).toContain("reply from Node");
    expect((await nextOf(peerStream, "the peer's own reply")).content).toBe("reply from Node");
    await peerStream.return!();
    await peer.close();
  }, 180_000);
});
