/**
 * The browser guarantee: the default entry bundles for `platform: "browser"` with no `node:` import
 * and no Node builtin, and the bundle runs in a context that has only web globals (no `process`,
 * `require`, `Buffer`): it encodes and decodes content and talks to a gateway with `fetch`.
 */

import { createServer } from "node:http";
import { builtinModules } from "node:module";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import vm from "node:vm";
import { build, type Plugin } from "esbuild";
import { describe, expect, it } from "vitest";

const entry = fileURLToPath(new URL("./index.ts", import.meta.url));
const advanced = fileURLToPath(new URL("./advanced.ts", import.meta.url));
const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

async function bundle(entryPoint = entry) {
  const nodeImports: string[] = [];
  const guard: Plugin = {
    name: "no-node-builtins",
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        if (args.path.startsWith("node:") || builtins.has(args.path)) {
          nodeImports.push(`${args.path} (from ${args.importer})`);
          return { path: args.path, external: true };
        }
        return undefined;
      });
    },
  };
  const result = await build({
    entryPoints: [entryPoint],
    bundle: true,
    write: false,
    platform: "browser",
    format: "iife",
    globalName: "XmtpTs",
    // Workspace packages resolve to their TypeScript sources.
    conditions: ["source", "browser", "import"],
    target: "es2022",
    logLevel: "silent",
    metafile: true,
    plugins: [guard],
  });
  const output = result.outputFiles[0]?.text ?? "";
  return { output, nodeImports, inputs: Object.keys(result.metafile.inputs) };
}

describe("browser bundle of packages/client", () => {
  it.each([
    ["index", entry],
    ["advanced", advanced],
  ])(
    "%s has no node: imports and no Node builtins",
    async (name, entryPoint) => {
      const { nodeImports, inputs, output } = await bundle(entryPoint);
      expect(nodeImports).toEqual([]);
      expect(inputs.some((i) => i.endsWith(`packages/client/src/${name}.ts`))).toBe(true);
      expect(inputs.filter((i) => /\.test\.ts$|test-vectors|test-fixtures/.test(i))).toEqual([]);
      expect(output).not.toMatch(/\brequire\(["']/);
    },
    60_000,
  );

  it("the guard does catch Node imports (checked on a test-only module)", async () => {
    const { nodeImports } = await bundle(fileURLToPath(new URL("./test-vectors.ts", import.meta.url)));
    expect(nodeImports.join()).toMatch(/node:fs/);
  }, 60_000);

  it("runs with web globals only: content pipeline and a fetch to a gateway", async () => {
    const { output } = await bundle(advanced);
    const srv = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => {
        body += c;
      });
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ envelopes: [], pagingInfo: null, echo: { path: req.url, body } }));
      });
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    try {
      const g = globalThis as Record<string, unknown>;
      const web: Record<string, unknown> = {};
      for (const k of [
        "crypto",
        "TextEncoder",
        "TextDecoder",
        "CompressionStream",
        "DecompressionStream",
        "ReadableStream",
        "WritableStream",
        "TransformStream",
        "fetch",
        "Request",
        "Response",
        "Headers",
        "AbortController",
        "AbortSignal",
        "URL",
        "setTimeout",
        "clearTimeout",
        "queueMicrotask",
        "console",
        "atob",
        "btoa",
        "Event",
        "EventTarget",
        "DOMException",
        "structuredClone",
        "performance",
      ])
        web[k] = g[k];
      const ctx = vm.createContext(web);
      vm.runInContext(output, ctx);
      const sdk = (ctx as { XmtpTs: Record<string, unknown> }).XmtpTs as {
        defaultCodecRegistry(): unknown;
        encodeContent(c: unknown, o: unknown, r: unknown): Promise<{ payload: Uint8Array }>;
        decodeContent(p: Uint8Array, r: unknown): Promise<{ content: unknown }>;
        ApiClient: new (o: { apiUrl: string }) => { query(q: unknown): Promise<{ envelopes: unknown[] }> };
      };
      expect(vm.runInContext("typeof process + typeof require + typeof Buffer", ctx)).toBe(
        "undefinedundefinedundefined",
      );
      const reg = sdk.defaultCodecRegistry();
      const { payload } = await sdk.encodeContent("hello from a browser ".repeat(5), { compression: 1 }, reg);
      expect((await sdk.decodeContent(payload, reg)).content).toBe("hello from a browser ".repeat(5));
      const api = new sdk.ApiClient({ apiUrl: `http://127.0.0.1:${(srv.address() as AddressInfo).port}` });
      expect((await api.query({ contentTopics: ["/xmtp/0/t/proto"] })).envelopes).toEqual([]);
    } finally {
      srv.closeAllConnections();
      await new Promise((r) => srv.close(r));
    }
  }, 60_000);
});
