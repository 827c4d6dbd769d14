/**
 * Groups in the web app (Chromium, a real node): the creator makes a group of three in the browser
 * (one member on our SDK, one on unmodified xmtp-js 12.1.0) after the form refused bad input;
 * messages go both ways with their senders shown; a member added later finds the group under
 * Requests in another browser, allows it and reads it; a removal moves the group to a new epoch
 * that the browsers follow. Needs `npm run build -w packages/web`.
 */
import type { Client as XmtpJsClient } from "@xmtp/xmtp-js";
import { generatePrivateKey } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Client, Group } from "../packages/client/src/index.js";
import { Clients, nextOf, wallet } from "./client-helpers.js";
import { waitFor } from "./network-support.js";
import { type NodeProcess, spawnNode } from "./node-process.js";
import {
  type BrowserUser,
  expectMessage,
  importKey,
  messageItem,
  openBrowser,
  PHONE,
  send,
} from "./web-browser.js";

const short = (a: string) => `${a.slice(0, 6)}…${a.slice(-4)}`;

describe("groups in the web app", () => {
  let node: NodeProcess;
  let clients: Clients;
  let alice: BrowserUser;
  let dave: BrowserUser | undefined;
  const aliceKey = generatePrivateKey();
  const aliceAddress = wallet(aliceKey).address;
  const daveKey = generatePrivateKey();
  const daveAddress = wallet(daveKey).address;
  let bob: Client;
  let carol: XmtpJsClient;
  let group: Group;

  beforeAll(async () => {
    node = await spawnNode();
    clients = new Clients(() => node.url);
    [bob, carol] = await Promise.all([clients.ourClient(wallet()), clients.jsClient(wallet())]);
    alice = await openBrowser(node.url);
    expect(await importKey(alice.page, aliceKey)).toBe(aliceAddress);
  }, 180_000);

  afterAll(async () => {
    await alice?.close();
    await dave?.close();
    await clients?.closeAll();
    await node?.stop();
  });

  const groupItem = (page: BrowserUser["page"], members: number) =>
    page
      .getByRole("list", { name: "Conversations" })
      .getByRole("listitem", { name: new RegExp(`^Group “ops” · ${members} members`) });

  it("the new-group form refuses bad input with clear errors, then creates the group", async () => {
    const page = alice.page;
    await page.getByRole("button", { name: "New group" }).click();
    await page.getByRole("textbox", { name: "Group name" }).fill("ops");
    await page.getByRole("textbox", { name: "Description (optional)" }).fill("on call");
    const members = page.getByRole("textbox", { name: /^Members/ });
    const create = page.getByRole("button", { name: "Create group" });
    const error = page.getByRole("alert");

    await members.fill(`${bob.address}\n0x123`);
    await create.click();
    await expect.poll(() => error.textContent()).toContain("Not a valid Ethereum address: 0x123");
    const stranger = wallet().address;
    await members.fill(`${bob.address}, ${stranger}`);
    await create.click();
    await expect.poll(() => error.textContent()).toContain(`Not on the XMTP network yet: ${stranger}`);
    await members.fill(Array.from({ length: 100 }, () => wallet().address).join("\n"));
    await create.click();
    await expect.poll(() => error.textContent()).toContain("Too many members: 100 given, room for 99");

    await members.fill(`${bob.address}\n${carol.address}`);
    await create.click();
    await page.getByRole("region", { name: "Group ops" }).waitFor({ timeout: 60_000 });
    await groupItem(page, 3).waitFor();
    await send(page, "hello, group");
    await expectMessage(page, `You: hello, group`);
  }, 240_000);

  it("messages flow both ways with an SDK and an xmtp-js member; senders are shown", async () => {
    await waitFor(
      "bob lists the group",
      async () => {
        const g = (await bob.conversations.list()).find((c): c is Group => c instanceof Group);
        if (g) group = g;
        return g !== undefined;
      },
      60_000,
    );
    expect(group.name).toBe("ops");
    expect(group.members).toEqual([aliceAddress, bob.address, carol.address].sort());
    await waitFor("bob reads the browser's message", async () =>
      (await group.messages()).some((m) => m.content === "hello, group" && m.senderAddress === aliceAddress),
    );
    const js = (await carol.conversations.list()).find((c) => c.topic === group.topic);
    expect(js).toBeDefined();
    const jsStream = await js!.streamMessages();
    try {
      await group.send("hi from bob");
      await js!.send("hi from xmtp-js");
      const page = alice.page;
      await expectMessage(page, `${bob.address}: hi from bob`);
      await expectMessage(page, `${carol.address}: hi from xmtp-js`);
      // The bubble names the sender.
      expect(await messageItem(page, "hi from bob").textContent()).toContain(short(bob.address));
      await send(page, "one more from the browser");
      for (;;) {
        const m = await nextOf(jsStream, "the browser's message at xmtp-js", 60_000);
        if (m.content === "one more from the browser") {
          expect(m.senderAddress).toBe(aliceAddress);
          break;
        }
      }
    } finally {
      await jsStream.return?.();
    }
    // The list names the group, its size and the last sender.
    await alice.page
      .getByRole("list", { name: "Conversations" })
      .getByRole("listitem", { name: /^Group “ops” · 3 members: You: one more from the browser/ })
      .waitFor();
  }, 240_000);

  it("members panel: the creator adds a member, who finds the group under Requests and reads it", async () => {
    const page = alice.page;
    await page.getByRole("button", { name: "Members (3)" }).click();
    const list = page.getByRole("list", { name: "Members" });
    await list.getByRole("listitem", { name: `${aliceAddress} (creator, you)` }).waitFor();
    expect(await list.getByRole("listitem").count()).toBe(3);

    dave = await openBrowser(node.url, PHONE);
    expect(await importKey(dave.page, daveKey)).toBe(daveAddress);
    await page.getByRole("textbox", { name: /^Add members/ }).fill(daveAddress);
    await page.getByRole("button", { name: "Add members" }).click();
    await page.getByRole("button", { name: "Members (4)" }).waitFor({ timeout: 60_000 });
    await expectMessage(page, `added ${short(daveAddress)} to the group`);

    const dp = dave.page;
    await dp.getByRole("tab", { name: "Requests" }).click();
    const item = groupItem(dp, 4);
    await item.waitFor({ timeout: 60_000 });
    await item.getByRole("button", { name: "Allow" }).click();
    await dp.getByRole("tab", { name: "Messages" }).click();
    await groupItem(dp, 4).getByRole("button").first().click();
    await expectMessage(dp, `${aliceAddress}: hello, group`);
    await expectMessage(dp, `${bob.address}: hi from bob`);
    await send(dp, "dave here, on a phone");
    await expectMessage(page, `${daveAddress}: dave here, on a phone`);
  }, 240_000);

  it("removing a member starts a new epoch that the browsers follow", async () => {
    const page = alice.page;
    const topic = group.topic;
    await page.getByRole("button", { name: `Remove ${carol.address}` }).click();
    await page.getByRole("button", { name: "Remove from the group" }).click();
    await page.getByRole("button", { name: "Members (3)" }).waitFor({ timeout: 60_000 });
    await expectMessage(page, `removed ${short(carol.address)}`);
    await send(page, "after the removal");
    await expectMessage(dave!.page, `${aliceAddress}: after the removal`, 90_000);
    await waitFor(
      "bob reads the new epoch",
      async () => {
        await bob.conversations.list();
        return (await group.messages()).some((m) => m.content === "after the removal");
      },
      60_000,
    );
    expect(group.topic).not.toBe(topic);
    await group.send("bob in the new epoch");
    await expectMessage(page, `${bob.address}: bob in the new epoch`);
    await expectMessage(dave!.page, `${bob.address}: bob in the new epoch`);
  }, 240_000);
});
