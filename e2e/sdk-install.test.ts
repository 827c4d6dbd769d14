/**
 * The SDK as an app developer gets it: `npm pack` of proto, protocol and client, `npm install` of
 * the tarballs in a project outside the repository (their dependencies come from the registry, as
 * they would for a published release), the .d.ts type-checked with and without the DOM library
 * under every module resolution, and a program written against the README that sends a message
 * through a real node to an unmodified xmtp-js 12.1.0 client. Run `npx tsc -b packages/cli
 * packages/client` first.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Clients, wallet, within } from "./client-helpers.js";
import { type NodeProcess, spawnNode } from "./node-process.js";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TSC = join(ROOT, "node_modules/typescript/bin/tsc");
const PACKAGES = ["proto", "protocol", "client"] as const;

let node: NodeProcess;
let work: string;
let app: string;
const tarballs: Record<string, string> = {};
const clients = new Clients(() => node.url);

async function npm(cwd: string, ...args: string[]) {
  return run("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd,
    timeout: 240_000,
    // Not the repository's workspace settings when run under `npm test`.
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_workspace/i.test(k))),
  });
}

beforeAll(async () => {
  node = await spawnNode();
  work = mkdtempSync(join(tmpdir(), "xmtp-sdk-install-"));
  for (const p of PACKAGES) {
    const { stdout } = await npm(join(ROOT, "packages", p), "pack", "--json", "--pack-destination", work);
    const [info] = JSON.parse(stdout) as { filename: string }[];
    tarballs[p] = join(work, info!.filename);
  }
  app = join(work, "app");
  await run("mkdir", [app]);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  // All three tarballs at once, as a registry would resolve the siblings; the rest from the registry.
  await npm(app, "install", "--prefer-offline", ...PACKAGES.map((p) => tarballs[p]!), "@types/node@20");
}, 300_000);

afterAll(async () => {
  await clients.closeAll();
  expect(await node?.stop()).toBe(0);
  if (work) rmSync(work, { recursive: true, force: true });
});

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

describe("the packed packages", () => {
  test.each(PACKAGES)("%s ships built JS, types, maps and their sources, a licence; no tests", (p) => {
    const dir = join(app, "node_modules/@xmtp-ts", p);
    const files = walk(dir).map((f) => relative(dir, f));
    expect(files).toContain("LICENSE");
    expect(readFileSync(join(dir, "LICENSE"), "utf8")).toMatch(
      /MIT License[\s\S]*The xmtp-v2-ts contributors/,
    );
    expect(files).toContain("README.md");
    expect(files).toContain("dist/index.js");
    expect(files).toContain("dist/index.d.ts");
    expect(files.filter((f) => /(\.test\.|(^|\/)test-|\.compliance\.|tsbuildinfo)/.test(f))).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    expect(pkg).toMatchObject({ license: "MIT", repository: { directory: `packages/${p}` } });
    expect(pkg.description.length).toBeGreaterThan(20);
    expect(pkg.keywords).toContain("xmtp");
    // Every source map points at files that are in the package (a debugger can open them).
    const maps = files.filter((f) => f.endsWith(".map"));
    expect(maps.length).toBeGreaterThan(0);
    for (const m of maps) {
      const { sources } = JSON.parse(readFileSync(join(dir, m), "utf8")) as { sources: string[] };
      for (const s of sources)
        expect(existsSync(resolve(dirname(join(dir, m)), s)), `${m} → ${s}`).toBe(true);
    }
  });
});

// Written against the README's "Use" section only.
const NODE_PROGRAM = `
import {
  Client,
  type ContentCodec,
  ContentTypeId,
  type DecodedMessage,
  fileConversationStore,
  fromPrivateKey,
  XmtpError,
} from "@xmtp-ts/client";
import { decodePrivateKeyBundle } from "@xmtp-ts/client/advanced";
import { grpcTransport } from "@xmtp-ts/client/grpc";

// A custom content type: its codec types the content of messages.
const ContentTypeNumber = new ContentTypeId({ authorityId: "example.com", typeId: "number", versionMajor: 1, versionMinor: 0 });
const numberCodec: ContentCodec<number> = {
  contentType: ContentTypeNumber,
  encode: (n) => ({ type: ContentTypeNumber, parameters: {}, content: new TextEncoder().encode(String(n)) }),
  decode: (e) => Number(new TextDecoder().decode(e.content)),
  fallback: (n) => \`the number \${n}\`,
  shouldPush: () => false,
};

const [apiUrl, walletKey, peer, text, transport = "http"] = process.argv.slice(2) as [string, string, string, string, string?];
const store = fileConversationStore(\`./xmtp-data-\${transport}\`);
const client = await Client.create(fromPrivateKey(walletKey), {
  apiUrl,
  // The gateway (default), Connect or gRPC-Web on the HTTP port; gRPC (Node) on the gRPC port.
  apiTransport: transport === "grpc" ? grpcTransport : (transport as "http" | "connect" | "grpc-web"),
  appVersion: "sdk-install/1.0",
  codecs: [numberCodec],
  conversationStore: store,
  keyStore: store,
});
// The building blocks are in the advanced entry.
if (decodePrivateKeyBundle(client.exportKeys()).bundle.preKeys.length === 0) throw new Error("no pre-key");
if (!(await client.canMessage(peer))) throw new Error("peer is not on the network");
const conversation = await client.conversations.newConversation(peer);
const sent = await conversation.send(text);
const history = await conversation.messages();
// Content is typed from the registered codecs: numbers (ours) and the built-in types, not booleans.
type Content = NonNullable<(typeof history)[number]["content"]>;
const hasNumber: [number] extends [Content] ? true : false = true;
const hasBoolean: [boolean] extends [Content] ? true : false = false;
const message: DecodedMessage<Content> | undefined = history[0];
await client.close();
let refused = "";
try {
  await conversation.send("after close");
} catch (err) {
  if (!(err instanceof XmtpError) || !err.is("client-closed")) throw err;
  refused = err.code;
}
console.log(JSON.stringify({ id: sent.id, topic: conversation.topic, history: history.map((m) => m.content), typed: [hasNumber, hasBoolean, message?.id], refused }));
`;

// A browser module: no Node globals.
const BROWSER_PROGRAM = `
import { Client, ContentTypeText, type DecodedMessage, type ViemAccountLike, webStorageConversationStore } from "@xmtp-ts/client";

export async function start(account: ViemAccountLike, peer: string): Promise<DecodedMessage | undefined> {
  const client = await Client.create(account, { env: "local", conversationStore: webStorageConversationStore(localStorage) });
  const conversation = await client.conversations.newConversation(peer);
  await conversation.send("hello", { contentType: ContentTypeText });
  const stream = await conversation.streamMessages({ signal: AbortSignal.timeout(1000) });
  for await (const message of stream) return message;
  return undefined;
}
`;

const RESOLUTIONS = [
  { moduleResolution: "node16", module: "node16" },
  { moduleResolution: "nodenext", module: "nodenext" },
  { moduleResolution: "bundler", module: "esnext" },
] as const;

describe("the .d.ts type-check in an app", () => {
  beforeAll(() => {
    writeFileSync(join(app, "main.ts"), NODE_PROGRAM);
    writeFileSync(join(app, "web.ts"), BROWSER_PROGRAM);
  });

  const check = async (name: string, compilerOptions: Record<string, unknown>, file: string) => {
    const config = join(app, `tsconfig.${name}.json`);
    writeFileSync(
      config,
      JSON.stringify({
        compilerOptions: { target: "es2022", strict: true, skipLibCheck: false, ...compilerOptions },
        files: [file],
      }),
    );
    try {
      await run(process.execPath, [TSC, "-p", config], { cwd: app, timeout: 120_000 });
    } catch (err) {
      const { stdout, stderr } = err as { stdout: string; stderr: string };
      throw new Error(`tsc -p ${name} failed:\n${stdout}${stderr}`);
    }
  };

  test.each(RESOLUTIONS)(
    "Node only (ES2023, types node, no DOM), $moduleResolution",
    async (r) => {
      await check(
        `node-${r.moduleResolution}`,
        { ...r, lib: ["ES2023"], types: ["node"], noEmit: true },
        "main.ts",
      );
    },
    300_000,
  );

  test.each(RESOLUTIONS)(
    "browser (DOM, no Node types), $moduleResolution",
    async (r) => {
      await check(
        `web-${r.moduleResolution}`,
        { ...r, lib: ["ES2023", "DOM", "DOM.Iterable"], types: [], noEmit: true },
        "web.ts",
      );
    },
    300_000,
  );
});

describe("a program using the installed SDK", () => {
  test("sends a message through the node to an xmtp-js 12.1.0 client", async () => {
    writeFileSync(join(app, "main.ts"), NODE_PROGRAM);
    writeFileSync(
      join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "es2022",
          module: "node16",
          moduleResolution: "node16",
          strict: true,
          lib: ["ES2023"],
          types: ["node"],
          outDir: "out",
        },
        files: ["main.ts"],
      }),
    );
    await run(process.execPath, [TSC, "-p", app], { cwd: app, timeout: 120_000 });
    const peer = wallet();
    const js = await clients.jsClient(peer);
    const me = wallet();
    const text = `hello from the tarball ${Date.now()}`;
    const { stdout } = await run(
      process.execPath,
      [join(app, "out/main.js"), node.url, me.key, peer.address, text],
      {
        cwd: app,
        timeout: 60_000,
      },
    );
    const out = JSON.parse(stdout) as { id: string; topic: string; history: string[]; refused: string };
    expect(out.history).toEqual([text]);
    expect(out.refused).toBe("client-closed");
    // The keys and the conversation snapshot, one file each, in the app's store.
    expect(readdirSync(join(app, "xmtp-data-http")).sort()).toEqual(
      [`xmtp-ts/conversations/v1/${me.address}`, `xmtp-ts/keys/v1/${me.address}`].map(
        (k) => `${encodeURIComponent(k)}.bin`,
      ),
    );
    const convos = await within(js.conversations.list(), 20_000, "xmtp-js lists");
    const convo = convos.find((c) => c.topic === out.topic);
    expect(convo?.peerAddress).toBe(me.address);
    const messages = await convo!.messages();
    expect(messages.map((m) => [m.id, m.content])).toEqual([[out.id, text]]);
  }, 240_000);

  test.each(["connect", "grpc-web", "grpc"])(
    "the same program over %s reaches xmtp-js",
    async (transport) => {
      expect(existsSync(join(app, "out/main.js"))).toBe(true); // compiled by the test above
      const peer = wallet();
      const js = await clients.jsClient(peer);
      const me = wallet();
      const text = `over ${transport} from the tarball`;
      const { stdout } = await run(
        process.execPath,
        [
          join(app, "out/main.js"),
          transport === "grpc" ? node.grpcUrl : node.url,
          me.key,
          peer.address,
          text,
          transport,
        ],
        { cwd: app, timeout: 60_000 },
      );
      const out = JSON.parse(stdout) as { id: string; topic: string; history: string[]; refused: string };
      expect(out.history).toEqual([text]);
      expect(out.refused).toBe("client-closed");
      const convos = await within(js.conversations.list(), 20_000, "xmtp-js lists");
      const messages = await convos.find((c) => c.topic === out.topic)!.messages();
      expect(messages.map((m) => [m.id, m.content])).toEqual([[out.id, text]]);
    },
    120_000,
  );
});
