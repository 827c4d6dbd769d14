/**
 * The SDK's IndexedDB store in Debian's Chromium: the root entry bundled for the browser, a client
 * created in a page with `conversationStore` and `keyStore` in IndexedDB, then the page reloaded
 * and the client created again — its keys come from the store (no wallet signature) and its
 * conversation is there before any listing. Against a real node, with a peer in this process.
 * Run `npx tsc -b packages/cli packages/client` first.
 */
import { generatePrivateKey } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Client, fromPrivateKey } from "../packages/client/src/index.js";
import { type NodeProcess, spawnNode } from "./node-process.js";
import { type BrowserUser, openBrowser, serveSdkPage } from "./web-browser.js";

let node: NodeProcess;
let site: { origin: string; close(): Promise<void> } | undefined;
let origin: string;
let browser: BrowserUser | undefined;

beforeAll(async () => {
  node = await spawnNode();
  site = await serveSdkPage("sdk stores");
  origin = site.origin;
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await site?.close();
  expect(await node.stop()).toBe(0);
});

/** Waits for the page's module script to have loaded the bundle. */
function sdkLoaded(page: BrowserUser["page"]) {
  return page.waitForFunction(() => "sdk" in globalThis);
}

/** Runs in the page: a client on IndexedDB stores; reports its signatures and cached conversations. */
async function startInPage(page: BrowserUser["page"], key: string, apiUrl: string, peer?: string) {
  await sdkLoaded(page);
  return page.evaluate(
    async ({ key, apiUrl, peer }) => {
      // biome-ignore lint/suspicious/noExplicitAny: the bundle's exports, set by the page
      const sdk = (globalThis as any).sdk;
      let signatures = 0;
      const base = sdk.fromPrivateKey(key);
      const wallet = {
        getAddress: () => base.getAddress(),
        signMessage: (t: string) => {
          signatures++;
          return base.signMessage(t);
        },
      };
      const store = sdk.indexedDbConversationStore();
      const client = await sdk.Client.create(wallet, { apiUrl, conversationStore: store, keyStore: store });
      const cachedAtStart = client.conversations.listFromCache().map((c: { topic: string }) => c.topic);
      let topic: string | undefined;
      if (peer) {
        const c = await client.conversations.newConversation(peer);
        await c.send("from the browser");
        topic = c.topic;
      }
      const address = client.address;
      await client.close();
      return { signatures, cachedAtStart, topic, address };
    },
    { key, apiUrl, peer },
  );
}

describe("indexedDbConversationStore in Chromium", () => {
  test("keys and conversations survive a page reload; the second start signs nothing", async () => {
    const peer = await Client.create(fromPrivateKey(generatePrivateKey()), { apiUrl: node.url });
    browser = await openBrowser(`${origin}/`);
    const key = generatePrivateKey();
    const first = await startInPage(browser.page, key, node.url, peer.address);
    expect(first.signatures).toBe(2); // a new identity: create + enable
    expect(first.cachedAtStart).toEqual([]);
    const [seen] = await peer.conversations.list();
    expect(seen?.topic).toBe(first.topic);
    expect((await seen!.messages()).map((m) => m.content)).toEqual(["from the browser"]);

    await browser.page.reload();
    const second = await startInPage(browser.page, key, node.url);
    expect(second.address).toBe(first.address);
    expect(second.signatures).toBe(0);
    expect(second.cachedAtStart).toEqual([first.topic]);
    await peer.close();
  }, 180_000);

  test("bytes round-trip by key; a missing key is undefined; databases and stores are separate", async () => {
    browser ??= await openBrowser(`${origin}/`);
    await sdkLoaded(browser.page);
    const out = await browser.page.evaluate(async () => {
      // biome-ignore lint/suspicious/noExplicitAny: the bundle's exports, set by the page
      const sdk = (globalThis as any).sdk;
      const a = sdk.indexedDbConversationStore({ database: "t", objectStore: "a" });
      const b = sdk.indexedDbConversationStore({ database: "t2", objectStore: "b" });
      await a.set("k", new Uint8Array([1, 2, 3]));
      await a.set("k", new Uint8Array([4, 5]));
      await b.set("k", new Uint8Array([9]));
      const big = new Uint8Array(3 * 1024 * 1024).fill(7);
      await a.set("big", big);
      const got = await a.get("big");
      return {
        k: Array.from((await a.get("k")) ?? []),
        kb: Array.from((await b.get("k")) ?? []),
        missing: (await a.get("nope")) === undefined,
        bigOk: got instanceof Uint8Array && got.length === big.length && got[got.length - 1] === 7,
      };
    });
    expect(out).toEqual({ k: [4, 5], kb: [9], missing: true, bigOk: true });
  }, 120_000);
});
