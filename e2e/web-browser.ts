/**
 * Drives the web app in Debian's Chromium with playwright-core: one persistent profile per
 * identity (a fresh user-data-dir), helpers that act through the app's accessible names only.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { type BrowserContext, chromium, type Page } from "playwright-core";

// One list of Chromium flags for the tests, the screenshot script and the benches.
import { CHROMIUM_ARGS as ARGS, CHROMIUM } from "../packages/web/scripts/chromium.mjs";

export { CHROMIUM };

export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 800 };

export interface BrowserUser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/** A browser with its own profile (IndexedDB, localStorage), one page open at `url`. */
export async function openBrowser(
  url: string,
  viewport = DESKTOP,
  beforeLoad?: (context: BrowserContext) => Promise<void>,
): Promise<BrowserUser> {
  const dir = mkdtempSync(join(tmpdir(), "xmtp-web-e2e-"));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    args: ARGS,
    headless: true,
    viewport,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(30_000);
  await beforeLoad?.(context);
  await page.goto(url);
  return {
    context,
    page,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The signed-in account's address, as shown on the page. */
export async function ownAddress(page: Page): Promise<string> {
  const text = await page.getByTestId("own-address").textContent({ timeout: 60_000 });
  if (!text || !/^0x[0-9a-fA-F]{40}$/.test(text)) throw new Error(`no address on the page: ${text}`);
  return text;
}

/** "Create a new identity"; resolves with the new address once the chat shows. */
export async function createIdentity(page: Page): Promise<string> {
  await page.getByRole("button", { name: "Create a new identity" }).click();
  return ownAddress(page);
}

/** "Import a key" with a wallet key; resolves with the address once the chat shows. */
export async function importKey(page: Page, key: string): Promise<string> {
  await page.getByRole("button", { name: "Import a key" }).click();
  await page.getByLabel(/Wallet key/).fill(key);
  await page.getByRole("button", { name: "Import", exact: true }).click();
  return ownAddress(page);
}

/** Opens "New conversation", types the address and presses Start. */
export async function startConversation(page: Page, address: string): Promise<void> {
  await page.getByRole("button", { name: "New conversation" }).click();
  await page.getByRole("textbox", { name: "Address" }).fill(address);
  await page.getByRole("button", { name: "Start" }).click();
}

/** Opens the conversation with `address` from the list (in the current tab). */
export async function openConversation(page: Page, address: string): Promise<void> {
  await conversationItem(page, address).getByRole("button").first().click();
}

export function conversationItem(page: Page, address: string) {
  return page
    .getByRole("list", { name: "Conversations" })
    .getByRole("listitem", { name: new RegExp(address, "i") });
}

/** Types into "Message" and presses Enter. */
export async function send(page: Page, text: string): Promise<void> {
  const box = page.getByRole("textbox", { name: "Message" });
  await box.fill(text);
  await box.press("Enter");
}

export function messageItem(page: Page, text: string | RegExp) {
  return page
    .getByRole("list", { name: "Messages" })
    .getByRole("listitem", { name: typeof text === "string" ? new RegExp(escapeRegExp(text)) : text });
}

/** Waits until a message with `text` is in the open conversation. */
export async function expectMessage(page: Page, text: string | RegExp, timeout = 60_000): Promise<void> {
  await messageItem(page, text).first().waitFor({ state: "visible", timeout });
}

export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Sends a file through the composer's "Attach a file". */
export async function attach(
  page: Page,
  file: { name: string; mimeType: string; buffer: Buffer },
): Promise<void> {
  await page.getByLabel("Attach a file").setInputFiles(file);
}

/**
 * The client's root entry bundled for the browser (esbuild, ESM) and served with its WebAssembly
 * at a local origin, in a page that sets `globalThis.sdk` to the bundle's exports.
 */
export async function serveSdkPage(title: string): Promise<{ origin: string; close(): Promise<void> }> {
  const entry = fileURLToPath(new URL("../packages/client/src/index.ts", import.meta.url));
  const wasm = fileURLToPath(new URL("../packages/protocol/dist/secp256k1.wasm", import.meta.url));
  const bundled = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    platform: "browser",
    format: "esm",
    conditions: ["source", "browser", "import"],
    target: "es2022",
    logLevel: "silent",
  });
  const files: Record<string, [string, string | Buffer]> = {
    "/": [
      "text/html",
      `<!doctype html><title>${title}</title><script type="module">import * as sdk from "/sdk.js"; globalThis.sdk = sdk;</script>`,
    ],
    "/sdk.js": ["text/javascript", bundled.outputFiles[0]!.text],
    "/secp256k1.wasm": ["application/wasm", readFileSync(wasm)],
  };
  const server = createServer((req, res) => {
    const f = files[req.url ?? ""];
    if (!f) return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": f[0] }).end(f[1]);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
