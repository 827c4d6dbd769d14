/**
 * The SDK's Connect and gRPC-Web transports in Debian's Chromium: the root entry bundled for the
 * browser, a client in a page (another origin than the node's, so CORS applies) that publishes,
 * lists and streams over each transport, talking to a client in this process through a real node.
 * Run `npx tsc -b packages/cli packages/client` first.
 */
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { generatePrivateKey } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Client, fromPrivateKey } from "../packages/client/src/index.js";
import { nextOf } from "./client-helpers.js";
import { type NodeProcess, spawnNode } from "./node-process.js";
import { type BrowserUser, openBrowser } from "./web-browser.js";

const ENTRY = fileURLToPath(new URL("../packages/client/src/index.ts", import.meta.url));
const WASM = fileURLToPath(new URL("../packages/protocol/dist/secp256k1.wasm", import.meta.url));

let node: NodeProcess;
let server: Server;
let origin: string;
let browser: BrowserUser | undefined;

beforeAll(async () => {
  node = await spawnNode();
  const bundled = await build({
    entryPoints: [ENTRY],
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
      '<!doctype html><title>sdk transports</title><script type="module">import * as sdk from "/sdk.js"; globalThis.sdk = sdk;</script>',
    ],
    "/sdk.js": ["text/javascript", bundled.outputFiles[0]!.text],
    "/secp256k1.wasm": ["application/wasm", readFileSync(WASM)],
  };
  server = createServer((req, res) => {
    const f = files[req.url ?? ""];
    if (!f) return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": f[0] }).end(f[1]);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => server?.close(r));
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
