/**
 * The web app in real Chromium against a real node (spawned through the CLI, serving the app at /):
 * two browser identities chat live both ways; reload keeps identity, conversations and history;
 * bad addresses give their errors.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NodeProcess, spawnNode } from "./node-process.js";
import {
  type BrowserUser,
  conversationItem,
  createIdentity,
  expectMessage,
  openBrowser,
  openConversation,
  ownAddress,
  send,
  startConversation,
} from "./web-browser.js";

describe("web app: two browser identities", () => {
  let node: NodeProcess;
  let alice: BrowserUser;
  let bob: BrowserUser;
  let aliceAddress: string;
  let bobAddress: string;

  beforeAll(async () => {
    node = await spawnNode();
    [alice, bob] = await Promise.all([openBrowser(node.url), openBrowser(node.url)]);
    aliceAddress = await createIdentity(alice.page);
    bobAddress = await createIdentity(bob.page);
  }, 180_000);

  afterAll(async () => {
    await Promise.all([alice?.close(), bob?.close()]);
    await node?.stop();
  });

  it("chat live both ways", async () => {
    await startConversation(alice.page, bobAddress);
    await send(alice.page, "hello from alice");
    await expectMessage(alice.page, /hello from alice/);

    // Bob has not allowed Alice: her conversation is a request, live.
    await bob.page.getByRole("tab", { name: "Requests" }).click();
    await conversationItem(bob.page, aliceAddress).waitFor({ timeout: 60_000 });
    await openConversation(bob.page, aliceAddress);
    await expectMessage(bob.page, "hello from alice");

    await send(bob.page, "hi alice, bob here");
    await expectMessage(alice.page, "hi alice, bob here");
    await send(alice.page, "line one\nline two");
    await expectMessage(bob.page, /line one\s+line two/);
  }, 180_000);

  it("reload keeps the identity, the conversations and the history without signing again", async () => {
    await alice.page.reload();
    expect(await ownAddress(alice.page)).toBe(aliceAddress);
    await openConversation(alice.page, bobAddress);
    await expectMessage(alice.page, "hello from alice");
    await expectMessage(alice.page, "hi alice, bob here");
  }, 120_000);

  it("bad addresses give their errors", async () => {
    const page = alice.page;
    await startConversation(page, "0x1234");
    await page.getByRole("alert").filter({ hasText: "not a valid Ethereum address" }).waitFor();
    await page.getByRole("textbox", { name: "Address" }).fill(aliceAddress);
    await page.getByRole("button", { name: "Start" }).click();
    await page.getByRole("alert").filter({ hasText: "your own address" }).waitFor();
    const nobody = "0x000000000000000000000000000000000000dEaD";
    await page.getByRole("textbox", { name: "Address" }).fill(nobody);
    await page.getByRole("button", { name: "Start" }).click();
    await page
      .getByRole("alert")
      .filter({ hasText: "has no XMTP identity yet" })
      .waitFor({ timeout: 30_000 });
  }, 120_000);
});
