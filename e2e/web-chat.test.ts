/**
 * The web app in real Chromium against a real node (spawned through the CLI, serving the app at /):
 * two browser identities chat live both ways; reload keeps identity, conversations and history;
 * replies, reactions, read receipts, an image and a 3 MB file round-trip; the node is stopped and
 * restarted mid-conversation and nothing is lost; bad addresses give their errors.
 */
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NodeProcess, spawnNode } from "./node-process.js";
import {
  attach,
  type BrowserUser,
  conversationItem,
  createIdentity,
  expectMessage,
  messageItem,
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

  it("reply, reaction (added and removed), read receipt", async () => {
    // Bob replies to Alice's first message.
    await messageItem(bob.page, "hello from alice")
      .getByRole("button", { name: "Reply to: hello from alice" })
      .click();
    await send(bob.page, "this is a reply");
    const reply = messageItem(alice.page, "this is a reply");
    await reply.waitFor({ timeout: 60_000 });
    expect(await reply.textContent()).toContain("hello from alice");

    // Alice reacts to Bob's reply; Bob sees it, then sees it go.
    await reply.getByRole("button", { name: "React to: this is a reply" }).click();
    await reply.getByRole("button", { name: "React with 👍" }).click();
    const onBob = messageItem(bob.page, "this is a reply").getByRole("button", { name: "👍 1" });
    await onBob.waitFor({ timeout: 60_000 });
    await reply.getByRole("button", { name: "👍 1" }).click();
    await onBob.waitFor({ state: "detached", timeout: 60_000 });

    // Bob has the conversation open: his read receipt marks Alice's last message read.
    await send(alice.page, "did you read this?");
    await expectMessage(bob.page, "did you read this?");
    await messageItem(alice.page, /did you read this\? \(Read\)/).waitFor({ timeout: 60_000 });
  }, 180_000);

  it("an image (inline) and a 3 MB file (remote attachment via the node) round-trip", async () => {
    await attach(alice.page, { name: "pixel.png", mimeType: "image/png", buffer: PNG });
    await bob.page.getByRole("img", { name: "pixel.png" }).waitFor({ timeout: 60_000 });

    const big = randomBytes(3 * 1024 * 1024);
    await attach(alice.page, { name: "big.bin", mimeType: "application/octet-stream", buffer: big });
    const link = bob.page.getByRole("link", { name: /big\.bin \(3\.0 MB\), download/ });
    await link.waitFor({ timeout: 120_000 });
    const href = await link.getAttribute("href");
    const digest = await bob.page.evaluate(async (url) => {
      const bytes = await (await fetch(url!)).arrayBuffer();
      const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
      return Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("");
    }, href);
    expect(digest).toBe(createHash("sha256").update(big).digest("hex"));
  }, 240_000);

  it("the node stops and restarts mid-conversation: reconnecting shows, then clears; nothing is lost", async () => {
    const { httpPort, grpcPort, dataDir } = node;
    await node.stop();
    await alice.page.getByRole("status").filter({ hasText: "Reconnecting" }).waitFor({ timeout: 30_000 });
    await send(alice.page, "written while the node was down");
    await expectMessage(alice.page, /written while the node was down \((Sending…|Not sent)\)/);

    node = await spawnNode({ httpPort, grpcPort, dataDir });
    await alice.page
      .getByRole("status")
      .filter({ hasText: "Reconnecting" })
      .waitFor({ state: "detached", timeout: 60_000 });
    // The kept message goes out by itself once the node is back, and arrives live.
    await expectMessage(bob.page, "written while the node was down", 90_000);
    await send(bob.page, "and the stream is back");
    await expectMessage(alice.page, "and the stream is back", 90_000);

    await bob.page.reload();
    await openConversation(bob.page, aliceAddress);
    for (const text of [
      "hello from alice",
      "this is a reply",
      "written while the node was down",
      "and the stream is back",
    ])
      await expectMessage(bob.page, text);
  }, 300_000);

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

/** A 1×1 PNG. */
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
  "base64",
);
