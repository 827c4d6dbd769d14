/**
 * The client commands must start fast, so they never load the node stack. A module loader hook
 * logs every module the built `xmtp` binary resolves; the client commands' logs must hold none of
 * the node's, while `xmtp node --help` (the control) does. Needs `npx tsc -b packages/cli`.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, test } from "vitest";

const CLI = fileURLToPath(new URL("../bin/xmtp.js", import.meta.url));
const NODE_STACK =
  /packages\/node\/|node_modules\/(@xmtp-ts\/node|libp2p|@libp2p|fastify|better-sqlite3|postgres)\//;

const dir = mkdtempSync(join(tmpdir(), "xmtp-lazy-"));
const hooks = join(dir, "hooks.mjs");
writeFileSync(
  hooks,
  `import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(process.env.XMTP_TEST_LOAD_LOG, r.url + "\\n");
  return r;
}
`,
);
const registerHooks = `data:text/javascript,import { register } from "node:module"; register(${JSON.stringify(pathToFileURL(hooks).href)});`;

/** The modules `xmtp …args` resolves. */
function modulesLoadedBy(args: string[]): string[] {
  const log = join(dir, `${args.join("_").replace(/[^a-z0-9_]/gi, "")}-${Math.random()}.log`);
  writeFileSync(log, "");
  const r = spawnSync(process.execPath, ["--import", registerHooks, CLI, ...args], {
    encoding: "utf8",
    timeout: 30_000,
    env: {
      ...process.env,
      XMTP_TEST_LOAD_LOG: log,
      XMTP_CONFIG_DIR: join(dir, "config"),
      XMTP_API_URL: "http://127.0.0.1:1",
    },
  });
  expect(r.error).toBeUndefined();
  return readFileSync(log, "utf8").split("\n").filter(Boolean);
}

describe("the client commands do not load the node", () => {
  test("control: `xmtp node --help` loads the node stack", () => {
    expect(modulesLoadedBy(["node", "--help"]).filter((u) => NODE_STACK.test(u)).length).toBeGreaterThan(10);
  });

  test("`xmtp --version` and `xmtp whoami` load neither the node nor the SDK", () => {
    for (const args of [["--version"], ["whoami"], ["--help"]]) {
      const loaded = modulesLoadedBy(args);
      expect(
        loaded.some((u) => u.includes("/packages/cli/dist/main.js")),
        args.join(" "),
      ).toBe(true);
      expect(
        loaded.filter((u) => NODE_STACK.test(u) || /packages\/client\//.test(u)),
        args.join(" "),
      ).toEqual([]);
    }
  });

  test("the other client commands load the SDK but not the node", () => {
    for (const args of [
      ["conversations"],
      ["messages", "0x0000000000000000000000000000000000000001"],
      ["identity"],
    ]) {
      const loaded = modulesLoadedBy(args);
      expect(
        loaded.some((u) => /packages\/client\/dist\//.test(u)),
        args.join(" "),
      ).toBe(true);
      expect(
        loaded.filter((u) => NODE_STACK.test(u)),
        args.join(" "),
      ).toEqual([]);
    }
  });
});
