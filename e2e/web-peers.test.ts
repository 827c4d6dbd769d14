/**
 * The web app in Chromium with peers outside the browser, on a real node: an unmodified xmtp-js
 * 12.1.0 client chats with it both ways; requests from two peers, one allowed and one blocked, and
 * a second device of the same account sees the same; a long history pages in on scroll-up; an
 * unread marker is cleared by reading.
 */
import type { Client as XmtpJsClient } from "@xmtp/xmtp-js";
import { generatePrivateKey } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Client, ContentCodec } from "../packages/client/src/index.js";
import { Clients, nextOf, wallet } from "./client-helpers.js";
import { type NodeProcess, spawnNode } from "./node-process.js";
import {
  type BrowserUser,
  conversationItem,
  expectMessage,
  importKey,
  messageItem,
  openBrowser,
  openConversation,
  send,
  startConversation,
} from "./web-browser.js";

describe("web app with xmtp-js and SDK peers", () => {
  let node: NodeProcess;
  let clients: Clients;
  let browser: BrowserUser;
  const aliceKey = generatePrivateKey();
  const alice = wallet(aliceKey);

  beforeAll(async () => {
    node = await spawnNode();
    clients = new Clients(() => node.url);
    browser = await openBrowser(node.url);
    expect(await importKey(browser.page, aliceKey)).toBe(alice.address);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await clients?.closeAll();
    await node?.stop();
  });

  it("chats with an xmtp-js 12.1.0 peer both ways", async () => {
    const jw = wallet();
    const js: XmtpJsClient = await clients.jsClient(jw);
    const jsStream = await js.conversations.streamAllMessages();
    try {
      await startConversation(browser.page, jw.address);
      await send(browser.page, "hello xmtp-js, from the browser");
      const m = await nextOf(jsStream, "the browser's message", 60_000);
      expect(m.content).toBe("hello xmtp-js, from the browser");
      expect(m.senderAddress).toBe(alice.address);
      await m.conversation.send("hello browser, from xmtp-js");
      await expectMessage(browser.page, "hello browser, from xmtp-js");
      // Sent once, read once.
      // (The browser's read receipt is a type xmtp-js does not know: it has no content there.)
      const history = (await m.conversation.messages())
        .filter((x) => x.contentType.typeId === "text")
        .map((x) => x.content);
      expect(history).toEqual(["hello xmtp-js, from the browser", "hello browser, from xmtp-js"]);
    } finally {
      await jsStream.return?.();
    }
  }, 180_000);

  it("one request allowed, another blocked, on every device of the account", async () => {
    const friend = wallet();
    const spammer = wallet();
    const fjs = await clients.jsClient(friend);
    const spam: Client = await clients.ourClient(spammer);
    await (await fjs.conversations.newConversation(alice.address)).send("hi, a friend here");
    await (await spam.conversations.newConversation(alice.address)).send("buy now");

    const page = browser.page;
    await page.getByRole("tab", { name: "Requests" }).click();
    await conversationItem(page, friend.address).waitFor({ timeout: 60_000 });
    await conversationItem(page, spammer.address).waitFor({ timeout: 60_000 });
    await conversationItem(page, friend.address).getByRole("button", { name: "Allow" }).click();
    await conversationItem(page, spammer.address).getByRole("button", { name: "Block" }).click();
    await conversationItem(page, friend.address).waitFor({ state: "detached" });
    await conversationItem(page, spammer.address).waitFor({ state: "detached" });
    await page.getByRole("tab", { name: "Messages" }).click();
    await conversationItem(page, friend.address).waitFor();
    expect(await conversationItem(page, spammer.address).count()).toBe(0);

    // A second device of the same account reads the consent list from the network.
    const other = await openBrowser(node.url);
    try {
      await importKey(other.page, aliceKey);
      await conversationItem(other.page, friend.address).waitFor({ timeout: 60_000 });
      expect(await conversationItem(other.page, spammer.address).count()).toBe(0);
      await other.page.getByRole("tab", { name: "Requests" }).click();
      expect(await conversationItem(other.page, spammer.address).count()).toBe(0);
    } finally {
      await other.close();
    }
  }, 240_000);

  it("a content type the app does not know shows its fallback text", async () => {
    const pollType = { authorityId: "example.com", typeId: "poll", versionMajor: 1, versionMinor: 0 };
    const pollCodec: ContentCodec<{ question: string }> = {
      contentType: pollType,
      encode: (p) => ({ type: pollType, parameters: {}, content: new TextEncoder().encode(p.question) }),
      decode: (e) => ({ question: new TextDecoder().decode(e.content) }),
      fallback: (p) => `A poll: ${p.question}`,
      shouldPush: () => true,
    };
    const pollster = wallet();
    const sdk = await clients.ourClient(pollster, { codecs: [pollCodec] });
    const convo = await sdk.conversations.newConversation(alice.address);
    await convo.send({ question: "lunch at noon?" }, { contentType: pollType });

    const page = browser.page;
    await page.getByRole("tab", { name: "Requests" }).click();
    await openConversation(page, pollster.address);
    await expectMessage(page, "A poll: lunch at noon?");
  }, 120_000);

  it("a long history pages in on scroll-up; unread until read", async () => {
    const talker = wallet();
    const sdk = await clients.ourClient(talker);
    const convo = await sdk.conversations.newConversation(alice.address);
    for (let i = 1; i <= 70; i++) await convo.send(`history ${i}`);

    const page = browser.page;
    await page.getByRole("tab", { name: "Requests" }).click();
    const item = conversationItem(page, talker.address);
    await page
      .getByRole("list", { name: "Conversations" })
      .getByRole("listitem", { name: new RegExp(`${talker.address}, unread: history 70`, "i") })
      .waitFor({ timeout: 60_000 });
    await openConversation(page, talker.address);
    await expectMessage(page, "history 70");
    const list = page.getByRole("list", { name: "Messages" });
    for (let i = 0; i < 10 && (await messageItem(page, /: history 1$/).count()) === 0; i++) {
      await list.evaluate((el) => {
        el.scrollTop = 0;
        el.dispatchEvent(new Event("scroll"));
      });
      await page
        .getByRole("status")
        .filter({ hasText: "Loading older messages" })
        .waitFor({ state: "detached" });
    }
    await expectMessage(page, /: history 1$/);
    expect(await messageItem(page, /: history \d+$/).count()).toBe(70);
    // Reading sent a receipt: the unread marker is gone.
    await expect.poll(async () => (await item.getAttribute("aria-label")) ?? "").not.toMatch(/unread/);
  }, 240_000);
});
