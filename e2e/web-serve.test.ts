/**
 * `xmtp node` serves the built web app at `/` by default; `--no-web` and `XMTP_WEB=false` turn it
 * off while the API, /healthz and /metrics keep their paths.
 */
import { afterEach, describe, expect, test } from "vitest";
import { type NodeProcess, spawnNode } from "./node-process.js";

describe("xmtp node and the web app", () => {
  let node: NodeProcess | undefined;
  afterEach(async () => {
    await node?.stop();
    node = undefined;
  });

  test("by default / is the app, its assets load, and unknown API paths stay JSON 404s", async () => {
    node = await spawnNode();
    const index = await fetch(`${node.url}/`);
    expect(index.status).toBe(200);
    const html = await index.text();
    expect(html).toContain("<title>XMTP Chat</title>");
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const js = await fetch(`${node.url}${script}`);
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toMatch(/javascript/);
    const missing = await fetch(`${node.url}/message/v1/unknown`);
    expect(missing.status).toBe(404);
    expect((await missing.json()).code).toBe(5);
    expect(node.stdout()).toMatch(/web app {4}http:\/\/127\.0\.0\.1:\d+\//);
  });

  for (const [how, opts] of [
    ["--no-web", { args: ["--no-web"] }],
    ["XMTP_WEB=false", { env: { XMTP_WEB: "false" } }],
  ] as const) {
    test(`${how}: no app at /, the API unchanged`, async () => {
      node = await spawnNode(opts);
      const r = await fetch(`${node.url}/`);
      expect(r.status).toBe(404);
      expect((await r.json()).code).toBe(5);
      expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
      expect(node.stdout()).toContain("web app    off");
    });
  }
});
