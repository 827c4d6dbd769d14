/**
 * The web app's account handling in Chromium against a real node: an injected EIP-1193 wallet signs
 * once (new identity: twice) and never again on reload; keys exported from one browser sign in
 * another; sign-out asks first and forgets the keys; the phone layout and the keyboard work.
 */
import { readFileSync } from "node:fs";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NodeProcess, spawnNode } from "./node-process.js";
import {
  type BrowserUser,
  createIdentity,
  expectMessage,
  importKey,
  messageItem,
  openBrowser,
  openConversation,
  ownAddress,
  PHONE,
  startConversation,
} from "./web-browser.js";

describe("web app accounts", () => {
  let node: NodeProcess;
  const open: BrowserUser[] = [];
  const browser = async (
    ...args: Parameters<typeof openBrowser> extends [string, ...infer R] ? R : never
  ) => {
    const b = await openBrowser(node.url, ...args);
    open.push(b);
    return b;
  };

  beforeAll(async () => {
    node = await spawnNode();
  }, 60_000);

  afterAll(async () => {
    await Promise.all(open.map((b) => b.close()));
    await node?.stop();
  });

  it("an injected EIP-1193 wallet: signs to create the identity, never again on reload", async () => {
    const account = privateKeyToAccount(generatePrivateKey());
    const signed: string[] = [];
    const { page } = await browser(undefined, async (context) => {
      await context.exposeFunction("__testWalletSign", async (hex: `0x${string}`) => {
        signed.push(Buffer.from(hex.slice(2), "hex").toString("utf8"));
        return account.signMessage({ message: { raw: hex } });
      });
      await context.addInitScript((address: string) => {
        const w = window as unknown as {
          ethereum: unknown;
          __testWalletSign: (hex: string) => Promise<string>;
        };
        w.ethereum = {
          request: async ({ method, params }: { method: string; params?: unknown[] }) => {
            if (method === "eth_requestAccounts" || method === "eth_accounts") return [address];
            if (method === "personal_sign") return w.__testWalletSign(params?.[0] as string);
            throw new Error(`unsupported: ${method}`);
          },
        };
      }, account.address);
    });
    await page.getByRole("button", { name: "Connect wallet" }).click();
    expect(await ownAddress(page)).toBe(account.address);
    // A new identity: the identity key, then the encrypted backup of the keys.
    expect(signed).toHaveLength(2);
    expect(signed[0]).toMatch(/^XMTP : Create Identity/);
    await page.reload();
    expect(await ownAddress(page)).toBe(account.address);
    await page.getByRole("button", { name: "New conversation" }).waitFor();
    expect(signed).toHaveLength(2);
  }, 120_000);

  it("export keys, import them in another browser; sign out asks first and forgets them", async () => {
    const first = await browser();
    const address = await createIdentity(first.page);
    const [download] = await Promise.all([
      first.page.waitForEvent("download"),
      first.page.getByRole("button", { name: "Export keys" }).click(),
    ]);
    const exported = readFileSync((await download.path())!, "utf8");
    expect(JSON.parse(exported)).toMatchObject({
      address,
      walletKey: expect.stringMatching(/^0x[0-9a-f]{64}$/),
    });

    const second = await browser();
    expect(await importKey(second.page, exported)).toBe(address);

    await first.page.getByRole("button", { name: "Sign out" }).click();
    const confirm = first.page.getByRole("region", { name: "Sign out" });
    await confirm.getByRole("button", { name: "Cancel" }).click();
    expect(await ownAddress(first.page)).toBe(address);
    await first.page.getByRole("button", { name: "Sign out" }).click();
    await confirm.getByRole("button", { name: "Sign out and forget keys" }).click();
    await first.page.getByRole("button", { name: "Create a new identity" }).waitFor();
    await first.page.reload();
    await first.page.getByRole("button", { name: "Create a new identity" }).waitFor();
  }, 180_000);

  it("phone size: the list, then the conversation, and back; the keyboard alone sends", async () => {
    const peer = await browser();
    const peerAddress = await createIdentity(peer.page);
    const phone = await browser(PHONE);
    const { page } = phone;
    await page.getByRole("button", { name: "Create a new identity" }).focus();
    await page.keyboard.press("Enter");
    const me = await ownAddress(page);
    await startConversation(page, peerAddress);
    const box = page.getByRole("textbox", { name: "Message" });
    await box.focus();
    await page.keyboard.type("first line");
    await page.keyboard.press("Shift+Enter");
    await page.keyboard.type("second line");
    await page.keyboard.press("Enter");
    await expectMessage(page, /first line\s+second line/);
    expect(await box.inputValue()).toBe("");
    // Tab from the composer reaches Send.
    await box.focus();
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Send");

    // At phone size the list hides while a conversation is open.
    expect(await page.getByRole("list", { name: "Conversations" }).isVisible()).toBe(false);
    await page.getByRole("button", { name: "Back to conversations" }).click();
    await page.getByRole("list", { name: "Conversations" }).waitFor();
    await openConversation(page, peerAddress);
    await messageItem(page, /second line/).waitFor();

    await peer.page.getByRole("tab", { name: "Requests" }).click();
    await openConversation(peer.page, me);
    await expectMessage(peer.page, /first line\s+second line/);
  }, 180_000);
});
